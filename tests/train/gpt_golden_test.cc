// The GPT against PyTorch: tests/data/gpt_golden.safetensors (written by tools/gpt_golden.py
// with torch 1.13 in float64) holds a tiny GPT's weights and batch, its logits, loss and every
// parameter gradient, and the loss after each of 5 AdamW steps with gradient clipping. This
// test needs no Python: it rebuilds the model from make_gpt, loads the weights by name and
// compares within a relative 1e-4.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/rng.h"
#include "courier/nn/models.h"
#include "courier/nn/softmax_cross_entropy.h"
#include "courier/train/checkpoint/safetensors.h"
#include "courier/train/optim/adam.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

class GptGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<SafetensorsFile> file = read_safetensors(COURIER_SOURCE_DIR "/tests/data/gpt_golden.safetensors");
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    for (OwnedTensor& t : file->tensors) fixture_[t.name] = std::move(t);
    metadata_ = file->metadata;
    model_ = make_gpt({.vocabulary = meta("vocab"), .context = meta("context"), .layers = meta("layers"),
                       .heads = meta("heads"), .channels = meta("embedding")});
    Rng rng(0);
    model_.setup({meta("context")}, rng);
    for (const ParamSpec& spec : model_.parameters().specs()) {
      const OwnedTensor& initial = tensor("param." + spec.name);
      ASSERT_EQ(Shape(initial.shape), spec.shape) << spec.name;
      Tensor value = model_.parameters().value(*model_.parameters().find(spec.name));
      std::copy(initial.values.begin(), initial.values.end(), value.data());
    }
    const OwnedTensor& input = tensor("input");
    input_ = Tensor::from(Shape(input.shape), input.values);
    for (float id : tensor("target").values) targets_.push_back(static_cast<std::int32_t>(id));
  }

  std::int64_t meta(const std::string& key) { return std::stoll(metadata_.at(key)); }
  float meta_float(const std::string& key) { return std::stof(metadata_.at(key)); }
  const OwnedTensor& tensor(const std::string& name) {
    const auto it = fixture_.find(name);
    EXPECT_NE(it, fixture_.end()) << "the fixture lacks " << name;
    return it->second;
  }

  // The loss of the current parameters on the fixture's batch; leaves the logits in the model.
  float forward() { return loss_fn_.forward(model_.forward(input_), targets_); }

  // Loss, zero grads, backward: the gradient of the mean loss in parameters().grads().
  float forward_backward() {
    const float loss = forward();
    const Tensor& logits = model_.forward(input_);
    Tensor dlogits = Tensor::empty(logits.shape());
    loss_fn_.backward(logits, targets_, dlogits);
    model_.parameters().zero_grads();
    model_.backward(dlogits);
    return loss;
  }

  std::map<std::string, OwnedTensor> fixture_;
  std::map<std::string, std::string> metadata_;
  Sequential model_;
  Tensor input_;
  std::vector<std::int32_t> targets_;
  SoftmaxCrossEntropy loss_fn_;
};

// |actual - expected| <= 1e-4 (|expected| + max |expected| of the tensor): relative 1e-4,
// with elements near zero judged against the tensor's scale.
::testing::AssertionResult near(std::span<const float> actual, std::span<const float> expected,
                                const std::string& what) {
  float scale = 0.0f;
  for (float e : expected) scale = std::max(scale, std::fabs(e));
  const Shape flat({static_cast<std::int64_t>(expected.size())});
  if (actual.size() != expected.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  return testing::tensors_near(Tensor::from(flat, actual), Tensor::from(flat, expected),
                               {.rtol = 1e-4, .atol = 1e-4 * scale})
         << " (" << what << ": courier against PyTorch)";
}

TEST_F(GptGolden, LogitsLossAndEveryGradientMatchPyTorch) {
  const float loss = forward_backward();
  EXPECT_TRUE(near({&loss, 1}, tensor("loss").values, "loss"));
  EXPECT_TRUE(near(model_.forward(input_).span(), tensor("logits").values, "logits"));
  int checked = 0;
  for (const ParamSpec& spec : model_.parameters().specs()) {
    const Tensor grad = model_.parameters().grad(*model_.parameters().find(spec.name));
    EXPECT_TRUE(near(grad.span(), tensor("grad." + spec.name).values, "grad." + spec.name));
    ++checked;
  }
  EXPECT_EQ(checked, 15) << "2 embeddings, 6 per block, the final LayerNorm";
}

TEST_F(GptGolden, FiveAdamWStepsWithClippingMatchPyTorch) {
  const Parameters& params = model_.parameters();
  std::vector<ParamGroup> groups;
  for (const ParamSpec& spec : params.specs()) {
    groups.push_back({spec.offset, spec.shape.numel(), spec.weight_decay ? meta_float("weight_decay") : 0.0f});
  }
  Adam adamw(params.numel(),
             AdamOptions{.beta1 = meta_float("beta1"), .beta2 = meta_float("beta2"), .eps = meta_float("eps"),
                         .decoupled_weight_decay = true},
             groups);
  adamw.set_clip_norm(meta_float("clip"));  // the fixture's norms are 4.1 .. 1.1: every step clips
  std::vector<float> losses;
  for (std::int64_t step = 0; step < meta("steps"); ++step) {
    forward_backward();
    adamw.step(model_.parameters().values().span(), model_.parameters().grads().span(), meta_float("lr"));
    if (step == 0) {
      const float norm = adamw.last_grad_norm();
      EXPECT_TRUE(near({&norm, 1}, tensor("grad_norm").values, "grad_norm"));
    }
    losses.push_back(forward());
  }
  EXPECT_TRUE(near(losses, tensor("losses").values, "losses"));
  for (const ParamSpec& spec : params.specs()) {
    const Tensor value = params.value(*params.find(spec.name));
    EXPECT_TRUE(near(value.span(), tensor("final." + spec.name).values, "final." + spec.name));
  }
}

}  // namespace
}  // namespace courier
