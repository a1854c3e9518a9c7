// expect_tensor_near: compares two tensors elementwise and, on failure, reports the first
// mismatching index (per dimension), both values, and how many elements differ.
#pragma once

#include <source_location>

#include <gtest/gtest.h>

#include "courier/tensor/tensor.h"

namespace courier::testing {

struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
};

// |actual - expected| <= atol + rtol |expected| everywhere, and the same shape.
::testing::AssertionResult tensors_near(const Tensor& actual, const Tensor& expected, Tolerance tolerance = {});

// A non-fatal failure at the caller's line when tensors_near fails.
void expect_tensor_near(const Tensor& actual, const Tensor& expected, Tolerance tolerance = {},
                        std::source_location where = std::source_location::current());

}  // namespace courier::testing
