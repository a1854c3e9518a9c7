// Conv2d, MaxPool2d and Flatten layers: setup (shapes, parameter names, PyTorch's default
// init bounds), values against the reference kernels and against PyTorch golden numbers,
// gradient checks, two batches in flight with one cache each, and the shape errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "courier/nn/conv2d.h"
#include "courier/nn/flatten.h"
#include "courier/nn/max_pool2d.h"
#include "courier/tensor/reference.h"
#include "testutil/check_error.h"
#include "testutil/gradcheck.h"
#include "testutil/layer_setup.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::expect_check_error_naming;
using testing::expect_tensor_near;
using testing::gradcheck_layer;
using testing::param;
using testing::param_grad;
using testing::setup_layer;
using testing::random_tensor;

float max_abs(const Tensor& t) {
  float m = 0.0f;
  for (float v : t.span()) m = std::max(m, std::abs(v));
  return m;
}

// ---------------------------------------------------------------------------------------
// Conv2d

TEST(Conv2d, SetupDeclaresWeightAndBias) {
  Conv2d layer(3, 8, 5);
  EXPECT_EQ(layer.describe(), "Conv2d(3 -> 8, 5x5)");
  ParameterLayout layout;
  EXPECT_EQ(layer.setup({3, 12, 10}, layout), Shape({8, 8, 6}));
  ASSERT_EQ(layout.specs().size(), 2u);
  EXPECT_EQ(layout.specs()[0].name, "weight");
  EXPECT_EQ(layout.specs()[0].shape, Shape({8, 3, 5, 5}));
  EXPECT_TRUE(layout.specs()[0].weight_decay);
  EXPECT_EQ(layout.specs()[1].name, "bias");
  EXPECT_EQ(layout.specs()[1].shape, Shape({8}));
  EXPECT_FALSE(layout.specs()[1].weight_decay);
  EXPECT_EQ(layout.numel(), 8 * 3 * 5 * 5 + 8);
}

TEST(Conv2d, SetupWithStridePaddingNoBias) {
  Conv2d layer(2, 4, 3, {.stride = 2, .padding = 1, .bias = false});
  EXPECT_EQ(layer.describe(), "Conv2d(2 -> 4, 3x3, stride 2, padding 1, no bias)");
  ParameterLayout layout;
  EXPECT_EQ(layer.setup({2, 7, 8}, layout), Shape({4, 4, 4}));
  ASSERT_EQ(layout.specs().size(), 1u);
  EXPECT_EQ(layout.specs()[0].name, "weight");
  EXPECT_EQ(layout.numel(), 4 * 2 * 3 * 3);
}

// torch.nn.Conv2d: weight kaiming_uniform(a = sqrt(5)) and bias U(-b, b), both with
// b = 1 / sqrt(fan_in), fan_in = in_channels * k * k = 16 * 9 = 144, so b = 1/12.
TEST(Conv2d, DefaultInitIsTorchConv2d) {
  Conv2d layer(16, 64, 3);
  auto params = setup_layer(layer, {16, 5, 5}, 7);
  const float bound = 1.0f / 12.0f;
  const Tensor weight = param(*params, "weight");
  EXPECT_LE(max_abs(weight), bound);
  EXPECT_GT(max_abs(weight), 0.95f * bound) << "9216 draws should get close to the bound";
  const Tensor bias = param(*params, "bias");
  EXPECT_LE(max_abs(bias), bound);
  EXPECT_GT(max_abs(bias), 0.8f * bound) << "64 draws should get close to the bound";
}

TEST(Conv2d, CustomInit) {
  Conv2d layer(2, 3, 3, {.weight_init = Init::constant(0.25f), .bias_init = Init::constant(-1.0f)});
  auto params = setup_layer(layer, {2, 4, 4}, 1);
  expect_tensor_near(param(*params, "weight"), Tensor::full({3, 2, 3, 3}, 0.25f));
  expect_tensor_near(param(*params, "bias"), Tensor::full({3}, -1.0f));
}

// Forward, and backward twice (parameter gradients accumulate, din is overwritten), against
// the reference kernels.
void check_conv_against_reference(const Conv2dOptions& options, const Shape& sample) {
  Conv2d layer(sample[0], 4, 3, options);
  Shape sample_out;
  auto params = setup_layer(layer, sample, 11, &sample_out);
  const Conv2dGeometry geometry{.stride = options.stride, .padding = options.padding};
  Rng rng(12);
  const Tensor x = random_tensor(sample.prepend(3), rng);
  const Tensor dout = random_tensor(sample_out.prepend(3), rng);
  const Tensor weight = param(*params, "weight");
  const Tensor bias = options.bias ? param(*params, "bias") : Tensor();

  Tensor out = Tensor::empty(sample_out.prepend(3));
  LayerCache cache;
  layer.forward(x, out, cache);
  Tensor expected_out = Tensor::empty(out.shape());
  reference::conv2d_forward(x, weight, bias, expected_out, geometry);
  expect_tensor_near(out, expected_out, {.rtol = 1e-5, .atol = 1e-5});

  Tensor din = Tensor::full(x.shape(), 1e6f);
  layer.backward(x, out, dout, cache, &din);
  layer.backward(x, out, dout, cache, &din);
  Tensor expected_dweight = Tensor::zeros(weight.shape());
  Tensor expected_dbias = Tensor::zeros({4});
  Tensor expected_din = Tensor::empty(x.shape());
  for (int twice = 0; twice < 2; ++twice) {
    reference::conv2d_backward(dout, x, weight, expected_dweight, &expected_dbias, &expected_din, geometry);
  }
  expect_tensor_near(din, expected_din, {.rtol = 1e-5, .atol = 1e-5});
  expect_tensor_near(param_grad(*params, "weight"), expected_dweight, {.rtol = 1e-5, .atol = 1e-4});
  if (options.bias) expect_tensor_near(param_grad(*params, "bias"), expected_dbias, {.rtol = 1e-5, .atol = 1e-4});
}

TEST(Conv2d, MatchesReferenceWithBias) { check_conv_against_reference({}, {2, 7, 6}); }
TEST(Conv2d, MatchesReferenceWithoutBias) { check_conv_against_reference({.bias = false}, {3, 6, 5}); }
TEST(Conv2d, MatchesReferencePadding) { check_conv_against_reference({.padding = 1}, {2, 5, 7}); }
TEST(Conv2d, MatchesReferenceStride) { check_conv_against_reference({.stride = 2, .padding = 1}, {2, 9, 8}); }

// Golden numbers from PyTorch 1.13.0 (Debian 12's python3-torch, CPU, float32), produced by
// running this with /usr/bin/python3:
//
//   import torch, torch.nn.functional as F
//   x = torch.tensor([((i * 7) % 11 - 5) / 4 for i in range(50)]).reshape(1, 2, 5, 5).requires_grad_()
//   w = torch.tensor([((i * 5) % 13 - 6) / 8 for i in range(36)]).reshape(2, 2, 3, 3).requires_grad_()
//   b = torch.tensor([0.25, -0.5], requires_grad=True)
//   dout = torch.tensor([((i * 3) % 7 - 3) / 2 for i in range(18)]).reshape(1, 2, 3, 3)
//   out = F.conv2d(x, w, b, stride=2, padding=1); out.backward(dout)
//   print(out.flatten().tolist(), x.grad.flatten().tolist(), w.grad.flatten().tolist(), b.grad.tolist())
//
// Every input is a small multiple of 1/8, so every result is exact in float32.
TEST(Conv2d, GoldenAgainstPyTorch) {
  Conv2d layer(2, 2, 3, {.stride = 2, .padding = 1});
  auto params = setup_layer(layer, {2, 5, 5}, 1);
  Tensor x = Tensor::empty({1, 2, 5, 5});
  for (std::int64_t i = 0; i < 50; ++i) x.at(i) = static_cast<float>((i * 7) % 11 - 5) / 4.0f;
  Tensor weight = param(*params, "weight");
  for (std::int64_t i = 0; i < 36; ++i) weight.at(i) = static_cast<float>((i * 5) % 13 - 6) / 8.0f;
  param(*params, "bias").copy_from(Tensor::from({2}, {0.25f, -0.5f}));
  Tensor dout = Tensor::empty({1, 2, 3, 3});
  for (std::int64_t i = 0; i < 18; ++i) dout.at(i) = static_cast<float>((i * 3) % 7 - 3) / 2.0f;

  Tensor out = Tensor::empty({1, 2, 3, 3});
  LayerCache cache;
  layer.forward(x, out, cache);
  Tensor din = Tensor::empty(x.shape());
  layer.backward(x, out, dout, cache, &din);

  const testing::Tolerance exact{.rtol = 0, .atol = 1e-6};
  expect_tensor_near(out, Tensor::from({1, 2, 3, 3}, {-0.8125, 2.09375, -0.4375, -0.375, -0.5, 0.8125, -0.1875, 0.5,
                                                      -0.09375, 0.375, 0.0, -1.375, -1.65625, 0.96875, 0.375, 0.0,
                                                      0.59375, -1.6875}),
                     exact);
  expect_tensor_near(
      din,
      Tensor::from({1, 2, 5, 5},
                   {-0.1875, 0.125,   0.0,   -1.6875, 0.1875,  0.125,  -1.0,    -0.375, -0.0625, 1.3125,
                    -0.0625, -1.8125, 0.125, 2.5,     -0.125,  -0.5,   3.125,   0.3125, -0.75,   -0.625,
                    0.0625,  0.1875,  -0.1875, 0.125, 0.0,     2.25,   -0.25,   -0.375, 0.625,   -0.375,
                    -1.0,    0.25,    1.1875, 0.6875, -2.75,   -0.375, 0.625,   -0.375, -0.6875, -0.375,
                    1.1875,  0.25,    -1.0,  -1.0625, 1.1875,  -0.375, -0.25,   2.25,   -0.25,   -0.375}),
      exact);
  expect_tensor_near(param_grad(*params, "weight"),
                     Tensor::from({2, 2, 3, 3},
                                  {3.125, -1.75, -1.875, 1.5,   3.875,  -1.5,  -2.25,  4.125,  -1.125,
                                   3.5,   -1.375, -1.75, 4.25,  -4.0,   -2.375, -2.625, 4.25,  -0.875,
                                   0.875, 1.625, -1.5,   0.5,   -4.375, 1.875, -1.875, 1.375,  2.75,
                                   0.875, 1.875, -1.75,  1.75,  3.625,  -1.375, -1.75,  1.375, 2.625}),
                     exact);
  expect_tensor_near(param_grad(*params, "bias"), Tensor::from({2}, {-1.5, 1.0}), exact);
}

TEST(Conv2d, GradcheckWithBias) {
  Conv2d layer(2, 3, 3);
  EXPECT_TRUE(gradcheck_layer(layer, {2, 5, 6}, 2, 301));
}

TEST(Conv2d, GradcheckWithoutBias) {
  Conv2d layer(3, 2, 3, {.bias = false});
  EXPECT_TRUE(gradcheck_layer(layer, {3, 5, 5}, 2, 302));
}

TEST(Conv2d, GradcheckPaddingAndStride) {
  Conv2d layer(2, 3, 3, {.stride = 2, .padding = 1});
  EXPECT_TRUE(gradcheck_layer(layer, {2, 7, 6}, 3, 303));
}

TEST(Conv2d, GradcheckKernel5) {
  Conv2d layer(1, 2, 5, {.padding = 2});
  EXPECT_TRUE(gradcheck_layer(layer, {1, 6, 5}, 2, 304));
}

// A pipeline stage runs several batches forward before their backwards, one cache each.
TEST(Conv2d, CachesKeepInFlightBatchesApart) {
  Conv2d layer(2, 3, 3, {.padding = 1});
  auto params = setup_layer(layer, {2, 6, 6}, 3);
  Rng rng(4);
  const Tensor xa = random_tensor({2, 2, 6, 6}, rng);
  const Tensor xb = random_tensor({3, 2, 6, 6}, rng);  // another batch size, too
  const Tensor da = random_tensor({2, 3, 6, 6}, rng);
  const Tensor db = random_tensor({3, 3, 6, 6}, rng);
  Tensor out_a = Tensor::empty(da.shape());
  Tensor out_b = Tensor::empty(db.shape());
  Tensor din_a = Tensor::empty(xa.shape());
  LayerCache cache_a, cache_b;
  layer.forward(xa, out_a, cache_a);
  layer.forward(xb, out_b, cache_b);
  layer.backward(xa, out_a, da, cache_a, &din_a);
  const Tensor grads_a = params->grads().clone();

  // Batch a alone, with fresh gradients.
  params->zero_grads();
  Tensor alone_out = Tensor::empty(da.shape());
  Tensor alone_din = Tensor::empty(xa.shape());
  LayerCache alone;
  layer.forward(xa, alone_out, alone);
  layer.backward(xa, alone_out, da, alone, &alone_din);
  expect_tensor_near(out_a, alone_out, {.rtol = 0, .atol = 0});
  expect_tensor_near(din_a, alone_din, {.rtol = 0, .atol = 0});
  expect_tensor_near(grads_a, params->grads(), {.rtol = 0, .atol = 0});
}

TEST(Conv2d, ShapeChecks) {
  EXPECT_THROW(Conv2d(0, 2, 3), CheckError);
  EXPECT_THROW(Conv2d(2, 0, 3), CheckError);
  EXPECT_THROW(Conv2d(2, 2, 0), CheckError);
  EXPECT_THROW(Conv2d(2, 2, 3, {.stride = 0}), CheckError);
  EXPECT_THROW(Conv2d(2, 2, 3, {.padding = -1}), CheckError);

  Conv2d layer(3, 2, 3);
  ParameterLayout layout;
  expect_check_error_naming([&] { layer.setup({4, 8, 8}, layout); }, {"[4, 8, 8]", "Conv2d(3 -> 2, 3x3)"});
  expect_check_error_naming([&] { layer.setup({3, 64}, layout); }, {"[3, 64]"});
  expect_check_error_naming([&] { layer.setup({3, 2, 8}, layout); }, {"input 2"});

  auto params = setup_layer(layer, {3, 8, 8}, 1);
  Tensor out = Tensor::zeros({2, 2, 6, 6});
  LayerCache cache;
  expect_check_error_naming([&] { layer.forward(Tensor::zeros({2, 4, 8, 8}), out, cache); },
                            {"[2, 4, 8, 8]", "Conv2d(3 -> 2, 3x3)"});
  Tensor wrong_out = Tensor::zeros({2, 2, 8, 8});
  expect_check_error_naming([&] { layer.forward(Tensor::zeros({2, 3, 8, 8}), wrong_out, cache); },
                            {"[2, 2, 8, 8]", "[2, 2, 6, 6]"});
}

// ---------------------------------------------------------------------------------------
// MaxPool2d

TEST(MaxPool2d, SetupAndDescribe) {
  MaxPool2d pool(2);
  EXPECT_EQ(pool.describe(), "MaxPool2d(2x2)");
  ParameterLayout layout;
  EXPECT_EQ(pool.setup({32, 26, 26}, layout), Shape({32, 13, 13}));
  EXPECT_EQ(pool.setup({64, 11, 11}, layout), Shape({64, 5, 5})) << "floor mode drops the border";
  EXPECT_EQ(layout.numel(), 0);

  MaxPool2d overlapping(3, 2);
  EXPECT_EQ(overlapping.describe(), "MaxPool2d(3x3, stride 2)");
  EXPECT_EQ(overlapping.setup({2, 9, 8}, layout), Shape({2, 4, 3}));
  EXPECT_THROW(MaxPool2d(0), CheckError);
  EXPECT_THROW(MaxPool2d(2, 0), CheckError);
  expect_check_error_naming([&] { pool.setup({3, 8}, layout); }, {"[3, 8]"});
  expect_check_error_naming([&] { pool.setup({3, 1, 8}, layout); }, {"[1, 3, 1, 8]"});
}

TEST(MaxPool2d, Values) {
  MaxPool2d pool(2);
  ParameterLayout layout;
  pool.setup({1, 2, 4}, layout);
  // Two samples, one 2x4 plane each: windows [1 5; 3 4] [2 0; 8 7] and [-1 -2; -3 -9] [6 6; 9 -5].
  const Tensor x = Tensor::from({2, 1, 2, 4}, {1, 5, 2, 0, 3, 4, 8, 7, -1, -2, 6, 6, -3, -9, 9, -5});
  Tensor out = Tensor::empty({2, 1, 1, 2});
  LayerCache cache;
  pool.forward(x, out, cache);
  expect_tensor_near(out, Tensor::from({2, 1, 1, 2}, {5, 8, -1, 9}));
  Tensor din = Tensor::full(x.shape(), 1e6f);
  pool.backward(x, out, Tensor::from({2, 1, 1, 2}, {1, 2, 3, 4}), cache, &din);
  expect_tensor_near(din, Tensor::from({2, 1, 2, 4}, {0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 4, 0}));
}

TEST(MaxPool2d, MatchesReferenceKernels) {
  for (const auto& [kernel, stride] : {std::pair<std::int64_t, std::int64_t>{2, 2}, {3, 2}, {2, 1}}) {
    SCOPED_TRACE(::testing::Message() << "kernel " << kernel << " stride " << stride);
    MaxPool2d pool(kernel, stride);
    ParameterLayout layout;
    const Shape sample_out = pool.setup({3, 9, 7}, layout);
    Rng rng(50);
    const Tensor x = random_tensor({2, 3, 9, 7}, rng);
    const Tensor dout = random_tensor(sample_out.prepend(2), rng);
    Tensor out = Tensor::empty(dout.shape());
    LayerCache cache;
    pool.forward(x, out, cache);
    Tensor din = Tensor::empty(x.shape());
    pool.backward(x, out, dout, cache, &din);

    Tensor expected_out = Tensor::empty(out.shape());
    std::vector<std::int32_t> argmax;
    reference::maxpool2d_forward(x, expected_out, argmax, kernel, stride);
    Tensor expected_din = Tensor::empty(x.shape());
    reference::maxpool2d_backward(dout, argmax, expected_din);
    expect_tensor_near(out, expected_out, {.rtol = 0, .atol = 0});
    expect_tensor_near(din, expected_din, {.rtol = 1e-6, .atol = 1e-6});
  }
}

TEST(MaxPool2d, Gradcheck) {
  MaxPool2d pool(2);
  EXPECT_TRUE(gradcheck_layer(pool, {3, 6, 7}, 2, 401));
}

TEST(MaxPool2d, GradcheckOverlappingWindows) {
  MaxPool2d pool(3, 2);
  EXPECT_TRUE(gradcheck_layer(pool, {2, 7, 7}, 2, 402));
}

// The argmax lives in the cache: a second batch's forward must not change where the
// first batch's gradients go.
TEST(MaxPool2d, CachesKeepInFlightBatchesApart) {
  MaxPool2d pool(2);
  ParameterLayout layout;
  pool.setup({1, 2, 2}, layout);
  const Tensor xa = Tensor::from({1, 1, 2, 2}, {9, 0, 0, 0});
  const Tensor xb = Tensor::from({1, 1, 2, 2}, {0, 0, 0, 9});
  Tensor out_a = Tensor::empty({1, 1, 1, 1});
  Tensor out_b = Tensor::empty({1, 1, 1, 1});
  LayerCache cache_a, cache_b;
  pool.forward(xa, out_a, cache_a);
  pool.forward(xb, out_b, cache_b);
  Tensor din = Tensor::empty(xa.shape());
  pool.backward(xa, out_a, Tensor::full({1, 1, 1, 1}, 1.0f), cache_a, &din);
  expect_tensor_near(din, Tensor::from({1, 1, 2, 2}, {1, 0, 0, 0}));
  pool.backward(xb, out_b, Tensor::full({1, 1, 1, 1}, 1.0f), cache_b, &din);
  expect_tensor_near(din, Tensor::from({1, 1, 2, 2}, {0, 0, 0, 1}));
}

// ---------------------------------------------------------------------------------------
// Flatten

TEST(Flatten, SetupAndValues) {
  Flatten flatten;
  EXPECT_EQ(flatten.describe(), "Flatten");
  ParameterLayout layout;
  EXPECT_EQ(flatten.setup({3, 4, 5}, layout), Shape({60}));
  EXPECT_EQ(flatten.setup({7}, layout), Shape({7}));
  EXPECT_EQ(layout.numel(), 0);
  EXPECT_THROW(flatten.setup(Shape(), layout), CheckError);

  Rng rng(6);
  const Tensor x = random_tensor({2, 3, 4, 5}, rng);
  Tensor out = Tensor::empty({2, 60});
  LayerCache cache;
  flatten.forward(x, out, cache);
  expect_tensor_near(out, x.view({2, 60}), {.rtol = 0, .atol = 0});
  EXPECT_FALSE(out.same_storage(x)) << "out is the caller's tensor";

  const Tensor dout = random_tensor({2, 60}, rng);
  Tensor din = Tensor::full(x.shape(), 1e6f);
  flatten.backward(x, out, dout, cache, &din);
  expect_tensor_near(din, dout.view(x.shape()), {.rtol = 0, .atol = 0});
  flatten.backward(x, out, dout, cache, nullptr);  // nothing to do, nothing to break

  Tensor wrong_out = Tensor::empty({3, 40});
  expect_check_error_naming([&] { flatten.forward(x, wrong_out, cache); }, {"[3, 40]", "[2, 60]"});
}

TEST(Flatten, Gradcheck) {
  Flatten flatten;
  EXPECT_TRUE(gradcheck_layer(flatten, {2, 3, 3}, 2, 501));
}

}  // namespace
}  // namespace courier
