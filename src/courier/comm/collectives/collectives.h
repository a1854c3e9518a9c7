// Collectives built on point-to-point messages through a Communicator, one algorithm a file
// in this folder. Every rank of the communicator calls the same collective with the same
// sizes; data is bytes plus a dtype (comm never sees tensors).
//
// All are blocking and return a Status. On failure (a missing peer, a timeout, a damaged
// message) the failing rank sends an abort notice to the other members, whose pending
// collective then fails too, naming the cause, instead of hanging.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "courier/comm/codecs/codec.h"
#include "courier/comm/communicator.h"
#include "courier/comm/reduce.h"

namespace courier {

enum class AllreduceAlgorithm {
  kAuto,             // the selector picks by message size and world size
  kRing,             // reduce-scatter + allgather around a ring: bandwidth-optimal
  kHalvingDoubling,  // recursive halving + doubling (Rabenseifner), with the non-power-of-two fix-up
  kTree,             // reduce up a binary tree, broadcast down it, pipelined by segments
  kMpiNative,        // MPI_Allreduce itself (mpi transport, world communicator only): our baseline
};
std::string_view allreduce_algorithm_name(AllreduceAlgorithm algorithm);  // "ring", "halving-doubling", ...
std::optional<AllreduceAlgorithm> parse_allreduce_algorithm(std::string_view name);

struct CollectiveOptions {
  std::chrono::nanoseconds timeout = std::chrono::seconds(60);  // for the whole collective
  std::uint64_t step = 0;                                         // named in errors and headers
  std::size_t segment_bytes = std::size_t{1} << 20;               // pipelining unit of ring and tree
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
};

// What kAuto picks for `bytes` on `world_size` ranks (exposed for tests and `courier bench`).
AllreduceAlgorithm select_allreduce(std::size_t bytes, int world_size);

// Every rank ends with the elementwise reduction of every rank's `data`.
Status allreduce(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                 const CollectiveOptions& options = {});
// Every rank ends with the same approximate sum of every rank's `data`, every message encoded
// by `codec` (one object a rank and a stream of vectors: error feedback keeps a residual).
// Dense codecs run a ring that decodes, adds and re-encodes at every hop; sparse ones and
// error feedback an allgather of each rank's encoding (allreduce_encoded.cc). Adds to
// `traffic`, if set, the bytes an uncompressed ring would send from this rank and those sent.
Status allreduce_encoded(Communicator& comm, std::span<float> data, Codec& codec, const CollectiveOptions& options = {},
                         CodecTraffic* traffic = nullptr);

// Every rank ends with root's `data`.
Status broadcast(Communicator& comm, MutableByteSpan data, int root, const CollectiveOptions& options = {});
// Root ends with the reduction; other ranks' `data` is used as scratch (left unspecified).
Status reduce(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op, int root,
              const CollectiveOptions& options = {});
// all = the concatenation of every rank's `mine`, in rank order. REQUIRES: all.size() == mine.size() * world.
Status allgather(Communicator& comm, ByteSpan mine, MutableByteSpan all, const CollectiveOptions& options = {});
// Splits `data` into world_size blocks (block_range) and leaves rank r's block reduced over
// all ranks; the rest of `data` is scratch.
Status reduce_scatter(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                      const CollectiveOptions& options = {});
// Returns once every rank has entered.
Status barrier(Communicator& comm, const CollectiveOptions& options = {});

// The elements of block `index` when `count` elements are split into `world_size` blocks:
// the first count % world_size blocks have one element more.
struct ElementRange {
  std::size_t begin = 0;
  std::size_t count = 0;
};
ElementRange block_range(std::size_t count, int world_size, int index);

// Payload bytes a ring allreduce of `count` elements of `element_bytes` sends from `rank`:
// every block but its own, then every block but its right neighbour's.
std::uint64_t ring_allreduce_bytes(std::size_t count, std::size_t element_bytes, int world_size, int rank);

// Typed conveniences.
template <typename T>
DType dtype_of();
template <>
inline DType dtype_of<float>() { return DType::kF32; }
template <>
inline DType dtype_of<double>() { return DType::kF64; }
template <>
inline DType dtype_of<std::int32_t>() { return DType::kI32; }
template <>
inline DType dtype_of<std::int64_t>() { return DType::kI64; }

template <typename T>
Status allreduce(Communicator& comm, std::span<T> data, ReduceOp op, const CollectiveOptions& options = {}) {
  return allreduce(comm, std::as_writable_bytes(data), dtype_of<T>(), op, options);
}

}  // namespace courier
