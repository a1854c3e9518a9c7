// Reductions. Whole-tensor sums accumulate in double over fixed blocks combined in order,
// so the result is the same for any thread count (bitwise reproducible runs need that).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "courier/tensor/tensor.h"

namespace courier {

// Sum and mean of every element, with their backward: din = dsum (or dmean / n) everywhere.
float sum_forward(const Tensor& x);
void sum_backward(float dsum, Tensor& din);
float mean_forward(const Tensor& x);
void mean_backward(float dmean, Tensor& din);

// sum of x[i]^2 in double; the global gradient norm is its square root.
double squared_norm(std::span<const float> x);

// x (N, C), out (C): out = (accumulate ? out : 0) + column sums of x.
void sum_over_rows(const Tensor& x, Tensor& out, bool accumulate);

// x (..., C) -> values (...,) and argmax (one index a row; the first maximum wins).
void row_max_forward(const Tensor& x, Tensor& values, std::vector<std::int64_t>& argmax);
// dvalues (...,) -> din (..., C): din = dvalues at each row's argmax, 0 elsewhere.
void row_max_backward(const Tensor& dvalues, std::span<const std::int64_t> argmax, Tensor& din);

}  // namespace courier
