// MseLoss: the mean of squared errors over every element, as TensorFlow's
// reduce_mean(square(pred - target)) and PyTorch's mse_loss(reduction="mean") define it.
#pragma once

#include "courier/tensor/tensor.h"

namespace courier {

class MseLoss {
 public:
  // pred (...), target (same shape) -> mean((pred - target)^2)
  float forward(const Tensor& pred, const Tensor& target) const;
  // dpred = 2 (pred - target) / numel, written (not accumulated)
  void backward(const Tensor& pred, const Tensor& target, Tensor& dpred) const;
};

}  // namespace courier
