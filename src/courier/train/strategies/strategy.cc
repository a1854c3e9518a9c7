// The compression options every strategy shares.
#include "courier/train/strategies/strategy.h"

#include "courier/core/check.h"

namespace courier {

std::unique_ptr<GradientCompressor> CompressionOptions::make(std::int64_t offset, std::int64_t count,
                                                             int rank) const {
  std::vector<MatrixRange> inside;
  const auto begin = static_cast<std::size_t>(offset);
  const auto end = static_cast<std::size_t>(offset + count);
  for (const MatrixRange& m : matrices) {
    if (static_cast<std::int64_t>(m.rows * m.cols) < powersgd_min_elements) continue;
    if (m.offset >= begin && m.offset + m.rows * m.cols <= end) {
      inside.push_back({m.offset - begin, m.rows, m.cols});
    }
  }
  Result<std::unique_ptr<GradientCompressor>> compressor = make_gradient_compressor(spec, std::move(inside), seed, rank);
  COURIER_CHECK(compressor.is_ok(), "dist.codec was checked before the run: {}", compressor.status().to_string());
  return std::move(*compressor);
}

namespace {

std::unique_ptr<Codec> checked_codec(std::string_view spec, std::uint64_t seed, int rank) {
  Result<std::unique_ptr<Codec>> made = make_codec(spec, codec_seed(seed, rank));
  COURIER_CHECK(made.is_ok(), "dist.codec was checked before the run: {}", made.status().to_string());
  return std::move(*made);
}

}  // namespace

std::unique_ptr<Codec> CompressionOptions::codec(int rank) const { return checked_codec(spec, seed, rank); }

std::unique_ptr<Codec> CompressionOptions::codec_without_feedback(int rank) const {
  std::string_view plain = spec;
  if (plain.ends_with("+ef")) plain.remove_suffix(3);
  return checked_codec(plain, seed, rank);
}

}  // namespace courier
