// make_codec: the spec grammar; the identity codec.
#include "courier/comm/codecs/codec.h"

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "courier/comm/codecs/error_feedback.h"

namespace courier {
namespace {

class IdentityCodec final : public Codec {
 public:
  std::string name() const override { return "identity"; }
  ErrorBound bound() const override { return {}; }
  bool dense() const override { return true; }
  std::uint8_t wire_id() const override { return kCodecIdentity; }
  void encode(std::span<const float> values, std::vector<std::byte>& out) override {
    const auto bytes = std::as_bytes(values);
    out.assign(bytes.begin(), bytes.end());
  }
  Status decode(std::span<const std::byte> bytes, std::span<float> out) const override {
    if (bytes.size() != out.size_bytes()) {
      return Status::data_loss(fmt::format("identity codec: {} bytes do not hold {} floats", bytes.size(), out.size()));
    }
    if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    return Status::ok();
  }
};

Result<double> parse_fraction(std::string_view spec, std::string_view text) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0.0 && value <= 1.0)) {
    return Status::invalid_argument(fmt::format(
        "codec \"{}\": the fraction kept must be a number in (0, 1], e.g. topk:0.01, got \"{}\"", spec, text));
  }
  return value;
}

}  // namespace

Status check_encoding(const Message& message, const Codec& codec, std::size_t elements) {
  const MessageHeader& h = message.header();
  if (h.codec == codec.wire_id() && h.dtype == DType::kF32 && h.element_count == elements) return Status::ok();
  return Status::data_loss(fmt::format(
      "rank {} sent codec id {} over {} {} values where {} (id {}) over {} f32 values was expected: every node must "
      "run the same dist.codec",
      h.source, h.codec, h.element_count, dtype_name(h.dtype), codec.name(), codec.wire_id(), elements));
}

std::unique_ptr<Codec> make_identity_codec() { return std::make_unique<IdentityCodec>(); }

Result<std::unique_ptr<Codec>> make_codec(std::string_view spec, std::uint64_t seed) {
  std::string_view base = spec;
  const bool feedback = base.ends_with("+ef");
  if (feedback) base.remove_suffix(3);
  std::unique_ptr<Codec> codec;
  if (base == "identity") {
    codec = make_identity_codec();
  } else if (base == "zstd") {
    codec = make_zstd_codec();
  } else if (base == "fp16") {
    codec = make_fp16_codec();
  } else if (base == "bf16") {
    codec = make_bf16_codec();
  } else if (base == "int8") {
    codec = make_int8_codec(seed);
  } else if (base.starts_with("topk:") || base.starts_with("randomk:")) {
    const bool top = base.starts_with("topk:");
    Result<double> fraction = parse_fraction(spec, base.substr(top ? 5 : 8));
    if (!fraction.is_ok()) return fraction.status();
    codec = top ? make_topk_codec(*fraction) : make_randomk_codec(*fraction, seed);
  } else {
    return Status::invalid_argument(fmt::format(
        "unknown codec \"{}\"; use identity, zstd (lossless), fp16, bf16, int8, topk:F or randomk:F (F the fraction "
        "kept), the lossy ones optionally with +ef for error feedback (topk:0.01+ef)",
        spec));
  }
  if (feedback) {
    if (base == "identity" || base == "zstd") {
      return Status::invalid_argument(
          fmt::format("codec \"{}\": {} loses nothing to feed back; drop the +ef", spec, base));
    }
    return std::unique_ptr<Codec>(std::make_unique<ErrorFeedback>(std::move(codec)));
  }
  return codec;
}

}  // namespace courier
