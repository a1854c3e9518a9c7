// run_seed_demo: determinism, the loss settling at 1/12, the on_step callback and the test outputs.
#include "courier/train/seed_demo.h"

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

struct DemoRun {
  std::vector<std::int64_t> steps;
  std::vector<float> losses;
  SeedDemoResult result;
};

DemoRun run(const SeedDemoOptions& options) {
  DemoRun out;
  out.result = run_seed_demo(options, [&out](std::int64_t step, float loss) {
    out.steps.push_back(step);
    out.losses.push_back(loss);
  });
  return out;
}

std::vector<float> values_of(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

double mean_of_last(const std::vector<float>& losses, std::size_t count) {
  return std::accumulate(losses.end() - static_cast<std::ptrdiff_t>(count), losses.end(), 0.0) /
         static_cast<double>(count);
}

// One default run (1000 steps, seed 0) shared by the tests that only read it.
const DemoRun& default_run() {
  static const DemoRun result = run(SeedDemoOptions{});
  return result;
}

TEST(SeedDemoTest, CallbackOncePerStepInOrder) {
  const DemoRun& r = default_run();
  ASSERT_EQ(r.steps.size(), 1000u);
  for (std::size_t i = 0; i < r.steps.size(); ++i) ASSERT_EQ(r.steps[i], static_cast<std::int64_t>(i));
  EXPECT_EQ(r.result.final_loss, r.losses.back());
  for (float loss : r.losses) ASSERT_TRUE(std::isfinite(loss));
}

TEST(SeedDemoTest, LossSettlesAtTheVarianceOfAUniformTarget) {
  // The targets are fresh U[0, 1) draws, so the best possible loss is their variance, 1/12.
  const DemoRun& r = default_run();
  const double settled = mean_of_last(r.losses, 100);
  EXPECT_GE(settled, 0.075);
  EXPECT_LE(settled, 0.095);
}

TEST(SeedDemoTest, ItActuallyTrains) {
  // Weights from U[0, 1) push both sigmoids towards 1, far from the targets' mean of 1/2.
  const DemoRun& r = default_run();
  const double settled = mean_of_last(r.losses, 100);
  EXPECT_GT(r.losses.front(), 1.5 * settled);
  EXPECT_GT(std::accumulate(r.losses.begin(), r.losses.begin() + 10, 0.0) / 10.0, 1.5 * settled);

  // A learning rate 100 times smaller has not got there after the same 1000 steps.
  SeedDemoOptions slow;
  slow.lr = 0.001f;
  const DemoRun s = run(slow);
  EXPECT_GT(mean_of_last(s.losses, 100), settled + 0.02);
}

TEST(SeedDemoTest, TestOutputsAreSigmoidsOfTheRightShape) {
  const DemoRun& r = default_run();
  EXPECT_EQ(r.result.test_inputs.shape(), Shape({10, 2}));
  EXPECT_EQ(r.result.test_outputs.shape(), Shape({10, 2}));
  for (float x : values_of(r.result.test_inputs)) {
    EXPECT_GE(x, 0.0f);
    EXPECT_LT(x, 1.0f);
  }
  for (float y : values_of(r.result.test_outputs)) {
    EXPECT_GT(y, 0.0f);
    EXPECT_LT(y, 1.0f);
    // Trained towards the targets' mean.
    EXPECT_NEAR(y, 0.5f, 0.15f);
  }
}

TEST(SeedDemoTest, SameSeedIsBitwiseIdentical) {
  const DemoRun& a = default_run();
  const DemoRun b = run(SeedDemoOptions{});
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(values_of(a.result.test_inputs), values_of(b.result.test_inputs));
  EXPECT_EQ(values_of(a.result.test_outputs), values_of(b.result.test_outputs));
  EXPECT_EQ(a.result.final_loss, b.result.final_loss);
}

TEST(SeedDemoTest, DifferentSeedDiffers) {
  SeedDemoOptions options;
  options.seed = 1;
  const DemoRun other = run(options);
  const DemoRun& base = default_run();
  EXPECT_NE(other.losses, base.losses);
  EXPECT_NE(values_of(other.result.test_outputs), values_of(base.result.test_outputs));
  // Every seed still learns the mean.
  EXPECT_NEAR(mean_of_last(other.losses, 100), 1.0 / 12.0, 0.012);
}

TEST(SeedDemoTest, OptionsShapeTheRun) {
  SeedDemoOptions options;
  options.steps = 5;
  options.inputs = 3;
  options.hidden = 4;
  options.outputs = 1;
  options.test_inputs = 6;
  const DemoRun r = run(options);
  EXPECT_EQ(r.steps.size(), 5u);
  EXPECT_EQ(r.result.test_inputs.shape(), Shape({6, 3}));
  EXPECT_EQ(r.result.test_outputs.shape(), Shape({6, 1}));
}

TEST(SeedDemoTest, EmptyCallbackIsAllowed) {
  SeedDemoOptions options;
  options.steps = 3;
  const SeedDemoResult result = run_seed_demo(options, {});
  const DemoRun r = run(options);
  EXPECT_EQ(result.final_loss, r.result.final_loss);
}

TEST(SeedDemoTest, InvalidOptionsThrow) {
  SeedDemoOptions no_steps;
  no_steps.steps = 0;
  EXPECT_THROW(run_seed_demo(no_steps, {}), CheckError);
  SeedDemoOptions no_lr;
  no_lr.lr = 0.0f;
  EXPECT_THROW(run_seed_demo(no_lr, {}), CheckError);
}

}  // namespace
}  // namespace courier
