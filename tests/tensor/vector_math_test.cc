// exp_approx and erf_approx against libm over their whole useful ranges.
#include "courier/tensor/vector_math.h"

#include <cmath>

#include <gtest/gtest.h>

namespace courier {
namespace {

TEST(VectorMath, ExpWithinItsRelativeBound) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(exp_approx(x) - exact) / exact);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(exp_approx(0.0f), 1.0f);
  EXPECT_GT(exp_approx(-1000.0f), 0.0f) << "clamped, not a denormal or NaN";
  EXPECT_TRUE(std::isfinite(exp_approx(1000.0f)));
}

TEST(VectorMath, ErfWithinItsAbsoluteBound) {
  double worst = 0;
  for (float x = -8.0f; x <= 8.0f; x += 0.000917f) {
    worst = std::max(worst, std::fabs(erf_approx(x) - std::erf(static_cast<double>(x))));
  }
  EXPECT_LT(worst, 5e-7);
  EXPECT_EQ(erf_approx(-2.0f), -erf_approx(2.0f)) << "odd";
  EXPECT_NEAR(erf_approx(0.0f), 0.0f, 1e-8);
}

}  // namespace
}  // namespace courier
