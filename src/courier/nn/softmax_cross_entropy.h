// SoftmaxCrossEntropy: softmax over the last dimension and the negative log-likelihood of
// the labels, averaged over rows; fused, so backward is softmax(logits) - onehot.
#pragma once

#include <cstdint>
#include <span>

#include "courier/tensor/tensor.h"

namespace courier {

class SoftmaxCrossEntropy {
 public:
  // logits (N..., C), labels (N) with N the product of the leading dims, each in [0, C)
  // -> mean over rows of -log softmax(logits)[label]
  float forward(const Tensor& logits, std::span<const std::int32_t> labels) const;
  // dlogits = (softmax(logits) - onehot(labels)) / N, written (not accumulated)
  void backward(const Tensor& logits, std::span<const std::int32_t> labels, Tensor& dlogits) const;
  // Both in one pass over the rows (a training step needs both): returns forward's loss and
  // writes backward's dlogits, the same numbers.
  float forward_backward(const Tensor& logits, std::span<const std::int32_t> labels, Tensor& dlogits) const;
};

}  // namespace courier
