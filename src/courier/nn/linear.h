// Linear: out = in @ weight^T + bias, over the last dimension.
#pragma once

#include <cstdint>
#include <optional>

#include "courier/nn/init.h"
#include "courier/nn/layer.h"

namespace courier {

struct LinearOptions {
  bool bias = true;
  // Unset: PyTorch's nn.Linear defaults (Init::torch_linear_weight / torch_linear_bias).
  std::optional<Init> weight_init = std::nullopt;
  std::optional<Init> bias_init = std::nullopt;
};

class Linear final : public Layer {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, LinearOptions options = {});

  std::string describe() const override;
  // input (..., in_features) -> (..., out_features). Parameters: "weight" (out_features,
  // in_features), stored as PyTorch stores it, and "bias" (out_features).
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  std::int64_t in_features_;
  std::int64_t out_features_;
  LinearOptions options_;
  ParamSlot weight_;
  std::optional<ParamSlot> bias_;
};

}  // namespace courier
