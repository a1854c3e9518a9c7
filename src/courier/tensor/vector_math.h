// exp and erf in plain float arithmetic that the compiler vectorises (libm's expf and erff
// are calls it cannot vectorise under our flags: they were a quarter of a GPT step inside
// GELU). Only +, *, comparisons and bit casts, so -ffp-contract=off keeps every clone's
// results bit-identical.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace courier {

// e^x with relative error below 3e-7 for x in [-87, 88]; x below -87 gives e^-87, above 88 gives e^88.
// Cody-Waite reduction x = n ln2 + r, |r| <= ln2 / 2, then a degree-7 Taylor polynomial for e^r
// and 2^n built in the exponent bits.
[[gnu::always_inline]] inline float exp_approx(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // ln 2 split so that n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  x = x < -87.0f ? -87.0f : x;  // value selects, not std::min/max references: they vectorise
  x = x > 88.0f ? 88.0f : x;
  const float n = (x * kLog2e + kRound) - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

// erf(x) given e = e^(-x^2), for callers that need e^(-x^2) themselves (GELU's backward):
// Abramowitz and Stegun 7.1.26, erf(|x|) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e,
// t = 1 / (1 + p |x|). Absolute error below 5e-7 (the formula's 1.5e-7 plus float rounding).
[[gnu::always_inline]] inline float erf_from_gaussian(float x, float e) {
  const float t = 1.0f / (1.0f + 0.3275911f * std::fabs(x));
  float poly = 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  return std::copysign(1.0f - poly * t * e, x);
}

// erf(x) with absolute error below 5e-7 everywhere.
[[gnu::always_inline]] inline float erf_approx(float x) { return erf_from_gaussian(x, exp_approx(-x * x)); }

}  // namespace courier
