// Sigmoid layer over the sigmoid kernels.
#include "courier/nn/sigmoid.h"

#include "courier/tensor/activation.h"

namespace courier {

void Sigmoid::forward(const Tensor& in, Tensor& out, LayerCache&) { sigmoid_forward(in, out); }

void Sigmoid::backward(const Tensor&, const Tensor& out, const Tensor& dout, LayerCache&, Tensor* din) {
  if (din != nullptr) sigmoid_backward(dout, out, *din);
}

}  // namespace courier
