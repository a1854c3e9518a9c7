// Messages on the wire: a fixed 72-byte little-endian header, then the payload.
// docs/wire-format.md is the grammar; this file is its one implementation.
//
// The decoder trusts nothing: every field is range-checked, lengths are compared with the
// bytes actually present, and the XXH3 checksum covers the header (and the payload when
// the header says so). Failures are Status values (DATA_LOSS for damage, INVALID_ARGUMENT
// for well-formed but impossible fields); the decoder never reads past its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "courier/comm/bytes.h"
#include "courier/core/dtype.h"
#include "courier/core/status.h"

namespace courier {

inline constexpr std::uint32_t kMessageMagic = 0x534D5243;  // "CRMS" as little-endian bytes
inline constexpr std::uint8_t kWireVersion = 1;
inline constexpr std::size_t kHeaderBytes = 72;

// Ids are pinned: they are on the wire.
enum class MessageKind : std::uint8_t {
  kData = 1,       // a payload for a receive (activations, gradients, parameters, collective chunks)
  kControl = 2,    // runtime coordination (an abort notice naming a failed peer)
  kAck = 3,        // acknowledgement of a data message (exactly-once delivery)
  kHeartbeat = 4,  // liveness
};

// Header flag bits.
inline constexpr std::uint16_t kFlagPayloadChecksum = 1u << 0;  // checksum covers the payload too
inline constexpr std::uint16_t kKnownFlags = kFlagPayloadChecksum;

// Codec ids (0 is the identity: the payload is element_count elements of dtype). Otherwise
// the payload is that codec's encoding of element_count elements of dtype (comm/codecs/).
inline constexpr std::uint8_t kCodecIdentity = 0;
inline constexpr std::uint8_t kCodecFp16 = 1;
inline constexpr std::uint8_t kCodecBf16 = 2;
inline constexpr std::uint8_t kCodecInt8 = 3;
inline constexpr std::uint8_t kCodecSparse = 4;  // top-k and random-k: indices and values
inline constexpr std::uint8_t kCodecZstd = 5;    // lossless: a zstd frame of the byte planes
inline constexpr std::uint8_t kCodecCount = 6;

struct MessageHeader {
  MessageKind kind = MessageKind::kData;
  std::uint16_t flags = 0;
  std::uint32_t source = 0;       // world rank of the sender
  std::uint32_t destination = 0;  // world rank of the receiver
  std::uint64_t tag = 0;          // matching key; the top 16 bits name the communicator (group)
  std::uint64_t step = 0;         // training step, for people reading errors and traces
  std::uint64_t seq = 0;          // position in the (source, destination, tag) channel, from 0
  std::uint8_t codec = kCodecIdentity;
  DType dtype = DType::kU8;
  std::uint64_t element_count = 0;
  std::uint64_t payload_bytes = 0;
  std::uint64_t checksum = 0;  // XXH3-64 of the header with this field zero, then the payload if flagged

  bool payload_checksummed() const { return (flags & kFlagPayloadChecksum) != 0; }
  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};

// "data rank 1 -> 3 tag 0x.. step 7 seq 2 (4096 bytes)": for errors and logs.
std::string describe(const MessageHeader& header);

// What a decoder accepts.
struct DecodeLimits {
  std::uint32_t world_size = 1;                      // source and destination must be below it
  std::uint64_t max_payload_bytes = 1ull << 34;      // 16 GiB: no allocation is driven past this
};

// Sets payload_bytes from the payload, then the checksum (over the payload too when the
// header's kFlagPayloadChecksum is set).
void seal(MessageHeader& header, ByteSpan payload);
// The checksum seal() would write.
std::uint64_t compute_checksum(const MessageHeader& header, ByteSpan payload);
// DATA_LOSS when the checksum does not match the header (and payload, when flagged).
Status verify_checksum(const MessageHeader& header, ByteSpan payload);

// Writes the header's 72 bytes. REQUIRES: out.size() >= kHeaderBytes.
void encode_header(const MessageHeader& header, MutableByteSpan out);
// Parses and range-checks a header from the first kHeaderBytes of `bytes`. Does not check the
// checksum (the payload may not have arrived yet); verify_checksum does.
Result<MessageHeader> decode_header(ByteSpan bytes, const DecodeLimits& limits);

// A whole message in one buffer: header, then payload.
std::vector<std::byte> encode_frame(const MessageHeader& header, ByteSpan payload);
struct DecodedFrame {
  MessageHeader header;
  ByteSpan payload;  // a view into the decoded buffer
};
// Decodes a whole frame: header checks, exact length, checksum.
Result<DecodedFrame> decode_frame(ByteSpan frame, const DecodeLimits& limits);

}  // namespace courier
