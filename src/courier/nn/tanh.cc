// Tanh layer over the tanh kernels.
#include "courier/nn/tanh.h"

#include "courier/tensor/activation.h"

namespace courier {

void Tanh::forward(const Tensor& in, Tensor& out, LayerCache&) { tanh_forward(in, out); }

void Tanh::backward(const Tensor&, const Tensor& out, const Tensor& dout, LayerCache&, Tensor* din) {
  if (din != nullptr) tanh_backward(dout, out, *din);
}

}  // namespace courier
