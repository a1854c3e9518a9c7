// maxpool2d_forward and maxpool2d_backward: hand-computed values and argmax, ties and NaN,
// the kernels against the direct reference over a sweep (tiling and overlapping windows,
// odd sizes that drop a border, batch and channels 1 and 3, planes above the OpenMP
// threshold), the input gradient against central differences, and the shape checks.
#include "courier/tensor/maxpool2d.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "courier/tensor/parallel.h"
#include "courier/tensor/reference.h"
#include "testutil/check_error.h"
#include "testutil/gradcheck.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::expect_check_error_naming;
using testing::expect_tensor_near;
using testing::random_tensor;

struct PoolCase {
  std::int64_t batch, channels, height, width, kernel, stride;
};

std::string describe_pool(const PoolCase& c) {
  return fmt::format("x ({}, {}, {}, {}), kernel {}, stride {}", c.batch, c.channels, c.height, c.width, c.kernel,
                     c.stride);
}

const std::vector<PoolCase> kPoolCases = {
    {1, 1, 4, 4, 2, 2},       // tiling
    {3, 3, 7, 5, 2, 2},       // odd sizes: the last row and column are dropped
    {1, 3, 9, 9, 3, 2},       // overlapping windows
    {3, 1, 6, 7, 3, 1},       // stride 1
    {3, 3, 5, 5, 5, 5},       // one window covering the whole plane
    {2, 3, 8, 8, 1, 1},       // the identity
    {3, 3, 64, 60, 2, 2},     // above kParallelMinElements: the OpenMP loop
    {2, 1, 13, 11, 3, 3},     // tiling with a border dropped
};

Shape x_shape(const PoolCase& c) { return {c.batch, c.channels, c.height, c.width}; }

TEST(MaxPool2dKernel, OutputShape) {
  EXPECT_EQ(maxpool2d_output_shape({2, 3, 26, 26}, 2, 2), Shape({2, 3, 13, 13}));
  EXPECT_EQ(maxpool2d_output_shape({2, 3, 11, 11}, 2, 2), Shape({2, 3, 5, 5})) << "floor: the border is dropped";
  EXPECT_EQ(maxpool2d_output_shape({1, 1, 9, 7}, 3, 2), Shape({1, 1, 4, 3}));
}

TEST(MaxPool2dKernel, HandComputed) {
  // One 4x4 plane pooled 2x2: each window's maximum and its position h * 4 + w.
  const Tensor x = Tensor::from({1, 1, 4, 4}, {1, 5, 2, 0,   //
                                               3, 4, 8, 7,   //
                                               -1, -2, 6, 6, //
                                               -3, -9, 9, -5});
  Tensor out = Tensor::empty({1, 1, 2, 2});
  std::vector<std::int32_t> argmax;
  maxpool2d_forward(x, out, argmax, 2, 2);
  expect_tensor_near(out, Tensor::from({1, 1, 2, 2}, {5, 8, -1, 9}));
  EXPECT_EQ(argmax, (std::vector<std::int32_t>{1, 6, 8, 14}));

  const Tensor dout = Tensor::from({1, 1, 2, 2}, {10, 20, 30, 40});
  Tensor dx = Tensor::full(x.shape(), -99.0f);
  maxpool2d_backward(dout, argmax, dx);
  expect_tensor_near(dx, Tensor::from({1, 1, 4, 4}, {0, 10, 0, 0, 0, 0, 20, 0, 30, 0, 0, 0, 0, 0, 40, 0}));
}

TEST(MaxPool2dKernel, FirstMaximumWinsTiesAndNanPropagates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from({1, 1, 2, 4}, {7, 7, 1, nan,  //
                                               7, 7, nan, 2});
  Tensor out = Tensor::empty({1, 1, 1, 2});
  std::vector<std::int32_t> argmax;
  maxpool2d_forward(x, out, argmax, 2, 2);
  EXPECT_EQ(out.at(0), 7.0f);
  EXPECT_TRUE(std::isnan(out.at(1)));
  EXPECT_EQ(argmax, (std::vector<std::int32_t>{0, 3}));

  std::vector<std::int32_t> expected_argmax;
  Tensor expected = Tensor::empty(out.shape());
  reference::maxpool2d_forward(x, expected, expected_argmax, 2, 2);
  EXPECT_EQ(argmax, expected_argmax);
}

TEST(MaxPool2dKernel, OverlappingWindowsAccumulateGradients) {
  // Stride 1 over [1 2 1; 2 9 2; 1 2 1]: every 2x2 window holds the 9.
  const Tensor x = Tensor::from({1, 1, 3, 3}, {1, 2, 1, 2, 9, 2, 1, 2, 1});
  Tensor out = Tensor::empty({1, 1, 2, 2});
  std::vector<std::int32_t> argmax;
  maxpool2d_forward(x, out, argmax, 2, 1);
  expect_tensor_near(out, Tensor::full({1, 1, 2, 2}, 9.0f));
  Tensor dx = Tensor::empty(x.shape());
  maxpool2d_backward(Tensor::from({1, 1, 2, 2}, {1, 2, 3, 4}), argmax, dx);
  expect_tensor_near(dx, Tensor::from({1, 1, 3, 3}, {0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

TEST(MaxPool2dKernel, MatchesReference) {
  Rng rng(404);
  for (const PoolCase& c : kPoolCases) {
    SCOPED_TRACE(describe_pool(c));
    const Tensor x = random_tensor(x_shape(c), rng);
    const Shape out_shape = maxpool2d_output_shape(x.shape(), c.kernel, c.stride);
    Tensor out = Tensor::full(out_shape, 1e6f);
    Tensor expected = Tensor::empty(out_shape);
    std::vector<std::int32_t> argmax(3, -7);  // resized by the kernel
    std::vector<std::int32_t> expected_argmax;
    maxpool2d_forward(x, out, argmax, c.kernel, c.stride);
    reference::maxpool2d_forward(x, expected, expected_argmax, c.kernel, c.stride);
    expect_tensor_near(out, expected, {.rtol = 0, .atol = 0});
    EXPECT_EQ(argmax, expected_argmax);

    const Tensor dout = random_tensor(out_shape, rng);
    Tensor dx = Tensor::full(x.shape(), 1e6f);
    Tensor expected_dx = Tensor::empty(x.shape());
    maxpool2d_backward(dout, argmax, dx);
    reference::maxpool2d_backward(dout, expected_argmax, expected_dx);
    expect_tensor_near(dx, expected_dx, {.rtol = 1e-6, .atol = 1e-6});
  }
}

TEST(MaxPool2dKernel, SweepIncludesTheParallelPath) {
  bool above = false;
  for (const PoolCase& c : kPoolCases) above = above || x_shape(c).numel() >= kParallelMinElements;
  EXPECT_TRUE(above);
}

// The input gradient against central differences of L = sum(out * r). Continuous random
// inputs keep windows away from ties, where the max has a kink.
TEST(MaxPool2dKernel, InputGradientMatchesFiniteDifferences) {
  Rng rng(9);
  for (const PoolCase& c : {PoolCase{2, 3, 7, 6, 2, 2}, PoolCase{1, 2, 7, 7, 3, 2}, PoolCase{2, 1, 5, 6, 2, 1}}) {
    SCOPED_TRACE(describe_pool(c));
    Tensor x = random_tensor(x_shape(c), rng);
    const Shape out_shape = maxpool2d_output_shape(x.shape(), c.kernel, c.stride);
    const Tensor r = random_tensor(out_shape, rng);
    Tensor out = Tensor::empty(out_shape);
    std::vector<std::int32_t> argmax;
    auto loss = [&] {
      std::vector<std::int32_t> scratch;
      maxpool2d_forward(x, out, scratch, c.kernel, c.stride);
      double total = 0.0;
      for (std::int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.data()[i]) * r.data()[i];
      return total;
    };
    maxpool2d_forward(x, out, argmax, c.kernel, c.stride);
    Tensor dx = Tensor::empty(x.shape());
    maxpool2d_backward(r, argmax, dx);
    EXPECT_TRUE(testing::gradcheck(loss, x.span(), dx.span(), {.eps = 1e-3}));
  }
}

TEST(MaxPool2dKernel, ShapeMismatchesNameBothShapes) {
  const Tensor x = Tensor::zeros({2, 3, 6, 6});
  std::vector<std::int32_t> argmax;
  Tensor wrong_out = Tensor::zeros({2, 3, 2, 2});
  expect_check_error_naming([&] { maxpool2d_forward(x, wrong_out, argmax, 2, 2); },
                            {"[2, 3, 2, 2]", "[2, 3, 3, 3]", "[2, 3, 6, 6]"});
  Tensor out = Tensor::zeros({2, 3, 1, 1});
  expect_check_error_naming([&] { maxpool2d_forward(Tensor::zeros({2, 3, 4, 6}), out, argmax, 5, 5); },
                            {"[2, 3, 4, 6]"});
  EXPECT_THROW(maxpool2d_forward(Tensor::zeros({3, 6, 6}), out, argmax, 2, 2), CheckError);
  EXPECT_THROW(maxpool2d_forward(x, out, argmax, 0, 1), CheckError);

  Tensor good_out = Tensor::zeros({2, 3, 3, 3});
  maxpool2d_forward(x, good_out, argmax, 2, 2);
  Tensor wrong_dx = Tensor::zeros({2, 4, 6, 6});
  expect_check_error_naming([&] { maxpool2d_backward(good_out, argmax, wrong_dx); },
                            {"[2, 3, 3, 3]", "[2, 4, 6, 6]"});
  Tensor dx = Tensor::zeros(x.shape());
  const std::vector<std::int32_t> short_argmax(5, 0);
  EXPECT_THROW(maxpool2d_backward(good_out, short_argmax, dx), CheckError);
  std::vector<std::int32_t> bad_argmax = argmax;
  bad_argmax[4] = 36;  // one past the plane
  EXPECT_THROW(maxpool2d_backward(good_out, bad_argmax, dx), CheckError);
}

}  // namespace
}  // namespace courier
