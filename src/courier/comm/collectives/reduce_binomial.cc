// Binomial-tree reduce, pipelined by segments: the broadcast tree run backwards. Every rank
// reduces its children's segments into its own data and passes the result to its parent.
// Cost: ceil(log2 n) rounds; non-root data is used as the accumulator.
#include <vector>

#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

void binomial_tree(int n, int root, int r, int& parent, std::vector<int>& children);

Status reduce_binomial(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op, int root,
                       const CollectiveOptions& options) {
  Op run(comm, "reduce_binomial", options, dtype, data.size());
  const int n = comm.world_size();
  if (n > 1) {
    int parent = -1;
    std::vector<int> children;
    binomial_tree(n, root, comm.rank(), parent, children);
    const std::size_t count = data.size() / dtype_size(dtype);
    const std::size_t segment = segment_elements(options, dtype);
    for (std::size_t offset = 0; offset < count; offset += segment) {
      MutableByteSpan piece = elements(data, dtype, {offset, std::min(segment, count - offset)});
      // Children in reverse send order: the nearest subtree finishes first.
      for (auto child = children.rbegin(); child != children.rend(); ++child) {
        if (Status st = run.receive_reduce(*child, kTagReduce, piece, op); !st.is_ok()) return st;
      }
      if (parent >= 0) run.send(parent, kTagReduce, piece);
    }
    if (Status st = run.finish_sends(); !st.is_ok()) return st;
  }
  if (op == ReduceOp::kAverage && comm.rank() == root) divide_by(data, dtype, static_cast<std::size_t>(n));
  return Status::ok();
}

}  // namespace courier::collectives
