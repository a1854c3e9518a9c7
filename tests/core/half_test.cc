// fp16 and bf16 conversions: exact round trips, round-to-nearest-even, specials, and every
// fp16 value against a double-precision reference.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "courier/core/half.h"

namespace courier {
namespace {

TEST(Fp16, EveryHalfRoundTripsThroughFloat) {
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = fp16_to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_float(float_to_fp16(f)))) << bits;
      continue;
    }
    EXPECT_EQ(float_to_fp16(f), h) << "fp16 bits " << bits;
  }
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(float_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(float_to_fp16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_fp16(65504.0f), 0x7BFF);                 // the largest finite half
  EXPECT_EQ(float_to_fp16(65520.0f), 0x7C00);                 // rounds up to infinity
  EXPECT_EQ(float_to_fp16(std::ldexp(1.0f, -24)), 0x0001);    // the smallest subnormal
  EXPECT_EQ(float_to_fp16(std::ldexp(1.0f, -25)), 0x0000);    // halfway to zero: ties to even
  EXPECT_EQ(float_to_fp16(std::ldexp(1.5f, -24)), 0x0002);    // halfway between 1 and 2 ulps: to even
  EXPECT_EQ(float_to_fp16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(fp16_to_float(0x3555), 0.333251953125f);
}

TEST(Fp16, RoundsToNearestEvenAgainstReference) {
  // Between consecutive halves the float must go to the nearer one (ties to the even one).
  for (std::uint32_t bits = 0x0400; bits < 0x7BFF; bits += 7) {
    const float lo = fp16_to_float(static_cast<std::uint16_t>(bits));
    const float hi = fp16_to_float(static_cast<std::uint16_t>(bits + 1));
    const float quarter = lo + (hi - lo) * 0.25f;
    const float middle = lo + (hi - lo) * 0.5f;
    EXPECT_EQ(float_to_fp16(quarter), bits);
    EXPECT_EQ(float_to_fp16(middle), (bits % 2 == 0) ? bits : bits + 1);
  }
}

TEST(Bf16, TruncatesWithRoundingAndKeepsNan) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(float_to_bf16(1.00390625f), 0x3F80);  // exactly halfway, ties to even (down)
  EXPECT_EQ(float_to_bf16(1.01171875f), 0x3F82);  // halfway above an odd value: up
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (std::uint32_t bits = 0; bits < 0x10000; bits += 3) {
    const float f = bf16_to_float(static_cast<std::uint16_t>(bits));
    if (!std::isnan(f)) {
      EXPECT_EQ(float_to_bf16(f), bits);
    }
  }
}

}  // namespace
}  // namespace courier
