// Compressed allreduce: every codec inside allreduce_encoded leaves every rank with the same
// sum, within what its encoding allows, and sends the bytes it promises; PowerSGD recovers a
// low-rank sum exactly and, with its error feedback, a full-rank gradient on average.
#include <cmath>
#include <mutex>
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/comm/codecs/compressor.h"
#include "courier/comm/codecs/powersgd.h"
#include "courier/core/rng.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;

std::vector<float> sample(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  rng.fill_normal(v, 0.0f, 1.0f);
  return v;
}

// What every rank ended with, and what each sent.
struct Outcome {
  std::vector<std::vector<float>> sums;
  std::vector<CodecTraffic> traffic;
};

Outcome run(int world, std::size_t n, const std::string& spec, int rounds = 1) {
  Outcome outcome{std::vector<std::vector<float>>(static_cast<std::size_t>(world)),
                  std::vector<CodecTraffic>(static_cast<std::size_t>(world))};
  spawn_communicators(world, [&](Communicator& comm) {
    auto compressor = make_gradient_compressor(spec, {}, 7, comm.rank());
    ASSERT_TRUE(compressor.is_ok()) << compressor.status().to_string();
    const auto r = static_cast<std::size_t>(comm.rank());
    std::vector<float> data;
    for (int round = 0; round < rounds; ++round) {
      data = sample(n, 100 + r);
      const Status status = (*compressor)->allreduce(comm, data, {}, outcome.traffic[r]);
      ASSERT_TRUE(status.is_ok()) << status.to_string();
    }
    outcome.sums[r] = data;
  });
  return outcome;
}

std::vector<float> exact_sum(int world, std::size_t n) {
  std::vector<float> sum(n, 0.0f);
  for (int r = 0; r < world; ++r) {
    const std::vector<float> x = sample(n, 100 + static_cast<std::uint64_t>(r));
    for (std::size_t i = 0; i < n; ++i) sum[i] += x[i];
  }
  return sum;
}

double max_error(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double{a[i]} - b[i]));
  return worst;
}

struct DenseCase {
  const char* spec;
  double tolerance;  // on |sum - exact| for sums of n ~ N(0, 1) values
};

class DenseCodecs : public ::testing::TestWithParam<DenseCase> {};

TEST_P(DenseCodecs, EveryRankEndsWithTheSameSumWithinTheEncoding) {
  for (int world : {1, 2, 3, 4}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{1000}}) {
      const Outcome outcome = run(world, n, GetParam().spec);
      for (int r = 1; r < world; ++r) EXPECT_EQ(outcome.sums[static_cast<std::size_t>(r)], outcome.sums[0]);
      EXPECT_LE(max_error(outcome.sums[0], exact_sum(world, n)), GetParam().tolerance * world)
          << GetParam().spec << " on " << world << " ranks, " << n << " values";
    }
  }
}

// int8: each hop rounds to 1/127 of its chunk's largest partial sum (|sum| up to ~4 sqrt(world) here).
INSTANTIATE_TEST_SUITE_P(Codecs, DenseCodecs,
                         ::testing::Values(DenseCase{"identity", 1e-5}, DenseCase{"fp16", 5e-3},
                                           DenseCase{"bf16", 4e-2}, DenseCase{"int8", 0.1}),
                         [](const auto& param_info) { return std::string(param_info.param.spec); });

TEST(CompressedAllreduce, DenseCodecsSendTheRingsBlocksInEncodedSize) {
  const Outcome identity = run(4, 100000, "identity");
  const Outcome fp16 = run(4, 100000, "fp16");
  const Outcome int8 = run(4, 100000, "int8");
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_EQ(identity.traffic[r].raw_bytes, 2u * 3u * 25000u * 4u);  // 2 (n-1) blocks of n/4 floats
    EXPECT_EQ(identity.traffic[r].wire_bytes, identity.traffic[r].raw_bytes);
    EXPECT_EQ(fp16.traffic[r].wire_bytes * 2, fp16.traffic[r].raw_bytes);
    // A byte a value and a 4-byte scale a chunk of 256: 3.94x.
    EXPECT_NEAR(static_cast<double>(int8.traffic[r].raw_bytes) / static_cast<double>(int8.traffic[r].wire_bytes),
                4.0 * 256 / 260, 0.01);
  }
}

TEST(CompressedAllreduce, TopKSumsEveryRanksKeptElementsExactly) {
  for (int world : {1, 2, 3, 5}) {
    const std::size_t n = 997;
    const Outcome outcome = run(world, n, "topk:0.05");
    std::vector<float> expected(n, 0.0f), decoded(n);
    for (int r = 0; r < world; ++r) {
      auto codec = make_topk_codec(0.05);
      std::vector<std::byte> bytes;
      codec->encode(sample(n, 100 + static_cast<std::uint64_t>(r)), bytes);
      ASSERT_TRUE(codec->decode(bytes, decoded).is_ok());
      for (std::size_t i = 0; i < n; ++i) expected[i] += decoded[i];
    }
    for (int r = 0; r < world; ++r) EXPECT_EQ(outcome.sums[static_cast<std::size_t>(r)], expected) << world << " ranks";
  }
}

TEST(CompressedAllreduce, TopKOnePercentSendsOverThirtyTimesFewerBytes) {
  const Outcome outcome = run(4, 800000, "topk:0.01+ef");
  for (const CodecTraffic& t : outcome.traffic) {
    const double ratio = static_cast<double>(t.raw_bytes) / static_cast<double>(t.wire_bytes);
    EXPECT_GT(ratio, 30.0);
    EXPECT_LT(ratio, 40.0);  // 8000 values of 4 bytes and ~1.4-byte gaps, 3 of them sent
  }
  for (std::size_t r = 1; r < 4; ++r) EXPECT_EQ(outcome.sums[r], outcome.sums[0]);
}

// Ranks configured with different codecs fail, naming the mismatch, instead of misreading bytes.
TEST(CompressedAllreduce, ACodecMismatchIsNamedNotMisread) {
  for (const char* other : {"int8", "topk:0.5"}) {
    std::vector<Status> results(2);
    spawn_communicators(2, [&](Communicator& comm) {
      CollectiveOptions options;
      options.timeout = std::chrono::seconds(20);
      auto compressor = make_gradient_compressor(comm.rank() == 0 ? "fp16" : other, {}, 1, comm.rank());
      std::vector<float> data = sample(100, 3);
      CodecTraffic traffic;
      results[static_cast<std::size_t>(comm.rank())] = (*compressor)->allreduce(comm, data, options, traffic);
    });
    for (const Status& status : results) {
      EXPECT_EQ(status.code(), StatusCode::kDataLoss) << other << ": " << status.to_string();
      EXPECT_THAT(status.message(), HasSubstr("the same dist.codec")) << other;
    }
  }
}

TEST(CompressedAllreduce, SpecsAreChecked) {
  EXPECT_TRUE(check_compression_spec("powersgd:4").is_ok());
  EXPECT_TRUE(check_compression_spec("topk:0.01+ef").is_ok());
  EXPECT_THAT(check_compression_spec("powersgd").message(), HasSubstr("powersgd:R"));
  EXPECT_THAT(check_compression_spec("powersgd:0").message(), HasSubstr("[1, 1024]"));
  EXPECT_THAT(check_compression_spec("gzip").message(), HasSubstr("or powersgd:R"));
}

// A 12 x 10 matrix of rank 2 between plain elements, the same on every rank up to a factor.
std::vector<float> low_rank_vector(float factor) {
  std::vector<float> v(3 + 120 + 4);
  Rng rng(5);
  std::vector<float> a(12 * 2), b(2 * 10);
  rng.fill_normal(a, 0.0f, 1.0f);
  rng.fill_normal(b, 0.0f, 1.0f);
  for (std::size_t i = 0; i < 12; ++i) {
    for (std::size_t k = 0; k < 10; ++k) v[3 + i * 10 + k] = factor * (a[i * 2] * b[k] + a[i * 2 + 1] * b[10 + k]);
  }
  for (std::size_t i : {0, 1, 2, 123, 124, 125, 126}) v[i] = factor * static_cast<float>(i);
  return v;
}

TEST(PowerSgdTest, RecoversASumOfRankAtMostRExactly) {
  for (int world : {1, 2, 3}) {
    std::vector<std::vector<float>> results(static_cast<std::size_t>(world));
    spawn_communicators(world, [&](Communicator& comm) {
      PowerSgd compressor({MatrixRange{3, 12, 10}}, 2, 99);
      std::vector<float> data = low_rank_vector(static_cast<float>(comm.rank() + 1));
      CodecTraffic traffic;
      ASSERT_TRUE(compressor.allreduce(comm, data, {}, traffic).is_ok());
      results[static_cast<std::size_t>(comm.rank())] = data;
    });
    const float total = static_cast<float>(world * (world + 1) / 2);
    const std::vector<float> expected = low_rank_vector(total);
    for (const std::vector<float>& result : results) {
      ASSERT_EQ(result.size(), expected.size());
      for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(result[i], expected[i], 1e-4 * total) << i;
      EXPECT_EQ(result, results[0]);
    }
  }
}

// A full-rank gradient sent again and again at rank 1: one approximation misses much of it,
// but error feedback sends what it missed later, so the average of what arrives converges.
TEST(PowerSgdTest, ErrorFeedbackMakesTheAverageConverge) {
  spawn_communicators(2, [&](Communicator& comm) {
    PowerSgd compressor({MatrixRange{0, 16, 16}}, 1, 3);
    const std::vector<float> g = sample(256, 40);
    std::vector<float> average(256, 0.0f), data;
    double first_error = 0;
    constexpr int kSteps = 400;
    for (int step = 0; step < kSteps; ++step) {
      data = g;
      CodecTraffic traffic;
      ASSERT_TRUE(compressor.allreduce(comm, data, {}, traffic).is_ok());
      for (std::size_t i = 0; i < 256; ++i) average[i] += data[i] / (2.0f * kSteps);  // the sum is 2 g
      if (step == 0) {
        for (std::size_t i = 0; i < 256; ++i) first_error += std::pow(data[i] / 2.0 - g[i], 2);
      }
    }
    double error = 0, norm = 0;
    for (std::size_t i = 0; i < 256; ++i) {
      error += std::pow(average[i] - g[i], 2);
      norm += std::pow(g[i], 2);
    }
    EXPECT_GT(std::sqrt(first_error / norm), 0.5) << "one rank-1 step of a random 16 x 16 matrix misses most of it";
    EXPECT_LT(std::sqrt(error / norm), 0.05);
  });
}

TEST(PowerSgdTest, SendsTheFactorsAndThePlainElements) {
  spawn_communicators(2, [&](Communicator& comm) {
    PowerSgd compressor({MatrixRange{0, 512, 128}, MatrixRange{65536, 2, 2}}, 4, 1);
    std::vector<float> data = sample(65536 + 4 + 100, 1);
    CodecTraffic traffic;
    ASSERT_TRUE(compressor.allreduce(comm, data, {}, traffic).is_ok());
    // On 2 ranks a ring sends each vector's half twice: P (512 x 4), Q (128 x 4), and the
    // 2 x 2 matrix (too small to gain) with the 100 plain values.
    EXPECT_EQ(traffic.raw_bytes, (65536u + 104u) * 4);
    EXPECT_EQ(traffic.wire_bytes, (2048u + 512u + 104u) * 4);
  });
}

}  // namespace
}  // namespace courier::testing
