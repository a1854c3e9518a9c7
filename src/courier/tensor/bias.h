// Bias add as a forward/backward pair: one bias value a column, broadcast over rows.
#pragma once

#include "courier/tensor/tensor.h"

namespace courier {

// x (..., C), bias (C), out (..., C): out = x + bias. out may be x (in place).
void bias_add_forward(const Tensor& x, const Tensor& bias, Tensor& out);
// dout (..., C), dbias (C): dbias += sum of dout over every leading index.
// The input gradient is dout itself, so there is no din to write.
void bias_add_backward(const Tensor& dout, Tensor& dbias);

}  // namespace courier
