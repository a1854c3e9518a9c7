// Optimizer: updates a flat parameter array from a flat gradient array of the same layout.
// Working on flat spans (not on layers) is what lets a parameter-server shard, a ZeRO
// partition or a whole replica use the same optimizer code over its own range.
#pragma once

#include <cstdint>
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

// One named state buffer, as long as the parameters ("momentum", "exp_avg", "exp_avg_sq").
struct OptimizerState {
  std::string name;
  std::span<float> values;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Applies one update with learning rate lr. REQUIRES: values and grads have the size the
  // optimizer was built for. Not thread-safe; one caller at a time.
  virtual void step(std::span<float> values, std::span<const float> grads, float lr) = 0;

  virtual std::string describe() const = 0;
  // The state buffers, for checkpoints; writable so a checkpoint can be restored into them.
  virtual std::vector<OptimizerState> state() = 0;

  // Updates applied so far (Adam's bias correction depends on it).
  std::int64_t step_count() const { return step_count_; }
  void set_step_count(std::int64_t steps) { step_count_ = steps; }

 protected:
  std::int64_t step_count_ = 0;
};

// One group [0, count) with weight decay `weight_decay`: the usual case.
std::vector<ParamGroup> single_group(std::int64_t count, float weight_decay);
// Checks that groups tile [0, count) in order without gaps or overlaps.
void check_groups(const std::vector<ParamGroup>& groups, std::int64_t count);

}  // namespace courier
