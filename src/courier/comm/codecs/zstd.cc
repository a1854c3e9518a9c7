// zstd: lossless. The floats' bytes are split into four planes (all first bytes, then all
// second bytes, ...), as Blosc's shuffle does: exponents and high mantissa bytes of nearby
// values repeat, and zstd finds runs in the planes it would not find in interleaved floats.
#include <zstd.h>

#include <fmt/format.h>

#include "courier/comm/codecs/codec.h"
#include "courier/core/check.h"

namespace courier {
namespace {

constexpr int kLevel = 1;  // zstd's fastest standard level: compression must not cost more than the bytes saved

class ZstdCodec final : public Codec {
 public:
  std::string name() const override { return "zstd"; }
  ErrorBound bound() const override { return {}; }
  bool dense() const override { return true; }
  std::uint8_t wire_id() const override { return kCodecZstd; }

  void encode(std::span<const float> values, std::vector<std::byte>& out) override {
    const auto bytes = std::as_bytes(values);
    const std::size_t n = values.size();
    planes_.resize(bytes.size());
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t b = 0; b < sizeof(float); ++b) planes_[b * n + i] = bytes[i * sizeof(float) + b];
    }
    out.resize(ZSTD_compressBound(planes_.size()));
    const std::size_t written = ZSTD_compress(out.data(), out.size(), planes_.data(), planes_.size(), kLevel);
    COURIER_CHECK(!ZSTD_isError(written), "zstd: {}", ZSTD_getErrorName(written));
    out.resize(written);
  }

  Status decode(std::span<const std::byte> bytes, std::span<float> out) const override {
    const unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size != out.size_bytes()) {
      return Status::data_loss(fmt::format("zstd codec: {} bytes are not a zstd frame of {} floats", bytes.size(),
                                           out.size()));
    }
    std::vector<std::byte> planes(out.size_bytes());
    const std::size_t read = ZSTD_decompress(planes.data(), planes.size(), bytes.data(), bytes.size());
    if (ZSTD_isError(read) || read != planes.size()) {
      return Status::data_loss(fmt::format("zstd codec: a damaged frame ({})",
                                           ZSTD_isError(read) ? ZSTD_getErrorName(read) : "short"));
    }
    auto values = std::as_writable_bytes(out);
    const std::size_t n = out.size();
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t b = 0; b < sizeof(float); ++b) values[i * sizeof(float) + b] = planes[b * n + i];
    }
    return Status::ok();
  }

 private:
  std::vector<std::byte> planes_;
};

}  // namespace

std::unique_ptr<Codec> make_zstd_codec() { return std::make_unique<ZstdCodec>(); }

}  // namespace courier
