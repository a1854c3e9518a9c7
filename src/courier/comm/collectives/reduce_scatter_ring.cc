// Reduce-scatter around a ring, pipelined by segments.
//
// The data is split into n blocks. At step s (0 <= s < n-1) rank r sends block r-s-1 to its
// right neighbour and receives block r-s-2 from its left, reducing it into its own copy; the
// block it receives at step s is the one it sends at step s+1, segment by segment, so a
// segment moves on as soon as it is reduced. After n-1 steps block r is reduced at rank r.
// Cost: n-1 steps, (n-1)/n of the data sent and received by every rank.
#include "courier/comm/collectives/detail.h"

namespace courier::collectives {
namespace {

int wrap(int value, int n) { return ((value % n) + n) % n; }

template <typename F>
void for_each_segment(ElementRange range, std::size_t segment, F f) {
  for (std::size_t offset = 0; offset < range.count; offset += segment) {
    f(ElementRange{range.begin + offset, std::min(segment, range.count - offset)});
  }
}

}  // namespace

Status ring_reduce_scatter_phase(Op& op, MutableByteSpan data, DType dtype, ReduceOp reduce_op, std::uint64_t tag) {
  Communicator& comm = op.comm();
  const int n = comm.world_size();
  const int r = comm.rank();
  if (n == 1) return Status::ok();
  const std::size_t count = data.size() / dtype_size(dtype);
  const std::size_t segment = segment_elements(op.options(), dtype);
  const int right = wrap(r + 1, n);
  const int left = wrap(r - 1, n);
  auto block = [&](int index) { return block_range(count, n, wrap(index, n)); };

  for_each_segment(block(r - 1), segment, [&](ElementRange piece) { op.send(right, tag, elements(data, dtype, piece)); });
  for (int s = 0; s < n - 1; ++s) {
    const ElementRange incoming = block(r - s - 2);
    for (std::size_t offset = 0; offset < incoming.count; offset += segment) {
      const ElementRange piece{incoming.begin + offset, std::min(segment, incoming.count - offset)};
      MutableByteSpan bytes = elements(data, dtype, piece);
      if (Status st = op.receive_reduce(left, tag, bytes, reduce_op); !st.is_ok()) return st;
      if (s + 1 < n - 1) op.send(right, tag, bytes);
    }
  }
  return Status::ok();
}

Status reduce_scatter_ring(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                           const CollectiveOptions& options) {
  Op run(comm, "reduce_scatter_ring", options, dtype);
  if (Status st = ring_reduce_scatter_phase(run, data, dtype, op, kTagReduceScatter); !st.is_ok()) return st;
  if (op == ReduceOp::kAverage) {
    divide_by(elements(data, dtype, block_range(data.size() / dtype_size(dtype), comm.world_size(), comm.rank())),
              dtype, static_cast<std::size_t>(comm.world_size()));
  }
  return run.finish_sends();
}

}  // namespace courier::collectives
