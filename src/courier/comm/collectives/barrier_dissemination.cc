// Dissemination barrier (Hensgen, Finkel, Manber 1988): in round k rank r signals r + 2^k
// and waits for r - 2^k. After ceil(log2 n) rounds every rank has heard, transitively, from
// every other, so none leaves before all have entered. Messages are empty.
#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

Status barrier_dissemination(Communicator& comm, const CollectiveOptions& options) {
  Op run(comm, "barrier", options, DType::kU8, 0);
  const int n = comm.world_size();
  const int r = comm.rank();
  for (int distance = 1; distance < n; distance *= 2) {
    run.send((r + distance) % n, kTagBarrier, ByteSpan{});
    if (Status st = run.receive_into((r - distance + n) % n, kTagBarrier, {}); !st.is_ok()) return st;
  }
  return run.finish_sends();
}

}  // namespace courier::collectives
