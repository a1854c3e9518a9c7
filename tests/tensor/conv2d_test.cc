// conv2d_forward and conv2d_backward: hand-computed tiny cases, the im2col kernels against
// the direct reference over a sweep of geometries (stride 1 and 2, padding 0 to 2, odd
// sizes, batch 1 to 9, one and three channels, kernels 1, 3 and 5, several image groups),
// the input gradient against central differences, workspace reuse, and the shape checks.
#include "courier/tensor/conv2d.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
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
using testing::Tolerance;

struct Case {
  std::int64_t batch, channels, height, width, out_channels, kernel, stride, padding;
};

std::string describe(const Case& c) {
  return fmt::format("x ({}, {}, {}, {}), weight ({}, {}, {}, {}), stride {}, padding {}", c.batch, c.channels,
                     c.height, c.width, c.out_channels, c.channels, c.kernel, c.kernel, c.stride, c.padding);
}

const std::vector<Case> kCases = {
    {1, 1, 5, 5, 1, 3, 1, 0},    // the smallest useful case
    {3, 3, 7, 6, 4, 3, 1, 1},    // odd sizes, "same" padding
    {1, 3, 9, 9, 2, 5, 2, 2},    // kernel 5, stride 2
    {3, 1, 8, 7, 5, 1, 1, 0},    // 1x1 kernel
    {2, 3, 7, 9, 3, 3, 2, 1},    // stride 2 with padding on an odd width
    {3, 3, 6, 6, 2, 5, 1, 0},    // kernel 5 without padding
    {1, 1, 4, 4, 3, 3, 2, 0},    // stride 2 that drops the last row and column
    {3, 3, 11, 5, 4, 3, 2, 0},   // tall and narrow
    {2, 2, 3, 3, 2, 5, 1, 1},    // kernel larger than the image, covered by padding
    {1, 3, 2, 3, 2, 1, 2, 1},    // 1x1 kernel over padding only at some outputs
    {8, 16, 32, 32, 2, 3, 1, 1}, // two image groups (7 + 1), OpenMP loops
};

Shape weight_shape(const Case& c) { return {c.out_channels, c.channels, c.kernel, c.kernel}; }
Shape x_shape(const Case& c) { return {c.batch, c.channels, c.height, c.width}; }
Shape out_shape(const Case& c) {
  return conv2d_output_shape(x_shape(c), weight_shape(c), {.stride = c.stride, .padding = c.padding});
}

// fp32 sums of patch-sized dot products against a double reference.
Tolerance conv_tolerance(std::int64_t terms) { return {.rtol = 1e-4, .atol = 2e-5 * static_cast<double>(terms + 1)}; }

TEST(Conv2dKernel, OutputSize) {
  EXPECT_EQ(conv2d_output_size(28, 3, {}), 26);
  EXPECT_EQ(conv2d_output_size(7, 3, {.stride = 2}), 3);
  EXPECT_EQ(conv2d_output_size(7, 3, {.stride = 2, .padding = 1}), 4);
  EXPECT_EQ(conv2d_output_size(4, 3, {.stride = 2}), 1) << "the last column cannot hold a window";
  EXPECT_EQ(conv2d_output_size(3, 5, {.padding = 1}), 1);
  EXPECT_EQ(out_shape({2, 3, 8, 6, 5, 3, 1, 1}), Shape({2, 5, 8, 6}));
}

// x = [1 2 3; 4 5 6; 7 8 9], weight = [1 2; 3 4], bias 1.
TEST(Conv2dKernel, HandComputedForwardBackward) {
  const Tensor x = Tensor::from({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor weight = Tensor::from({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor bias = Tensor::from({1}, {1});
  Tensor out = Tensor::full({1, 1, 2, 2}, -99.0f);
  Tensor workspace;
  conv2d_forward(x, weight, bias, out, {}, workspace);
  // [1+4+12+20, 2+6+15+24; 4+10+21+32, 5+12+24+36] + 1
  expect_tensor_near(out, Tensor::from({1, 1, 2, 2}, {38, 48, 68, 78}));

  const Tensor dout = Tensor::full({1, 1, 2, 2}, 1.0f);
  Tensor dweight = Tensor::full({1, 1, 2, 2}, 0.5f);  // accumulated onto
  Tensor dbias = Tensor::full({1}, 2.0f);
  Tensor dx = Tensor::full({1, 1, 3, 3}, -99.0f);     // written
  conv2d_backward(dout, x, weight, dweight, &dbias, &dx, {}, workspace);
  // dweight[p][q] = sum of the window's x at tap (p, q); dbias = number of outputs;
  // dx = the sum of the taps that read each pixel.
  expect_tensor_near(dweight, Tensor::from({1, 1, 2, 2}, {12.5f, 16.5f, 24.5f, 28.5f}));
  expect_tensor_near(dbias, Tensor::from({1}, {6}));
  expect_tensor_near(dx, Tensor::from({1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4}));
}

// The same x and weight, padding 1 and stride 2: windows start at rows and columns -1 and 1.
TEST(Conv2dKernel, HandComputedPaddingAndStride) {
  const Tensor x = Tensor::from({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor weight = Tensor::from({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor out = Tensor::empty({1, 1, 2, 2});
  Tensor workspace;
  conv2d_forward(x, weight, Tensor(), out, {.stride = 2, .padding = 1}, workspace);
  // (0,0): 1*4; (0,1): 2*3 + 3*4; (1,0): 4*2 + 7*4; (1,1): 5*1 + 6*2 + 8*3 + 9*4
  expect_tensor_near(out, Tensor::from({1, 1, 2, 2}, {4, 18, 36, 77}));

  const Tensor dout = Tensor::from({1, 1, 2, 2}, {1, 10, 100, 1000});
  Tensor dweight = Tensor::zeros({1, 1, 2, 2});
  Tensor dx = Tensor::empty({1, 1, 3, 3});
  conv2d_backward(dout, x, weight, dweight, nullptr, &dx, {.stride = 2, .padding = 1}, workspace);
  // Each pixel is read by exactly one window here: dx = dout of that window times its tap.
  expect_tensor_near(dx, Tensor::from({1, 1, 3, 3}, {4, 30, 40, 200, 1000, 2000, 400, 3000, 4000}));
  // dweight[p][q] = sum over windows of dout * x at tap (p, q).
  expect_tensor_near(dweight, Tensor::from({1, 1, 2, 2}, {5000, 6400, 8020, 9731}));
}

void check_forward_against_reference(const Case& c, bool with_bias, Rng& rng) {
  const Tensor x = random_tensor(x_shape(c), rng);
  const Tensor weight = random_tensor(weight_shape(c), rng);
  const Tensor bias = with_bias ? random_tensor({c.out_channels}, rng) : Tensor();
  const Conv2dGeometry geometry{.stride = c.stride, .padding = c.padding};
  Tensor out = Tensor::full(out_shape(c), 1e6f);
  Tensor expected = Tensor::empty(out_shape(c));
  Tensor workspace;
  conv2d_forward(x, weight, bias, out, geometry, workspace);
  reference::conv2d_forward(x, weight, bias, expected, geometry);
  expect_tensor_near(out, expected, conv_tolerance(c.channels * c.kernel * c.kernel));
}

TEST(Conv2dKernel, ForwardMatchesReference) {
  Rng rng(2024);
  for (const Case& c : kCases) {
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(describe(c) + (with_bias ? ", bias" : ", no bias"));
      check_forward_against_reference(c, with_bias, rng);
    }
  }
}

void check_backward_against_reference(const Case& c, Rng& rng) {
  const Tensor x = random_tensor(x_shape(c), rng);
  const Tensor weight = random_tensor(weight_shape(c), rng);
  const Tensor dout = random_tensor(out_shape(c), rng);
  const Conv2dGeometry geometry{.stride = c.stride, .padding = c.padding};
  // Nonzero starting gradients: dweight and dbias accumulate, dx is overwritten.
  Tensor dweight = random_tensor(weight.shape(), rng);
  Tensor dbias = random_tensor({c.out_channels}, rng);
  Tensor dx = Tensor::full(x.shape(), 1e6f);
  Tensor expected_dweight = dweight.clone();
  Tensor expected_dbias = dbias.clone();
  Tensor expected_dx = Tensor::empty(x.shape());
  Tensor workspace;
  conv2d_backward(dout, x, weight, dweight, &dbias, &dx, geometry, workspace);
  reference::conv2d_backward(dout, x, weight, expected_dweight, &expected_dbias, &expected_dx, geometry);
  const std::int64_t positions = c.batch * out_shape(c)[2] * out_shape(c)[3];
  expect_tensor_near(dweight, expected_dweight, conv_tolerance(positions));
  expect_tensor_near(dbias, expected_dbias, conv_tolerance(positions));
  expect_tensor_near(dx, expected_dx, conv_tolerance(c.out_channels * c.kernel * c.kernel));
}

TEST(Conv2dKernel, BackwardMatchesReference) {
  Rng rng(77);
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    check_backward_against_reference(c, rng);
  }
}

TEST(Conv2dKernel, LargeCaseSpansSeveralImageGroups) {
  // The sweep's last case must exercise more than one GEMM group, or it tests nothing extra.
  const Case& c = kCases.back();
  const std::int64_t one_group_numel = c.batch * out_shape(c)[2] * out_shape(c)[3] *
                                       (c.channels * c.kernel * c.kernel + c.out_channels);
  EXPECT_LT(conv2d_workspace_numel(x_shape(c), weight_shape(c), {.stride = c.stride, .padding = c.padding}),
            one_group_numel);
}

TEST(Conv2dKernel, BackwardWithoutBiasOrInputGradient) {
  Rng rng(5);
  const Case c{2, 3, 6, 5, 2, 3, 1, 1};
  const Tensor x = random_tensor(x_shape(c), rng);
  const Tensor weight = random_tensor(weight_shape(c), rng);
  const Tensor dout = random_tensor(out_shape(c), rng);
  const Conv2dGeometry geometry{.stride = c.stride, .padding = c.padding};
  Tensor dweight = Tensor::zeros(weight.shape());
  Tensor expected = Tensor::zeros(weight.shape());
  Tensor workspace;
  conv2d_backward(dout, x, weight, dweight, nullptr, nullptr, geometry, workspace);
  reference::conv2d_backward(dout, x, weight, expected, nullptr, nullptr, geometry);
  expect_tensor_near(dweight, expected, conv_tolerance(60));
}

// The input gradient against central differences of L = sum(out * r), independent of both
// the im2col kernels and the reference's backward.
TEST(Conv2dKernel, InputGradientMatchesFiniteDifferences) {
  Rng rng(31);
  for (const Case& c : {Case{2, 3, 5, 6, 2, 3, 2, 1}, Case{1, 2, 6, 6, 3, 5, 1, 2}}) {
    SCOPED_TRACE(describe(c));
    Tensor x = random_tensor(x_shape(c), rng);
    const Tensor weight = random_tensor(weight_shape(c), rng);
    const Tensor bias = random_tensor({c.out_channels}, rng);
    const Tensor r = random_tensor(out_shape(c), rng);
    const Conv2dGeometry geometry{.stride = c.stride, .padding = c.padding};
    Tensor out = Tensor::empty(out_shape(c));
    Tensor workspace;
    auto loss = [&] {
      conv2d_forward(x, weight, bias, out, geometry, workspace);
      double total = 0.0;
      for (std::int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.data()[i]) * r.data()[i];
      return total;
    };
    Tensor dweight = Tensor::zeros(weight.shape());
    Tensor dx = Tensor::empty(x.shape());
    conv2d_backward(r, x, weight, dweight, nullptr, &dx, geometry, workspace);
    EXPECT_TRUE(testing::gradcheck(loss, x.span(), dx.span()));
  }
}

TEST(Conv2dKernel, WorkspaceIsReusedOnceLargeEnough) {
  Rng rng(8);
  const Case c{3, 3, 7, 6, 4, 3, 1, 1};
  const Tensor x = random_tensor(x_shape(c), rng);
  const Tensor weight = random_tensor(weight_shape(c), rng);
  const Conv2dGeometry geometry{.stride = c.stride, .padding = c.padding};
  Tensor workspace = Tensor::empty({conv2d_workspace_numel(x.shape(), weight.shape(), geometry)});
  const float* storage = workspace.data();
  Tensor out = Tensor::empty(out_shape(c));
  conv2d_forward(x, weight, Tensor(), out, geometry, workspace);
  Tensor dweight = Tensor::zeros(weight.shape());
  Tensor dx = Tensor::empty(x.shape());
  conv2d_backward(out, x, weight, dweight, nullptr, &dx, geometry, workspace);
  EXPECT_EQ(workspace.data(), storage) << "a workspace of conv2d_workspace_numel elements is enough";

  Tensor small = Tensor::empty({1});
  Tensor again = Tensor::empty(out_shape(c));
  conv2d_forward(x, weight, Tensor(), again, geometry, small);
  EXPECT_GE(small.numel(), workspace.numel()) << "a small workspace is grown";
  expect_tensor_near(again, out);
}

TEST(Conv2dKernel, ShapeMismatchesNameBothShapes) {
  const Tensor x = Tensor::zeros({2, 3, 5, 5});
  const Tensor weight = Tensor::zeros({4, 2, 3, 3});
  Tensor out = Tensor::zeros({2, 4, 3, 3});
  Tensor workspace;
  expect_check_error_naming([&] { conv2d_forward(x, weight, Tensor(), out, {}, workspace); },
                            {"[2, 3, 5, 5]", "[4, 2, 3, 3]"});

  const Tensor good_weight = Tensor::zeros({4, 3, 3, 3});
  Tensor wrong_out = Tensor::zeros({2, 4, 5, 5});
  expect_check_error_naming([&] { conv2d_forward(x, good_weight, Tensor(), wrong_out, {}, workspace); },
                            {"[2, 4, 5, 5]", "[2, 4, 3, 3]"});
  expect_check_error_naming(
      [&] { conv2d_forward(x, good_weight, Tensor::zeros({3}), out, {}, workspace); }, {"[3]", "[4]"});

  Tensor dweight = Tensor::zeros({4, 3, 3, 3});
  Tensor wrong_dx = Tensor::zeros({2, 3, 4, 5});
  expect_check_error_naming(
      [&] { conv2d_backward(out, x, good_weight, dweight, nullptr, &wrong_dx, {}, workspace); },
      {"[2, 3, 4, 5]", "[2, 3, 5, 5]"});
  expect_check_error_naming(
      [&] { conv2d_backward(wrong_out, x, good_weight, dweight, nullptr, nullptr, {}, workspace); },
      {"[2, 4, 5, 5]", "[2, 4, 3, 3]"});
  Tensor wrong_dweight = Tensor::zeros({4, 3, 2, 2});
  expect_check_error_naming(
      [&] { conv2d_backward(out, x, good_weight, wrong_dweight, nullptr, nullptr, {}, workspace); },
      {"[4, 3, 2, 2]", "[4, 3, 3, 3]"});
}

TEST(Conv2dKernel, GeometryChecks) {
  const Shape weight{1, 1, 5, 5};
  expect_check_error_naming([&] { conv2d_output_shape({1, 1, 4, 4}, weight, {}); }, {"input 4"});
  EXPECT_NO_THROW(conv2d_output_shape({1, 1, 4, 4}, weight, {.padding = 1}));
  EXPECT_THROW(conv2d_output_shape({1, 1, 8, 8}, weight, {.stride = 0}), CheckError);
  EXPECT_THROW(conv2d_output_shape({1, 1, 8, 8}, weight, {.padding = -1}), CheckError);
  EXPECT_THROW(conv2d_output_shape({1, 8, 8}, weight, {}), CheckError) << "x must have rank 4";
  EXPECT_THROW(conv2d_output_shape({1, 1, 8, 8}, {1, 5, 5}, {}), CheckError) << "weight must have rank 4";
}

}  // namespace
}  // namespace courier
