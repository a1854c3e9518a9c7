// Allgather around a ring, pipelined by segments.
//
// Rank r starts with block r. At step s (0 <= s < n-1) it sends block r-s to its right
// neighbour and receives block r-s-1 from its left; what arrives at step s leaves at step
// s+1, segment by segment. Cost: n-1 steps, (n-1)/n of the data received by every rank.
#include <cstring>


#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

Status ring_allgather_phase(Op& op, MutableByteSpan data, DType dtype, std::uint64_t tag) {
  const Ring ring = ring_of(op, data, dtype);
  if (ring.n == 1) return Status::ok();
  for_each_segment(ring.block(ring.rank), ring.segment,
                   [&](ElementRange piece) { op.send(ring.right, tag, elements(data, dtype, piece)); });
  for (int s = 0; s < ring.n - 1; ++s) {
    const bool forward = s + 1 < ring.n - 1;  // what arrives at step s leaves at step s + 1
    Status status;
    for_each_segment(ring.block(ring.rank - s - 1), ring.segment, [&](ElementRange piece) {
      if (!status.is_ok()) return;
      MutableByteSpan bytes = elements(data, dtype, piece);
      status = op.receive_into(ring.left, tag, bytes);
      if (status.is_ok() && forward) op.send(ring.right, tag, bytes);
    });
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

Status allgather_ring(Communicator& comm, ByteSpan mine, MutableByteSpan all, const CollectiveOptions& options) {
  COURIER_CHECK_EQ(all.size(), mine.size() * static_cast<std::size_t>(comm.world_size()),
                   "allgather output must hold world_size inputs");
  Op run(comm, "allgather_ring", options, DType::kU8, mine.size());
  if (!mine.empty()) std::memcpy(all.data() + mine.size() * static_cast<std::size_t>(comm.rank()), mine.data(), mine.size());
  if (Status st = ring_allgather_phase(run, all, DType::kU8, kTagAllgather); !st.is_ok()) return st;
  return run.finish_sends();
}

}  // namespace courier::collectives
