// Starting the nodes of a world on inproc threads or as this process's MPI rank.
#include "courier/comm/launch.h"

#include <chrono>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "courier/comm/transport/inproc/inproc_transport.h"
#include "courier/core/logging.h"

namespace courier {
namespace {

Status run_guarded(const std::function<Status(Communicator&)>& node, Communicator& comm) {
  NodeLogScope scope(fmt::format("rank {}", comm.transport().rank()));
  try {
    return node(comm);
  } catch (const std::exception& e) {
    return Status::internal(fmt::format("rank {}: {}", comm.transport().rank(), e.what()));
  }
}

// The in-process world: inproc endpoints, wrapped in the faulty and reliable layers asked for.
struct InprocWorld {
  std::vector<std::unique_ptr<Transport>> endpoints;
  std::vector<const FaultyTransport*> faulty;
  std::vector<const ReliableTransport*> reliable;

  explicit InprocWorld(const LaunchOptions& options) : endpoints(make_inproc_world(options.world_size)) {
    if (options.faults) {
      endpoints = wrap_faulty(std::move(endpoints), [&](int) { return *options.faults; });
      for (auto& e : endpoints) faulty.push_back(static_cast<const FaultyTransport*>(e.get()));
    }
    if (options.reliable) {
      endpoints = wrap_reliable(std::move(endpoints), options.reliable_options);
      for (auto& e : endpoints) reliable.push_back(static_cast<const ReliableTransport*>(e.get()));
    }
  }

  NetworkReport report() const {
    NetworkReport report;
    for (const FaultyTransport* f : faulty) report.injected += f->counts();
    for (const ReliableTransport* r : reliable) report.reliable += r->counts();
    return report;
  }

  // A re-send overtaken by its acknowledgement, or a copy the fault plan held back, may still be
  // in flight when the nodes end: after a run that succeeded, wait a moment for it to land, so
  // that the counts add up.
  NetworkReport settled_report() const {
    constexpr auto kSettleTime = std::chrono::seconds(2);
    const Deadline deadline = Deadline::after(real_clock(), kSettleTime);
    NetworkReport now = report();
    while (!faulty.empty() && !reliable.empty() && !now.settled() && !deadline.expired(real_clock())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      now = report();
    }
    return now;
  }
};

Status first_failure(const std::vector<Status>& results) {
  for (const Status& s : results) {
    if (!s.is_ok()) return s;
  }
  return Status::ok();
}

Status run_sim(const LaunchOptions& options, const std::function<Status(Communicator&)>& node) {
  SimTransportOptions sim = options.sim;
  sim.world_size = options.world_size;
  Result<std::vector<std::unique_ptr<Transport>>> endpoints = make_sim_world(sim);
  if (!endpoints.is_ok()) return endpoints.status();
  const std::vector<Status> results = run_sim_nodes(*endpoints, [&](Transport& transport) {
    Communicator comm(transport, options.communicator);
    return run_guarded(node, comm);
  });
  if (options.sim_report != nullptr) *options.sim_report = static_cast<SimTransport&>(*endpoints->front()).report();
  return first_failure(results);
}

}  // namespace

bool NetworkReport::settled() const {
  return injected.sends + injected.duplicates - injected.drops ==
         reliable.rejected + reliable.duplicates_dropped + reliable.acks_received + reliable.delivered;
}

std::string_view transport_kind_name(TransportKind kind) {
  switch (kind) {
    case TransportKind::kMpi: return "mpi";
    case TransportKind::kSim: return "sim";
    case TransportKind::kInproc: break;
  }
  return "inproc";
}

std::optional<TransportKind> parse_transport_kind(std::string_view name) {
  if (name == "inproc") return TransportKind::kInproc;
  if (name == "mpi") return TransportKind::kMpi;
  if (name == "sim") return TransportKind::kSim;
  return std::nullopt;
}

Status run_nodes(const LaunchOptions& options, const std::function<Status(Communicator&)>& node) {
  if (options.world_size < 1) return Status::invalid_argument("a world needs at least one node");
  if (options.transport == TransportKind::kMpi) {
    Result<std::unique_ptr<MpiTransport>> transport = MpiTransport::create(options.mpi);
    if (!transport.is_ok()) return transport.status();
    if ((*transport)->world_size() != options.world_size) {
      return Status::failed_precondition(
          fmt::format("this job needs {} MPI ranks but mpirun started {}; run it as 'mpirun -n {} courier ...'",
                      options.world_size, (*transport)->world_size(), options.world_size));
    }
    Communicator comm(**transport, options.communicator);
    return run_guarded(node, comm);
  }
  if (options.transport == TransportKind::kSim) return run_sim(options, node);
  InprocWorld world(options);
  std::vector<Status> results(world.endpoints.size());
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < world.endpoints.size(); ++r) {
    threads.emplace_back([&, r] {
      Communicator comm(*world.endpoints[r], options.communicator);
      results[r] = run_guarded(node, comm);
    });
  }
  for (auto& t : threads) t.join();
  const Status status = first_failure(results);
  if (options.network_report != nullptr) {
    *options.network_report = status.is_ok() ? world.settled_report() : world.report();
  }
  return status;
}

}  // namespace courier
