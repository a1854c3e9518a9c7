// The gradient checker itself: it passes on correct gradients, FAILS on wrong ones (for
// plain functions and for layers, on input and parameter gradients), skips kinks but fails
// when too many points sit on them, and restores its input.
#include "testutil/gradcheck.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/rng.h"
#include "courier/nn/layer.h"

namespace courier {
namespace {

using testing::gradcheck;
using testing::gradcheck_layer;

std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n);
  rng.fill_uniform(x, -2.0f, 2.0f);
  return x;
}

double sum_cubes(const std::vector<float>& x) {
  double total = 0.0;
  for (float v : x) total += static_cast<double>(v) * v * v;
  return total;
}

std::vector<float> three_x_squared(const std::vector<float>& x) {
  std::vector<float> grad;
  for (float v : x) grad.push_back(3.0f * v * v);
  return grad;
}

TEST(Gradcheck, PassesOnCorrectGradient) {
  std::vector<float> x = random_values(10, 1);
  const std::vector<float> analytic = three_x_squared(x);
  EXPECT_TRUE(gradcheck([&] { return sum_cubes(x); }, x, analytic));
}

TEST(Gradcheck, FailsOnWrongGradient) {
  std::vector<float> x = random_values(10, 2);
  // 2x^2 instead of 3x^2
  std::vector<float> wrong;
  for (float v : x) wrong.push_back(2.0f * v * v);
  const ::testing::AssertionResult result = gradcheck([&] { return sum_cubes(x); }, x, wrong);
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("differ"), std::string::npos) << result.message();
}

TEST(Gradcheck, FailsOnASingleWrongElement) {
  std::vector<float> x = random_values(10, 3);
  std::vector<float> analytic = three_x_squared(x);
  analytic[7] += 0.1f;
  const ::testing::AssertionResult result = gradcheck([&] { return sum_cubes(x); }, x, analytic);
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("element 7"), std::string::npos) << result.message();
}

TEST(Gradcheck, FailsOnSizeMismatch) {
  std::vector<float> x = random_values(4, 4);
  const std::vector<float> analytic(3, 0.0f);
  EXPECT_FALSE(gradcheck([&] { return sum_cubes(x); }, x, analytic));
}

TEST(Gradcheck, RestoresInput) {
  std::vector<float> x = random_values(6, 5);
  const std::vector<float> before = x;
  std::vector<float> wrong(6, 0.0f);
  EXPECT_FALSE(gradcheck([&] { return sum_cubes(x); }, x, wrong));
  EXPECT_EQ(x, before);
}

double sum_abs(const std::vector<float>& x) {
  double total = 0.0;
  for (float v : x) total += std::fabs(v);
  return total;
}

TEST(Gradcheck, SkipsKinks) {
  // |x| at 0 has no derivative: any analytic value there is accepted as a skipped kink.
  std::vector<float> x = {0.5f, -1.0f, 0.0f, 2.0f, -0.3f, 1.5f, -0.7f, 0.9f};
  std::vector<float> analytic;
  for (float v : x) analytic.push_back(v > 0 ? 1.0f : -1.0f);
  analytic[2] = 123.0f;
  const ::testing::AssertionResult result = gradcheck([&] { return sum_abs(x); }, x, analytic);
  EXPECT_TRUE(result);
  EXPECT_NE(std::string(result.message()).find("skipped 1"), std::string::npos) << result.message();

  // Away from the kink a wrong sign is still caught.
  analytic[0] = -1.0f;
  EXPECT_FALSE(gradcheck([&] { return sum_abs(x); }, x, analytic));
}

TEST(Gradcheck, FailsWhenTooManyPointsAreKinks) {
  std::vector<float> x = {0.0f, 0.0f, 0.0f, 1.0f, -1.0f, 2.0f};  // half the points on the kink
  std::vector<float> analytic;
  for (float v : x) analytic.push_back(v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f));
  const ::testing::AssertionResult result = gradcheck([&] { return sum_abs(x); }, x, analytic);
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("kinks"), std::string::npos) << result.message();

  // With a looser limit the same input passes.
  EXPECT_TRUE(gradcheck([&] { return sum_abs(x); }, x, analytic, {.max_skipped_fraction = 0.5}));
}

// out = x * scale (per feature), with a switchable bug in either gradient.
class ScaleLayer final : public Layer {
 public:
  enum class Bug { kNone, kInputGradient, kParameterGradient };
  explicit ScaleLayer(Bug bug) : bug_(bug) {}

  std::string describe() const override { return "Scale"; }
  Shape setup(const Shape& input, ParameterLayout& layout) override {
    features_ = input[-1];
    scale_ = layout.add("scale", {features_}, Init::uniform(0.5f, 1.5f), false);
    return input;
  }
  void forward(const Tensor& in, Tensor& out, LayerCache&) override {
    const Tensor scale = value(scale_);
    for (std::int64_t i = 0; i < in.numel(); ++i) out.data()[i] = in.data()[i] * scale.data()[i % features_];
  }
  void backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache&, Tensor* din) override {
    const Tensor scale = value(scale_);
    Tensor dscale = grad(scale_);
    for (std::int64_t i = 0; i < in.numel(); ++i) {
      const std::int64_t f = i % features_;
      // The parameter bug forgets the input factor: dscale += dout instead of dout * in.
      dscale.data()[f] += dout.data()[i] * (bug_ == Bug::kParameterGradient ? 1.0f : in.data()[i]);
      if (din != nullptr) {
        // The input bug uses 2 * scale.
        din->data()[i] = dout.data()[i] * scale.data()[f] * (bug_ == Bug::kInputGradient ? 2.0f : 1.0f);
      }
    }
  }

 private:
  Bug bug_;
  std::int64_t features_ = 0;
  ParamSlot scale_;
};

TEST(GradcheckLayer, PassesOnCorrectLayer) {
  ScaleLayer layer(ScaleLayer::Bug::kNone);
  EXPECT_TRUE(gradcheck_layer(layer, {5}, 3, 11));
}

TEST(GradcheckLayer, FailsOnWrongInputGradient) {
  ScaleLayer layer(ScaleLayer::Bug::kInputGradient);
  const ::testing::AssertionResult result = gradcheck_layer(layer, {5}, 3, 12);
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("input gradient"), std::string::npos) << result.message();
}

TEST(GradcheckLayer, FailsOnWrongParameterGradient) {
  ScaleLayer layer(ScaleLayer::Bug::kParameterGradient);
  const ::testing::AssertionResult result = gradcheck_layer(layer, {5}, 3, 13);
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("parameter gradient"), std::string::npos) << result.message();
}

}  // namespace
}  // namespace courier
