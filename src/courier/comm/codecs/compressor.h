// GradientCompressor: how one stream of float vectors (a gradient bucket, a model delta) is
// summed over the ranks of a communicator in fewer bytes. Either a codec inside an
// allreduce (allreduce_encoded: a ring for dense codecs, an allgather for sparse ones and
// error feedback), or PowerSGD, which is no codec: it sends two small factors of every
// matrix through two plain allreduces (powersgd.h).
//
// One compressor a rank and a stream: error feedback and PowerSGD keep per-stream state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "courier/comm/codecs/codec.h"
#include "courier/comm/collectives/collectives.h"

namespace courier {

// A 2-D parameter inside a vector: elements [offset, offset + rows * cols), row-major.
struct MatrixRange {
  std::size_t offset = 0;
  std::size_t rows = 0;
  std::size_t cols = 0;
};

class GradientCompressor {
 public:
  virtual ~GradientCompressor() = default;
  virtual std::string name() const = 0;
  // Every rank calls it with a vector of the stream's length; each ends with the same
  // (approximate) sum. Adds to `traffic` the bytes an uncompressed ring would send and those sent.
  virtual Status allreduce(Communicator& comm, std::span<float> data, const CollectiveOptions& options,
                           CodecTraffic& traffic) = 0;
};

// `spec`: a codec (make_codec's grammar: "int8", "topk:0.01+ef") or "powersgd:R" (rank R >= 1,
// with error feedback, as its authors run it). `matrices`: the 2-D parameters in the stream's
// vectors (PowerSGD compresses those and sends the rest as it is; codecs ignore them).
// `seed` must be the same on every rank (PowerSGD's initial factors); `rank` decorrelates the
// ranks' stochastic rounding. INVALID_ARGUMENT naming the spec and the choices.
Result<std::unique_ptr<GradientCompressor>> make_gradient_compressor(std::string_view spec,
                                                                     std::vector<MatrixRange> matrices,
                                                                     std::uint64_t seed, int rank);

// The seed of `rank`'s stochastic codecs (int8's rounding, random-k) from the run's seed:
// different streams on different ranks, so their rounding errors do not add up alike.
std::uint64_t codec_seed(std::uint64_t seed, int rank);

// Whether `spec` is well formed, for a config check before any node starts.
Status check_compression_spec(std::string_view spec);
bool is_powersgd_spec(std::string_view spec);

}  // namespace courier
