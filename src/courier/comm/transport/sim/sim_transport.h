// The sim transport: real nodes (collectives, strategies, the trainer) exchange real payloads
// over the modelled cluster of courier::sim, in virtual time.
//
// Scheduling model. One node thread runs at a time: the threads hand a baton to one another
// through the fabric's scheduler, which runs the discrete-event engine while nobody holds it.
// Every transport call (send, recv, cancel, a handle's wait) is a scheduling point: the caller
// is charged its compute since it last got the baton (real elapsed time x compute_scale, x a
// slow:N fault's factor), which puts it at virtual time t; it gives the baton back and resumes
// when the engine reaches t, so its operation enters the network at t, ordered with every
// other event by (time, order of scheduling). compute_scale = 0 makes compute free and the run
// a pure function of its inputs and seed: same virtual times, same deliveries, same bytes.
//
// Messages carry their payloads (copied at send; the send completes there) and take
// payload bytes + kHeaderBytes through sim::Network::transfer; per-pair order survives loss.
//
// Deadlines. A wait whose deadline has already passed is a poll (it returns at once, done or
// not); any later deadline is ignored: nothing in virtual time depends on real time, and a
// wait that can never complete is found by stall detection instead. When no node can run and
// no event is left, every blocked wait fails with UNAVAILABLE naming the waiting rank, whom it
// waits for (source, tag), the chain of waits to the rank that ended, crashed or closed, and
// the virtual time. A node whose thread returned (detach) blocks nobody.
//
// Thread safety: each endpoint is driven by its node's thread only (attach() binds it). A node
// must not block outside the transport (a condition variable another thread of its rank would
// signal): the scheduler cannot see it. Strategies therefore run without helper threads here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "courier/comm/transport/transport.h"
#include "courier/core/status.h"
#include "courier/sim/cluster.h"
#include "courier/sim/faults.h"

namespace courier {

struct SimTransportOptions {
  int world_size = 1;
  sim::ClusterSpec cluster;        // its node count is set to world_size
  std::vector<sim::Fault> faults;  // sim/faults.h
  std::uint64_t seed = 0;          // the network's loss draws
  double compute_scale = 1.0;      // virtual time a node's compute costs per real second; 0: free
  bool keep_trace = false;         // keep the text of every delivery (SimReport::trace)
};

// Checks the options (world size, compute scale, faults naming nodes of the world).
Status check_sim_options(const SimTransportOptions& options);

struct SimNodeReport {
  sim::Time compute = 0;      // charged for the node's own work
  sim::Time communicate = 0;  // blocked in wait() while the awaited message was on the way
  sim::Time wait = 0;         // blocked before the awaited message was even sent (or forever)
  sim::Time end = 0;          // the node's virtual time when it ended
};

struct SimReport {
  sim::Time end = 0;  // the virtual time when the last node ended
  std::vector<SimNodeReport> nodes;
  sim::NetworkStats network;
  std::uint64_t deliveries = 0;
  std::uint64_t trace_digest = 0;  // FNV-1a over (sent, delivered, source, destination, tag, bytes)
  std::string trace;               // one line a delivery, when keep_trace
};

class SimFabric;

class SimTransport final : public Transport {
 public:
  SimTransport(std::shared_ptr<SimFabric> fabric, int rank);
  ~SimTransport() override;

  int rank() const override { return rank_; }
  int world_size() const override;
  std::string_view name() const override { return "sim"; }
  SendHandle send(int destination, MessageHeader header, Payload payload) override;
  RecvHandle recv(int source, std::uint64_t tag) override;
  void close() override;

  // Binds the calling thread to this rank and blocks until it is the rank's turn (virtual time
  // 0). REQUIRES: called once, before any other call; every rank of the world attaches.
  void attach();
  // The node ended: it gives the baton back for good. Its later calls fail.
  void detach();
  // The world's report so far (complete once every node detached).
  SimReport report() const;

 private:
  std::shared_ptr<SimFabric> fabric_;
  int rank_;
};

// One endpoint a rank of a new simulated world sharing one engine and network.
Result<std::vector<std::unique_ptr<Transport>>> make_sim_world(const SimTransportOptions& options);

// Runs node(endpoint) for every endpoint of a sim world, each on its own thread (attached,
// and detached when it returns; an exception becomes INTERNAL naming the rank). Returns every
// rank's status. REQUIRES: the endpoints of one make_sim_world, none attached yet.
std::vector<Status> run_sim_nodes(std::vector<std::unique_ptr<Transport>>& endpoints,
                                  const std::function<Status(Transport&)>& node);

}  // namespace courier
