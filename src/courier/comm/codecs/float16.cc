// fp16 and bf16: each float rounded to 16 bits (to nearest, ties to even), half the bytes.
#include <fmt/format.h>

#include "courier/comm/codecs/codec.h"
#include "courier/comm/codecs/wire.h"
#include "courier/core/half.h"

namespace courier {
namespace {

template <bool kBrain>
class Float16Codec final : public Codec {
 public:
  std::string name() const override { return kBrain ? "bf16" : "fp16"; }
  bool dense() const override { return true; }
  std::uint8_t wire_id() const override { return kBrain ? kCodecBf16 : kCodecFp16; }
  // fp16: 11 significant bits (unit roundoff 2^-11) for |x| < 65520 (beyond, +-inf, as a cast);
  // subnormals below 2^-14 are spaced 2^-24. bf16: 8 significant bits, float's whole range.
  ErrorBound bound() const override {
    return kBrain ? ErrorBound{.relative = 1.0 / 256, .absolute = 1e-38}
                  : ErrorBound{.relative = 1.0 / 2048, .absolute = 1.0 / (1 << 25)};
  }
  void encode(std::span<const float> values, std::vector<std::byte>& out) override {
    out.clear();
    out.reserve(values.size() * 2);
    for (float v : values) codec_wire::put<std::uint16_t>(out, kBrain ? float_to_bf16(v) : float_to_fp16(v));
  }
  Status decode(std::span<const std::byte> bytes, std::span<float> out) const override {
    if (bytes.size() != out.size() * 2) {
      return Status::data_loss(
          fmt::format("{} codec: {} bytes do not hold {} values", name(), bytes.size(), out.size()));
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto half = codec_wire::get<std::uint16_t>(bytes, 2 * i);
      out[i] = kBrain ? bf16_to_float(half) : fp16_to_float(half);
    }
    return Status::ok();
  }
};

}  // namespace

std::unique_ptr<Codec> make_fp16_codec() { return std::make_unique<Float16Codec<false>>(); }
std::unique_ptr<Codec> make_bf16_codec() { return std::make_unique<Float16Codec<true>>(); }

}  // namespace courier
