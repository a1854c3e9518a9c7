// LayerNorm over the last dimension, with a learned gain and an optional bias (nanoGPT's
// bias=False models have none).
#pragma once

#include <cstdint>
#include <optional>

#include "courier/nn/init.h"
#include "courier/nn/layer.h"

namespace courier {

class LayerNorm final : public Layer {
 public:
  explicit LayerNorm(std::int64_t channels, bool bias = false, Init weight_init = Init::constant(1.0f));

  std::string describe() const override;
  // input (..., channels) -> the same shape. Parameters: "weight" (channels), and "bias"
  // (channels) when asked for; neither decays.
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  std::int64_t channels_;
  bool has_bias_;
  Init weight_init_;
  ParamSlot weight_;
  std::optional<ParamSlot> bias_;
};

}  // namespace courier
