// Rng: the reference splitmix64 / xoshiro256** streams, forks, resume from state, distributions.
#include "courier/core/rng.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

// Expected outputs produced by an independent Python 3 transcription of the reference C code
// (Vigna's splitmix64.c; Blackman & Vigna's xoshiro256starstar.c), state seeded by four
// splitmix64 outputs of the seed:
//   M = 2**64 - 1
//   def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
//   def splitmix64(x):  # returns (new state, output)
//       x = (x + 0x9E3779B97F4A7C15) & M; z = x
//       z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//       z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
//       return x, z ^ (z >> 31)
//   def xoshiro256ss(s):  # s: list of 4 words, updated in place
//       result = (rotl((s[1] * 5) & M, 7) * 9) & M; t = (s[1] << 17) & M
//       s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
//       return result
constexpr std::array<std::uint64_t, 4> kSplitmix64Seed0 = {0xE220A8397B1DCDAFULL, 0x6E789E6AA1B965F4ULL,
                                                           0x06C45D188009454FULL, 0xF88BB8A8724C81ECULL};
constexpr std::array<std::uint64_t, 4> kSplitmix64Seed42 = {0xBDD732262FEB6E95ULL, 0x28EFE333B266F103ULL,
                                                            0x47526757130F9F52ULL, 0x581CE1FF0E4AE394ULL};
constexpr std::array<std::uint64_t, 5> kXoshiroSeed0 = {0x99EC5F36CB75F2B4ULL, 0xBF6E1F784956452AULL,
                                                        0x1A5F849D4933E6E0ULL, 0x6AA594F1262D2D2CULL,
                                                        0xBBA5AD4A1F842E59ULL};
constexpr std::array<std::uint64_t, 5> kXoshiroSeed42 = {0x15780B2E0C2EC716ULL, 0x6104D9866D113A7EULL,
                                                         0xAE17533239E499A1ULL, 0xECB8AD4703B360A1ULL,
                                                         0xFDE6DC7FE2EC5E64ULL};

std::vector<std::uint64_t> draw(Rng& rng, int count) {
  std::vector<std::uint64_t> out;
  for (int i = 0; i < count; ++i) out.push_back(rng.next_u64());
  return out;
}

TEST(RngTest, Splitmix64MatchesReference) {
  std::uint64_t state = 0;
  for (std::uint64_t expected : kSplitmix64Seed0) EXPECT_EQ(splitmix64_next(state), expected);
  // The state walks by the golden gamma.
  EXPECT_EQ(state, 4 * 0x9E3779B97F4A7C15ULL);
  state = 42;
  for (std::uint64_t expected : kSplitmix64Seed42) EXPECT_EQ(splitmix64_next(state), expected);
}

TEST(RngTest, SeedingIsSplitmix64OfTheSeed) {
  EXPECT_EQ(Rng(0).state(), Rng::State(kSplitmix64Seed0));
  EXPECT_EQ(Rng(42).state(), Rng::State(kSplitmix64Seed42));
}

TEST(RngTest, Xoshiro256StarStarMatchesReference) {
  Rng zero(0);
  for (std::uint64_t expected : kXoshiroSeed0) EXPECT_EQ(zero.next_u64(), expected);
  Rng answer(42);
  for (std::uint64_t expected : kXoshiroSeed42) EXPECT_EQ(answer.next_u64(), expected);
}

TEST(RngTest, DerivedDrawsUseTheTopBits) {
  Rng a(0);
  EXPECT_EQ(a.next_u32(), static_cast<std::uint32_t>(kXoshiroSeed0[0] >> 32));
  Rng b(0);
  EXPECT_EQ(b.uniform(), static_cast<float>(kXoshiroSeed0[0] >> 40) / 16777216.0f);
  Rng c(0);
  EXPECT_EQ(c.uniform_double(), static_cast<double>(kXoshiroSeed0[0] >> 11) / 9007199254740992.0);
}

TEST(RngTest, SameSeedSameStream) {
  Rng a(1234);
  Rng b(1234);
  EXPECT_EQ(draw(a, 100), draw(b, 100));
  Rng c(1234, 7);
  Rng d(1234, 7);
  EXPECT_EQ(draw(c, 100), draw(d, 100));
}

TEST(RngTest, DifferentSeedsAndStreamsDiffer) {
  Rng seed1(1);
  Rng seed2(2);
  Rng stream1(1, 1);
  Rng stream2(1, 2);
  const auto s1 = draw(seed1, 16);
  const auto s2 = draw(seed2, 16);
  const auto t1 = draw(stream1, 16);
  const auto t2 = draw(stream2, 16);
  EXPECT_NE(s1, s2);
  EXPECT_NE(s1, t1);
  EXPECT_NE(t1, t2);
  // Not merely shifted copies: no value is shared at all.
  std::set<std::uint64_t> all;
  for (const auto* stream : {&s1, &s2, &t1, &t2}) all.insert(stream->begin(), stream->end());
  EXPECT_EQ(all.size(), 64u);
}

TEST(RngTest, ForkIsIndependentOfPosition) {
  Rng parent(99);
  Rng early = parent.fork(3);
  draw(parent, 1000);
  Rng late = parent.fork(3);
  EXPECT_EQ(draw(early, 50), draw(late, 50));
  // Drawing from the fork does not move the parent.
  Rng reference(99);
  draw(reference, 1000);
  Rng child = parent.fork(4);
  draw(child, 10);
  EXPECT_EQ(parent.next_u64(), reference.next_u64());
}

TEST(RngTest, ForksDifferFromEachOtherAndFromTheParent) {
  const Rng parent(5);
  Rng own = parent;
  Rng fork0 = parent.fork(0);
  Rng fork1 = parent.fork(1);
  Rng stream1(5, 1);
  const auto p = draw(own, 16);
  const auto f0 = draw(fork0, 16);
  const auto f1 = draw(fork1, 16);
  const auto s1 = draw(stream1, 16);
  EXPECT_NE(p, f0);
  EXPECT_NE(f0, f1);
  EXPECT_NE(f1, s1);
  // Forks depend on the parent's seed.
  Rng other = Rng(6).fork(0);
  EXPECT_NE(draw(other, 16), f0);
}

TEST(RngTest, StateResumesExactly) {
  Rng original(2024);
  draw(original, 37);
  const Rng::State saved = original.state();
  const auto expected = draw(original, 100);

  Rng resumed = Rng::from_state(2024, saved);
  EXPECT_EQ(resumed.seed(), 2024u);
  EXPECT_EQ(resumed.state(), saved);
  EXPECT_EQ(draw(resumed, 100), expected);
  // A resumed generator forks the same children as the original.
  Rng a = original.fork(2);
  Rng b = resumed.fork(2);
  EXPECT_EQ(draw(a, 10), draw(b, 10));
}

TEST(RngTest, AllZeroStateIsRejected) {
  EXPECT_THROW(Rng::from_state(1, Rng::State{0, 0, 0, 0}), CheckError);
  EXPECT_NO_THROW(Rng::from_state(1, Rng::State{0, 0, 0, 1}));
}

TEST(RngTest, UniformIsInUnitIntervalOnA24BitGrid) {
  Rng rng(7);
  double sum = 0.0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const float u = rng.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    const float scaled = u * 16777216.0f;
    ASSERT_EQ(scaled, std::floor(scaled)) << u;
    sum += u;
  }
  EXPECT_NEAR(sum / kDraws, 0.5, 0.005);
}

TEST(RngTest, UniformDoubleIsInUnitInterval) {
  Rng rng(8);
  double sum = 0.0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.uniform_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / kDraws, 0.5, 0.005);
}

TEST(RngTest, UniformRangeIsHalfOpen) {
  Rng rng(9);
  float lowest = std::numeric_limits<float>::max();
  float highest = std::numeric_limits<float>::lowest();
  for (int i = 0; i < 100000; ++i) {
    const float x = rng.uniform(-3.0f, 5.0f);
    ASSERT_GE(x, -3.0f);
    ASSERT_LT(x, 5.0f);
    lowest = std::min(lowest, x);
    highest = std::max(highest, x);
  }
  // The draws cover the interval.
  EXPECT_LT(lowest, -2.99f);
  EXPECT_GT(highest, 4.99f);

  // An interval one float wide: lo + (hi - lo) u rounds up to hi half the time, and must not.
  const float lo = 1.0f;
  const float hi = std::nextafter(lo, 2.0f);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(rng.uniform(lo, hi), lo);

  EXPECT_THROW(rng.uniform(2.0f, 1.0f), CheckError);
}

TEST(RngTest, BelowIsInRange) {
  Rng rng(10);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(rng.below(1), 0u);
  const std::array<std::uint64_t, 7> sizes = {2, 3, 7, 1000, std::uint64_t{1} << 40, (std::uint64_t{1} << 63) + 1,
                                              std::numeric_limits<std::uint64_t>::max()};
  for (std::uint64_t n : sizes) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.below(n), n) << n;
  }
  EXPECT_THROW(rng.below(0), CheckError);
}

TEST(RngTest, BelowIsRoughlyUniform) {
  Rng rng(11);
  constexpr int kBuckets = 10;
  constexpr int kDraws = 100000;
  std::array<int, kBuckets> counts{};
  for (int i = 0; i < kDraws; ++i) ++counts[rng.below(kBuckets)];
  const double expected = static_cast<double>(kDraws) / kBuckets;
  double chi_square = 0.0;
  for (int count : counts) chi_square += (count - expected) * (count - expected) / expected;
  // 9 degrees of freedom: mean 9, P(chi^2 > 30) is about 4e-4. The seed is fixed, so this is
  // a deterministic check that the mapping is not visibly biased.
  EXPECT_LT(chi_square, 30.0);
  for (int count : counts) EXPECT_GT(count, 0);
}

TEST(RngTest, BelowRejectsTheBiasedZone) {
  // For n = 3 * 2^62 a plain (x * n) >> 64 would map x = 4k, 4k+1 onto the same multiple of 3,
  // so residue 0 mod 3 would come up half the time. Lemire's rejection makes it a third.
  Rng rng(12);
  const std::uint64_t n = 3ULL << 62;
  std::array<int, 3> residues{};
  constexpr int kDraws = 30000;
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t x = rng.below(n);
    ASSERT_LT(x, n);
    ++residues[x % 3];
  }
  for (int count : residues) EXPECT_NEAR(static_cast<double>(count) / kDraws, 1.0 / 3.0, 0.02);
}

TEST(RngTest, NormalHasMeanZeroAndStdOne) {
  Rng rng(13);
  constexpr int kDraws = 100000;
  double sum = 0.0;
  double sum_sq = 0.0;
  int within_one = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = rng.normal();
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sum_sq += z * z;
    if (std::fabs(z) < 1.0) ++within_one;
  }
  const double mean = sum / kDraws;
  const double stddev = std::sqrt(sum_sq / kDraws - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(stddev, 1.0, 0.02);
  // A normal, not just any unit-variance distribution: 68.3% within one sigma.
  EXPECT_NEAR(static_cast<double>(within_one) / kDraws, 0.6827, 0.01);
}

TEST(RngTest, NormalWithMeanAndStd) {
  Rng rng(14);
  constexpr int kDraws = 100000;
  double sum = 0.0;
  double sum_sq = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double x = rng.normal(5.0f, 2.0f);
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / kDraws;
  EXPECT_NEAR(mean, 5.0, 0.04);
  EXPECT_NEAR(std::sqrt(sum_sq / kDraws - mean * mean), 2.0, 0.04);
}

TEST(RngTest, FillsDrawTheSameStreamAsSingleDraws) {
  std::vector<float> filled(100);
  Rng a(15);
  a.fill_uniform(filled, -1.0f, 1.0f);
  Rng b(15);
  for (float x : filled) ASSERT_EQ(x, b.uniform(-1.0f, 1.0f));

  Rng c(16);
  c.fill_normal(filled, 3.0f, 0.5f);
  Rng d(16);
  for (float x : filled) ASSERT_EQ(x, d.normal(3.0f, 0.5f));
}

TEST(RngTest, ShuffleIsADeterministicPermutation) {
  std::vector<int> items(100);
  std::iota(items.begin(), items.end(), 0);
  const std::vector<int> sorted = items;

  std::vector<int> first = items;
  Rng a(17);
  a.shuffle(std::span<int>(first));
  EXPECT_NE(first, sorted);
  std::vector<int> check = first;
  std::sort(check.begin(), check.end());
  EXPECT_EQ(check, sorted);

  std::vector<int> again = items;
  Rng b(17);
  b.shuffle(std::span<int>(again));
  EXPECT_EQ(again, first);

  std::vector<int> other = items;
  Rng c(18);
  c.shuffle(std::span<int>(other));
  EXPECT_NE(other, first);
}

TEST(RngTest, ShuffleMovesEveryPositionEventually) {
  // Each of 4 items lands in each of 4 places about a quarter of the time.
  Rng rng(19);
  std::array<std::array<int, 4>, 4> where{};
  constexpr int kTrials = 40000;
  for (int t = 0; t < kTrials; ++t) {
    std::array<int, 4> items = {0, 1, 2, 3};
    rng.shuffle(std::span<int>(items));
    for (int pos = 0; pos < 4; ++pos) ++where[static_cast<std::size_t>(items[static_cast<std::size_t>(pos)])]
                                             [static_cast<std::size_t>(pos)];
  }
  for (const auto& row : where) {
    for (int count : row) EXPECT_NEAR(static_cast<double>(count) / kTrials, 0.25, 0.015);
  }
}

TEST(RngTest, ShuffleOfTinySpansIsFine) {
  Rng rng(20);
  std::vector<int> empty;
  rng.shuffle(std::span<int>(empty));
  EXPECT_TRUE(empty.empty());
  std::vector<int> one = {42};
  rng.shuffle(std::span<int>(one));
  EXPECT_EQ(one, std::vector<int>{42});
}

}  // namespace
}  // namespace courier
