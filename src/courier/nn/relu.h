// Relu: max(x, 0), elementwise.
#pragma once

#include "courier/nn/elementwise_layer.h"

namespace courier {

class Relu final : public ElementwiseLayer {
 public:
  std::string describe() const override { return "Relu"; }
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;
};

}  // namespace courier
