// MaxPool2d: the maximum of each kernel x kernel window of (C, H, W) samples, as
// torch.nn.MaxPool2d without padding or dilation.
#pragma once

#include <cstdint>
#include <optional>

#include "courier/nn/layer.h"

namespace courier {

class MaxPool2d final : public Layer {
 public:
  // Without a stride, stride = kernel (PyTorch's default): windows tile the input.
  explicit MaxPool2d(std::int64_t kernel, std::optional<std::int64_t> stride = std::nullopt);

  std::string describe() const override;
  // input (C, H, W) -> (C, OH, OW), OH = (H - kernel) / stride + 1. No parameters.
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  // Keeps the argmax of every output in cache.indices for the backward.
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  std::int64_t kernel_;
  std::int64_t stride_;
};

}  // namespace courier
