// Linear layer: one GEMM forward, two backward, with the bias folded in.
#include "courier/nn/linear.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/tensor/bias.h"
#include "courier/tensor/matmul.h"

namespace courier {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, LinearOptions options)
    : in_features_(in_features), out_features_(out_features), options_(std::move(options)) {
  COURIER_CHECK_GT(in_features_, 0, "Linear in_features");
  COURIER_CHECK_GT(out_features_, 0, "Linear out_features");
}

std::string Linear::describe() const {
  return fmt::format("Linear({} -> {}{})", in_features_, out_features_, options_.bias ? "" : ", no bias");
}

Shape Linear::setup(const Shape& input, ParameterLayout& layout) {
  COURIER_CHECK_GE(input.rank(), 1, "{} needs at least a feature dimension", describe());
  COURIER_CHECK_EQ(input[-1], in_features_, "{} got per-sample input {}", describe(), input);
  weight_ = layout.add("weight", {out_features_, in_features_},
                       options_.weight_init.value_or(Init::torch_linear_weight()), /*weight_decay=*/true);
  if (options_.bias) {
    bias_ = layout.add("bias", {out_features_}, options_.bias_init.value_or(Init::torch_linear_bias(in_features_)),
                       /*weight_decay=*/false);
  }
  std::vector<std::int64_t> dims(input.dims().begin(), input.dims().end());
  dims.back() = out_features_;
  return Shape(dims);
}

// in (M, I) as a matrix, weight (O, I), bias (O), out (M, O)
void Linear::forward(const Tensor& in, Tensor& out, LayerCache&) {
  COURIER_CHECK_EQ(in.dim(-1), in_features_, "{} expects input (..., {}), got {}", describe(), in_features_,
                   in.shape());
  Tensor x = in.as_matrix();
  Tensor y = out.as_matrix();
  matmul(x, value(weight_), y, {.transpose_b = true});
  if (bias_) bias_add_forward(y, value(*bias_), y);
}

// dweight += dout^T @ in; dbias += column sums of dout; din = dout @ weight
void Linear::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache&, Tensor* din) {
  Tensor x = in.as_matrix();
  Tensor dy = dout.as_matrix();
  Tensor dweight = grad(weight_);
  matmul(dy, x, dweight, {.transpose_a = true, .accumulate = true});
  if (bias_) {
    Tensor dbias = grad(*bias_);
    bias_add_backward(dy, dbias);
  }
  if (din != nullptr) {
    Tensor dx = din->as_matrix();
    matmul(dy, value(weight_), dx);
  }
}

}  // namespace courier
