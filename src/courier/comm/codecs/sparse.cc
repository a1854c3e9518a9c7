// Sparse codecs: k of n elements kept, the rest decode as 0. top-k keeps the largest
// magnitudes, random-k a uniform sample. Layout: u32 n, u32 k, the k indices in increasing
// order as LEB128 varints of the gap to the previous one (the first: its index; then
// index - previous - 1), then the k f32 values in the same order. At 1% density a gap fits
// in one or two bytes, so an element costs about 5.5 bytes instead of 8 as (u32, f32) pairs.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "courier/comm/codecs/codec.h"
#include "courier/comm/codecs/wire.h"
#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier {
namespace {

void put_varint(std::vector<std::byte>& out, std::uint32_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::byte>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::byte>(value));
}

// Reads one varint of at most 5 bytes (a u32) at `at`, advancing it; false if it runs past
// the end or is longer.
bool get_varint(std::span<const std::byte> bytes, std::size_t& at, std::uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (at >= bytes.size()) return false;
    const auto byte = static_cast<std::uint8_t>(bytes[at++]);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

class SparseCodec : public Codec {
 public:
  explicit SparseCodec(double fraction) : fraction_(fraction) {
    COURIER_CHECK(fraction_ > 0.0 && fraction_ <= 1.0, "sparse codec fraction {} outside (0, 1]", fraction_);
  }
  // A kept element is exact, a dropped one decodes as 0: |decoded - x| <= |x|.
  ErrorBound bound() const override { return {.relative = 1.0}; }
  std::uint8_t wire_id() const override { return kCodecSparse; }

  void encode(std::span<const float> values, std::vector<std::byte>& out) override {
    const std::size_t n = values.size();
    const auto wanted = static_cast<std::size_t>(std::ceil(fraction_ * static_cast<double>(n)));
    const std::size_t k = n == 0 ? 0 : std::clamp<std::size_t>(wanted, 1, n);
    choose(values, k, indices_);
    std::sort(indices_.begin(), indices_.end());
    out.clear();
    out.reserve(8 + 6 * k);
    codec_wire::put<std::uint32_t>(out, static_cast<std::uint32_t>(n));
    codec_wire::put<std::uint32_t>(out, static_cast<std::uint32_t>(k));
    std::uint32_t next = 0;  // the smallest index the next one may have
    for (std::uint32_t i : indices_) {
      put_varint(out, i - next);
      next = i + 1;
    }
    for (std::uint32_t i : indices_) codec_wire::put<float>(out, values[i]);
  }

  Status decode(std::span<const std::byte> bytes, std::span<float> out) const override {
    if (bytes.size() < 8) {
      return Status::data_loss(fmt::format("{} codec: {} bytes hold no counts", name(), bytes.size()));
    }
    const auto n = codec_wire::get<std::uint32_t>(bytes, 0);
    const auto k = codec_wire::get<std::uint32_t>(bytes, 4);
    // Every index takes at least one byte and every value four.
    if (n != out.size() || k > n || bytes.size() < 8 + 5 * static_cast<std::size_t>(k)) {
      return Status::data_loss(fmt::format("{} codec: {} of {} values in {} bytes, decoding into {}", name(), k, n,
                                           bytes.size(), out.size()));
    }
    const std::size_t values_at = bytes.size() - 4 * static_cast<std::size_t>(k);
    std::fill(out.begin(), out.end(), 0.0f);
    std::size_t at = 8;
    std::uint64_t next = 0;
    for (std::size_t j = 0; j < k; ++j) {
      std::uint64_t gap = 0;
      if (!get_varint(bytes.first(values_at), at, gap) || next + gap >= n) {
        return Status::data_loss(fmt::format("{} codec: index {} of {} is damaged or outside [0, {})", name(), j, k, n));
      }
      const std::uint64_t index = next + gap;
      out[index] = codec_wire::get<float>(bytes, values_at + 4 * j);
      next = index + 1;
    }
    if (at != values_at) {
      return Status::data_loss(fmt::format("{} codec: {} bytes between the indices and the values", name(),
                                           static_cast<std::int64_t>(values_at) - static_cast<std::int64_t>(at)));
    }
    return Status::ok();
  }

 protected:
  // Replaces `indices` with the k elements to keep (any order).
  virtual void choose(std::span<const float> values, std::size_t k, std::vector<std::uint32_t>& indices) = 0;
  double fraction() const { return fraction_; }

 private:
  double fraction_;
  std::vector<std::uint32_t> indices_;
};

class TopK final : public SparseCodec {
 public:
  using SparseCodec::SparseCodec;
  std::string name() const override { return fmt::format("topk:{}", fraction()); }

 protected:
  void choose(std::span<const float> values, std::size_t k, std::vector<std::uint32_t>& indices) override {
    indices.resize(values.size());
    std::iota(indices.begin(), indices.end(), 0u);
    // Larger magnitude first; ties to the lower index, so the choice is deterministic.
    std::nth_element(indices.begin(), indices.begin() + static_cast<std::ptrdiff_t>(k), indices.end(),
                     [&](std::uint32_t a, std::uint32_t b) {
                       const float fa = std::fabs(values[a]), fb = std::fabs(values[b]);
                       return fa > fb || (fa == fb && a < b);
                     });
    indices.resize(k);
  }
};

class RandomK final : public SparseCodec {
 public:
  RandomK(double fraction, std::uint64_t seed) : SparseCodec(fraction), rng_(seed) {}
  std::string name() const override { return fmt::format("randomk:{}", fraction()); }

 protected:
  // The first k of a partial Fisher-Yates shuffle.
  void choose(std::span<const float> values, std::size_t k, std::vector<std::uint32_t>& indices) override {
    indices.resize(values.size());
    std::iota(indices.begin(), indices.end(), 0u);
    for (std::size_t i = 0; i < k; ++i) {
      std::swap(indices[i], indices[i + static_cast<std::size_t>(rng_.below(values.size() - i))]);
    }
    indices.resize(k);
  }

 private:
  Rng rng_;
};

}  // namespace

std::unique_ptr<Codec> make_topk_codec(double fraction) { return std::make_unique<TopK>(fraction); }
std::unique_ptr<Codec> make_randomk_codec(double fraction, std::uint64_t seed) {
  return std::make_unique<RandomK>(fraction, seed);
}

}  // namespace courier
