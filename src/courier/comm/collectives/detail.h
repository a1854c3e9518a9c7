// Shared machinery of the collective algorithms (internal to comm/collectives).
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "courier/comm/collectives/collectives.h"

namespace courier::collectives {

// Runtime tags, above the user range; one per algorithm so different collectives never match.
inline constexpr std::uint64_t kTagBroadcast = kUserTagLimit + 1;
inline constexpr std::uint64_t kTagReduce = kUserTagLimit + 2;
inline constexpr std::uint64_t kTagAllreduceRing = kUserTagLimit + 3;
inline constexpr std::uint64_t kTagAllreduceHalvingDoubling = kUserTagLimit + 4;
inline constexpr std::uint64_t kTagAllreduceTree = kUserTagLimit + 5;
inline constexpr std::uint64_t kTagAllgather = kUserTagLimit + 6;
inline constexpr std::uint64_t kTagReduceScatter = kUserTagLimit + 7;
inline constexpr std::uint64_t kTagBarrier = kUserTagLimit + 8;
inline constexpr std::uint64_t kTagAllreduceCompressed = kUserTagLimit + 9;

// One running collective: the communicator, its name for errors, its deadline.
class Op {
 public:
  // `bytes`: the caller's data (a rank's part for an allgather). With the communicator's call
  // number they make the operation's fingerprint, "allreduce_ring #3 of 4096 bytes f32", which
  // names it in every error, so a stall between ranks in different collectives names both.
  Op(Communicator& comm, std::string_view name, const CollectiveOptions& options, DType dtype, std::size_t bytes);
  ~Op();  // withdraws sends still pending after a failure
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  Communicator& comm() { return comm_; }
  const Communicator& comm() const { return comm_; }
  const OpContext& context() const { return context_; }
  const CollectiveOptions& options() const { return options_; }

  // A non-blocking send of part of the caller's buffer (lent, not copied); tracked until finish_sends().
  void send(int peer, std::uint64_t tag, ByteSpan bytes);
  // A non-blocking send of an encoding the message takes over (or lent, as a span).
  void send(int peer, std::uint64_t tag, std::vector<std::byte> bytes, const SendInfo& info);
  void send(int peer, std::uint64_t tag, ByteSpan bytes, const SendInfo& info);
  // Blocking receives of exactly dst.size() bytes: copied into dst, or reduced into it.
  Status receive_into(int peer, std::uint64_t tag, MutableByteSpan dst);
  Status receive_reduce(int peer, std::uint64_t tag, MutableByteSpan dst, ReduceOp op);
  // A blocking receive of a message of any size (an encoding, whose decoder checks it).
  Result<Message> receive_message(int peer, std::uint64_t tag);
  // Waits for every tracked send: afterwards the caller may modify what it sent.
  Status finish_sends();

  // A failure found by the collective itself (a size mismatch): fails the communicator, tells
  // the other members, and returns it.
  Status fail(Status status);

 private:
  Result<Message> receive(int peer, std::uint64_t tag, std::size_t expected_bytes);

  struct PendingSend {
    SendHandle handle;
    int peer;
  };
  Communicator& comm_;
  std::string name_;
  OpContext context_;
  CollectiveOptions options_;
  DType dtype_;
  Deadline deadline_;
  std::vector<PendingSend> sends_;
};

// Elements per pipelining segment for `dtype`: at least one.
std::size_t segment_elements(const CollectiveOptions& options, DType dtype);

// Calls f(piece) for consecutive pieces of at most `segment` elements covering `range`.
template <typename F>
void for_each_segment(ElementRange range, std::size_t segment, F f) {
  for (std::size_t offset = 0; offset < range.count; offset += segment) {
    f(ElementRange{range.begin + offset, std::min(segment, range.count - offset)});
  }
}

// The neighbours and blocks of this rank on the ring 0 -> 1 -> ... -> n-1 -> 0.
struct Ring {
  int n, rank, right, left;
  std::size_t count;    // elements in the whole buffer
  std::size_t segment;  // elements a message
  // Block `index` (taken modulo n) of the buffer, split as block_range does.
  ElementRange block(int index) const { return block_range(count, n, ((index % n) + n) % n); }
};
Ring ring_of(const Op& op, ByteSpan data, DType dtype);

// Byte view of elements [range.begin, range.begin + range.count) of data.
inline MutableByteSpan elements(MutableByteSpan data, DType dtype, ElementRange range) {
  const std::size_t size = dtype_size(dtype);
  return data.subspan(range.begin * size, range.count * size);
}

// The algorithms, one a file; allreduce() and friends dispatch to them.
Status allreduce_ring(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op, const CollectiveOptions& options);
Status allreduce_halving_doubling(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                                  const CollectiveOptions& options);
Status allreduce_tree(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op, const CollectiveOptions& options);
Status broadcast_binomial(Communicator& comm, MutableByteSpan data, int root, const CollectiveOptions& options);
Status reduce_binomial(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op, int root,
                       const CollectiveOptions& options);
Status allgather_ring(Communicator& comm, ByteSpan mine, MutableByteSpan all, const CollectiveOptions& options);
Status reduce_scatter_ring(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                           const CollectiveOptions& options);
Status barrier_dissemination(Communicator& comm, const CollectiveOptions& options);
Status allreduce_encoded(Communicator& comm, std::span<float> data, Codec& codec, const CollectiveOptions& options,
                         CodecTraffic* traffic);

// The ring phases over blocks of `data` split as block_range does; used by allreduce_ring,
// reduce_scatter_ring and the allgather. After reduce_scatter, rank r's block r is reduced;
// allgather then spreads every rank's own block r to everyone.
Status ring_reduce_scatter_phase(Op& op, MutableByteSpan data, DType dtype, ReduceOp reduce_op, std::uint64_t tag);
Status ring_allgather_phase(Op& op, MutableByteSpan data, DType dtype, std::uint64_t tag);

}  // namespace courier::collectives
