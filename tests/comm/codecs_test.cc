// Codecs: every codec's round trip stays within its declared bound over vector lengths that
// exercise chunk edges; decoders refuse malformed bytes; int8 rounding is unbiased; top-k
// keeps the largest; and error feedback makes top-k converge on a least-squares problem
// where plain top-k stalls.
#include "courier/comm/codecs/codec.h"

#include <cmath>
#include <cstring>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/comm/codecs/error_feedback.h"
#include "courier/core/rng.h"

namespace courier {
namespace {

using ::testing::HasSubstr;

// Values over six orders of magnitude, both signs, some exact zeros.
std::vector<float> sample(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform() < 0.05f ? 0.0f : rng.normal() * std::pow(10.0f, rng.uniform(-4.0f, 2.0f));
  return v;
}

// Checks |decoded - x| against the codec's own bound, element by element.
::testing::AssertionResult within_bound(const Codec& codec, std::span<const float> x, std::span<const float> decoded) {
  const ErrorBound b = codec.bound();
  const std::size_t chunk = b.chunk_elements > 0 ? b.chunk_elements : std::max<std::size_t>(1, x.size());
  for (std::size_t begin = 0; begin < x.size(); begin += chunk) {
    const std::size_t end = std::min(x.size(), begin + chunk);
    double max = 0;
    for (std::size_t i = begin; i < end; ++i) max = std::max(max, std::fabs(static_cast<double>(x[i])));
    for (std::size_t i = begin; i < end; ++i) {
      const double error = std::fabs(static_cast<double>(decoded[i]) - x[i]);
      const double allowed = b.relative * std::fabs(x[i]) + b.of_chunk_max * max + b.absolute;
      if (!(error <= allowed)) {
        return ::testing::AssertionFailure() << codec.name() << " element " << i << " of " << x.size() << ": " << x[i]
                                             << " decoded as " << decoded[i] << ", error " << error << " > " << allowed;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

class EveryCodec : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryCodec, RoundTripWithinTheDeclaredBound) {
  std::vector<std::byte> bytes;
  for (std::size_t n : {0u, 1u, 2u, 255u, 256u, 257u, 1000u, 4099u}) {
    Result<std::unique_ptr<Codec>> codec = make_codec(GetParam(), 7);  // error feedback: one length a stream
    ASSERT_TRUE(codec.is_ok()) << codec.status().to_string();
    EXPECT_EQ((*codec)->name(), GetParam());
    const std::vector<float> x = sample(n, n + 1);
    (*codec)->encode(x, bytes);
    std::vector<float> decoded(n, 123.0f);
    ASSERT_TRUE((*codec)->decode(bytes, decoded).is_ok()) << GetParam() << " n " << n;
    EXPECT_TRUE(within_bound(**codec, x, decoded)) << "n " << n;
  }
}

TEST_P(EveryCodec, RefusesBytesThatAreNotAnEncoding) {
  Result<std::unique_ptr<Codec>> codec = make_codec(GetParam(), 7);
  ASSERT_TRUE(codec.is_ok());
  const std::vector<float> x = sample(300, 3);
  std::vector<std::byte> bytes;
  (*codec)->encode(x, bytes);
  std::vector<float> out(300);
  std::vector<std::byte> truncated(bytes.begin(), bytes.end() - 1);
  const Status short_status = (*codec)->decode(truncated, out);
  EXPECT_EQ(short_status.code(), StatusCode::kDataLoss) << GetParam();
  EXPECT_THAT(short_status.message(), HasSubstr(std::string(GetParam()).substr(0, 4)));
  std::vector<float> wrong_length(301);
  EXPECT_EQ((*codec)->decode(bytes, wrong_length).code(), StatusCode::kDataLoss) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Codecs, EveryCodec,
                         ::testing::Values("identity", "zstd", "fp16", "bf16", "int8", "topk:0.1", "randomk:0.1",
                                           "int8+ef", "topk:0.01+ef"),
                         [](const ::testing::TestParamInfo<const char*>& spec) {
                           std::string name = spec.param;
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(Codecs, CompressWhatTheyPromise) {
  const std::vector<float> x = sample(10000, 1);
  std::vector<std::byte> bytes;
  auto size = [&](const char* spec) {
    (*make_codec(spec))->encode(x, bytes);
    return bytes.size();
  };
  EXPECT_EQ(size("identity"), 40000u);
  EXPECT_EQ(size("fp16"), 20000u);
  EXPECT_EQ(size("bf16"), 20000u);
  EXPECT_EQ(size("int8"), 10000u + 4u * 40u);  // 40 chunks of 256 (the last partial)
  // 100 values of 4 bytes and 100 index gaps of one byte (< 128) or two.
  EXPECT_GE(size("topk:0.01"), 8u + 5u * 100u);
  EXPECT_LE(size("topk:0.01"), 8u + 6u * 100u);
}

// Parameters of a trained layer are not random bits: neighbours share exponents. Values in
// [0.5, 1) share their exponent byte, so its plane compresses to almost nothing; the
// mantissa bytes stay incompressible. The round trip is exact whatever the data.
TEST(Codecs, ZstdIsLosslessAndFindsTheSharedExponents) {
  Rng rng(4);
  std::vector<float> x(10000);
  for (float& v : x) v = rng.uniform(0.5f, 1.0f);
  auto codec = make_zstd_codec();
  std::vector<std::byte> bytes;
  codec->encode(x, bytes);
  EXPECT_LT(bytes.size(), 31000u);  // 3 of 4 bytes carry information
  std::vector<float> out(x.size());
  ASSERT_TRUE(codec->decode(bytes, out).is_ok());
  EXPECT_EQ(out, x);
  std::vector<std::byte> damaged = bytes;
  damaged[damaged.size() / 2] ^= std::byte{0xff};
  // A flipped byte in the middle of a frame: zstd's own checks or the length catch most, and
  // whatever it refuses is named.
  const Status status = codec->decode(damaged, out);
  if (!status.is_ok()) {
    EXPECT_THAT(status.message(), HasSubstr("zstd codec"));
  }
}

TEST(Codecs, TopKKeepsTheLargestMagnitudesExactly) {
  const std::vector<float> x = {0.5f, -9.0f, 3.0f, 0.0f, -4.0f, 1.0f, 2.0f, -0.1f};
  auto codec = make_topk_codec(0.25);  // k = 2
  std::vector<std::byte> bytes;
  codec->encode(x, bytes);
  std::vector<float> out(x.size());
  ASSERT_TRUE(codec->decode(bytes, out).is_ok());
  EXPECT_EQ(out, (std::vector<float>{0, -9.0f, 0, 0, -4.0f, 0, 0, 0}));
  // Indices 1 and 4 travel as gaps 1 and 2 (4 - 1 - 1), then the values.
  ASSERT_EQ(bytes.size(), 8u + 2u + 8u);
  EXPECT_EQ(bytes[8], std::byte{1});
  EXPECT_EQ(bytes[9], std::byte{2});
  // An index past the end, a varint that runs into the values, stray bytes: refused.
  std::vector<std::byte> bad = bytes;
  bad[9] = std::byte{6};  // 1 + 1 + 6 = 8, outside [0, 8)
  EXPECT_THAT(codec->decode(bad, out).message(), HasSubstr("index 1 of 2 is damaged or outside [0, 8)"));
  bad = bytes;
  bad[9] = std::byte{0x80};  // continues into the values
  EXPECT_THAT(codec->decode(bad, out).message(), HasSubstr("damaged"));
  bad = bytes;
  bad.insert(bad.begin() + 10, std::byte{0});
  EXPECT_THAT(codec->decode(bad, out).message(), HasSubstr("between the indices and the values"));
}

TEST(Codecs, Int8RoundingIsUnbiased) {
  auto codec = make_int8_codec(11);
  const std::vector<float> x = {1.0f, 0.3f, -0.77f, 0.001f};  // scale 1/127: 0.3 lies between steps
  std::vector<double> mean(x.size(), 0.0);
  std::vector<std::byte> bytes;
  std::vector<float> out(x.size());
  constexpr int kDraws = 20000;
  for (int d = 0; d < kDraws; ++d) {
    codec->encode(x, bytes);
    ASSERT_TRUE(codec->decode(bytes, out).is_ok());
    for (std::size_t i = 0; i < x.size(); ++i) mean[i] += out[i] / kDraws;
  }
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(mean[i], x[i], 2e-4) << i;
}

TEST(Codecs, SpecsAreCheckedWithTheChoicesNamed) {
  for (const char* bad : {"gzip", "topk:0", "topk:1.5", "topk:x", "randomk:", "identity+ef", "zstd+ef"}) {
    Result<std::unique_ptr<Codec>> codec = make_codec(bad);
    EXPECT_EQ(codec.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(make_codec("gzip").status().message(), HasSubstr("zstd (lossless), fp16, bf16, int8, topk:F"));
  EXPECT_THAT(make_codec("zstd+ef").status().message(), HasSubstr("drop the +ef"));
}

// Two workers minimise 1/2 |x - b_w|^2 together (the optimum is the mean of b_1, b_2) by
// gradient descent, each sending its gradient through top-k (5 of 20 elements); the update
// is the mean of the decoded gradients. The first 5 coordinates have large gradients that
// cancel between the workers; the other 15 small ones that agree. Plain top-k sends only the
// cancelling ones and never moves the others; error feedback accumulates them until they win.
double excess_loss_after(int steps, bool feedback) {
  constexpr std::size_t kN = 20;
  std::vector<float> b1(kN), b2(kN), x(kN, 0.0f);
  for (std::size_t i = 0; i < kN; ++i) {
    const float shared = i < 5 ? 0.0f : 1.0f;
    const float opposed = i < 5 ? 3.0f : 0.0f;
    b1[i] = shared + opposed;
    b2[i] = shared - opposed;
  }
  std::vector<std::unique_ptr<Codec>> codecs;
  for (int w = 0; w < 2; ++w) {
    Result<std::unique_ptr<Codec>> codec = make_codec(feedback ? "topk:0.25+ef" : "topk:0.25");
    codecs.push_back(std::move(*codec));
  }
  std::vector<float> g(kN), decoded(kN);
  std::vector<std::byte> bytes;
  for (int step = 0; step < steps; ++step) {
    std::vector<float> update(kN, 0.0f);
    for (int w = 0; w < 2; ++w) {
      const std::vector<float>& b = w == 0 ? b1 : b2;
      for (std::size_t i = 0; i < kN; ++i) g[i] = x[i] - b[i];
      codecs[static_cast<std::size_t>(w)]->encode(g, bytes);
      EXPECT_TRUE(codecs[static_cast<std::size_t>(w)]->decode(bytes, decoded).is_ok());
      for (std::size_t i = 0; i < kN; ++i) update[i] += 0.5f * decoded[i];
    }
    for (std::size_t i = 0; i < kN; ++i) x[i] -= 0.02f * update[i];
  }
  double excess = 0;  // the loss above the optimum is |x - (b1 + b2) / 2|^2
  for (std::size_t i = 0; i < kN; ++i) excess += std::pow(x[i] - 0.5 * (b1[i] + b2[i]), 2);
  return excess;
}

TEST(ErrorFeedbackTest, TopKConvergesWithItAndStallsWithout) {
  const double start = excess_loss_after(0, false);
  EXPECT_DOUBLE_EQ(start, 15.0);
  EXPECT_GT(excess_loss_after(3000, false), 0.99 * start) << "plain top-k never sends the small coordinates";
  EXPECT_LT(excess_loss_after(3000, true), 1e-3 * start);  // 0.0068 of 15 (the step size sets the floor)
}

TEST(ErrorFeedbackTest, KeepsWhatTheCodecDropped) {
  ErrorFeedback codec(make_topk_codec(0.5));
  std::vector<std::byte> bytes;
  codec.encode(std::vector<float>{4.0f, 1.0f}, bytes);  // sends 4, keeps 1
  EXPECT_EQ(std::vector<float>(codec.residual().begin(), codec.residual().end()), (std::vector<float>{0.0f, 1.0f}));
  codec.encode(std::vector<float>{0.0f, 1.5f}, bytes);  // 1 + 1.5 = 2.5 now wins
  std::vector<float> out(2);
  ASSERT_TRUE(codec.decode(bytes, out).is_ok());
  EXPECT_EQ(out, (std::vector<float>{0.0f, 2.5f}));
}

}  // namespace
}  // namespace courier
