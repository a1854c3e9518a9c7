// What every optimizer shares: skipping non-finite gradients, clipping before the update,
// parameter groups.
#include "courier/train/optim/optimizer.h"

#include <cmath>

#include "courier/core/check.h"
#include "courier/train/optim/clip.h"

namespace courier {

void Optimizer::set_clip_norm(float max_norm) {
  COURIER_CHECK_GE(max_norm, 0.0f, "clip norm");
  clip_norm_ = max_norm;
}

bool Optimizer::step(std::span<float> values, std::span<const float> grads, float lr) {
  // The sum of squares is finite exactly when every gradient element is (a float squared
  // cannot overflow a double), so one pass serves both the check and the clip.
  return step(values, grads, lr, grad_norm(grads));
}

bool Optimizer::step(std::span<float> values, std::span<const float> grads, float lr, float norm) {
  if (!std::isfinite(norm)) {
    ++nonfinite_in_a_row_;
    ++skipped_steps_;
    return false;
  }
  nonfinite_in_a_row_ = 0;
  if (clip_norm_ > 0.0f) last_grad_norm_ = norm;
  const float coefficient = clip_norm_ > 0.0f ? clip_coefficient(norm, clip_norm_) : 1.0f;
  if (coefficient >= 1.0f) {
    update(values, grads, lr);
    return true;
  }
  clipped_.resize(grads.size());  // scaled from the norm already known: no second pass for it
  for (std::size_t i = 0; i < grads.size(); ++i) clipped_[i] = grads[i] * coefficient;
  update(values, clipped_, lr);
  return true;
}

std::vector<ParamGroup> single_group(std::int64_t count, float weight_decay) {
  return {ParamGroup{0, count, weight_decay}};
}

void check_groups(const std::vector<ParamGroup>& groups, std::int64_t count) {
  std::int64_t next = 0;
  for (const auto& group : groups) {
    COURIER_CHECK_EQ(group.offset, next, "parameter groups must tile the buffer in order");
    COURIER_CHECK_GE(group.count, 0, "parameter group size");
    COURIER_CHECK_GE(group.weight_decay, 0.0f, "weight decay");
    next += group.count;
  }
  COURIER_CHECK_EQ(next, count, "parameter groups must cover the whole buffer");
}

}  // namespace courier
