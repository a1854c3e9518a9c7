// gradcheck: compares analytic gradients with central differences.
//
// For each checked element x_i: numeric = (f(x + e) - f(x - e)) / 2e, compared with the
// analytic value within atol + rtol |numeric|. A point where the function has a kink (ReLU
// at 0, max at a tie) gives a meaningless central difference; it is detected by the two
// one-sided slopes disagreeing by more than kink_jump and skipped (and counted).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include <gtest/gtest.h>

#include "courier/nn/layer.h"

namespace courier::testing {

struct GradcheckOptions {
  double eps = 1e-2;        // perturbation; fp32 forward passes want 1e-3 .. 1e-2
  double rtol = 2e-2;
  double atol = 2e-3;
  double kink_jump = 0.05;  // one-sided slopes further apart than this (relative to max(1, |slope|)) mark a kink
  double max_skipped_fraction = 0.25;  // fail if more points than this are kinks: the test input is badly chosen
};

// f must be a deterministic function of the current contents of x; analytic[i] = df/dx[i].
// x is restored after the check.
::testing::AssertionResult gradcheck(const std::function<double()>& f, std::span<float> x,
                                     std::span<const float> analytic, const GradcheckOptions& options = {});

// Checks a layer's input and parameter gradients on a random batch: inputs and the
// layer's parameters drawn from `seed`, loss = sum(out * r) for a fixed random r, so
// dout = r. `input_scale` scales the N(0, 1) inputs.
::testing::AssertionResult gradcheck_layer(Layer& layer, const Shape& sample_input, std::int64_t batch,
                                           std::uint64_t seed, const GradcheckOptions& options = {},
                                           float input_scale = 1.0f);

}  // namespace courier::testing
