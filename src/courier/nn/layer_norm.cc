// LayerNorm layer over the layernorm kernels; the cache keeps each row's mean and rstd.
#include "courier/nn/layer_norm.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/tensor/layernorm.h"

namespace courier {

LayerNorm::LayerNorm(std::int64_t channels, bool bias, Init weight_init)
    : channels_(channels), has_bias_(bias), weight_init_(weight_init) {
  COURIER_CHECK_GT(channels_, 0, "LayerNorm channels");
}

std::string LayerNorm::describe() const {
  return fmt::format("LayerNorm({}{})", channels_, has_bias_ ? "" : ", no bias");
}

Shape LayerNorm::setup(const Shape& input, ParameterLayout& layout) {
  COURIER_CHECK(input.rank() >= 1 && input[-1] == channels_, "{} got per-sample input {}", describe(), input);
  weight_ = layout.add("weight", {channels_}, weight_init_, /*weight_decay=*/false);
  if (has_bias_) bias_ = layout.add("bias", {channels_}, Init::zeros(), /*weight_decay=*/false);
  return input;
}

// in (N..., C) -> out (N..., C); cache: mean (N), rstd (N)
void LayerNorm::forward(const Tensor& in, Tensor& out, LayerCache& cache) {
  const std::int64_t rows = in.shape().leading_numel();
  Tensor mean = cache_tensor(cache, 0, {rows});
  Tensor rstd = cache_tensor(cache, 1, {rows});
  Tensor y = out.as_matrix();
  layernorm_forward(in.as_matrix(), value(weight_), bias_ ? value(*bias_) : Tensor(), y, mean, rstd);
}

void LayerNorm::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache& cache, Tensor* din) {
  COURIER_CHECK_GE(cache.saved.size(), 2u, "{} backward() before forward()", describe());
  Tensor dx = din != nullptr ? din->as_matrix() : Tensor();
  Tensor dweight = grad(weight_);
  Tensor dbias = bias_ ? grad(*bias_) : Tensor();
  layernorm_backward(dout.as_matrix(), in.as_matrix(), value(weight_), cache.saved[0], cache.saved[1], dx, dweight,
                     dbias);
}

}  // namespace courier
