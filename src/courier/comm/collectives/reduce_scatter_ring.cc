// Reduce-scatter around a ring, pipelined by segments.
//
// The data is split into n blocks. At step s (0 <= s < n-1) rank r sends block r-s-1 to its
// right neighbour and receives block r-s-2 from its left, reducing it into its own copy; the
// block it receives at step s is the one it sends at step s+1, segment by segment, so a
// segment moves on as soon as it is reduced. After n-1 steps block r is reduced at rank r.
// Cost: n-1 steps, (n-1)/n of the data sent and received by every rank.
#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

Status ring_reduce_scatter_phase(Op& op, MutableByteSpan data, DType dtype, ReduceOp reduce_op, std::uint64_t tag) {
  const Ring ring = ring_of(op, data, dtype);
  if (ring.n == 1) return Status::ok();
  for_each_segment(ring.block(ring.rank - 1), ring.segment,
                   [&](ElementRange piece) { op.send(ring.right, tag, elements(data, dtype, piece)); });
  for (int s = 0; s < ring.n - 1; ++s) {
    const bool forward = s + 1 < ring.n - 1;  // what arrives at step s leaves at step s + 1
    Status status;
    for_each_segment(ring.block(ring.rank - s - 2), ring.segment, [&](ElementRange piece) {
      if (!status.is_ok()) return;
      MutableByteSpan bytes = elements(data, dtype, piece);
      status = op.receive_reduce(ring.left, tag, bytes, reduce_op);
      if (status.is_ok() && forward) op.send(ring.right, tag, bytes);
    });
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

Status reduce_scatter_ring(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                           const CollectiveOptions& options) {
  Op run(comm, "reduce_scatter_ring", options, dtype, data.size());
  if (Status st = ring_reduce_scatter_phase(run, data, dtype, op, kTagReduceScatter); !st.is_ok()) return st;
  if (op == ReduceOp::kAverage) {
    divide_by(elements(data, dtype, block_range(data.size() / dtype_size(dtype), comm.world_size(), comm.rank())),
              dtype, static_cast<std::size_t>(comm.world_size()));
  }
  return run.finish_sends();
}

}  // namespace courier::collectives
