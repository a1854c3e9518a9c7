// libFuzzer target: the message decoder. Whatever the input, decoding returns a Status and
// stays inside the buffer (ASan checks that); an input that decodes re-encodes to itself.
//   cmake --preset fuzz && cmake --build --preset fuzz && build/fuzz/fuzz/decode_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "courier/comm/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const courier::ByteSpan input(reinterpret_cast<const std::byte*>(data), size);
  const courier::DecodeLimits limits{8, std::uint64_t{1} << 20};
  static_cast<void>(courier::decode_header(input, limits));
  courier::Result<courier::DecodedFrame> frame = courier::decode_frame(input, limits);
  if (frame.is_ok()) {
    const std::vector<std::byte> again = courier::encode_frame(frame->header, frame->payload);
    if (again.size() != size || std::memcmp(again.data(), data, size) != 0) __builtin_trap();
  }
  return 0;
}
