// Conv2d layer over the conv2d kernels.
#include "courier/nn/conv2d.h"

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel, Conv2dOptions options)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), options_(std::move(options)) {
  COURIER_CHECK_GT(in_channels_, 0, "Conv2d in_channels");
  COURIER_CHECK_GT(out_channels_, 0, "Conv2d out_channels");
  COURIER_CHECK_GT(kernel_, 0, "Conv2d kernel");
  COURIER_CHECK_GT(options_.stride, 0, "Conv2d stride");
  COURIER_CHECK_GE(options_.padding, 0, "Conv2d padding");
}

std::string Conv2d::describe() const {
  std::string extra;
  if (options_.stride != 1) extra += fmt::format(", stride {}", options_.stride);
  if (options_.padding != 0) extra += fmt::format(", padding {}", options_.padding);
  if (!options_.bias) extra += ", no bias";
  return fmt::format("Conv2d({} -> {}, {}x{}{})", in_channels_, out_channels_, kernel_, kernel_, extra);
}

Shape Conv2d::setup(const Shape& input, ParameterLayout& layout) {
  COURIER_CHECK_EQ(input.rank(), 3, "{} needs per-sample input (C, H, W), got {}", describe(), input);
  COURIER_CHECK_EQ(input[0], in_channels_, "{} got per-sample input {}", describe(), input);
  const Shape weight_shape{out_channels_, in_channels_, kernel_, kernel_};
  const Shape out = conv2d_output_shape(input.prepend(1), weight_shape, geometry());
  weight_ = layout.add("weight", weight_shape, options_.weight_init.value_or(Init::torch_linear_weight()),
                       /*weight_decay=*/true);
  if (options_.bias) {
    const std::int64_t fan_in = in_channels_ * kernel_ * kernel_;
    bias_ = layout.add("bias", {out_channels_}, options_.bias_init.value_or(Init::torch_linear_bias(fan_in)),
                       /*weight_decay=*/false);
  }
  return out.drop_front();
}

Tensor& Conv2d::workspace(LayerCache& cache) const {
  if (cache.saved.empty()) cache.saved.resize(1);
  return cache.saved[0];
}

// in (B, C, H, W), out (B, O, OH, OW)
void Conv2d::forward(const Tensor& in, Tensor& out, LayerCache& cache) {
  COURIER_CHECK(in.rank() == 4 && in.dim(1) == in_channels_, "{} expects input (B, {}, H, W), got {}", describe(),
                in_channels_, in.shape());
  const Tensor bias = bias_ ? value(*bias_) : Tensor();
  conv2d_forward(in, value(weight_), bias, out, geometry(), workspace(cache));
}

// dweight += ..., dbias += ..., din = ... (when asked for)
void Conv2d::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache& cache, Tensor* din) {
  Tensor dweight = grad(weight_);
  Tensor dbias = bias_ ? grad(*bias_) : Tensor();
  conv2d_backward(dout, in, value(weight_), dweight, bias_ ? &dbias : nullptr, din, geometry(), workspace(cache));
}

}  // namespace courier
