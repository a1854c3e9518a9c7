// MaxPool2d layer over the maxpool2d kernels.
#include "courier/nn/max_pool2d.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/tensor/maxpool2d.h"

namespace courier {

MaxPool2d::MaxPool2d(std::int64_t kernel, std::optional<std::int64_t> stride)
    : kernel_(kernel), stride_(stride.value_or(kernel)) {
  COURIER_CHECK_GT(kernel_, 0, "MaxPool2d kernel");
  COURIER_CHECK_GT(stride_, 0, "MaxPool2d stride");
}

std::string MaxPool2d::describe() const {
  if (stride_ == kernel_) return fmt::format("MaxPool2d({}x{})", kernel_, kernel_);
  return fmt::format("MaxPool2d({}x{}, stride {})", kernel_, kernel_, stride_);
}

Shape MaxPool2d::setup(const Shape& input, ParameterLayout&) {
  COURIER_CHECK_EQ(input.rank(), 3, "{} needs per-sample input (C, H, W), got {}", describe(), input);
  return maxpool2d_output_shape(input.prepend(1), kernel_, stride_).drop_front();
}

// in (B, C, H, W), out (B, C, OH, OW)
void MaxPool2d::forward(const Tensor& in, Tensor& out, LayerCache& cache) {
  maxpool2d_forward(in, out, cache.indices, kernel_, stride_);
}

void MaxPool2d::backward(const Tensor&, const Tensor&, const Tensor& dout, LayerCache& cache, Tensor* din) {
  if (din != nullptr) maxpool2d_backward(dout, cache.indices, *din);
}

}  // namespace courier
