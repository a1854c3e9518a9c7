// Codecs: a float vector to bytes and back, each with a declared error bound, so that
// messages (gradients, parameters) can travel in fewer bytes. A codec sees only floats and
// bytes, never tensors. Lossy codecs can be wrapped in error feedback (error_feedback.h),
// which keeps what the codec dropped and adds it to the next vector.
//
// Thread safety: a codec object belongs to one node (stochastic rounding and random-k keep
// a generator, error feedback a residual). decode is const and may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "courier/comm/communicator.h"
#include "courier/comm/transport/message_buffer.h"
#include "courier/core/status.h"

namespace courier {

// How far a decoded element may be from the encoded one:
//   |decoded[i] - x[i]| <= relative |x[i]| + of_chunk_max max|x[j]| over i's chunk + absolute
// (chunk_elements 0: the chunk is the whole vector).
struct ErrorBound {
  double relative = 0.0;
  double of_chunk_max = 0.0;
  double absolute = 0.0;
  std::size_t chunk_elements = 0;
};

class Codec {
 public:
  virtual ~Codec() = default;

  // "fp16", "int8", "topk:0.01", "topk:0.01+ef": what make_codec parses back.
  virtual std::string name() const = 0;
  virtual ErrorBound bound() const = 0;
  // The header's codec id for its encodings (comm/message.h: kCodecFp16, ...).
  virtual std::uint8_t wire_id() const = 0;
  // What a message carrying an encoding of `elements` floats says in its header.
  SendInfo send_info(std::size_t elements, std::uint64_t step) const {
    return SendInfo{.dtype = DType::kF32, .element_count = elements, .codec = wire_id(), .step = step};
  }
  // Whether every element is encoded, on its own or in its chunk, and nothing of one vector
  // carries over to the next (identity, fp16, bf16, int8): then a ring allreduce may decode a
  // block, add to it and encode it again at every hop. Sparse codecs and error feedback are
  // not: they travel whole, through an allgather.
  virtual bool dense() const { return false; }

  // Replaces `out` with the encoding of `values`. Non-const: stochastic codecs draw from
  // their generator, error feedback updates its residual.
  virtual void encode(std::span<const float> values, std::vector<std::byte>& out) = 0;

  // Writes the `out.size()` values `bytes` encodes. DATA_LOSS, naming what is wrong, when the
  // bytes are not an encoding of that many values (a length, an index or a count that does
  // not fit): the decoder trusts nothing.
  virtual Status decode(std::span<const std::byte> bytes, std::span<float> out) const = 0;
};

// What a node's compressed exchanges carried: the bytes the same exchange sends
// uncompressed, and the bytes it sent.
struct CodecTraffic {
  std::uint64_t raw_bytes = 0;
  std::uint64_t wire_bytes = 0;
  CodecTraffic& operator+=(const CodecTraffic& other) {
    raw_bytes += other.raw_bytes;
    wire_bytes += other.wire_bytes;
    return *this;
  }
};

// DATA_LOSS unless `message`'s header says it holds `codec`'s encoding of `elements` floats:
// a peer running another codec (a different dist.codec) is named, not misread.
Status check_encoding(const Message& message, const Codec& codec, std::size_t elements);

// identity | zstd | fp16 | bf16 | int8 | topk:F | randomk:F, the lossy ones optionally followed
// by "+ef" (error feedback around it); F is the fraction of elements kept, in (0, 1]. `seed` seeds the
// stochastic ones. INVALID_ARGUMENT naming the spec and the choices for anything else.
Result<std::unique_ptr<Codec>> make_codec(std::string_view spec, std::uint64_t seed = 0);

// One codec each: the concrete constructors make_codec uses.
std::unique_ptr<Codec> make_identity_codec();
// Lossless: the floats' byte planes through zstd (level 1).
std::unique_ptr<Codec> make_zstd_codec();
std::unique_ptr<Codec> make_fp16_codec();
std::unique_ptr<Codec> make_bf16_codec();
// Chunks of `chunk_elements`, each one fp32 scale (max|x| / 127) and int8 values rounded
// stochastically (unbiased: the expected decoded value is x).
std::unique_ptr<Codec> make_int8_codec(std::uint64_t seed, std::size_t chunk_elements = 256);
// The ceil(fraction n) elements of largest magnitude (top-k) or drawn at random (random-k,
// not rescaled: pair it with error feedback), as (u32 index, f32 value) pairs.
std::unique_ptr<Codec> make_topk_codec(double fraction);
std::unique_ptr<Codec> make_randomk_codec(double fraction, std::uint64_t seed);

}  // namespace courier
