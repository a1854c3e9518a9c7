// int8 with a scale a chunk: a quarter of the bytes (plus 4 a chunk), unbiased rounding.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "courier/comm/codecs/codec.h"
#include "courier/comm/codecs/wire.h"
#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier {
namespace {

// Per chunk: f32 scale = max|x| / 127, then one int8 a value, q = floor(x / scale + u) with
// u uniform in [0, 1), so E[q scale] = x and |q scale - x| < scale.
class Int8Codec final : public Codec {
 public:
  Int8Codec(std::uint64_t seed, std::size_t chunk) : rng_(seed), chunk_(chunk) {
    COURIER_CHECK_GT(chunk_, 0u, "int8 codec chunk");
  }
  std::string name() const override { return "int8"; }
  bool dense() const override { return true; }
  std::uint8_t wire_id() const override { return kCodecInt8; }
  ErrorBound bound() const override { return {.of_chunk_max = 1.0 / 127, .chunk_elements = chunk_}; }

  void encode(std::span<const float> values, std::vector<std::byte>& out) override {
    out.clear();
    out.reserve(encoded_bytes(values.size()));
    for (std::size_t begin = 0; begin < values.size(); begin += chunk_) {
      const std::span<const float> chunk = values.subspan(begin, std::min(chunk_, values.size() - begin));
      float max = 0.0f;
      for (float v : chunk) max = std::max(max, std::fabs(v));
      const float scale = max / 127.0f;
      codec_wire::put<float>(out, scale);
      for (float v : chunk) {
        const float q = scale > 0.0f ? std::floor(v / scale + rng_.uniform()) : 0.0f;
        codec_wire::put<std::int8_t>(out, static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f)));
      }
    }
  }

  Status decode(std::span<const std::byte> bytes, std::span<float> out) const override {
    if (bytes.size() != encoded_bytes(out.size())) {
      return Status::data_loss(fmt::format("int8 codec: {} bytes do not hold {} values in chunks of {} ({} bytes)",
                                           bytes.size(), out.size(), chunk_, encoded_bytes(out.size())));
    }
    std::size_t at = 0;
    for (std::size_t begin = 0; begin < out.size(); begin += chunk_) {
      const float scale = codec_wire::get<float>(bytes, at);
      at += sizeof(float);
      if (!(std::isfinite(scale) && scale >= 0.0f)) {
        return Status::data_loss(fmt::format("int8 codec: chunk at element {} has scale {}", begin, scale));
      }
      const std::size_t end = std::min(out.size(), begin + chunk_);
      for (std::size_t i = begin; i < end; ++i, ++at) {
        out[i] = static_cast<float>(codec_wire::get<std::int8_t>(bytes, at)) * scale;
      }
    }
    return Status::ok();
  }

 private:
  std::size_t encoded_bytes(std::size_t count) const { return count + sizeof(float) * ((count + chunk_ - 1) / chunk_); }

  Rng rng_;
  std::size_t chunk_;
};

}  // namespace

std::unique_ptr<Codec> make_int8_codec(std::uint64_t seed, std::size_t chunk_elements) {
  return std::make_unique<Int8Codec>(seed, chunk_elements);
}

}  // namespace courier
