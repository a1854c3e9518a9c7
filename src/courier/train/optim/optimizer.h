// Optimizer: updates a flat parameter array from a flat gradient array of the same layout.
// Working on flat spans (not on layers) is what lets a parameter-server shard, a ZeRO
// partition or a whole replica use the same optimizer code over its own range.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace courier {

// A contiguous range of the flat buffer with its own weight decay (matrices decay,
// biases and norm gains usually do not).
struct ParamGroup {
  std::int64_t offset = 0;
  std::int64_t count = 0;
  float weight_decay = 0.0f;
};

// What Optimizer::direction computes.
struct DirectionOptions {
  // How many workers' directions are averaged, each from its own share of the batch; Adam then
  // estimates the second moment of their mean gradient from its own (see adam.h).
  int workers = 1;
  // false: the gradient scaled as the update would scale it, without momentum (see adam.h).
  bool momentum = true;
};

// One named state buffer, as long as the parameters ("momentum", "exp_avg", "exp_avg_sq").
struct OptimizerState {
  std::string name;
  std::span<float> values;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Applies one update with learning rate lr and returns true; when clip_norm() > 0 and the
  // gradients' global L2 norm exceeds it, the update sees them scaled down to that norm (as
  // torch.nn.utils.clip_grad_norm_; grads itself is not modified). When any gradient is NaN
  // or infinite it changes nothing (values, state, step count), counts the step as skipped
  // and returns false. REQUIRES: values and grads have the size the optimizer was built for.
  // Not thread-safe; one caller at a time.
  bool step(std::span<float> values, std::span<const float> grads, float lr);
  // The same, with `norm` the L2 norm of the whole gradient that grads is a part of (a
  // pipeline stage's range of a model spread over stages): the NaN/Inf skip and the clip
  // follow it, so every part skips or scales alike.
  bool step(std::span<float> values, std::span<const float> grads, float lr, float norm);

  // step() split in two, for workers that exchange their updates instead of their gradients
  // (dist.exchange = updates): direction() moves the state by `grads` (skip and clip as step)
  // and writes to `out` the direction the update follows; apply_direction() subtracts `change`
  // (lr times a direction, or the workers' mean of those) and does what does not depend on the
  // gradient (AdamW's decay by lr). direction(grads) then apply_direction(lr times that, lr) is
  // step(grads, lr) up to rounding. A skipped step writes zeros and returns false. Only
  // optimizers with supports_direction() implement them.
  // `how`: for how many workers, with or without momentum (DirectionOptions).
  // REQUIRES: out, values and change have the size the optimizer was built for.
  bool direction(std::span<const float> grads, std::span<float> out, const DirectionOptions& how = {});
  void apply_direction(std::span<float> values, std::span<const float> change, float lr);
  virtual bool supports_direction() const { return false; }

  // Steps skipped for non-finite gradients: consecutive ones up to the last step, and all.
  int nonfinite_in_a_row() const { return nonfinite_in_a_row_; }
  std::int64_t skipped_steps() const { return skipped_steps_; }

  // The largest gradient norm an update sees; 0 (the default) turns clipping off. Applies to
  // the range this optimizer owns: a parameter-server shard clips its own slice.
  void set_clip_norm(float max_norm);
  float clip_norm() const { return clip_norm_; }
  // The norm of the last step's gradients before clipping; 0 while clipping is off.
  float last_grad_norm() const { return last_grad_norm_; }

  virtual std::string describe() const = 0;
  // The state buffers, for checkpoints; writable so a checkpoint can be restored into them.
  virtual std::vector<OptimizerState> state() = 0;

  // Updates applied so far (Adam's bias correction depends on it).
  std::int64_t step_count() const { return step_count_; }
  void set_step_count(std::int64_t steps) { step_count_ = steps; }

 protected:
  // One update from the (possibly clipped) gradients.
  virtual void update(std::span<float> values, std::span<const float> grads, float lr) = 0;
  // The two halves of update(), where supports_direction(); compute_direction counts the step.
  virtual void compute_direction(std::span<const float> grads, std::span<float> out, const DirectionOptions& how);
  virtual void apply(std::span<float> values, std::span<const float> change, float lr);

  std::int64_t step_count_ = 0;

 private:
  float clip_norm_ = 0.0f;
  float last_grad_norm_ = 0.0f;
  int nonfinite_in_a_row_ = 0;
  std::int64_t skipped_steps_ = 0;
  std::vector<float> clipped_;  // the scaled copy of the gradients, kept to avoid an allocation a step

  // Counts a skipped step when `norm` is not finite (nullopt); otherwise the gradients the
  // update sees: `grads`, or clipped_ holding them scaled down to clip_norm().
  std::optional<std::span<const float>> admit(std::span<const float> grads, float norm);
};

// One group [0, count) with weight decay `weight_decay`: the usual case.
std::vector<ParamGroup> single_group(std::int64_t count, float weight_decay);
// Checks that groups tile [0, count) in order without gaps or overlaps.
void check_groups(const std::vector<ParamGroup>& groups, std::int64_t count);

}  // namespace courier
