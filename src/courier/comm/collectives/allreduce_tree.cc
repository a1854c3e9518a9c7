// Binary-tree allreduce: reduce up the tree rooted at rank 0 (children of r are 2r+1 and
// 2r+2), then broadcast down it. Both phases are pipelined by segments, so every level works
// at once on different segments. Cost: 2 log2 n levels of latency, each interior rank
// receiving twice and sending three times the data: it suits small worlds and small messages.
#include <vector>

#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

Status allreduce_tree(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                      const CollectiveOptions& options) {
  Op run(comm, "allreduce_tree", options, dtype, data.size());
  const int n = comm.world_size();
  const int r = comm.rank();
  if (n == 1) return Status::ok();
  const std::uint64_t tag = kTagAllreduceTree;
  const std::size_t count = data.size() / dtype_size(dtype);
  const std::size_t segment = segment_elements(options, dtype);
  std::vector<int> children;
  for (int child : {2 * r + 1, 2 * r + 2}) {
    if (child < n) children.push_back(child);
  }
  const int parent = (r - 1) / 2;

  for (std::size_t offset = 0; offset < count; offset += segment) {
    MutableByteSpan piece = elements(data, dtype, {offset, std::min(segment, count - offset)});
    for (int child : children) {
      if (Status st = run.receive_reduce(child, tag, piece, op); !st.is_ok()) return st;
    }
    if (r != 0) run.send(parent, tag, piece);
  }
  // The broadcast overwrites what was lent to the parent.
  if (Status st = run.finish_sends(); !st.is_ok()) return st;
  for (std::size_t offset = 0; offset < count; offset += segment) {
    MutableByteSpan piece = elements(data, dtype, {offset, std::min(segment, count - offset)});
    if (r != 0) {
      if (Status st = run.receive_into(parent, tag, piece); !st.is_ok()) return st;
    } else if (op == ReduceOp::kAverage) {
      divide_by(piece, dtype, static_cast<std::size_t>(n));
    }
    for (int child : children) run.send(child, tag, piece);
  }
  return run.finish_sends();
}

}  // namespace courier::collectives
