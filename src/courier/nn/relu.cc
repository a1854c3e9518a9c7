// Relu layer over the relu kernels.
#include "courier/nn/relu.h"

#include "courier/tensor/activation.h"

namespace courier {

void Relu::forward(const Tensor& in, Tensor& out, LayerCache&) { relu_forward(in, out); }

void Relu::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache&, Tensor* din) {
  if (din != nullptr) relu_backward(dout, in, *din);
}

}  // namespace courier
