// Linear: setup (shapes, parameter names, default init bounds), forward and backward values
// with weights set by hand and against explicit loops, with and without bias, gradient
// checks, and the shape errors.
#include "courier/nn/linear.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "testutil/gradcheck.h"
#include "testutil/layer_setup.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::random_tensor;
using testing::expect_tensor_near;
using testing::gradcheck_layer;
using testing::param;
using testing::param_grad;
using testing::setup_layer;

LinearOptions with_bias(bool bias) {
  LinearOptions options;
  options.bias = bias;
  return options;
}

TEST(Linear, SetupDeclaresWeightAndBias) {
  Linear layer(3, 2);
  EXPECT_EQ(layer.describe(), "Linear(3 -> 2)");
  ParameterLayout layout;
  EXPECT_EQ(layer.setup({3}, layout), Shape({2}));
  ASSERT_EQ(layout.specs().size(), 2u);
  EXPECT_EQ(layout.specs()[0].name, "weight");
  EXPECT_EQ(layout.specs()[0].shape, Shape({2, 3}));
  EXPECT_TRUE(layout.specs()[0].weight_decay);
  EXPECT_EQ(layout.specs()[1].name, "bias");
  EXPECT_EQ(layout.specs()[1].shape, Shape({2}));
  EXPECT_FALSE(layout.specs()[1].weight_decay);
  EXPECT_EQ(layout.numel(), 8);

  Linear sequence_layer(3, 5);
  ParameterLayout layout3;
  EXPECT_EQ(sequence_layer.setup({4, 3}, layout3), Shape({4, 5})) << "leading dims are kept";
}

TEST(Linear, SetupWithoutBias) {
  Linear layer(3, 2, with_bias(false));
  EXPECT_EQ(layer.describe(), "Linear(3 -> 2, no bias)");
  ParameterLayout layout;
  layer.setup({3}, layout);
  ASSERT_EQ(layout.specs().size(), 1u);
  EXPECT_EQ(layout.specs()[0].name, "weight");
  EXPECT_EQ(layout.numel(), 6);
}

TEST(Linear, DefaultInitIsTorchLinear) {
  Linear layer(64, 300);
  auto params = setup_layer(layer, {64}, 7);
  const float bound = 1.0f / std::sqrt(64.0f);
  const Tensor weight = param(*params, "weight");
  const Tensor bias = param(*params, "bias");
  float max_abs = 0.0f;
  for (float v : weight.span()) max_abs = std::max(max_abs, std::abs(v));
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.95f * bound) << "19200 draws should get close to the bound";
  float bias_max = 0.0f;
  for (float v : bias.span()) bias_max = std::max(bias_max, std::abs(v));
  EXPECT_LE(bias_max, bound);
  EXPECT_GT(bias_max, 0.8f * bound);
}

TEST(Linear, CustomInit) {
  Linear layer(4, 3, {.weight_init = Init::constant(0.25f), .bias_init = Init::constant(-1.0f)});
  auto params = setup_layer(layer, {4}, 1);
  expect_tensor_near(param(*params, "weight"), Tensor::full({3, 4}, 0.25f));
  expect_tensor_near(param(*params, "bias"), Tensor::full({3}, -1.0f));
}

TEST(Linear, ForwardBackwardHandComputed) {
  Linear layer(3, 2);
  auto params = setup_layer(layer, {3}, 1);
  param(*params, "weight").copy_from(Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  param(*params, "bias").copy_from(Tensor::from({2}, {0.5f, -1.0f}));

  const Tensor x = Tensor::from({2, 3}, {1, 0, -1, 2, 1, 0});
  Tensor out = Tensor::empty({2, 2});
  LayerCache cache;
  layer.forward(x, out, cache);
  // row 0: [1 - 3 + 0.5, 4 - 6 - 1] = [-1.5, -3]; row 1: [2 + 2 + 0.5, 8 + 5 - 1] = [4.5, 12]
  expect_tensor_near(out, Tensor::from({2, 2}, {-1.5f, -3.0f, 4.5f, 12.0f}));

  const Tensor dout = Tensor::from({2, 2}, {1, 0, 2, -1});
  Tensor din = Tensor::empty(x.shape());
  layer.backward(x, out, dout, cache, &din);
  // din = dout @ W: [1 2 3; 2*1-4 2*2-5 2*3-6] = [1 2 3; -2 -1 0]
  expect_tensor_near(din, Tensor::from({2, 3}, {1, 2, 3, -2, -1, 0}));
  // dW = dout^T @ x: [1*x0 + 2*x1; 0*x0 - 1*x1] = [5 2 -1; -2 -1 0]
  expect_tensor_near(param_grad(*params, "weight"), Tensor::from({2, 3}, {5, 2, -1, -2, -1, 0}));
  // db = column sums of dout
  expect_tensor_near(param_grad(*params, "bias"), Tensor::from({2}, {3, -1}));
}

// Forward and backward against explicit loops over (B, T, I) inputs.
void check_against_loops(bool bias) {
  const std::int64_t batch = 3, steps = 2, in_features = 5, out_features = 4;
  Linear layer(in_features, out_features, with_bias(bias));
  Shape sample_output;
  auto params = setup_layer(layer, {steps, in_features}, 11, &sample_output);
  ASSERT_EQ(sample_output, Shape({steps, out_features}));
  Rng rng(12);
  const Tensor weight = param(*params, "weight");
  const Tensor b = bias ? param(*params, "bias") : Tensor::zeros({out_features});
  const Tensor x = random_tensor({batch, steps, in_features}, rng);
  const Tensor dout = random_tensor({batch, steps, out_features}, rng);

  Tensor out = Tensor::empty({batch, steps, out_features});
  LayerCache cache;
  layer.forward(x, out, cache);
  Tensor din = Tensor::empty(x.shape());
  layer.backward(x, out, dout, cache, &din);

  Tensor expected_out = Tensor::empty(out.shape());
  Tensor expected_din = Tensor::zeros(x.shape());
  Tensor expected_dw = Tensor::zeros(weight.shape());
  Tensor expected_db = Tensor::zeros({out_features});
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < steps; ++t) {
      for (std::int64_t o = 0; o < out_features; ++o) {
        double acc = b.at(o);
        const double g = dout.at({n, t, o});
        for (std::int64_t i = 0; i < in_features; ++i) {
          acc += static_cast<double>(x.at({n, t, i})) * weight.at({o, i});
          expected_din.at({n, t, i}) += static_cast<float>(g * weight.at({o, i}));
          expected_dw.at({o, i}) += static_cast<float>(g * x.at({n, t, i}));
        }
        expected_out.at({n, t, o}) = static_cast<float>(acc);
        expected_db.at(o) += static_cast<float>(g);
      }
    }
  }
  const testing::Tolerance tolerance{.rtol = 1e-5, .atol = 1e-5};
  expect_tensor_near(out, expected_out, tolerance);
  expect_tensor_near(din, expected_din, tolerance);
  expect_tensor_near(param_grad(*params, "weight"), expected_dw, tolerance);
  if (bias) expect_tensor_near(param_grad(*params, "bias"), expected_db, tolerance);
}

TEST(Linear, MatchesLoopsWithBias) { check_against_loops(true); }
TEST(Linear, MatchesLoopsWithoutBias) { check_against_loops(false); }

TEST(Linear, BackwardAccumulatesParameterGradients) {
  Linear layer(4, 3);
  auto params = setup_layer(layer, {4}, 21);
  Rng rng(22);
  const Tensor x = random_tensor({5, 4}, rng);
  const Tensor dout = random_tensor({5, 3}, rng);
  Tensor out = Tensor::empty({5, 3});
  LayerCache cache;
  layer.forward(x, out, cache);
  layer.backward(x, out, dout, cache, nullptr);
  const Tensor once = params->grads().clone();
  layer.backward(x, out, dout, cache, nullptr);
  Tensor doubled = once.clone();
  for (float& v : doubled.span()) v *= 2.0f;
  expect_tensor_near(params->grads(), doubled, {.rtol = 1e-6, .atol = 1e-6});
}

TEST(Linear, GradcheckWithBias) {
  Linear layer(5, 3);
  EXPECT_TRUE(gradcheck_layer(layer, {5}, 4, 201));
}

TEST(Linear, GradcheckWithoutBias) {
  Linear layer(4, 6, with_bias(false));
  EXPECT_TRUE(gradcheck_layer(layer, {4}, 3, 202));
}

TEST(Linear, GradcheckSequenceInput) {
  Linear layer(3, 2);
  EXPECT_TRUE(gradcheck_layer(layer, {4, 3}, 2, 203));
}

TEST(Linear, WrongInputShapeNamesShapes) {
  Linear layer(3, 2);
  auto params = setup_layer(layer, {3}, 1);
  const Tensor x = Tensor::zeros({4, 5});
  Tensor out = Tensor::zeros({4, 2});
  LayerCache cache;
  try {
    layer.forward(x, out, cache);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[4, 5]"), std::string::npos) << what;
    EXPECT_NE(what.find("Linear(3 -> 2)"), std::string::npos) << what;
  }
  // The right input but an output of the wrong shape.
  Tensor wrong_out = Tensor::zeros({4, 3});
  try {
    layer.forward(Tensor::zeros({4, 3}), wrong_out, cache);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[4, 3]"), std::string::npos) << what;
    EXPECT_NE(what.find("[4, 2]"), std::string::npos) << what;
  }
}

TEST(Linear, SetupChecks) {
  EXPECT_THROW(Linear(0, 2), CheckError);
  EXPECT_THROW(Linear(2, 0), CheckError);
  Linear layer(3, 2);
  ParameterLayout layout;
  try {
    layer.setup({5}, layout);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[5]"), std::string::npos) << what;
  }
  EXPECT_THROW(layer.setup(Shape(), layout), CheckError);
}

TEST(Linear, UseBeforeBindThrows) {
  Linear layer(3, 2);
  ParameterLayout layout;
  layer.setup({3}, layout);
  Tensor out = Tensor::zeros({1, 2});
  LayerCache cache;
  EXPECT_THROW(layer.forward(Tensor::zeros({1, 3}), out, cache), CheckError);
}

}  // namespace
}  // namespace courier
