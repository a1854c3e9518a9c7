// Sparse codecs: k of n elements as (u32 index, f32 value) pairs, indices increasing, after
// u32 n and u32 k; the rest decode as 0. top-k keeps the largest magnitudes, random-k a uniform sample.
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

class SparseCodec : public Codec {
 public:
  explicit SparseCodec(double fraction) : fraction_(fraction) {
    COURIER_CHECK(fraction_ > 0.0 && fraction_ <= 1.0, "sparse codec fraction {} outside (0, 1]", fraction_);
  }
  // A kept element is exact, a dropped one decodes as 0: |decoded - x| <= |x|.
  ErrorBound bound() const override { return {.relative = 1.0}; }

  void encode(std::span<const float> values, std::vector<std::byte>& out) override {
    const std::size_t n = values.size();
    const auto wanted = static_cast<std::size_t>(std::ceil(fraction_ * static_cast<double>(n)));
    const std::size_t k = n == 0 ? 0 : std::clamp<std::size_t>(wanted, 1, n);
    choose(values, k, indices_);
    std::sort(indices_.begin(), indices_.end());
    out.clear();
    out.reserve(8 + 8 * k);
    codec_wire::put<std::uint32_t>(out, static_cast<std::uint32_t>(n));
    codec_wire::put<std::uint32_t>(out, static_cast<std::uint32_t>(k));
    for (std::uint32_t i : indices_) {
      codec_wire::put<std::uint32_t>(out, i);
      codec_wire::put<float>(out, values[i]);
    }
  }

  Status decode(std::span<const std::byte> bytes, std::span<float> out) const override {
    if (bytes.size() < 8) {
      return Status::data_loss(fmt::format("{} codec: {} bytes hold no counts", name(), bytes.size()));
    }
    const auto n = codec_wire::get<std::uint32_t>(bytes, 0);
    const auto k = codec_wire::get<std::uint32_t>(bytes, 4);
    if (n != out.size() || k > n || bytes.size() != 8 + 8 * static_cast<std::size_t>(k)) {
      return Status::data_loss(fmt::format("{} codec: {} of {} values in {} bytes, decoding into {}", name(), k, n,
                                           bytes.size(), out.size()));
    }
    std::fill(out.begin(), out.end(), 0.0f);
    std::int64_t previous = -1;
    for (std::size_t j = 0; j < k; ++j) {
      const auto index = codec_wire::get<std::uint32_t>(bytes, 8 + 8 * j);
      if (index >= out.size() || static_cast<std::int64_t>(index) <= previous) {
        return Status::data_loss(fmt::format("{} codec: index {} (pair {}) out of order or outside [0, {})", name(),
                                             index, j, out.size()));
      }
      out[index] = codec_wire::get<float>(bytes, 12 + 8 * j);
      previous = index;
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
