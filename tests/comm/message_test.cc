// The wire format: round trips, every field's check, and 100,000+ random and mutated headers
// fed to the decoder (which must return a Status, never crash or read past its input).
#include <cstring>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/comm/message.h"
#include "courier/core/rng.h"

namespace courier {
namespace {

using ::testing::HasSubstr;

MessageHeader sample_header() {
  MessageHeader h;
  h.kind = MessageKind::kData;
  h.flags = kFlagPayloadChecksum;
  h.source = 2;
  h.destination = 5;
  h.tag = 0x0001'0000'0000'0042ull;
  h.step = 123456789;
  h.seq = 7;
  h.dtype = DType::kF32;
  h.element_count = 4;
  return h;
}

std::vector<std::byte> payload_of(std::size_t bytes) {
  std::vector<std::byte> p(bytes);
  for (std::size_t i = 0; i < bytes; ++i) p[i] = static_cast<std::byte>(i * 31 + 7);
  return p;
}

const DecodeLimits kLimits{8, 1 << 20};

TEST(WireFormat, HeaderIs72LittleEndianBytes) {
  MessageHeader h = sample_header();
  std::vector<std::byte> payload = payload_of(16);
  seal(h, payload);
  std::vector<std::byte> frame = encode_frame(h, payload);
  ASSERT_EQ(frame.size(), kHeaderBytes + 16);
  // "CRMS", version 1, kind 1, flags 1 (little-endian)
  EXPECT_EQ(static_cast<char>(frame[0]), 'C');
  EXPECT_EQ(static_cast<char>(frame[1]), 'R');
  EXPECT_EQ(static_cast<char>(frame[2]), 'M');
  EXPECT_EQ(static_cast<char>(frame[3]), 'S');
  EXPECT_EQ(frame[4], std::byte{1});
  EXPECT_EQ(frame[5], std::byte{1});
  EXPECT_EQ(frame[6], std::byte{1});
  EXPECT_EQ(frame[8], std::byte{2});   // source
  EXPECT_EQ(frame[12], std::byte{5});  // destination
  EXPECT_EQ(frame[16], std::byte{0x42});
  EXPECT_EQ(frame[22], std::byte{0x01});  // context in the tag's top 16 bits
  EXPECT_EQ(frame[41], std::byte{1});     // dtype f32
  EXPECT_EQ(frame[56], std::byte{16});    // payload bytes
}

TEST(WireFormat, FrameRoundTrips) {
  MessageHeader h = sample_header();
  std::vector<std::byte> payload = payload_of(16);
  seal(h, payload);
  std::vector<std::byte> frame = encode_frame(h, payload);
  Result<DecodedFrame> decoded = decode_frame(frame, kLimits);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->header, h);
  ASSERT_EQ(decoded->payload.size(), 16u);
  EXPECT_EQ(std::memcmp(decoded->payload.data(), payload.data(), 16), 0);
}

TEST(WireFormat, EveryPayloadBitFlipIsCaughtWhenChecksummed) {
  MessageHeader h = sample_header();
  std::vector<std::byte> payload = payload_of(16);
  seal(h, payload);
  const std::vector<std::byte> frame = encode_frame(h, payload);
  for (std::size_t bit = 0; bit < frame.size() * 8; ++bit) {
    std::vector<std::byte> damaged = frame;
    damaged[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    EXPECT_FALSE(decode_frame(damaged, kLimits).is_ok()) << "bit " << bit << " flipped unnoticed";
  }
}

TEST(WireFormat, WithoutPayloadChecksumTheHeaderIsStillCovered) {
  MessageHeader h = sample_header();
  h.flags = 0;
  std::vector<std::byte> payload = payload_of(16);
  seal(h, payload);
  std::vector<std::byte> frame = encode_frame(h, payload);
  frame[kHeaderBytes + 3] ^= std::byte{0xFF};
  EXPECT_TRUE(decode_frame(frame, kLimits).is_ok()) << "payload is not covered without the flag";
  frame[24] ^= std::byte{1};  // step
  Result<DecodedFrame> decoded = decode_frame(frame, kLimits);
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("checksum mismatch"));
}

struct FieldCase {
  std::size_t offset;
  std::byte value;
  StatusCode code;
  const char* words;
};

TEST(WireFormat, EachFieldIsRangeChecked) {
  MessageHeader h = sample_header();
  std::vector<std::byte> payload = payload_of(16);
  seal(h, payload);
  const std::vector<std::byte> frame = encode_frame(h, payload);
  const std::vector<FieldCase> cases = {
      {0, std::byte{'X'}, StatusCode::kDataLoss, "bad magic"},
      {4, std::byte{9}, StatusCode::kInvalidArgument, "wire version 9"},
      {5, std::byte{0}, StatusCode::kDataLoss, "unknown message kind"},
      {5, std::byte{77}, StatusCode::kDataLoss, "unknown message kind"},
      {6, std::byte{0x80}, StatusCode::kDataLoss, "unknown header flags"},
      {8, std::byte{8}, StatusCode::kDataLoss, "outside a world of 8"},
      {12, std::byte{200}, StatusCode::kDataLoss, "outside a world of 8"},
      {40, std::byte{9}, StatusCode::kDataLoss, "unknown codec"},
      {41, std::byte{0}, StatusCode::kDataLoss, "unknown dtype"},
      {42, std::byte{1}, StatusCode::kDataLoss, "reserved"},
      {46, std::byte{1}, StatusCode::kDataLoss, "reserved"},
      {48, std::byte{5}, StatusCode::kDataLoss, "do not fill"},
      {63, std::byte{1}, StatusCode::kDataLoss, "exceeds the limit"},
  };
  for (const FieldCase& c : cases) {
    std::vector<std::byte> damaged = frame;
    damaged[c.offset] = c.value;
    Result<MessageHeader> decoded = decode_header(damaged, kLimits);
    ASSERT_FALSE(decoded.is_ok()) << "offset " << c.offset;
    EXPECT_EQ(decoded.status().code(), c.code) << "offset " << c.offset << ": " << decoded.status().to_string();
    EXPECT_THAT(decoded.status().message(), HasSubstr(c.words)) << "offset " << c.offset;
  }
}

TEST(WireFormat, LengthsAreNeverTrusted) {
  MessageHeader h = sample_header();
  std::vector<std::byte> payload = payload_of(16);
  seal(h, payload);
  std::vector<std::byte> frame = encode_frame(h, payload);
  for (std::size_t cut = 0; cut < frame.size(); ++cut) {
    Result<DecodedFrame> decoded = decode_frame(ByteSpan(frame).first(cut), kLimits);
    EXPECT_FALSE(decoded.is_ok()) << "a frame cut to " << cut << " bytes decoded";
  }
  std::vector<std::byte> longer = frame;
  longer.push_back(std::byte{0});
  Result<DecodedFrame> decoded = decode_frame(longer, kLimits);
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("frame holds 17 payload bytes"));
}

TEST(WireFormat, ElementCountTimesDtypeMustNotOverflow) {
  MessageHeader h = sample_header();
  h.flags = 0;
  h.element_count = (std::uint64_t{1} << 62) + 4;  // 4 * this wraps to 16
  h.payload_bytes = 16;
  std::vector<std::byte> bytes(kHeaderBytes);
  encode_header(h, bytes);
  Result<MessageHeader> decoded = decode_header(bytes, kLimits);
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("do not fill"));
}

// At least 100,000 inputs: random bytes, and valid frames with random bytes overwritten,
// random lengths and random cuts. The decoder must return, with a Status, every time, and
// accept only frames whose checksum still holds.
TEST(WireFormat, DecoderSurvivesRandomAndMutatedInput) {
  Rng rng(2026);
  MessageHeader h = sample_header();
  std::vector<std::byte> payload = payload_of(64);
  h.element_count = 16;
  seal(h, payload);
  const std::vector<std::byte> valid = encode_frame(h, payload);
  std::size_t accepted = 0;
  constexpr int kInputs = 120000;
  for (int i = 0; i < kInputs; ++i) {
    std::vector<std::byte> input;
    if (i % 3 == 0) {
      input.resize(rng.below(200));
      for (auto& b : input) b = static_cast<std::byte>(rng.below(256));
    } else {
      input = valid;
      const std::uint64_t mutations = 1 + rng.below(4);
      for (std::uint64_t m = 0; m < mutations; ++m) {
        input[rng.below(input.size())] = static_cast<std::byte>(rng.below(256));
      }
      if (i % 3 == 2) input.resize(rng.below(input.size() + 8));
    }
    Result<DecodedFrame> decoded = decode_frame(input, kLimits);
    if (decoded.is_ok()) {
      ++accepted;
      // Only a mutation that left every byte as it was can decode.
      EXPECT_EQ(input, valid);
    }
    (void)decode_header(input, kLimits);
  }
  EXPECT_LT(accepted, static_cast<std::size_t>(kInputs / 100));
}

TEST(WireFormat, DescribeNamesTheMessage) {
  MessageHeader h = sample_header();
  seal(h, payload_of(16));
  EXPECT_THAT(describe(h), HasSubstr("rank 2 -> 5"));
  EXPECT_THAT(describe(h), HasSubstr("step 123456789"));
}

}  // namespace
}  // namespace courier
