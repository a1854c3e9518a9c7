// run_nodes: runs a node function on every rank of a world, whatever the transport. On
// inproc every rank is a thread of this process; on mpi this process is one rank (mpirun
// started the others) and runs only its own node; on sim every rank is a thread too, the
// threads taking turns in virtual time over a modelled cluster (transport/sim/sim_transport.h). Strategies, demos and benchmarks start
// their nodes through this, so the same node code runs on both.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "courier/comm/communicator.h"
#include "courier/comm/transport/faulty/faulty_transport.h"
#include "courier/comm/transport/mpi/mpi_transport.h"
#include "courier/comm/transport/reliable/reliable_transport.h"
#include "courier/comm/transport/sim/sim_transport.h"
#include "courier/core/status.h"

namespace courier {

enum class TransportKind { kInproc, kMpi, kSim };
std::string_view transport_kind_name(TransportKind kind);
std::optional<TransportKind> parse_transport_kind(std::string_view name);  // "inproc", "mpi", "sim"

// What the network did to an in-process run, summed over its ranks.
struct NetworkReport {
  FaultyTransport::Counts injected;    // all zero without a fault plan
  ReliableTransport::Counts reliable;  // all zero without reliable delivery

  // With both layers: every frame the faulty layers were given (plus their duplicates, less
  // their drops) has reached a receive thread, which rejected it, dropped it as a duplicate, took
  // it as an acknowledgement or delivered it. True at rest, false while frames are in flight.
  bool settled() const;
};

struct LaunchOptions {
  TransportKind transport = TransportKind::kInproc;
  int world_size = 1;       // inproc, sim: the number of threads; mpi: must equal mpirun's -n
  CommunicatorOptions communicator;
  MpiOptions mpi;
  SimTransportOptions sim;  // its world_size is set to world_size
  SimReport* sim_report = nullptr;  // sim: filled in after the run (also a failed one) when set
  // inproc: faults injected into every rank's sends (transport/faulty), when set.
  std::optional<FaultPlan> faults;
  // inproc: acknowledgements and re-sends under the communicators (transport/reliable), so lost
  // and damaged messages are repaired instead of failing the run.
  bool reliable = false;
  ReliableOptions reliable_options;
  NetworkReport* network_report = nullptr;  // inproc: filled in after the run (also a failed one) when set
};

// Calls node(comm) for every local rank and returns OK when every local node did, or the
// failure of the lowest failing rank. Exceptions thrown by a node become INTERNAL statuses
// naming the rank. On mpi, a world size that differs from mpirun's is FAILED_PRECONDITION.
Status run_nodes(const LaunchOptions& options, const std::function<Status(Communicator&)>& node);

}  // namespace courier
