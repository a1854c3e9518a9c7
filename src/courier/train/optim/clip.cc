// Global-norm gradient clipping.
#include "courier/train/optim/clip.h"

#include <algorithm>
#include <cmath>

#include "courier/core/check.h"
#include "courier/tensor/reduce.h"

namespace courier {

float clip_grad_norm(std::span<float> grads, float max_norm) {
  COURIER_CHECK_GT(max_norm, 0.0f, "clip_grad_norm max_norm");
  const float norm = grad_norm(grads);
  if (!std::isfinite(norm)) return norm;
  const float coefficient = clip_coefficient(norm, max_norm);
  if (coefficient < 1.0f) {
    for (float& g : grads) g *= coefficient;
  }
  return norm;
}

float clip_coefficient(float norm, float max_norm) { return std::min(1.0f, max_norm / (norm + 1e-6f)); }

float grad_norm(std::span<const float> grads) { return static_cast<float>(std::sqrt(squared_norm(grads))); }

}  // namespace courier
