// clip_grad_norm: returns the pre-clip norm, scales to max_norm, leaves small and non-finite grads alone.
#include "courier/train/optim/clip.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/train/optim/adam.h"

namespace courier {
namespace {

double l2_norm(const std::vector<float>& values) {
  double sum = 0.0;
  for (float v : values) sum += static_cast<double>(v) * v;
  return std::sqrt(sum);
}

TEST(ClipTest, ReturnsThePreClipNormAndScalesToMaxNorm) {
  // {3, 4} has norm 5; clipping to 1 gives {0.6, 0.8}.
  std::vector<float> grads = {3.0f, 4.0f};
  EXPECT_FLOAT_EQ(clip_grad_norm(grads, 1.0f), 5.0f);
  EXPECT_NEAR(grads[0], 0.6f, 1e-5);
  EXPECT_NEAR(grads[1], 0.8f, 1e-5);
  EXPECT_NEAR(l2_norm(grads), 1.0, 1e-5);
}

TEST(ClipTest, NormIsGlobalOverAllGradients) {
  // 10000 gradients of 0.1 (norm 10) and one of -3: global norm sqrt(100 + 9) = sqrt(109).
  std::vector<float> grads(10000, 0.1f);
  grads.push_back(-3.0f);
  const float norm = clip_grad_norm(grads, 2.0f);
  EXPECT_NEAR(norm, std::sqrt(109.0), 1e-4);
  EXPECT_NEAR(l2_norm(grads), 2.0, 1e-5);
  // Every gradient scaled by the same factor, directions kept.
  const double factor = 2.0 / std::sqrt(109.0);
  EXPECT_NEAR(grads[0], 0.1 * factor, 1e-6);
  EXPECT_NEAR(grads[9999], 0.1 * factor, 1e-6);
  EXPECT_NEAR(grads[10000], -3.0 * factor, 1e-5);
}

TEST(ClipTest, BelowThresholdIsUntouched) {
  std::vector<float> grads = {0.3f, -0.4f, 0.0f};
  const std::vector<float> before = grads;
  EXPECT_FLOAT_EQ(clip_grad_norm(grads, 1.0f), 0.5f);
  EXPECT_EQ(grads, before);
}

TEST(ClipTest, EmptyAndZeroGradients) {
  std::vector<float> empty;
  EXPECT_EQ(clip_grad_norm(empty, 1.0f), 0.0f);
  std::vector<float> zeros(5, 0.0f);
  EXPECT_EQ(clip_grad_norm(zeros, 1.0f), 0.0f);
  EXPECT_EQ(zeros, std::vector<float>(5, 0.0f));
}

TEST(ClipTest, NanGradientReturnsNanAndLeavesGradientsUntouched) {
  std::vector<float> grads = {100.0f, std::numeric_limits<float>::quiet_NaN(), -50.0f};
  const float norm = clip_grad_norm(grads, 1.0f);
  EXPECT_TRUE(std::isnan(norm));
  EXPECT_EQ(grads[0], 100.0f);
  EXPECT_TRUE(std::isnan(grads[1]));
  EXPECT_EQ(grads[2], -50.0f);
}

TEST(ClipTest, InfiniteGradientReturnsInfAndLeavesGradientsUntouched) {
  std::vector<float> grads = {100.0f, -std::numeric_limits<float>::infinity(), -50.0f};
  const float norm = clip_grad_norm(grads, 1.0f);
  EXPECT_FALSE(std::isfinite(norm));
  EXPECT_EQ(grads[0], 100.0f);
  EXPECT_EQ(grads[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(grads[2], -50.0f);
}

TEST(ClipTest, LargeFiniteGradientsDoNotOverflowTheNorm) {
  // The squares (about 1e41) overflow float but not the double accumulation.
  std::vector<float> grads = {3e20f, 4e20f};
  const float norm = clip_grad_norm(grads, 1.0f);
  EXPECT_NEAR(norm / 5e20f, 1.0f, 1e-6);
  EXPECT_NEAR(l2_norm(grads), 1.0, 1e-5);
}

TEST(ClipTest, MaxNormMustBePositive) {
  std::vector<float> grads = {1.0f};
  EXPECT_THROW(clip_grad_norm(grads, 0.0f), CheckError);
  EXPECT_THROW(clip_grad_norm(grads, -1.0f), CheckError);
}

// Through Optimizer::step: the update sees clipped gradients, and a NaN or Inf gradient
// changes nothing and is counted.
TEST(OptimizerClipTest, StepClipsACopyAndSkipsNonFiniteGradients) {
  Adam adam(2, AdamOptions{.decoupled_weight_decay = true});
  adam.set_clip_norm(1.0f);
  std::vector<float> values = {1.0f, 1.0f};
  const std::vector<float> big = {30.0f, 40.0f};  // norm 50
  EXPECT_TRUE(adam.step(values, big, 0.1f));
  EXPECT_FLOAT_EQ(adam.last_grad_norm(), 50.0f);
  EXPECT_EQ(big[0], 30.0f) << "the caller's gradients are not modified";
  EXPECT_EQ(adam.step_count(), 1);
  const std::vector<float> after_one = values;
  const std::vector<float> exp_avg(adam.state()[0].values.begin(), adam.state()[0].values.end());

  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    EXPECT_FALSE(adam.step(values, std::vector<float>{bad, 1.0f}, 0.1f));
  }
  EXPECT_EQ(values, after_one);
  EXPECT_EQ(std::vector<float>(adam.state()[0].values.begin(), adam.state()[0].values.end()), exp_avg);
  EXPECT_EQ(adam.step_count(), 1) << "skipped steps do not advance the bias correction";
  EXPECT_EQ(adam.nonfinite_in_a_row(), 2);
  EXPECT_EQ(adam.skipped_steps(), 2);
  EXPECT_TRUE(adam.step(values, big, 0.1f));
  EXPECT_EQ(adam.nonfinite_in_a_row(), 0);
  EXPECT_EQ(adam.skipped_steps(), 2);
}

}  // namespace
}  // namespace courier
