// SGD (plain, momentum, dampening, Nesterov, L2 decay, groups) against hand-computed and PyTorch steps.
#include "courier/train/optim/sgd.h"

#include <array>
#include <span>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

using Values = std::vector<float>;

constexpr float kSgdLr = 0.1f;
constexpr double kSgdTolerance = 1e-6;

// The gradients of steps 1, 2 and 3 for the parameters {1, -2, 0.5}.
const std::array<Values, 3> kSgdGrads = {Values{0.5f, -1.0f, 2.0f}, Values{0.25f, 0.5f, -1.0f},
                                      Values{0.5f, -1.0f, 2.0f}};

void expect_values(const Values& actual, const Values& expected, int step) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], kSgdTolerance) << "step " << step << " index " << i;
  }
}

// Runs len(expected) steps from {1, -2, 0.5} with kSgdGrads and checks the values after each.
void expect_steps(Sgd& optimizer, const std::vector<Values>& expected) {
  Values params = {1.0f, -2.0f, 0.5f};
  for (std::size_t step = 0; step < expected.size(); ++step) {
    optimizer.step(params, kSgdGrads[step], kSgdLr);
    expect_values(params, expected[step], static_cast<int>(step) + 1);
    EXPECT_EQ(optimizer.step_count(), static_cast<std::int64_t>(step) + 1);
  }
}

TEST(SgdTest, Plain) {
  // p -= lr g
  //   step 1: {1 - 0.05, -2 + 0.1, 0.5 - 0.2}       = {0.95, -1.9, 0.3}
  //   step 2: {0.95 - 0.025, -1.9 - 0.05, 0.3 + 0.1} = {0.925, -1.95, 0.4}
  //   step 3: {0.925 - 0.05, -1.95 + 0.1, 0.4 - 0.2} = {0.875, -1.85, 0.2}
  Sgd optimizer(3, SgdOptions{});
  expect_steps(optimizer, {{0.95f, -1.9f, 0.3f}, {0.925f, -1.95f, 0.4f}, {0.875f, -1.85f, 0.2f}});
  EXPECT_TRUE(optimizer.state().empty());
}

TEST(SgdTest, Momentum) {
  // momentum 0.9; buf = g on the first step, then buf = 0.9 buf + g; p -= lr buf
  //   step 1: buf = {0.5, -1, 2};                                   p = {0.95, -1.9, 0.3}
  //   step 2: buf = {0.45 + 0.25, -0.9 + 0.5, 1.8 - 1} = {0.7, -0.4, 0.8}
  //           p = {0.95 - 0.07, -1.9 + 0.04, 0.3 - 0.08}            = {0.88, -1.86, 0.22}
  //   step 3: buf = {0.63 + 0.5, -0.36 - 1, 0.72 + 2} = {1.13, -1.36, 2.72}
  //           p = {0.88 - 0.113, -1.86 + 0.136, 0.22 - 0.272}       = {0.767, -1.724, -0.052}
  Sgd optimizer(3, SgdOptions{.momentum = 0.9f});
  expect_steps(optimizer, {{0.95f, -1.9f, 0.3f}, {0.88f, -1.86f, 0.22f}, {0.767f, -1.724f, -0.052f}});
  const std::vector<OptimizerState> state = optimizer.state();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].name, "momentum");
  expect_values(Values(state[0].values.begin(), state[0].values.end()), {1.13f, -1.36f, 2.72f}, 3);
}

TEST(SgdTest, MomentumWithDampening) {
  // momentum 0.9, dampening 0.5; the first step takes buf = g undamped (as PyTorch):
  //   step 1: buf = {0.5, -1, 2};                                   p = {0.95, -1.9, 0.3}
  //   step 2: buf = 0.9 {0.5, -1, 2} + 0.5 {0.25, 0.5, -1} = {0.575, -0.65, 1.3}
  //           p = {0.95 - 0.0575, -1.9 + 0.065, 0.3 - 0.13}         = {0.8925, -1.835, 0.17}
  //   step 3: buf = 0.9 {0.575, -0.65, 1.3} + 0.5 {0.5, -1, 2} = {0.7675, -1.085, 2.17}
  //           p = {0.8925 - 0.07675, -1.835 + 0.1085, 0.17 - 0.217} = {0.81575, -1.7265, -0.047}
  Sgd optimizer(3, SgdOptions{.momentum = 0.9f, .dampening = 0.5f});
  expect_steps(optimizer, {{0.95f, -1.9f, 0.3f}, {0.8925f, -1.835f, 0.17f}, {0.81575f, -1.7265f, -0.047f}});
}

TEST(SgdTest, Nesterov) {
  // momentum 0.9, Nesterov: buf as for momentum, d = g + 0.9 buf, p -= lr d
  //   step 1: buf = {0.5, -1, 2}; d = 1.9 g = {0.95, -1.9, 3.8}
  //           p = {1 - 0.095, -2 + 0.19, 0.5 - 0.38}                = {0.905, -1.81, 0.12}
  //   step 2: buf = {0.7, -0.4, 0.8}; d = {0.25 + 0.63, 0.5 - 0.36, -1 + 0.72} = {0.88, 0.14, -0.28}
  //           p = {0.905 - 0.088, -1.81 - 0.014, 0.12 + 0.028}      = {0.817, -1.824, 0.148}
  //   step 3: buf = {1.13, -1.36, 2.72}; d = {0.5 + 1.017, -1 - 1.224, 2 + 2.448} = {1.517, -2.224, 4.448}
  //           p = {0.817 - 0.1517, -1.824 + 0.2224, 0.148 - 0.4448} = {0.6653, -1.6016, -0.2968}
  Sgd optimizer(3, SgdOptions{.momentum = 0.9f, .nesterov = true});
  expect_steps(optimizer, {{0.905f, -1.81f, 0.12f}, {0.817f, -1.824f, 0.148f}, {0.6653f, -1.6016f, -0.2968f}});
}

TEST(SgdTest, WeightDecay) {
  // L2 weight decay 0.1: g' = g + 0.1 p; p -= lr g'
  //   step 1: g' = {0.5 + 0.1, -1 - 0.2, 2 + 0.05} = {0.6, -1.2, 2.05}
  //           p = {0.94, -1.88, 0.295}
  //   step 2: g' = {0.25 + 0.094, 0.5 - 0.188, -1 + 0.0295} = {0.344, 0.312, -0.9705}
  //           p = {0.94 - 0.0344, -1.88 - 0.0312, 0.295 + 0.09705} = {0.9056, -1.9112, 0.39205}
  //   step 3: g' = {0.5 + 0.09056, -1 - 0.19112, 2 + 0.039205} = {0.59056, -1.19112, 2.039205}
  //           p = {0.9056 - 0.059056, -1.9112 + 0.119112, 0.39205 - 0.2039205} = {0.846544, -1.792088, 0.1881295}
  Sgd optimizer(3, SgdOptions{.weight_decay = 0.1f});
  expect_steps(optimizer,
               {{0.94f, -1.88f, 0.295f}, {0.9056f, -1.9112f, 0.39205f}, {0.846544f, -1.792088f, 0.1881295f}});
}

TEST(SgdTest, ParameterGroupsWithDifferentWeightDecay) {
  // Weights [0, 3) decay by 0.1, the "bias" [3, 4) does not; momentum 0.9 for both.
  //   weight 0 (p = 1, g = 0.5, 0.25, 0.5):
  //     step 1: g' = 0.5 + 0.1 = 0.6; buf = 0.6;                     p = 1 - 0.06 = 0.94
  //     step 2: g' = 0.25 + 0.094 = 0.344; buf = 0.54 + 0.344 = 0.884; p = 0.94 - 0.0884 = 0.8516
  //     step 3: g' = 0.5 + 0.08516 = 0.58516; buf = 0.7956 + 0.58516 = 1.38076; p = 0.8516 - 0.138076 = 0.713524
  //   bias (p = 3, g = 1, -0.5, 1):
  //     step 1: buf = 1;                    p = 3 - 0.1 = 2.9     (with decay it would be 2.87)
  //     step 2: buf = 0.9 - 0.5 = 0.4;      p = 2.9 - 0.04 = 2.86
  //     step 3: buf = 0.36 + 1 = 1.36;      p = 2.86 - 0.136 = 2.724
  // The other weights: torch.optim.SGD(lr=0.1, momentum=0.9) with per-group weight_decay.
  const std::vector<ParamGroup> groups = {{.offset = 0, .count = 3, .weight_decay = 0.1f},
                                          {.offset = 3, .count = 1, .weight_decay = 0.0f}};
  Sgd optimizer(4, SgdOptions{.momentum = 0.9f}, groups);
  const std::array<Values, 3> grads = {Values{0.5f, -1.0f, 2.0f, 1.0f}, Values{0.25f, 0.5f, -1.0f, -0.5f},
                                       Values{0.5f, -1.0f, 2.0f, 1.0f}};
  const std::array<Values, 3> expected = {Values{0.94f, -1.88f, 0.295f, 2.9f},
                                          Values{0.8516f, -1.8032f, 0.20755f, 2.86f},
                                          Values{0.713524f, -1.616048f, -0.07323052f, 2.724f}};
  Values params = {1.0f, -2.0f, 0.5f, 3.0f};
  for (std::size_t step = 0; step < grads.size(); ++step) {
    optimizer.step(params, grads[step], kSgdLr);
    expect_values(params, expected[step], static_cast<int>(step) + 1);
  }
}

TEST(SgdTest, GroupWeightDecayOverridesTheOptionsDefault) {
  // With explicit groups, SgdOptions::weight_decay is not applied on top.
  Sgd optimizer(2, SgdOptions{.weight_decay = 0.5f}, {{.offset = 0, .count = 2, .weight_decay = 0.0f}});
  Values params = {1.0f, 2.0f};
  optimizer.step(params, Values{0.0f, 0.0f}, kSgdLr);
  expect_values(params, {1.0f, 2.0f}, 1);
}

TEST(SgdTest, MatchesPyTorch) {
  // Values after three steps of kSgdGrads from {1, -2, 0.5} with lr 0.1, printed by
  // torch.optim.SGD (torch 1.13, /usr/bin/python3, float32 tensors).
  struct Case {
    const char* name;
    SgdOptions options;
    Values expected;
  };
  const std::vector<Case> cases = {
      {"plain", SgdOptions{}, {0.875f, -1.8499999f, 0.200000003f}},
      {"momentum", SgdOptions{.momentum = 0.9f}, {0.76700002f, -1.72399998f, -0.0519999675f}},
      {"dampening", SgdOptions{.momentum = 0.9f, .dampening = 0.5f}, {0.815750003f, -1.72649992f, -0.0469999947f}},
      {"nesterov", SgdOptions{.momentum = 0.9f, .nesterov = true}, {0.665299952f, -1.60160005f, -0.296799988f}},
      {"weight decay", SgdOptions{.weight_decay = 0.1f}, {0.846544027f, -1.79208803f, 0.188129485f}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Sgd optimizer(3, c.options);
    Values params = {1.0f, -2.0f, 0.5f};
    for (const Values& grads : kSgdGrads) optimizer.step(params, grads, kSgdLr);
    expect_values(params, c.expected, 3);
  }
}

TEST(SgdTest, LearningRateCanChangeBetweenSteps) {
  // Momentum buffers hold gradients, not updates, so a new lr applies to the whole buffer:
  //   step 1 lr 0.1: buf = 1;   p = 1 - 0.1 = 0.9
  //   step 2 lr 0.5: buf = 0.9 + 1 = 1.9; p = 0.9 - 0.95 = -0.05
  Sgd optimizer(1, SgdOptions{.momentum = 0.9f});
  Values params = {1.0f};
  optimizer.step(params, Values{1.0f}, 0.1f);
  optimizer.step(params, Values{1.0f}, 0.5f);
  EXPECT_NEAR(params[0], -0.05f, kSgdTolerance);
}

TEST(SgdTest, StepCountRestoresTheFirstStepRule) {
  // A restored optimizer (step count > 0) must not reset its momentum buffer to g.
  Sgd optimizer(1, SgdOptions{.momentum = 0.9f});
  optimizer.state()[0].values[0] = 2.0f;
  optimizer.set_step_count(10);
  Values params = {0.0f};
  optimizer.step(params, Values{1.0f}, 1.0f);
  // buf = 0.9 * 2 + 1 = 2.8; p = 0 - 2.8
  EXPECT_NEAR(params[0], -2.8f, kSgdTolerance);
  EXPECT_EQ(optimizer.step_count(), 11);
}

TEST(SgdTest, InvalidOptionsThrow) {
  EXPECT_THROW(Sgd(3, SgdOptions{.nesterov = true}), CheckError);
  EXPECT_THROW(Sgd(3, SgdOptions{.momentum = 0.9f, .dampening = 0.1f, .nesterov = true}), CheckError);
  EXPECT_THROW(Sgd(3, SgdOptions{.momentum = -0.1f}), CheckError);
  EXPECT_NO_THROW(Sgd(3, SgdOptions{.momentum = 0.9f, .nesterov = true}));
}

TEST(SgdTest, InvalidGroupsThrow) {
  // A gap, an overlap, a short cover and negative decay.
  EXPECT_THROW(Sgd(4, SgdOptions{}, {{0, 2, 0.0f}, {3, 1, 0.0f}}), CheckError);
  EXPECT_THROW(Sgd(4, SgdOptions{}, {{0, 2, 0.0f}, {1, 3, 0.0f}}), CheckError);
  EXPECT_THROW(Sgd(4, SgdOptions{}, {{0, 3, 0.0f}}), CheckError);
  EXPECT_THROW(Sgd(4, SgdOptions{}, {{0, 4, -0.1f}}), CheckError);
  EXPECT_NO_THROW(Sgd(4, SgdOptions{}, {{0, 2, 0.1f}, {2, 2, 0.0f}}));
}

TEST(SgdTest, WrongSizesThrow) {
  Sgd optimizer(3, SgdOptions{.momentum = 0.9f});
  Values params = {1.0f, 2.0f, 3.0f};
  Values four = {1.0f, 2.0f, 3.0f, 4.0f};
  EXPECT_THROW(optimizer.step(params, Values{1.0f, 2.0f}, kSgdLr), CheckError);
  EXPECT_THROW(optimizer.step(four, Values{1.0f, 2.0f, 3.0f, 4.0f}, kSgdLr), CheckError);
  // A failed step changes nothing.
  EXPECT_EQ(optimizer.step_count(), 0);
  expect_values(params, {1.0f, 2.0f, 3.0f}, 0);
}

TEST(SgdTest, DescribeNamesTheOptions) {
  const Sgd optimizer(3, SgdOptions{.momentum = 0.9f, .nesterov = true});
  EXPECT_THAT(optimizer.describe(), ::testing::HasSubstr("SGD(momentum=0.9"));
  EXPECT_THAT(optimizer.describe(), ::testing::HasSubstr("nesterov=true"));
}

}  // namespace
}  // namespace courier
