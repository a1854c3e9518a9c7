// What every optimizer shares: skipping non-finite gradients, clipping before the update,
// parameter groups.
#include "courier/train/optim/optimizer.h"

#include <algorithm>
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
  const std::optional<std::span<const float>> admitted = admit(grads, norm);
  if (!admitted) return false;
  update(values, *admitted, lr);
  return true;
}

std::optional<std::span<const float>> Optimizer::admit(std::span<const float> grads, float norm) {
  if (!std::isfinite(norm)) {
    ++nonfinite_in_a_row_;
    ++skipped_steps_;
    return std::nullopt;
  }
  nonfinite_in_a_row_ = 0;
  if (clip_norm_ > 0.0f) last_grad_norm_ = norm;
  const float coefficient = clip_norm_ > 0.0f ? clip_coefficient(norm, clip_norm_) : 1.0f;
  if (coefficient >= 1.0f) return grads;
  clipped_.resize(grads.size());  // scaled from the norm already known: no second pass for it
  for (std::size_t i = 0; i < grads.size(); ++i) clipped_[i] = grads[i] * coefficient;
  return std::span<const float>(clipped_);
}

bool Optimizer::direction(std::span<const float> grads, std::span<float> out, const DirectionOptions& how) {
  COURIER_CHECK(supports_direction(), "{} has no update direction to exchange", describe());
  COURIER_CHECK_EQ(out.size(), grads.size(), "direction and gradients");
  COURIER_CHECK_GE(how.workers, 1, "workers averaging the direction");
  const std::optional<std::span<const float>> admitted = admit(grads, grad_norm(grads));
  if (!admitted) {
    std::fill(out.begin(), out.end(), 0.0f);
    return false;
  }
  compute_direction(*admitted, out, how);
  return true;
}

void Optimizer::apply_direction(std::span<float> values, std::span<const float> change, float lr) {
  COURIER_CHECK(supports_direction(), "{} has no update direction to apply", describe());
  COURIER_CHECK_EQ(values.size(), change.size(), "values and change");
  apply(values, change, lr);
}

void Optimizer::compute_direction(std::span<const float>, std::span<float>, const DirectionOptions&) {
  COURIER_CHECK(false, "{} has no update direction", describe());
}

void Optimizer::apply(std::span<float>, std::span<const float>, float) {
  COURIER_CHECK(false, "{} has no update direction", describe());
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
