// Model builders: make_mlp and make_fashion_cnn layer by layer, their shapes, parameter
// names and counts against PyTorch's, a batch through each, and a gradient check of a tiny
// CNN end to end through Sequential.
#include "courier/nn/models.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/rng.h"
#include "courier/nn/conv2d.h"
#include "courier/nn/flatten.h"
#include "courier/nn/linear.h"
#include "courier/nn/max_pool2d.h"
#include "courier/nn/relu.h"
#include "testutil/gradcheck.h"
#include "testutil/random_tensor.h"

namespace courier {
namespace {

using testing::random_tensor;

std::vector<std::string> descriptions(Sequential& model) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < model.layer_count(); ++i) out.push_back(model.layer(i).describe());
  return out;
}

TEST(Models, MlpLayersShapesAndParameterCount) {
  Sequential model = make_mlp(784, {256, 128}, 10);
  EXPECT_EQ(descriptions(model), (std::vector<std::string>{"Linear(784 -> 256)", "Relu", "Linear(256 -> 128)", "Relu",
                                                           "Linear(128 -> 10)"}));
  EXPECT_FALSE(model.is_setup()) << "the caller sets the model up";
  Rng rng(1);
  model.setup({784}, rng);
  // PyTorch: sum(p.numel() for p in nn.Sequential(Linear(784, 256), ReLU(), Linear(256, 128),
  // ReLU(), Linear(128, 10)).parameters()) == 235146.
  EXPECT_EQ(model.parameters().numel(), 235146);
  EXPECT_EQ(model.output_shape(), Shape({10}));
  const Tensor x = random_tensor({5, 784}, rng);
  EXPECT_EQ(model.forward(x).shape(), Shape({5, 10}));
}

TEST(Models, MlpWithoutHiddenLayersIsOneLinear) {
  Sequential model = make_mlp(3, {}, 2);
  EXPECT_EQ(descriptions(model), (std::vector<std::string>{"Linear(3 -> 2)"}));
}

TEST(Models, FashionCnnLayersAndShapes) {
  Sequential model = make_fashion_cnn();
  EXPECT_EQ(descriptions(model),
            (std::vector<std::string>{"Conv2d(1 -> 32, 3x3)", "Relu", "MaxPool2d(2x2)", "Conv2d(32 -> 64, 3x3)", "Relu",
                                      "MaxPool2d(2x2)", "Flatten", "Linear(1600 -> 128)", "Relu",
                                      "Linear(128 -> 10)"}));
  EXPECT_EQ(fashion_cnn_input(), Shape({1, 28, 28}));
  Rng rng(2);
  model.setup(fashion_cnn_input(), rng);
  const std::vector<Shape> expected = {{1, 28, 28}, {32, 26, 26}, {32, 26, 26}, {32, 13, 13}, {64, 11, 11},
                                       {64, 11, 11}, {64, 5, 5},  {1600},       {128},        {128}};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(model.input_shape(i), expected[i]) << "layer " << i;
  EXPECT_EQ(model.output_shape(), Shape({10}));
}

TEST(Models, FashionCnnParametersMatchPyTorch) {
  Sequential model = make_fashion_cnn();
  Rng rng(3);
  model.setup(fashion_cnn_input(), rng);
  // PyTorch: sum(p.numel() for p in make_model().parameters()) with make_model from
  // peers/fmnist_cnn.py == 225034.
  EXPECT_EQ(model.parameters().numel(), 225034);
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"0.weight", {32, 1, 3, 3}}, {"0.bias", {32}},           {"3.weight", {64, 32, 3, 3}}, {"3.bias", {64}},
      {"7.weight", {128, 1600}},   {"7.bias", {128}},          {"9.weight", {10, 128}},      {"9.bias", {10}}};
  const auto& specs = model.parameters().specs();
  ASSERT_EQ(specs.size(), expected.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(specs[i].name, expected[i].first);
    EXPECT_EQ(specs[i].shape, expected[i].second) << specs[i].name;
  }
}

TEST(Models, FashionCnnForwardBackwardShapes) {
  Sequential model = make_fashion_cnn();
  Rng rng(4);
  model.setup(fashion_cnn_input(), rng);
  const Tensor x = testing::random_uniform({3, 1, 28, 28}, rng, 0.0f, 1.0f);
  const Tensor& out = model.forward(x);
  ASSERT_EQ(out.shape(), Shape({3, 10}));
  for (float v : out.span()) EXPECT_TRUE(std::isfinite(v));
  Tensor din = Tensor::empty(x.shape());
  model.parameters().zero_grads();
  model.backward(random_tensor({3, 10}, rng), {}, &din);
  double grad_norm = 0.0;
  for (float g : model.parameters().grads().span()) grad_norm += static_cast<double>(g) * g;
  EXPECT_GT(grad_norm, 0.0);
}

// Conv (padding 1) -> Relu -> MaxPool -> Conv (stride 2) -> Relu -> Flatten -> Linear over
// (2, 8, 8) samples: 3x8x8 -> 3x4x4 -> 4x2x2 -> 16 -> 5.
TEST(Models, TinyCnnGradcheckThroughSequential) {
  Sequential model;
  model.add<Conv2d>(2, 3, 3, Conv2dOptions{.padding = 1});
  model.add<Relu>();
  model.add<MaxPool2d>(2);
  model.add<Conv2d>(3, 4, 3, Conv2dOptions{.stride = 2, .padding = 1});
  model.add<Relu>();
  model.add<Flatten>();
  model.add<Linear>(16, 5);
  Rng rng(600);
  model.setup({2, 8, 8}, rng);
  ASSERT_EQ(model.output_shape(), Shape({5}));

  Tensor x = random_tensor({2, 2, 8, 8}, rng);
  const Tensor r = random_tensor({2, 5}, rng);
  auto loss = [&] {
    const Tensor& out = model.forward(x);
    double total = 0.0;
    for (std::int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.data()[i]) * r.data()[i];
    return total;
  };
  loss();
  model.parameters().zero_grads();
  Tensor din = Tensor::empty(x.shape());
  model.backward(r, {}, &din);
  const Tensor dparams = model.parameters().grads().clone();
  // A small step: a first-layer weight moves many Relu and max-pool inputs at once, and a
  // step of 1e-2 lets some of them cross a kink too mildly for gradcheck to notice.
  const testing::GradcheckOptions options{.eps = 1e-3};
  EXPECT_TRUE(testing::gradcheck(loss, x.span(), din.span(), options));
  EXPECT_TRUE(testing::gradcheck(loss, model.parameters().values().span(), dparams.span(), options));
}

}  // namespace
}  // namespace courier
