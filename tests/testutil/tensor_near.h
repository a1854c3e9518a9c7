// expect_tensor_near: compares two tensors elementwise and, on failure, reports the first
// mismatching index (per dimension), both values, and how many elements differ.
#pragma once

#include <gtest/gtest.h>

#include "courier/tensor/tensor.h"

namespace courier::testing {

struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
};

// |actual - expected| <= atol + rtol |expected| everywhere, and the same shape.
::testing::AssertionResult tensors_near(const Tensor& actual, const Tensor& expected, Tolerance tolerance = {});

// A non-fatal failure at the caller's line when tensors_near fails. The builtins, not
// std::source_location: clang 14 (the tsan preset) lacks the one that <source_location> needs.
void expect_tensor_near(const Tensor& actual, const Tensor& expected, Tolerance tolerance = {},
                        const char* file = __builtin_FILE(), int line = __builtin_LINE());

}  // namespace courier::testing
