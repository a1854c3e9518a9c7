// Conv2d: 2-D convolution over (C, H, W) samples with a square kernel, as torch.nn.Conv2d.
#pragma once

#include <cstdint>
#include <optional>

#include "courier/nn/init.h"
#include "courier/nn/layer.h"
#include "courier/tensor/conv2d.h"

namespace courier {

struct Conv2dOptions {
  std::int64_t stride = 1;
  std::int64_t padding = 0;  // zeros on every side
  bool bias = true;
  // Unset: PyTorch's nn.Conv2d defaults, weight kaiming_uniform(a = sqrt(5)) (i.e.
  // Init::torch_linear_weight()) and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in k k.
  std::optional<Init> weight_init = std::nullopt;
  std::optional<Init> bias_init = std::nullopt;
};

class Conv2d final : public Layer {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel, Conv2dOptions options = {});

  std::string describe() const override;
  // input (in_channels, H, W) -> (out_channels, OH, OW), OH = (H + 2 padding - kernel) / stride + 1.
  // Parameters: "weight" (out_channels, in_channels, kernel, kernel) and "bias" (out_channels).
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  // Keeps its column buffer in cache.saved[0]: allocated by the first forward of a cache,
  // reused afterwards.
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  Conv2dGeometry geometry() const { return {.stride = options_.stride, .padding = options_.padding}; }
  Tensor& workspace(LayerCache& cache) const;

  std::int64_t in_channels_;
  std::int64_t out_channels_;
  std::int64_t kernel_;
  Conv2dOptions options_;
  ParamSlot weight_;
  std::optional<ParamSlot> bias_;
};

}  // namespace courier
