// Flatten layer: the same numbers in a flatter shape.
#include "courier/nn/flatten.h"

#include "courier/core/check.h"

namespace courier {

Shape Flatten::setup(const Shape& input, ParameterLayout&) {
  COURIER_CHECK_GE(input.rank(), 1, "Flatten of a scalar sample");
  return {input.numel()};
}

// in (B, ...), out (B, prod(...))
void Flatten::forward(const Tensor& in, Tensor& out, LayerCache&) {
  COURIER_CHECK_GE(in.rank(), 2, "Flatten input needs a batch dimension, got {}", in.shape());
  COURIER_CHECK_EQ(out.shape(), Shape({in.dim(0), in.shape().drop_front().numel()}), "Flatten output for input {}",
                   in.shape());
  out.copy_from(in.view(out.shape()));
}

void Flatten::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache&, Tensor* din) {
  if (din == nullptr) return;
  COURIER_CHECK_EQ(din->shape(), in.shape(), "Flatten input gradient");
  din->copy_from(dout.view(in.shape()));
}

}  // namespace courier
