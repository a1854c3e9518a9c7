// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_.
#pragma once

#include <span>

namespace courier {

// Scales grads by max_norm / (norm + 1e-6) when the L2 norm of all of them exceeds max_norm.
// Returns the norm before clipping (what training logs show). REQUIRES: max_norm > 0.
// A non-finite norm is returned as is and the gradients are left untouched, so the caller
// can see it and skip the step.
float clip_grad_norm(std::span<float> grads, float max_norm);

// The L2 norm of all of grads (accumulated in double).
float grad_norm(std::span<const float> grads);

// What clip_grad_norm multiplies gradients of norm `norm` by: max_norm / (norm + 1e-6) when
// that is below 1, else 1.
float clip_coefficient(float norm, float max_norm);

}  // namespace courier
