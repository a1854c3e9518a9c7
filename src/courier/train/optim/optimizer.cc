// What every optimizer shares: gradient clipping before the update, parameter groups.
#include "courier/train/optim/optimizer.h"

#include "courier/core/check.h"
#include "courier/train/optim/clip.h"

namespace courier {

void Optimizer::set_clip_norm(float max_norm) {
  COURIER_CHECK_GE(max_norm, 0.0f, "clip norm");
  clip_norm_ = max_norm;
}

void Optimizer::step(std::span<float> values, std::span<const float> grads, float lr) {
  if (clip_norm_ <= 0.0f) {
    update(values, grads, lr);
    return;
  }
  last_grad_norm_ = grad_norm(grads);
  if (!(last_grad_norm_ > clip_norm_)) {  // within the bound, or not finite (left for the caller to see)
    update(values, grads, lr);
    return;
  }
  clipped_.assign(grads.begin(), grads.end());
  clip_grad_norm(clipped_, clip_norm_);
  update(values, clipped_, lr);
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
