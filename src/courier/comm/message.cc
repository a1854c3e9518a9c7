// Header encoding, decoding and checksums. Byte order is little-endian, written byte by
// byte, so the format does not depend on the host.
#include "courier/comm/message.h"

#include <array>
#include <cstring>

#include <fmt/format.h>
#include <xxhash.h>

namespace courier {
namespace {

// Offsets of the fields in the 72-byte header (docs/wire-format.md).
constexpr std::size_t kOffMagic = 0, kOffVersion = 4, kOffKind = 5, kOffFlags = 6, kOffSource = 8,
                      kOffDestination = 12, kOffTag = 16, kOffStep = 24, kOffSeq = 32, kOffCodec = 40,
                      kOffDtype = 41, kOffReserved = 42, kOffElementCount = 48, kOffPayloadBytes = 56,
                      kOffChecksum = 64;

template <typename T>
void put(MutableByteSpan out, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xFF);
  }
}

template <typename T>
T get(ByteSpan in, std::size_t offset) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) value |= static_cast<std::uint64_t>(in[offset + i]) << (8 * i);
  return static_cast<T>(value);
}

std::string_view kind_name(MessageKind kind) {
  switch (kind) {
    case MessageKind::kData: return "data";
    case MessageKind::kControl: return "control";
    case MessageKind::kAck: return "ack";
    case MessageKind::kHeartbeat: return "heartbeat";
  }
  return "unknown";
}

bool known_kind(std::uint8_t kind) { return kind >= 1 && kind <= 4; }

}  // namespace

std::string describe(const MessageHeader& h) {
  return fmt::format("{} message rank {} -> {} tag {:#x} step {} seq {} ({} bytes)", kind_name(h.kind), h.source,
                     h.destination, h.tag, h.step, h.seq, h.payload_bytes);
}

void encode_header(const MessageHeader& h, MutableByteSpan out) {
  COURIER_CHECK_GE(out.size(), kHeaderBytes, "header buffer");
  put<std::uint32_t>(out, kOffMagic, kMessageMagic);
  put<std::uint8_t>(out, kOffVersion, kWireVersion);
  put<std::uint8_t>(out, kOffKind, static_cast<std::uint8_t>(h.kind));
  put<std::uint16_t>(out, kOffFlags, h.flags);
  put<std::uint32_t>(out, kOffSource, h.source);
  put<std::uint32_t>(out, kOffDestination, h.destination);
  put<std::uint64_t>(out, kOffTag, h.tag);
  put<std::uint64_t>(out, kOffStep, h.step);
  put<std::uint64_t>(out, kOffSeq, h.seq);
  put<std::uint8_t>(out, kOffCodec, h.codec);
  put<std::uint8_t>(out, kOffDtype, static_cast<std::uint8_t>(h.dtype));
  put<std::uint16_t>(out, kOffReserved, 0);
  put<std::uint32_t>(out, kOffReserved + 2, 0);
  put<std::uint64_t>(out, kOffElementCount, h.element_count);
  put<std::uint64_t>(out, kOffPayloadBytes, h.payload_bytes);
  put<std::uint64_t>(out, kOffChecksum, h.checksum);
}

std::uint64_t compute_checksum(const MessageHeader& header, ByteSpan payload) {
  std::array<std::byte, kHeaderBytes> bytes{};
  MessageHeader unsealed = header;
  unsealed.checksum = 0;
  encode_header(unsealed, bytes);
  const XXH64_hash_t header_hash = XXH3_64bits(bytes.data(), kOffChecksum);
  if (!header.payload_checksummed()) return header_hash;
  return XXH3_64bits_withSeed(payload.data(), payload.size(), header_hash);
}

void seal(MessageHeader& header, ByteSpan payload) {
  header.payload_bytes = payload.size();
  header.checksum = compute_checksum(header, payload);
}

Status verify_checksum(const MessageHeader& header, ByteSpan payload) {
  if (payload.size() != header.payload_bytes) {
    return Status::data_loss(fmt::format("{}: payload has {} bytes, header says {}", describe(header), payload.size(),
                                         header.payload_bytes));
  }
  const std::uint64_t actual = compute_checksum(header, payload);
  if (actual != header.checksum) {
    return Status::data_loss(fmt::format("{}: checksum mismatch ({:#018x} computed, {:#018x} sent){}",
                                         describe(header), actual, header.checksum,
                                         header.payload_checksummed() ? "; header or payload damaged"
                                                                      : "; header damaged"));
  }
  return Status::ok();
}

Result<MessageHeader> decode_header(ByteSpan bytes, const DecodeLimits& limits) {
  if (bytes.size() < kHeaderBytes) {
    return Status::data_loss(fmt::format("truncated message header: {} of {} bytes", bytes.size(), kHeaderBytes));
  }
  const auto magic = get<std::uint32_t>(bytes, kOffMagic);
  if (magic != kMessageMagic) {
    return Status::data_loss(fmt::format("bad magic {:#010x} (expected {:#010x}): not a courier message", magic,
                                         kMessageMagic));
  }
  const auto version = get<std::uint8_t>(bytes, kOffVersion);
  if (version != kWireVersion) {
    return Status::invalid_argument(
        fmt::format("wire version {} is not spoken by this build (version {}); run the same courier on every node",
                    version, kWireVersion));
  }
  const auto kind = get<std::uint8_t>(bytes, kOffKind);
  if (!known_kind(kind)) return Status::data_loss(fmt::format("unknown message kind {}", kind));
  MessageHeader h;
  h.kind = static_cast<MessageKind>(kind);
  h.flags = get<std::uint16_t>(bytes, kOffFlags);
  if ((h.flags & ~kKnownFlags) != 0) return Status::data_loss(fmt::format("unknown header flags {:#06x}", h.flags));
  h.source = get<std::uint32_t>(bytes, kOffSource);
  h.destination = get<std::uint32_t>(bytes, kOffDestination);
  if (h.source >= limits.world_size || h.destination >= limits.world_size) {
    return Status::data_loss(fmt::format("source {} or destination {} outside a world of {} ranks", h.source,
                                         h.destination, limits.world_size));
  }
  h.tag = get<std::uint64_t>(bytes, kOffTag);
  h.step = get<std::uint64_t>(bytes, kOffStep);
  h.seq = get<std::uint64_t>(bytes, kOffSeq);
  h.codec = get<std::uint8_t>(bytes, kOffCodec);
  if (h.codec >= kCodecCount) return Status::data_loss(fmt::format("unknown codec id {}", h.codec));
  const auto dtype = dtype_from_id(get<std::uint8_t>(bytes, kOffDtype));
  if (!dtype) return Status::data_loss(fmt::format("unknown dtype id {}", get<std::uint8_t>(bytes, kOffDtype)));
  h.dtype = *dtype;
  if (get<std::uint16_t>(bytes, kOffReserved) != 0 || get<std::uint32_t>(bytes, kOffReserved + 2) != 0) {
    return Status::data_loss("reserved header bytes are not zero");
  }
  h.element_count = get<std::uint64_t>(bytes, kOffElementCount);
  h.payload_bytes = get<std::uint64_t>(bytes, kOffPayloadBytes);
  if (h.payload_bytes > limits.max_payload_bytes) {
    return Status::data_loss(fmt::format("payload of {} bytes exceeds the limit of {}", h.payload_bytes,
                                         limits.max_payload_bytes));
  }
  if (h.codec == kCodecIdentity) {
    const std::uint64_t element_bytes = dtype_size(h.dtype);
    if (h.element_count > h.payload_bytes / element_bytes || h.element_count * element_bytes != h.payload_bytes) {
      return Status::data_loss(fmt::format("{} elements of {} do not fill {} payload bytes", h.element_count,
                                           dtype_name(h.dtype), h.payload_bytes));
    }
  }
  h.checksum = get<std::uint64_t>(bytes, kOffChecksum);
  return h;
}

std::vector<std::byte> encode_frame(const MessageHeader& header, ByteSpan payload) {
  COURIER_CHECK_EQ(header.payload_bytes, payload.size(), "encode_frame of an unsealed header");
  std::vector<std::byte> frame(kHeaderBytes + payload.size());
  encode_header(header, frame);
  if (!payload.empty()) std::memcpy(frame.data() + kHeaderBytes, payload.data(), payload.size());
  return frame;
}

Result<DecodedFrame> decode_frame(ByteSpan frame, const DecodeLimits& limits) {
  Result<MessageHeader> header = decode_header(frame, limits);
  if (!header.is_ok()) return header.status();
  const std::size_t available = frame.size() - kHeaderBytes;
  if (header->payload_bytes != available) {
    return Status::data_loss(fmt::format("{}: frame holds {} payload bytes", describe(*header), available));
  }
  ByteSpan payload = frame.subspan(kHeaderBytes);
  if (Status s = verify_checksum(*header, payload); !s.is_ok()) return s;
  return DecodedFrame{*header, payload};
}

}  // namespace courier
