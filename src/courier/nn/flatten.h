// Flatten: each sample's dimensions folded into one, (C, H, W) -> (C H W), as torch.nn.Flatten.
#pragma once

#include "courier/nn/layer.h"

namespace courier {

class Flatten final : public Layer {
 public:
  std::string describe() const override { return "Flatten"; }
  // input (d0, d1, ...) -> (d0 d1 ...). No parameters.
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  // Copies: out and din are allocated by the caller, so they cannot be views of in and dout.
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;
};

}  // namespace courier
