// Layer normalisation over the last dimension, as a forward/backward pair (llm.c's layout:
// the forward saves each row's mean and reciprocal standard deviation for the backward).
#pragma once

#include "courier/tensor/tensor.h"

namespace courier {

inline constexpr float kLayerNormEps = 1e-5f;

// x (N, C), weight (C), bias (C) or undefined for none -> out (N, C), mean (N), rstd (N):
//   out = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps), var the biased variance.
// Statistics are accumulated in double. out must not alias x.
void layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out, Tensor& mean,
                       Tensor& rstd, float eps = kLayerNormEps);

// dout (N, C) with the forward's x, weight, mean, rstd: writes dx (N, C) when defined and
// ADDS into dweight (C) and dbias (C, when defined). dx must not alias dout.
void layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& weight, const Tensor& mean,
                        const Tensor& rstd, Tensor& dx, Tensor& dweight, Tensor& dbias);

}  // namespace courier
