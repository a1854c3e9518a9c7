// Adam and AdamW against hand-computed bias-corrected steps and PyTorch: weight decay, groups, state.
#include "courier/train/optim/adam.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

using Values = std::vector<float>;

constexpr float kLr = 0.1f;
constexpr double kTolerance = 2e-6;

// The gradients of steps 1, 2 and 3 for the parameters {1, -2, 0.5}.
const std::array<Values, 3> kGrads = {Values{0.5f, -1.0f, 2.0f}, Values{0.25f, 0.5f, -1.0f},
                                      Values{0.5f, -1.0f, 2.0f}};

// The Adam update at step t (from 1) for first and second moments m and v, written out:
//   lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps),  beta1 0.9, beta2 0.999, eps 1e-8.
double adam_delta(double m, double v, int t) {
  const double m_hat = m / (1.0 - std::pow(0.9, t));
  const double v_hat = v / (1.0 - std::pow(0.999, t));
  return kLr * m_hat / (std::sqrt(v_hat) + 1e-8);
}

void expect_values(std::span<const float> actual, const std::vector<double>& expected, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], kTolerance) << what << " index " << i;
  }
}

std::span<const float> state_named(std::vector<OptimizerState>& state, const char* name) {
  for (const OptimizerState& s : state) {
    if (s.name == name) return s.values;
  }
  ADD_FAILURE() << "no optimizer state named " << name;
  return {};
}

TEST(AdamTest, TwoStepsByHand) {
  Adam optimizer(3, AdamOptions{});
  Values params = {1.0f, -2.0f, 0.5f};

  // Step 1: m = 0.1 g = {0.05, -0.1, 0.2}; v = 0.001 g^2 = {0.00025, 0.001, 0.004}.
  // Bias correction divides them by 0.1 and 0.001, so m_hat = g, v_hat = g^2 and every
  // parameter moves by lr * g / (|g| + eps): almost exactly 0.1 against its gradient's sign.
  optimizer.step(params, kGrads[0], kLr);
  expect_values(params, {1.0 - adam_delta(0.05, 0.00025, 1), -2.0 - adam_delta(-0.1, 0.001, 1),
                         0.5 - adam_delta(0.2, 0.004, 1)},
                "step 1");
  expect_values(params, {0.9, -1.9, 0.4}, "step 1 (sign)");

  // Step 2 with g = {0.25, 0.5, -1}:
  //   m = 0.9 m + 0.1 g   = {0.045 + 0.025, -0.09 + 0.05, 0.18 - 0.1} = {0.07, -0.04, 0.08}
  //   v = 0.999 v + 0.001 g^2 = {0.00024975 + 0.0000625, 0.000999 + 0.00025, 0.003996 + 0.001}
  //                           = {0.00031225, 0.001249, 0.004996}
  //   bias corrections 1 - 0.9^2 = 0.19 and 1 - 0.999^2 = 0.001999
  //   p[0] = 0.9 - 0.1 (0.07 / 0.19) / (sqrt(0.00031225 / 0.001999) + 1e-8) = 0.9 - 0.093218 = 0.806782
  optimizer.step(params, kGrads[1], kLr);
  expect_values(params, {0.9 - adam_delta(0.07, 0.00031225, 2), -1.9 - adam_delta(-0.04, 0.001249, 2),
                         0.4 - adam_delta(0.08, 0.004996, 2)},
                "step 2");
  EXPECT_NEAR(params[0], 0.806782, 1e-6);
  EXPECT_EQ(optimizer.step_count(), 2);

  std::vector<OptimizerState> state = optimizer.state();
  ASSERT_EQ(state.size(), 2u);
  expect_values(state_named(state, "exp_avg"), {0.07, -0.04, 0.08}, "exp_avg");
  expect_values(state_named(state, "exp_avg_sq"), {0.00031225, 0.001249, 0.004996}, "exp_avg_sq");
}

TEST(AdamTest, L2WeightDecayGoesIntoTheGradient) {
  // Adam with weight_decay 0.1: g' = g + 0.1 p enters both moments.
  Adam optimizer(3, AdamOptions{.weight_decay = 0.1f});
  Values params = {1.0f, -2.0f, 0.5f};

  // Step 1: g' = {0.5 + 0.1, -1 - 0.2, 2 + 0.05} = {0.6, -1.2, 2.05}
  //   m = {0.06, -0.12, 0.205}; v = 0.001 g'^2 = {0.00036, 0.00144, 0.0042025}; p moves by lr sign(g').
  optimizer.step(params, kGrads[0], kLr);
  expect_values(params, {1.0 - adam_delta(0.06, 0.00036, 1), -2.0 - adam_delta(-0.12, 0.00144, 1),
                         0.5 - adam_delta(0.205, 0.0042025, 1)},
                "step 1");

  // Step 2: g' = g + 0.1 p = {0.25 + 0.09, 0.5 - 0.19, -1 + 0.04} = {0.34, 0.31, -0.96}
  //   m = 0.9 m + 0.1 g' = {0.054 + 0.034, -0.108 + 0.031, 0.1845 - 0.096} = {0.088, -0.077, 0.0885}
  //   v = 0.999 v + 0.001 g'^2 = {0.00035964 + 0.0001156, 0.00143856 + 0.0000961, 0.0041982975 + 0.0009216}
  //                            = {0.00047524, 0.00153466, 0.0051198975}
  optimizer.step(params, kGrads[1], kLr);
  expect_values(params, {0.9 - adam_delta(0.088, 0.00047524, 2), -1.9 - adam_delta(-0.077, 0.00153466, 2),
                         0.4 - adam_delta(0.0885, 0.0051198975, 2)},
                "step 2");
  std::vector<OptimizerState> state = optimizer.state();
  expect_values(state_named(state, "exp_avg"), {0.088, -0.077, 0.0885}, "exp_avg");
  expect_values(state_named(state, "exp_avg_sq"), {0.00047524, 0.00153466, 0.0051198975}, "exp_avg_sq");
}

TEST(AdamTest, AdamWDecaysTheWeightsDirectly) {
  // AdamW with weight_decay 0.1: p *= 1 - lr wd = 0.99 first; the moments see the raw g,
  // so m and v are those of plain Adam (TwoStepsByHand).
  Adam optimizer = make_adamw(3, AdamOptions{.weight_decay = 0.1f});
  Values params = {1.0f, -2.0f, 0.5f};

  // Step 1: p = {0.99, -1.98, 0.495} - lr sign(g) = {0.89, -1.88, 0.395}
  optimizer.step(params, kGrads[0], kLr);
  expect_values(params, {0.99 - adam_delta(0.05, 0.00025, 1), -1.98 - adam_delta(-0.1, 0.001, 1),
                         0.495 - adam_delta(0.2, 0.004, 1)},
                "step 1");

  // Step 2: p = 0.99 {0.89, -1.88, 0.395} = {0.8811, -1.8612, 0.39105}, minus Adam's step-2 update.
  optimizer.step(params, kGrads[1], kLr);
  expect_values(params, {0.8811 - adam_delta(0.07, 0.00031225, 2), -1.8612 - adam_delta(-0.04, 0.001249, 2),
                         0.39105 - adam_delta(0.08, 0.004996, 2)},
                "step 2");
  std::vector<OptimizerState> state = optimizer.state();
  expect_values(state_named(state, "exp_avg"), {0.07, -0.04, 0.08}, "exp_avg");
  expect_values(state_named(state, "exp_avg_sq"), {0.00031225, 0.001249, 0.004996}, "exp_avg_sq");
}

TEST(AdamTest, PerGroupWeightDecay) {
  // Weights [0, 2) decay by 0.1, the "bias" [2, 3) does not. The weights follow the
  // weight-decay runs above, the bias follows plain Adam: 0.5 -> 0.4 -> 0.4 - adam_delta(0.08, 0.004996, 2).
  const std::vector<ParamGroup> groups = {{.offset = 0, .count = 2, .weight_decay = 0.1f},
                                          {.offset = 2, .count = 1, .weight_decay = 0.0f}};
  const double bias_step2 = 0.4 - adam_delta(0.08, 0.004996, 2);

  Adam adam(3, AdamOptions{}, groups);
  Values params = {1.0f, -2.0f, 0.5f};
  adam.step(params, kGrads[0], kLr);
  expect_values(params, {0.9, -1.9, 0.4}, "Adam step 1");
  adam.step(params, kGrads[1], kLr);
  expect_values(params, {0.9 - adam_delta(0.088, 0.00047524, 2), -1.9 - adam_delta(-0.077, 0.00153466, 2),
                         bias_step2},
                "Adam step 2");

  Adam adamw = make_adamw(3, AdamOptions{}, groups);
  params = {1.0f, -2.0f, 0.5f};
  adamw.step(params, kGrads[0], kLr);
  expect_values(params, {0.89, -1.88, 0.4}, "AdamW step 1");
  adamw.step(params, kGrads[1], kLr);
  expect_values(params, {0.8811 - adam_delta(0.07, 0.00031225, 2), -1.8612 - adam_delta(-0.04, 0.001249, 2),
                         bias_step2},
                "AdamW step 2");
}

TEST(AdamTest, EpsIsAddedAfterBiasCorrection) {
  // g = 1e-8 on the first step: v_hat = g^2, so the update is lr g / (g + eps) = lr / 2.
  // (eps added before the bias correction would give about lr / 32.)
  Adam optimizer(1, AdamOptions{});
  Values params = {0.0f};
  optimizer.step(params, Values{1e-8f}, kLr);
  EXPECT_NEAR(params[0], -0.05, 1e-4);
}

TEST(AdamTest, BiasCorrectionMakesTheFirstStepTheLearningRate) {
  // Whatever the gradient's scale, the first step moves by lr (up to eps).
  for (float g : {1e-3f, 1.0f, 1e3f, -7.0f}) {
    Adam optimizer(1, AdamOptions{});
    Values params = {0.0f};
    optimizer.step(params, Values{g}, 0.01f);
    EXPECT_NEAR(params[0], g > 0 ? -0.01f : 0.01f, 1e-6) << "g = " << g;
  }
}

TEST(AdamTest, MatchesPyTorch) {
  // Values after each of three steps of kGrads from {1, -2, 0.5} with lr 0.1, printed by
  // torch.optim.Adam / torch.optim.AdamW (torch 1.13, /usr/bin/python3, float32 tensors);
  // the group case uses two param groups: [0, 2) weight_decay 0.1 and [2, 3) weight_decay 0.
  struct Case {
    const char* name;
    bool adamw;
    float weight_decay;
    std::vector<ParamGroup> groups;
    std::array<std::vector<double>, 3> expected;
  };
  const std::vector<Case> cases = {
      {"Adam", false, 0.0f, {},
       {{{0.900000036, -1.89999998, 0.400000006},
         {0.806782067, -1.87336624, 0.373366296},
         {0.710485995, -1.81541812, 0.315418243}}}},
      {"Adam wd 0.1", false, 0.1f, {},
       {{{0.900000036, -1.89999998, 0.400000006},
         {0.805009782, -1.85374725, 0.370895147},
         {0.707695484, -1.78374481, 0.311424881}}}},
      {"AdamW wd 0.1", true, 0.1f, {},
       {{{0.890000045, -1.88, 0.395000011},
         {0.78788209, -1.83456624, 0.364416301},
         {0.683707178, -1.75827253, 0.30282408}}}},
      {"AdamW groups", true, 0.0f, {{0, 2, 0.1f}, {2, 1, 0.0f}},
       {{{0.890000045, -1.88, 0.400000006},
         {0.78788209, -1.83456624, 0.373366296},
         {0.683707178, -1.75827253, 0.315418243}}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const AdamOptions options{.weight_decay = c.weight_decay};
    Adam optimizer = c.adamw ? make_adamw(3, options, c.groups) : Adam(3, options, c.groups);
    Values params = {1.0f, -2.0f, 0.5f};
    for (std::size_t step = 0; step < kGrads.size(); ++step) {
      optimizer.step(params, kGrads[step], kLr);
      expect_values(params, c.expected[step], "step");
    }
    if (c.adamw && !c.groups.empty()) {
      // torch's optimizer.state[p]["exp_avg"] / ["exp_avg_sq"] after the three steps.
      std::vector<OptimizerState> state = optimizer.state();
      expect_values(state_named(state, "exp_avg"), {0.113000006, -0.135999992, 0.271999985}, "exp_avg");
      expect_values(state_named(state, "exp_avg_sq"), {0.000561937806, 0.00224775122, 0.0089910049}, "exp_avg_sq");
    }
  }
}

TEST(AdamTest, StateIsWritableForCheckpoints) {
  // Restoring m, v and the step count reproduces the run that produced them.
  Adam original(3, AdamOptions{});
  Values params = {1.0f, -2.0f, 0.5f};
  original.step(params, kGrads[0], kLr);
  original.step(params, kGrads[1], kLr);

  Adam restored(3, AdamOptions{});
  std::vector<OptimizerState> from = original.state();
  std::vector<OptimizerState> to = restored.state();
  for (std::size_t i = 0; i < from.size(); ++i) {
    ASSERT_EQ(from[i].name, to[i].name);
    std::copy(from[i].values.begin(), from[i].values.end(), to[i].values.begin());
  }
  restored.set_step_count(original.step_count());

  Values restored_params = params;
  original.step(params, kGrads[2], kLr);
  restored.step(restored_params, kGrads[2], kLr);
  EXPECT_EQ(params, restored_params);
}

TEST(AdamTest, MakeAdamwAndDescribe) {
  const Adam adam(3, AdamOptions{.weight_decay = 0.01f});
  const Adam adamw = make_adamw(3, AdamOptions{.weight_decay = 0.01f});
  EXPECT_THAT(adam.describe(), ::testing::StartsWith("Adam("));
  EXPECT_THAT(adamw.describe(), ::testing::StartsWith("AdamW("));
  EXPECT_THAT(adamw.describe(), ::testing::HasSubstr("weight_decay=0.01"));
}

TEST(AdamTest, InvalidOptionsThrow) {
  EXPECT_THROW(Adam(3, AdamOptions{.beta1 = 1.0f}), CheckError);
  EXPECT_THROW(Adam(3, AdamOptions{.beta1 = -0.1f}), CheckError);
  EXPECT_THROW(Adam(3, AdamOptions{.beta2 = 1.0f}), CheckError);
  EXPECT_THROW(Adam(3, AdamOptions{.eps = 0.0f}), CheckError);
  EXPECT_THROW(Adam(3, AdamOptions{}, {{0, 2, 0.0f}}), CheckError);
  EXPECT_THROW(Adam(3, AdamOptions{}, {{0, 2, 0.0f}, {1, 2, 0.0f}}), CheckError);
  EXPECT_NO_THROW(Adam(3, AdamOptions{.beta1 = 0.0f}));
}

TEST(AdamTest, WrongSizesThrow) {
  Adam optimizer(3, AdamOptions{});
  Values params = {1.0f, 2.0f, 3.0f};
  Values four = {1.0f, 2.0f, 3.0f, 4.0f};
  EXPECT_THROW(optimizer.step(params, Values{1.0f, 2.0f}, kLr), CheckError);
  EXPECT_THROW(optimizer.step(four, Values{1.0f, 2.0f, 3.0f, 4.0f}, kLr), CheckError);
  EXPECT_EQ(optimizer.step_count(), 0);
  EXPECT_EQ(params, (Values{1.0f, 2.0f, 3.0f}));
}

// With freeze_variance_at = 1 the second moment stays at step 1's and its bias correction at
// step 1's, so step 3's update is the first moment over that fixed denominator.
TEST(AdamTest, FrozenVarianceKeepsTheSecondMomentOfItsStep) {
  Values params = {1.0f, -2.0f, 0.5f};
  Adam adam(3, AdamOptions{.freeze_variance_at = 1});
  double m[3] = {0, 0, 0}, v[3] = {0, 0, 0};
  std::vector<double> expected(params.begin(), params.end());
  for (int t = 1; t <= 3; ++t) {
    ASSERT_TRUE(adam.step(params, kGrads[static_cast<std::size_t>(t - 1)], kLr));
    for (std::size_t i = 0; i < 3; ++i) {
      const double g = kGrads[static_cast<std::size_t>(t - 1)][i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      if (t == 1) v[i] = 0.001 * g * g;  // frozen from here on
      const double m_hat = m[i] / (1.0 - std::pow(0.9, t));
      const double v_hat = v[i] / (1.0 - 0.999);
      expected[i] -= kLr * m_hat / (std::sqrt(v_hat) + 1e-8);
    }
    expect_values(params, expected, "frozen variance");
  }
  // The state still holds step 1's second moment.
  for (const OptimizerState& state : adam.state()) {
    if (state.name != "exp_avg_sq") continue;
    for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(state.values[i], v[i], 1e-4 * v[i]) << i;  // float 1 - 0.999
  }
}

// Exchanging updates (dist.exchange = updates) splits a step in two: direction() then
// apply_direction() must be step() up to rounding, with AdamW's per-group decay, clipping and
// a frozen variance.
TEST(AdamTest, DirectionThenApplyIsOneStep) {
  const std::vector<ParamGroup> groups = {{.offset = 0, .count = 2, .weight_decay = 0.1f},
                                          {.offset = 2, .count = 1, .weight_decay = 0.0f}};
  Adam whole = make_adamw(3, AdamOptions{.freeze_variance_at = 2}, groups);
  Adam split = make_adamw(3, AdamOptions{.freeze_variance_at = 2}, groups);
  whole.set_clip_norm(1.5f);
  split.set_clip_norm(1.5f);
  Values a = {1.0f, -2.0f, 0.5f};
  Values b = a;
  Values direction(3);
  for (int t = 0; t < 3; ++t) {
    const Values& g = kGrads[static_cast<std::size_t>(t)];
    ASSERT_TRUE(whole.step(a, g, kLr));
    ASSERT_TRUE(split.direction(g, direction));
    for (float& d : direction) d *= kLr;
    split.apply_direction(b, direction, kLr);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(b[i], a[i], 1e-6) << "step " << t << " index " << i;
  }
  EXPECT_EQ(split.step_count(), 3);
  // A non-finite gradient: no state change, a zero direction.
  Values bad = {1.0f, std::nanf(""), 0.0f};
  EXPECT_FALSE(split.direction(bad, direction));
  EXPECT_THAT(direction, ::testing::Each(0.0f));
  EXPECT_EQ(split.step_count(), 3);
}

// For 4 workers the denominator is sqrt(v/4 + mu^2 3/4) (bias-corrected, mu the gradient's
// average with beta2); without momentum the numerator is the gradient itself and m stays 0.
TEST(AdamTest, DirectionForSeveralWorkersEstimatesTheMeansSecondMoment) {
  for (bool momentum : {true, false}) {
    Adam adam(3, AdamOptions{});
    Values direction(3);
    double m[3] = {0, 0, 0}, v[3] = {0, 0, 0}, mu[3] = {0, 0, 0};
    for (int t = 1; t <= 3; ++t) {
      const Values& g = kGrads[static_cast<std::size_t>(t - 1)];
      ASSERT_TRUE(adam.direction(g, direction, DirectionOptions{.workers = 4, .momentum = momentum}));
      const double bias2 = 1.0 - std::pow(0.999, t);
      for (std::size_t i = 0; i < 3; ++i) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        mu[i] = 0.999 * mu[i] + 0.001 * g[i];
        const double mean_sq = v[i] / bias2 / 4 + (mu[i] / bias2) * (mu[i] / bias2) * 0.75;
        const double numerator = momentum ? m[i] / (1.0 - std::pow(0.9, t)) : g[i];
        EXPECT_NEAR(direction[i], numerator / (std::sqrt(mean_sq) + 1e-8), 1e-4 * std::fabs(direction[i]))
            << "step " << t << " index " << i << (momentum ? "" : " without momentum");
      }
    }
    if (!momentum) {
      for (const OptimizerState& state : adam.state()) {
        if (state.name == "exp_avg") {
          EXPECT_THAT(state.values, ::testing::Each(0.0f));
        }
      }
    }
  }
}

TEST(AdamTest, CoupledWeightDecayHasNoDirection) {
  EXPECT_TRUE(Adam(3, AdamOptions{}).supports_direction());
  Adam coupled(3, AdamOptions{.weight_decay = 0.1f});
  EXPECT_FALSE(coupled.supports_direction());
  Values direction(3);
  EXPECT_THROW(coupled.direction(kGrads[0], direction), CheckError);
}

}  // namespace
}  // namespace courier
