// run_nodes: runs a node function on every rank of a world, whatever the transport. On
// inproc every rank is a thread of this process; on mpi this process is one rank (mpirun
// started the others) and runs only its own node. Strategies, demos and benchmarks start
// their nodes through this, so the same node code runs on both.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "courier/comm/communicator.h"
#include "courier/comm/transport/mpi/mpi_transport.h"
#include "courier/core/status.h"

namespace courier {

enum class TransportKind { kInproc, kMpi };
std::string_view transport_kind_name(TransportKind kind);
std::optional<TransportKind> parse_transport_kind(std::string_view name);  // "inproc", "mpi"

struct LaunchOptions {
  TransportKind transport = TransportKind::kInproc;
  int world_size = 1;       // inproc: the number of threads; mpi: must equal mpirun's -n
  CommunicatorOptions communicator;
  MpiOptions mpi;
};

// Calls node(comm) for every local rank and returns OK when every local node did, or the
// failure of the lowest failing rank. Exceptions thrown by a node become INTERNAL statuses
// naming the rank. On mpi, a world size that differs from mpirun's is FAILED_PRECONDITION.
Status run_nodes(const LaunchOptions& options, const std::function<Status(Communicator&)>& node);

}  // namespace courier
