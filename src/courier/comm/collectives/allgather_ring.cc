// Allgather around a ring, pipelined by segments.
//
// Rank r starts with block r. At step s (0 <= s < n-1) it sends block r-s to its right
// neighbour and receives block r-s-1 from its left; what arrives at step s leaves at step
// s+1, segment by segment. Cost: n-1 steps, (n-1)/n of the data received by every rank.
#include <cstring>

#include <fmt/format.h>

#include "courier/comm/collectives/detail.h"

namespace courier::collectives {
namespace {

int wrap(int value, int n) { return ((value % n) + n) % n; }

}  // namespace

Status ring_allgather_phase(Op& op, MutableByteSpan data, DType dtype, std::uint64_t tag) {
  Communicator& comm = op.comm();
  const int n = comm.world_size();
  const int r = comm.rank();
  if (n == 1) return Status::ok();
  const std::size_t count = data.size() / dtype_size(dtype);
  const std::size_t segment = segment_elements(op.options(), dtype);
  const int right = wrap(r + 1, n);
  const int left = wrap(r - 1, n);
  auto block = [&](int index) { return block_range(count, n, wrap(index, n)); };

  const ElementRange own = block(r);
  for (std::size_t offset = 0; offset < own.count; offset += segment) {
    op.send(right, tag, elements(data, dtype, {own.begin + offset, std::min(segment, own.count - offset)}));
  }
  for (int s = 0; s < n - 1; ++s) {
    const ElementRange incoming = block(r - s - 1);
    for (std::size_t offset = 0; offset < incoming.count; offset += segment) {
      MutableByteSpan bytes =
          elements(data, dtype, {incoming.begin + offset, std::min(segment, incoming.count - offset)});
      if (Status st = op.receive_into(left, tag, bytes); !st.is_ok()) return st;
      if (s + 1 < n - 1) op.send(right, tag, bytes);
    }
  }
  return Status::ok();
}

Status allgather_ring(Communicator& comm, ByteSpan mine, MutableByteSpan all, const CollectiveOptions& options) {
  COURIER_CHECK_EQ(all.size(), mine.size() * static_cast<std::size_t>(comm.world_size()),
                   "allgather output must hold world_size inputs");
  Op run(comm, "allgather_ring", options);
  if (!mine.empty()) std::memcpy(all.data() + mine.size() * static_cast<std::size_t>(comm.rank()), mine.data(), mine.size());
  if (Status st = ring_allgather_phase(run, all, DType::kU8, kTagAllgather); !st.is_ok()) return st;
  return run.finish_sends();
}

}  // namespace courier::collectives
