// make_gradient_compressor: a codec inside allreduce_encoded, or PowerSGD.
#include "courier/comm/codecs/compressor.h"

#include <charconv>

#include <fmt/format.h>

#include "courier/comm/codecs/powersgd.h"

namespace courier {
namespace {

class CodecCompressor final : public GradientCompressor {
 public:
  explicit CodecCompressor(std::unique_ptr<Codec> codec) : codec_(std::move(codec)) {}
  std::string name() const override { return codec_->name(); }
  Status allreduce(Communicator& comm, std::span<float> data, const CollectiveOptions& options,
                   CodecTraffic& traffic) override {
    return allreduce_encoded(comm, data, *codec_, options, &traffic);
  }

 private:
  std::unique_ptr<Codec> codec_;
};

constexpr std::string_view kPowerSgd = "powersgd:";

Result<int> parse_powersgd_rank(std::string_view spec) {
  const std::string_view text = spec.substr(kPowerSgd.size());
  int rank = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), rank);
  if (error != std::errc() || end != text.data() + text.size() || rank < 1 || rank > 1024) {
    return Status::invalid_argument(
        fmt::format("codec \"{}\": PowerSGD's rank must be a whole number in [1, 1024], e.g. powersgd:4", spec));
  }
  return rank;
}

}  // namespace

std::uint64_t codec_seed(std::uint64_t seed, int rank) {
  return seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(rank);
}

bool is_powersgd_spec(std::string_view spec) { return spec.starts_with(kPowerSgd) || spec == "powersgd"; }

Status check_compression_spec(std::string_view spec) {
  if (is_powersgd_spec(spec)) {
    if (spec == "powersgd") {
      return Status::invalid_argument("codec \"powersgd\" needs its rank: powersgd:R, e.g. powersgd:4");
    }
    return parse_powersgd_rank(spec).status();
  }
  Result<std::unique_ptr<Codec>> codec = make_codec(spec);
  if (codec.is_ok()) return Status::ok();
  return Status::invalid_argument(fmt::format("{}; or powersgd:R (rank R)", codec.status().message()));
}

Result<std::unique_ptr<GradientCompressor>> make_gradient_compressor(std::string_view spec,
                                                                     std::vector<MatrixRange> matrices,
                                                                     std::uint64_t seed, int rank) {
  if (Status s = check_compression_spec(spec); !s.is_ok()) return s;
  if (is_powersgd_spec(spec)) {
    return std::unique_ptr<GradientCompressor>(
        std::make_unique<PowerSgd>(std::move(matrices), *parse_powersgd_rank(spec), seed));
  }
  Result<std::unique_ptr<Codec>> codec = make_codec(spec, codec_seed(seed, rank));
  if (!codec.is_ok()) return codec.status();
  return std::unique_ptr<GradientCompressor>(std::make_unique<CodecCompressor>(std::move(*codec)));
}

}  // namespace courier
