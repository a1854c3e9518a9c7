// Initialisers: every kind stays within its bound and has the expected empirical mean and
// standard deviation on a large tensor (tolerances tight enough to catch a wrong fan), fans
// of dense and conv-like shapes, determinism, descriptions and argument checks.
#include "courier/nn/init.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier {
namespace {

// A (256, 512) weight: fan_in 512, fan_out 256. The empirical std of its 131072 values is
// within ~0.4% of the true one (1 / sqrt(2n) relative); 2% rejects any wrong fan.
const Shape kWeight{256, 512};
constexpr double kFanIn = 512;
constexpr double kFanOut = 256;
constexpr double kStdRtol = 0.02;

struct Stats {
  double mean, stddev, min, max;
};

Stats stats_of(const Tensor& t) {
  double sum = 0.0;
  double min = INFINITY, max = -INFINITY;
  for (float v : t.span()) {
    sum += v;
    min = std::min<double>(min, v);
    max = std::max<double>(max, v);
  }
  const double mean = sum / static_cast<double>(t.numel());
  double squares = 0.0;
  for (float v : t.span()) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / static_cast<double>(t.numel() - 1)), min, max};
}

Tensor draw(const Init& init, const Shape& shape = kWeight, std::uint64_t seed = 1) {
  Tensor t = Tensor::full(shape, NAN);
  Rng rng(seed);
  init.apply(t, rng);
  return t;
}

// Checks a zero-mean uniform initialiser with bound `bound`.
void expect_symmetric_uniform(const Tensor& t, double bound) {
  const Stats s = stats_of(t);
  const double n = static_cast<double>(t.numel());
  const double stddev = bound / std::sqrt(3.0);
  EXPECT_GE(s.min, -bound);
  EXPECT_LT(s.max, bound);
  EXPECT_LT(s.min, -0.99 * bound) << "the draws should reach close to the bound";
  EXPECT_GT(s.max, 0.99 * bound) << "the draws should reach close to the bound";
  EXPECT_NEAR(s.mean, 0.0, 5.0 * stddev / std::sqrt(n));
  EXPECT_NEAR(s.stddev, stddev, kStdRtol * stddev);
}

// Checks a normal initialiser.
void expect_normal(const Tensor& t, double mean, double stddev) {
  const Stats s = stats_of(t);
  const double n = static_cast<double>(t.numel());
  EXPECT_NEAR(s.mean, mean, 5.0 * stddev / std::sqrt(n));
  EXPECT_NEAR(s.stddev, stddev, kStdRtol * stddev);
  // Box-Muller with 53-bit uniforms never goes past ~8.6 sigma; 10^4..10^5 draws pass 3 sigma.
  EXPECT_GT(s.max, mean + 3.0 * stddev);
  EXPECT_LT(s.max, mean + 7.0 * stddev);
  EXPECT_LT(s.min, mean - 3.0 * stddev);
  EXPECT_GT(s.min, mean - 7.0 * stddev);
}

TEST(Init, ConstantAndZeros) {
  const Tensor c = draw(Init::constant(3.25f), {7, 3});
  for (float v : c.span()) EXPECT_EQ(v, 3.25f);
  const Tensor z = draw(Init::zeros(), {5});
  for (float v : z.span()) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(Init::zeros().kind(), Init::Kind::kConstant);
}

TEST(Init, Uniform) {
  const Tensor t = draw(Init::uniform(-0.3f, 0.7f));
  const Stats s = stats_of(t);
  EXPECT_GE(s.min, -0.3);
  EXPECT_LT(s.max, 0.7);
  EXPECT_LT(s.min, -0.29);
  EXPECT_GT(s.max, 0.69);
  const double stddev = 1.0 / std::sqrt(12.0);
  EXPECT_NEAR(s.mean, 0.2, 5.0 * stddev / std::sqrt(static_cast<double>(t.numel())));
  EXPECT_NEAR(s.stddev, stddev, kStdRtol * stddev);
}

TEST(Init, Normal) { expect_normal(draw(Init::normal(1.5f, 0.2f)), 1.5, 0.2); }

TEST(Init, XavierUniform) {
  // bound = gain sqrt(6 / (fan_in + fan_out))
  expect_symmetric_uniform(draw(Init::xavier_uniform()), std::sqrt(6.0 / (kFanIn + kFanOut)));
  expect_symmetric_uniform(draw(Init::xavier_uniform(2.0f)), 2.0 * std::sqrt(6.0 / (kFanIn + kFanOut)));
}

TEST(Init, XavierNormal) {
  // std = gain sqrt(2 / (fan_in + fan_out))
  expect_normal(draw(Init::xavier_normal()), 0.0, std::sqrt(2.0 / (kFanIn + kFanOut)));
  expect_normal(draw(Init::xavier_normal(0.5f)), 0.0, 0.5 * std::sqrt(2.0 / (kFanIn + kFanOut)));
}

TEST(Init, KaimingUniform) {
  // std = sqrt(2 / (1 + a^2)) / sqrt(fan); bound = sqrt(3) std
  using Mode = Init::FanMode;
  expect_symmetric_uniform(draw(Init::kaiming_uniform()), std::sqrt(3.0) * std::sqrt(2.0 / kFanIn));
  expect_symmetric_uniform(draw(Init::kaiming_uniform(0.0f, Mode::kFanOut)), std::sqrt(3.0) * std::sqrt(2.0 / kFanOut));
  expect_symmetric_uniform(draw(Init::kaiming_uniform(1.0f)), std::sqrt(3.0) * std::sqrt(1.0 / kFanIn));
}

TEST(Init, KaimingNormal) {
  using Mode = Init::FanMode;
  expect_normal(draw(Init::kaiming_normal()), 0.0, std::sqrt(2.0 / kFanIn));
  expect_normal(draw(Init::kaiming_normal(0.0f, Mode::kFanOut)), 0.0, std::sqrt(2.0 / kFanOut));
  expect_normal(draw(Init::kaiming_normal(3.0f)), 0.0, std::sqrt(2.0 / 10.0 / kFanIn));
}

TEST(Init, TorchLinearWeightAndBias) {
  // PyTorch's nn.Linear: both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  expect_symmetric_uniform(draw(Init::torch_linear_weight()), 1.0 / std::sqrt(kFanIn));
  const Tensor bias = draw(Init::torch_linear_bias(512), {131072});
  expect_symmetric_uniform(bias, 1.0 / std::sqrt(kFanIn));
  const Tensor small_fan = draw(Init::torch_linear_bias(4), {131072});
  expect_symmetric_uniform(small_fan, 0.5);
}

TEST(Init, ComputeFans) {
  const Fans dense = compute_fans({5, 7});
  EXPECT_EQ(dense.in, 7);
  EXPECT_EQ(dense.out, 5);
  // conv weight (out, in, k, k): fan_in = in k k, fan_out = out k k
  const Fans conv = compute_fans({16, 8, 3, 3});
  EXPECT_EQ(conv.in, 72);
  EXPECT_EQ(conv.out, 144);
  const Fans conv1d = compute_fans({4, 2, 5});
  EXPECT_EQ(conv1d.in, 10);
  EXPECT_EQ(conv1d.out, 20);
  EXPECT_THROW(static_cast<void>(compute_fans({5})), CheckError);
  EXPECT_THROW(static_cast<void>(compute_fans(Shape())), CheckError);
}

TEST(Init, FanBasedOnConvShape) {
  // (64, 32, 3, 3): fan_in 288, fan_out 576; 18432 values, std within ~0.5%.
  const Shape conv{64, 32, 3, 3};
  expect_normal(draw(Init::kaiming_normal(), conv), 0.0, std::sqrt(2.0 / 288.0));
  expect_symmetric_uniform(draw(Init::xavier_uniform(), conv), std::sqrt(6.0 / (288.0 + 576.0)));
}

TEST(Init, FanBasedNeedsAMatrix) {
  Tensor vector = Tensor::zeros({10});
  Rng rng(1);
  EXPECT_THROW(Init::xavier_uniform().apply(vector, rng), CheckError);
  EXPECT_THROW(Init::kaiming_normal().apply(vector, rng), CheckError);
  EXPECT_NO_THROW(Init::uniform(0.0f, 1.0f).apply(vector, rng));
}

TEST(Init, SameSeedSameValues) {
  const Tensor a = draw(Init::kaiming_uniform(), {8, 8}, 42);
  const Tensor b = draw(Init::kaiming_uniform(), {8, 8}, 42);
  const Tensor c = draw(Init::kaiming_uniform(), {8, 8}, 43);
  EXPECT_TRUE(std::equal(a.span().begin(), a.span().end(), b.span().begin()));
  EXPECT_FALSE(std::equal(a.span().begin(), a.span().end(), c.span().begin()));
}

TEST(Init, ArgumentChecks) {
  EXPECT_THROW(Init::uniform(1.0f, 0.0f), CheckError);
  EXPECT_THROW(Init::normal(0.0f, -1.0f), CheckError);
  EXPECT_THROW(Init::torch_linear_bias(0), CheckError);
}

TEST(Init, Describe) {
  EXPECT_EQ(Init::constant(2.0f).describe(), "constant(2)");
  EXPECT_EQ(Init::uniform(-1.0f, 1.0f).describe(), "uniform(-1, 1)");
  EXPECT_EQ(Init::xavier_normal().describe(), "xavier_normal(gain=1)");
  EXPECT_EQ(Init::kaiming_uniform(0.0f, Init::FanMode::kFanOut).describe(), "kaiming_uniform(a=0, fan_out)");
}

}  // namespace
}  // namespace courier
