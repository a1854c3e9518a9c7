// The public collective entry points: argument checks, the algorithm selector, dispatch.
#include "courier/comm/collectives/collectives.h"

#include <fmt/format.h>

#include "courier/comm/collectives/detail.h"
#include "courier/core/check.h"

namespace courier {
namespace {

// Below this many bytes latency dominates and the log-round algorithm wins; above it the
// bandwidth-optimal ring does (measured with `courier bench allreduce`).
constexpr std::size_t kSmallMessageBytes = 64 * 1024;

void check_elements(MutableByteSpan data, DType dtype, std::string_view op) {
  COURIER_CHECK_EQ(data.size() % dtype_size(dtype), 0u, "{}: {} bytes is not a whole number of {} elements", op,
                   data.size(), dtype_name(dtype));
}

void check_root(const Communicator& comm, int root) {
  COURIER_CHECK(root >= 0 && root < comm.world_size(), "root {} outside a group of {}", root, comm.world_size());
}

}  // namespace

std::string_view allreduce_algorithm_name(AllreduceAlgorithm algorithm) {
  switch (algorithm) {
    case AllreduceAlgorithm::kAuto: return "auto";
    case AllreduceAlgorithm::kRing: return "ring";
    case AllreduceAlgorithm::kHalvingDoubling: return "halving-doubling";
    case AllreduceAlgorithm::kTree: return "tree";
    case AllreduceAlgorithm::kMpiNative: return "mpi-native";
  }
  return "unknown";
}

std::optional<AllreduceAlgorithm> parse_allreduce_algorithm(std::string_view name) {
  for (auto a : {AllreduceAlgorithm::kAuto, AllreduceAlgorithm::kRing, AllreduceAlgorithm::kHalvingDoubling,
                 AllreduceAlgorithm::kTree, AllreduceAlgorithm::kMpiNative}) {
    if (allreduce_algorithm_name(a) == name) return a;
  }
  if (name == "hd" || name == "rabenseifner") return AllreduceAlgorithm::kHalvingDoubling;
  return std::nullopt;
}

AllreduceAlgorithm select_allreduce(std::size_t bytes, int world_size) {
  if (world_size <= 2 || bytes >= kSmallMessageBytes) return AllreduceAlgorithm::kRing;
  return AllreduceAlgorithm::kHalvingDoubling;
}

ElementRange block_range(std::size_t count, int world_size, int index) {
  COURIER_CHECK(world_size > 0 && index >= 0 && index < world_size, "block {} of {}", index, world_size);
  const auto n = static_cast<std::size_t>(world_size);
  const auto i = static_cast<std::size_t>(index);
  const std::size_t base = count / n;
  const std::size_t extra = count % n;
  return {i * base + std::min(i, extra), base + (i < extra ? 1 : 0)};
}

Status allreduce(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op, const CollectiveOptions& options) {
  check_elements(data, dtype, "allreduce");
  AllreduceAlgorithm algorithm = options.algorithm;
  if (algorithm == AllreduceAlgorithm::kAuto) algorithm = select_allreduce(data.size(), comm.world_size());
  switch (algorithm) {
    case AllreduceAlgorithm::kRing: return collectives::allreduce_ring(comm, data, dtype, op, options);
    case AllreduceAlgorithm::kHalvingDoubling:
      return collectives::allreduce_halving_doubling(comm, data, dtype, op, options);
    case AllreduceAlgorithm::kTree: return collectives::allreduce_tree(comm, data, dtype, op, options);
    case AllreduceAlgorithm::kMpiNative:
      if (comm.world_size() != comm.transport().world_size()) {
        return Status::unimplemented("mpi-native allreduce runs on the world communicator only, not on a group");
      }
      return comm.transport().native_allreduce(data, dtype, static_cast<int>(op),
                                               Deadline::after(real_clock(), options.timeout));
    case AllreduceAlgorithm::kAuto: break;
  }
  return Status::internal("allreduce: no algorithm selected");
}

Status broadcast(Communicator& comm, MutableByteSpan data, int root, const CollectiveOptions& options) {
  check_root(comm, root);
  return collectives::broadcast_binomial(comm, data, root, options);
}

Status reduce(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op, int root,
              const CollectiveOptions& options) {
  check_elements(data, dtype, "reduce");
  check_root(comm, root);
  return collectives::reduce_binomial(comm, data, dtype, op, root, options);
}

std::uint64_t ring_allreduce_bytes(std::size_t count, std::size_t element_bytes, int world_size, int rank) {
  if (world_size == 1) return 0;
  const std::size_t skipped =
      block_range(count, world_size, rank).count + block_range(count, world_size, (rank + 1) % world_size).count;
  return (2 * count - skipped) * element_bytes;
}

Status allreduce_encoded(Communicator& comm, std::span<float> data, Codec& codec, const CollectiveOptions& options,
                         CodecTraffic* traffic) {
  return collectives::allreduce_encoded(comm, data, codec, options, traffic);
}

Status allgather(Communicator& comm, ByteSpan mine, MutableByteSpan all, const CollectiveOptions& options) {
  return collectives::allgather_ring(comm, mine, all, options);
}

Status reduce_scatter(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                      const CollectiveOptions& options) {
  check_elements(data, dtype, "reduce_scatter");
  return collectives::reduce_scatter_ring(comm, data, dtype, op, options);
}

Status barrier(Communicator& comm, const CollectiveOptions& options) {
  return collectives::barrier_dissemination(comm, options);
}

}  // namespace courier
