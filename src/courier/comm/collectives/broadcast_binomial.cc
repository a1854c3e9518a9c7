// Binomial-tree broadcast, pipelined by segments. Ranks are renumbered relative to the root
// (v = r - root mod n). Rank v receives from v minus its lowest set bit and forwards to
// v + 2^k for every 2^k below that bit. Cost: ceil(log2 n) rounds; every rank receives the
// data once, the root sends it ceil(log2 n) times.
#include <vector>

#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

// The parent (or -1 for the root) and the children, in send order, of rank `r` in the
// binomial tree of `n` ranks rooted at `root`. Shared with reduce_binomial.
void binomial_tree(int n, int root, int r, int& parent, std::vector<int>& children) {
  const int v = ((r - root) % n + n) % n;
  parent = -1;
  children.clear();
  int mask = 1;
  while (mask < n) {
    if ((v & mask) != 0) {
      parent = ((v - mask) + root) % n;
      break;
    }
    mask <<= 1;
  }
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (v + mask < n) children.push_back((v + mask + root) % n);
  }
}

Status broadcast_binomial(Communicator& comm, MutableByteSpan data, int root, const CollectiveOptions& options) {
  Op run(comm, "broadcast_binomial", options, DType::kU8, data.size());
  const int n = comm.world_size();
  if (n == 1) return Status::ok();
  int parent = -1;
  std::vector<int> children;
  binomial_tree(n, root, comm.rank(), parent, children);
  const std::size_t segment = std::max<std::size_t>(1, options.segment_bytes);
  for (std::size_t offset = 0; offset < data.size(); offset += segment) {
    MutableByteSpan piece = data.subspan(offset, std::min(segment, data.size() - offset));
    if (parent >= 0) {
      if (Status st = run.receive_into(parent, kTagBroadcast, piece); !st.is_ok()) return st;
    }
    for (int child : children) run.send(child, kTagBroadcast, piece);
  }
  return run.finish_sends();
}

}  // namespace courier::collectives
