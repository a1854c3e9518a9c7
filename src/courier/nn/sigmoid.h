// Sigmoid: the logistic function 1 / (1 + exp(-x)), elementwise.
#pragma once

#include "courier/nn/elementwise_layer.h"

namespace courier {

class Sigmoid final : public ElementwiseLayer {
 public:
  std::string describe() const override { return "Sigmoid"; }
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;
};

}  // namespace courier
