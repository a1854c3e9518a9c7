// Tanh: the hyperbolic tangent, elementwise.
#pragma once

#include "courier/nn/elementwise_layer.h"

namespace courier {

class Tanh final : public ElementwiseLayer {
 public:
  std::string describe() const override { return "Tanh"; }
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;
};

}  // namespace courier
