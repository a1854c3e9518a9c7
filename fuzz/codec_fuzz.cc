// libFuzzer target: every codec's decoder. The first byte picks the codec and the next two
// the element count; the rest is the encoding. Whatever the bytes, decode returns a Status
// and stays inside its buffers (ASan checks that); what decodes as a lossless codec's
// encoding re-encodes to values that decode the same.
//   cmake --preset fuzz && cmake --build --preset fuzz && build/fuzz/fuzz/codec_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "courier/comm/codecs/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const char* const kSpecs[] = {"identity", "zstd", "fp16", "bf16", "int8", "topk:0.1"};
  if (size < 3) return 0;
  const char* spec = kSpecs[data[0] % (sizeof kSpecs / sizeof kSpecs[0])];
  const std::size_t elements = (std::size_t{data[1]} | std::size_t{data[2]} << 8) % 4097;
  courier::Result<std::unique_ptr<courier::Codec>> made = courier::make_codec(spec);
  if (!made.is_ok()) __builtin_trap();
  std::unique_ptr<courier::Codec> codec = std::move(*made);
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 3), size - 3);
  std::vector<float> out(elements);
  if (!codec->decode(bytes, out).is_ok()) return 0;
  if (codec->bound().relative == 0 && codec->bound().of_chunk_max == 0 && codec->bound().absolute == 0) {
    std::vector<std::byte> again;
    codec->encode(out, again);
    std::vector<float> twice(elements);
    if (!codec->decode(again, twice).is_ok()) __builtin_trap();
    if (elements > 0 && std::memcmp(out.data(), twice.data(), elements * sizeof(float)) != 0) __builtin_trap();
  }
  return 0;
}
