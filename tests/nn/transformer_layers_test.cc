// The transformer layers: TokenPositionEmbedding, LayerNorm, CausalSelfAttention, Residual,
// TiedLmHead and make_gpt. Each has a values test and a gradient check; the whole model is
// checked against PyTorch in tests/train/gpt_golden_test.cc.
#include <cmath>
#include <cstring>
#include <cstdint>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/core/rng.h"
#include "courier/nn/causal_self_attention.h"
#include "courier/nn/dropout.h"
#include "courier/nn/embedding.h"
#include "courier/nn/gelu.h"
#include "courier/nn/layer_norm.h"
#include "courier/nn/linear.h"
#include "courier/nn/lm_head.h"
#include "courier/nn/models.h"
#include "courier/nn/residual.h"
#include "testutil/check_error.h"
#include "testutil/gradcheck.h"
#include "testutil/layer_setup.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::expect_check_error_naming;
using testing::expect_tensor_near;
using testing::gradcheck;
using testing::gradcheck_layer;
using testing::param;
using testing::param_grad;
using testing::random_tensor;
using testing::setup_layer;

// Names of every parameter, in declaration order.
std::vector<std::string> names(const Parameters& params) {
  std::vector<std::string> out;
  for (const ParamSpec& spec : params.specs()) out.push_back(spec.name);
  return out;
}

TEST(LayerNormLayer, NormalisesEachRow) {
  LayerNorm layer(3);
  Shape out_shape;
  auto params = setup_layer(layer, {2, 3}, 1, &out_shape);
  EXPECT_EQ(out_shape, Shape({2, 3}));
  EXPECT_EQ(names(*params), std::vector<std::string>{"weight"});
  EXPECT_FALSE(params->specs()[0].weight_decay);
  expect_tensor_near(param(*params, "weight"), Tensor::full({3}, 1.0f));
  param(*params, "weight").at(2) = 2.0f;
  const Tensor x = Tensor::from({1, 2, 3}, {1, 2, 3, -4, 0, 4});
  Tensor out = Tensor::empty({1, 2, 3});
  LayerCache cache;
  layer.forward(x, out, cache);
  // Row (1, 2, 3): mean 2, variance 2/3, so (-1, 0, 1) * 1.2247 (the gain doubles the last).
  const float s = 1.0f / std::sqrt(2.0f / 3.0f + 1e-5f);
  const float s2 = 4.0f / std::sqrt(32.0f / 3.0f + 1e-5f);
  expect_tensor_near(out, Tensor::from({1, 2, 3}, {-s, 0, 2 * s, -s2, 0, 2 * s2}), {.rtol = 1e-5, .atol = 1e-6});
}

TEST(LayerNormLayer, Gradcheck) {
  LayerNorm without_bias(5, false, Init::normal(1.0f, 0.3f));
  EXPECT_TRUE(gradcheck_layer(without_bias, {3, 5}, 2, 11));
  LayerNorm with_bias(5, true, Init::normal(1.0f, 0.3f));
  EXPECT_TRUE(gradcheck_layer(with_bias, {5}, 3, 12));
}

TEST(CausalSelfAttentionLayer, DeclaresPyTorchShapedWeights) {
  CausalSelfAttention layer(8, 2);
  EXPECT_EQ(layer.describe(), "CausalSelfAttention(8, 2 heads)");
  Shape out_shape;
  auto params = setup_layer(layer, {5, 8}, 1, &out_shape);
  EXPECT_EQ(out_shape, Shape({5, 8}));
  EXPECT_EQ(names(*params), (std::vector<std::string>{"qkv_weight", "proj_weight"}));
  EXPECT_EQ(param(*params, "qkv_weight").shape(), Shape({24, 8}));
  EXPECT_EQ(param(*params, "proj_weight").shape(), Shape({8, 8}));
  EXPECT_TRUE(params->specs()[0].weight_decay);
  expect_check_error_naming([] { CausalSelfAttention(6, 4); }, {"4 heads do not divide 6 channels"});
}

TEST(CausalSelfAttentionLayer, IdentityProjectionsGiveTheAverageOfThePastValues) {
  // With q = k = 0 every visible position weighs the same, so position t outputs the mean of
  // v over 0..t; with v = x and both projections the identity, that is the running mean.
  CausalSelfAttention layer(2, 1);
  auto params = setup_layer(layer, {3, 2}, 1);
  Tensor qkv = param(*params, "qkv_weight");
  qkv.zero();
  qkv.at({4, 0}) = 1.0f;  // v rows are 4 and 5
  qkv.at({5, 1}) = 1.0f;
  Tensor proj = param(*params, "proj_weight");
  proj.copy_from(Tensor::from({2, 2}, {1, 0, 0, 1}));
  const Tensor x = Tensor::from({1, 3, 2}, {3, 6, 5, 0, 1, 3});
  Tensor out = Tensor::empty({1, 3, 2});
  LayerCache cache;
  layer.forward(x, out, cache);
  expect_tensor_near(out, Tensor::from({1, 3, 2}, {3, 6, 4, 3, 3, 3}));
}

TEST(CausalSelfAttentionLayer, Gradcheck) {
  const Init wide = Init::normal(0.0f, 0.4f);
  CausalSelfAttention layer(6, 2, AttentionOptions{.qkv_init = wide, .proj_init = wide});
  EXPECT_TRUE(gradcheck_layer(layer, {4, 6}, 2, 21));
}

TEST(TokenPositionEmbeddingLayer, SumsTokenAndPositionRows) {
  TokenPositionEmbedding layer(5, 4, 3);
  EXPECT_EQ(layer.describe(), "TokenPositionEmbedding(5 tokens, 4 positions -> 3)");
  Shape out_shape;
  auto params = setup_layer(layer, {2}, 1, &out_shape);  // a sequence shorter than the context
  EXPECT_EQ(out_shape, Shape({2, 3}));
  EXPECT_EQ(names(*params), (std::vector<std::string>{"wte", "wpe"}));
  const Tensor wte = param(*params, "wte");
  const Tensor wpe = param(*params, "wpe");
  const Tensor ids = Tensor::from({1, 2}, {4, 1});
  Tensor out = Tensor::empty({1, 2, 3});
  LayerCache cache;
  layer.forward(ids, out, cache);
  for (std::int64_t c = 0; c < 3; ++c) {
    EXPECT_EQ(out.at({0, 0, c}), wte.at({4, c}) + wpe.at({0, c}));
    EXPECT_EQ(out.at({0, 1, c}), wte.at({1, c}) + wpe.at({1, c}));
  }
  ParameterLayout layout;
  expect_check_error_naming([&] { TokenPositionEmbedding(5, 4, 3).setup({5}, layout); }, {"1 <= T <= 4"});
}

TEST(TokenPositionEmbeddingLayer, GradcheckOfBothTables) {
  TokenPositionEmbedding layer(4, 3, 2, Init::normal(0.0f, 1.0f));
  auto params = setup_layer(layer, {3}, 5);
  const Tensor ids = Tensor::from({2, 3}, {1, 3, 1, 0, 1, 2});
  Rng rng(6);
  const Tensor r = random_tensor({2, 3, 2}, rng);
  Tensor out = Tensor::empty({2, 3, 2});
  LayerCache cache;
  auto loss = [&] {
    layer.forward(ids, out, cache);
    double total = 0;
    for (std::int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.at(i)) * r.at(i);
    return total;
  };
  loss();
  params->zero_grads();
  Tensor din = Tensor::full({2, 3}, 3.0f);
  layer.backward(ids, out, r, cache, &din);
  expect_tensor_near(din, Tensor::zeros({2, 3}));  // ids have no gradient
  const Tensor analytic = params->grads().clone();
  EXPECT_TRUE(gradcheck(loss, params->values().span(), analytic.span()));
  // Token 2 appears once, at position 2 of the second row; token 1 three times.
  EXPECT_EQ(param_grad(*params, "wte").at({2, 0}), r.at({1, 2, 0}));
}

TEST(ResidualLayer, AddsTheBranchToItsInput) {
  Residual block;
  block.add<Linear>(2, 2, LinearOptions{.bias = false, .weight_init = Init::zeros()});
  EXPECT_EQ(block.describe(), "Residual(Linear(2 -> 2, no bias))");
  auto params = setup_layer(block, {2}, 1);
  EXPECT_EQ(names(*params), std::vector<std::string>{"0.weight"});
  param(*params, "0.weight").copy_from(Tensor::from({2, 2}, {1, 2, 0, 1}));
  const Tensor x = Tensor::from({1, 2}, {3, 4});
  Tensor out = Tensor::empty({1, 2});
  LayerCache cache;
  block.forward(x, out, cache);
  expect_tensor_near(out, Tensor::from({1, 2}, {3 + 11, 4 + 4}));
  Tensor din = Tensor::empty({1, 2});
  params->zero_grads();
  block.backward(x, out, Tensor::from({1, 2}, {1, 1}), cache, &din);
  expect_tensor_near(din, Tensor::from({1, 2}, {1 + 1, 1 + 3}));  // dout + W^T dout
}

TEST(ResidualLayer, GradcheckOfATransformerMlpBranch) {
  Residual block;
  block.add<LayerNorm>(4, false, Init::normal(1.0f, 0.3f));
  block.add<Linear>(4, 8, LinearOptions{.bias = false});
  block.add<Gelu>(GeluApproximation::kExact);
  block.add<Linear>(8, 4, LinearOptions{.bias = false});
  EXPECT_TRUE(gradcheck_layer(block, {3, 4}, 2, 31));
  expect_check_error_naming(
      [] {
        Residual widening;
        widening.add<Linear>(2, 3);
        ParameterLayout layout;
        widening.setup({2}, layout);
      },
      {"the branch must keep the shape"});
}

TEST(TiedLmHeadLayer, SharesAndTrainsTheTokenTable) {
  Sequential model;
  const auto& embedding = model.add<TokenPositionEmbedding>(5, 3, 4, Init::normal(0.0f, 1.0f));
  model.add<TiedLmHead>(embedding);
  EXPECT_EQ(model.layer(1).describe(), "TiedLmHead(-> 5 tokens)");
  Rng rng(7);
  model.setup({3}, rng);
  EXPECT_EQ(model.output_shape(), Shape({3, 5}));
  EXPECT_EQ(model.parameter_range(1).count, 0) << "the head owns no parameters";
  const Tensor ids = Tensor::from({1, 3}, {2, 0, 4});
  const Tensor logits = model.forward(ids).clone();
  const Tensor wte = param(model.parameters(), "0.wte");
  const Tensor wpe = param(model.parameters(), "0.wpe");
  double expected = 0;  // logits[0, 1, 3] = (wte[0] + wpe[1]) . wte[3]
  for (std::int64_t c = 0; c < 4; ++c) expected += (wte.at({0, c}) + wpe.at({1, c})) * wte.at({3, c});
  EXPECT_NEAR(logits.at({0, 1, 3}), expected, 1e-5);

  const Tensor r = random_tensor({1, 3, 5}, rng);
  auto loss = [&] {
    const Tensor& y = model.forward(ids);
    double total = 0;
    for (std::int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.at(i)) * r.at(i);
    return total;
  };
  loss();
  model.parameters().zero_grads();
  model.backward(r);
  const Tensor analytic = model.parameters().grads().clone();
  EXPECT_TRUE(gradcheck(loss, model.parameters().values().span(), analytic.span()));
}

TEST(DropoutLayer, DropsAndScalesWhileTrainingAndPassesThroughWhenEvaluating) {
  Dropout layer(0.25f, 9);
  EXPECT_EQ(layer.describe(), "Dropout(0.25)");
  const Tensor x = Tensor::full({4, 1000}, 2.0f);
  Tensor out = Tensor::empty(x.shape()), din = Tensor::empty(x.shape());
  LayerCache cache;
  layer.forward(x, out, cache);
  std::int64_t dropped = 0;
  for (float v : out.span()) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f / 0.75f) << v;
    dropped += v == 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / 4000.0, 0.25, 0.03);
  layer.backward(x, out, Tensor::full(x.shape(), 3.0f), cache, &din);
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(din.at(i), out.at(i) == 0.0f ? 0.0f : 3.0f / 0.75f);
  Tensor again = Tensor::empty(x.shape());
  layer.forward(x, again, cache);
  EXPECT_NE(0, std::memcmp(again.data(), out.data(), 4000 * sizeof(float))) << "a new mask every forward";

  layer.set_training(false);
  layer.forward(x, out, cache);
  expect_tensor_near(out, x);
  layer.backward(x, out, Tensor::full(x.shape(), 3.0f), cache, &din);
  expect_tensor_near(din, Tensor::full(x.shape(), 3.0f));
  expect_check_error_naming([] { Dropout(1.0f, 0); }, {"[0, 1)"});
}

TEST(Gpt, DropoutEndsEveryBranchWithoutChangingParameterNames) {
  Sequential plain = make_gpt({.vocabulary = 5, .context = 4, .layers = 2, .heads = 1, .channels = 4});
  Sequential dropping = make_gpt({.vocabulary = 5, .context = 4, .layers = 2, .heads = 1, .channels = 4,
                                  .dropout = 0.5f, .dropout_seed = 3});
  Rng a(1), b(1);
  plain.setup({4}, a);
  dropping.setup({4}, b);
  EXPECT_EQ(names(plain.parameters()), names(dropping.parameters()));
  EXPECT_THAT(dropping.layer(1).describe(), ::testing::HasSubstr("Dropout(0.5)"));
  const Tensor ids = Tensor::from({1, 4}, {1, 2, 3, 4});
  const Tensor reference = plain.forward(ids).clone();
  EXPECT_NE(0, std::memcmp(dropping.forward(ids).data(), reference.data(), reference.numel() * sizeof(float)));
  dropping.set_training(false);  // evaluation: the same numbers as the model without dropout
  expect_tensor_near(dropping.forward(ids), reference);
}

TEST(Gpt, BabyConfigMatchesNanoGptParameterCount) {
  Sequential model = make_gpt({.vocabulary = 63, .context = 64, .layers = 4, .heads = 4, .channels = 128});
  EXPECT_EQ(model.layer_count(), 11u);
  Rng rng(1);
  model.setup({64}, rng);
  // char_gpt.py prints "params 803840" for this model (the tied head counted once).
  EXPECT_EQ(model.parameters().numel(), 803840);
  EXPECT_EQ(model.output_shape(), Shape({64, 63}));
  const std::vector<std::string> n = names(model.parameters());
  EXPECT_EQ(std::vector<std::string>(n.begin(), n.begin() + 7),
            (std::vector<std::string>{"0.wte", "0.wpe", "1.0.weight", "1.1.qkv_weight", "1.1.proj_weight",
                                      "2.0.weight", "2.1.weight"}));
  EXPECT_EQ(n.back(), "9.weight");
  // nanoGPT's initialisation: N(0, 0.02), and N(0, 0.02 / sqrt(8)) for the output projections.
  auto stddev = [&](const char* name) {
    const Tensor t = param(model.parameters(), name);
    double sum_sq = 0;
    for (float v : t.span()) sum_sq += static_cast<double>(v) * v;
    return std::sqrt(sum_sq / static_cast<double>(t.numel()));
  };
  EXPECT_NEAR(stddev("2.1.weight"), 0.02, 0.0005);
  EXPECT_NEAR(stddev("2.3.weight"), 0.02 / std::sqrt(8.0), 0.0003);
  EXPECT_NEAR(stddev("1.1.proj_weight"), 0.02 / std::sqrt(8.0), 0.0003);
  EXPECT_EQ(param(model.parameters(), "9.weight").at(0), 1.0f);
}

TEST(Gpt, TheHeadReadsTheEmbeddingsTokenTable) {
  Sequential model = make_gpt({.vocabulary = 5, .context = 4, .layers = 2, .heads = 1, .channels = 4});
  Rng rng(1);
  model.setup({4}, rng);
  const std::vector<TiedParameter> tied = model.tied_parameters();
  ASSERT_EQ(tied.size(), 1u);
  EXPECT_EQ(tied[0].owner, 0u);
  EXPECT_EQ(tied[0].reader, model.layer_count() - 1);
  const ParamSpec& wte = model.parameters().specs()[model.parameters().find("0.wte")->index];
  EXPECT_EQ(tied[0].offset, wte.offset);
  EXPECT_EQ(tied[0].count, 5 * 4);
}

}  // namespace
}  // namespace courier
