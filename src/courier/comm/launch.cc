// Starting the nodes of a world on inproc threads or as this process's MPI rank.
#include "courier/comm/launch.h"

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
  std::vector<std::unique_ptr<Transport>> endpoints = make_inproc_world(options.world_size);
  std::vector<Status> results(endpoints.size());
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < endpoints.size(); ++r) {
    threads.emplace_back([&, r] {
      Communicator comm(*endpoints[r], options.communicator);
      results[r] = run_guarded(node, comm);
    });
  }
  for (auto& t : threads) t.join();
  return first_failure(results);
}

}  // namespace courier
