// Gelu: x Phi(x), elementwise; the tanh approximation (GPT-2) or the exact erf form.
#pragma once

#include "courier/nn/elementwise_layer.h"
#include "courier/tensor/activation.h"

namespace courier {

class Gelu final : public ElementwiseLayer {
 public:
  explicit Gelu(GeluApproximation approximation = GeluApproximation::kTanh) : approximation_(approximation) {}
  std::string describe() const override;
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  GeluApproximation approximation_;
};

}  // namespace courier
