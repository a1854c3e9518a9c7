// Ring allreduce = ring reduce-scatter, then ring allgather (Patarasuk and Yuan 2009; the
// algorithm Horovod and NCCL made standard). Bandwidth-optimal: every rank sends and
// receives 2(n-1)/n of the data in 2(n-1) steps, pipelined by segments.
#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

Status allreduce_ring(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                      const CollectiveOptions& options) {
  Op run(comm, "allreduce_ring", options, dtype, data.size());
  const int n = comm.world_size();
  if (Status st = ring_reduce_scatter_phase(run, data, dtype, op, kTagAllreduceRing); !st.is_ok()) return st;
  if (op == ReduceOp::kAverage) {
    divide_by(elements(data, dtype, block_range(data.size() / dtype_size(dtype), n, comm.rank())), dtype,
              static_cast<std::size_t>(n));
  }
  // The allgather overwrites blocks this rank lent to its neighbour during the reduce-scatter.
  if (Status st = run.finish_sends(); !st.is_ok()) return st;
  if (Status st = ring_allgather_phase(run, data, dtype, kTagAllreduceRing); !st.is_ok()) return st;
  return run.finish_sends();
}

}  // namespace courier::collectives
