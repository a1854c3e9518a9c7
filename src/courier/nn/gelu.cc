// Gelu layer over the gelu kernels.
#include "courier/nn/gelu.h"

namespace courier {

std::string Gelu::describe() const { return "Gelu(" + std::string(gelu_approximation_name(approximation_)) + ")"; }

void Gelu::forward(const Tensor& in, Tensor& out, LayerCache&) { gelu_forward(in, out, approximation_); }

void Gelu::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache&, Tensor* din) {
  if (din != nullptr) gelu_backward(dout, in, *din, approximation_);
}

}  // namespace courier
