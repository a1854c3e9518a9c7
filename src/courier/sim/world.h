// World: the nodes of a simulation on a modelled cluster. A node is a coroutine (Task) that
// sends (never blocks: the message queues on its NIC), co_awaits receives and co_awaits
// compute; the World delivers messages through the Network and keeps, per node, the virtual
// time it spent computing, moving data and waiting for others.
//
// Accounting of a receive that blocks from t_wait until the message lands at t_arrive: the
// part before its sender had even sent it (t_sent) is waiting, the rest communication.
//
// When the events run out with nodes still blocked (a crash, a peer that never sends), run()
// fails with a stall report naming every blocked node, whom it waits for and since when.
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "courier/core/status.h"
#include "courier/sim/cluster.h"
#include "courier/sim/delivery_log.h"
#include "courier/sim/engine.h"
#include "courier/sim/faults.h"

namespace courier::sim {

inline constexpr int kAnyNode = -1;

struct Arrival {
  int source = 0;
  std::uint64_t tag = 0;
  std::uint64_t bytes = 0;
  Time sent = 0;
};

struct NodeStats {
  Time compute = 0, communicate = 0, wait = 0;
  std::uint64_t messages_sent = 0, bytes_sent = 0, bytes_received = 0;
};

// The shares of nodes 0..finished.size()-1's time (each up to its finish) spent computing,
// communicating and waiting; zeros when no time passed.
struct Shares {
  double compute = 0, communicate = 0, wait = 0;
};

class World;
Shares shares_of(const World& world, const std::vector<Time>& finished);

class World {
 public:
  // REQUIRES: cluster.nodes >= 1 and check_faults(faults, cluster.nodes) is OK.
  World(ClusterSpec cluster, const std::vector<Fault>& faults, std::uint64_t seed);

  int size() const { return network_.spec().nodes; }
  Engine& engine() { return engine_; }
  Network& network() { return network_; }
  Time now() const { return engine_.now(); }

  // Sends `bytes` from `from` to `to` now. Never blocks.
  void send(int from, int to, std::uint64_t tag, std::uint64_t bytes);

  // co_await world.recv(node, source or kAnyNode, tag) -> Arrival. Messages of one tag from one
  // source are taken in arrival order.
  auto recv(int node, int source, std::uint64_t tag) {
    struct Receive {
      World* world;
      int node, source;
      std::uint64_t tag;
      Time began = 0;
      Arrival arrival;
      bool await_ready() {
        began = world->now();
        return world->take(node, source, tag, arrival);
      }
      void await_suspend(std::coroutine_handle<> h) { world->park(node, source, tag, h, &arrival); }
      Arrival await_resume() {
        world->account_receive(node, began, arrival);
        return arrival;
      }
    };
    return Receive{this, node, source, tag, 0, {}};
  }

  // co_await world.compute(node, duration): the node computes for `duration`, times its
  // slowdown from any `slow` fault.
  auto compute(int node, Time duration) {
    struct Compute {
      World* world;
      int node;
      Time duration;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) { world->start_compute(node, duration, h); }
      void await_resume() const noexcept {}
    };
    return Compute{this, node, duration};
  }

  // Starts `task` as node `node`'s program.
  void spawn(int node, Task task);
  // Runs until no event is left. OK when every spawned task finished; UNAVAILABLE with the
  // stall report when some never can; INTERNAL when a task threw.
  Status run();

  const NodeStats& stats(int node) const { return nodes_[static_cast<std::size_t>(node)].stats; }
  bool crashed(int node) const { return nodes_[static_cast<std::size_t>(node)].crashed; }

  // A 64-bit FNV-1a digest of every delivery (times, ends, tag, size), in delivery order:
  // equal digests mean equal virtual-time traces.
  std::uint64_t trace_digest() const { return log_.digest(); }
  // Keeps every delivery as a line "sent arrived source destination tag bytes" (times in
  // picoseconds) when on; off by default (a 1,024-node ring allreduce delivers 2 million).
  void keep_trace(bool on) { log_.keep_text(on); }
  const std::string& trace_text() const { return log_.text(); }

 private:
  struct Waiter {
    std::coroutine_handle<> handle;
    int source = kAnyNode;
    std::uint64_t tag = 0;
    Arrival* out = nullptr;
    Time since = 0;
  };
  struct Node {
    std::deque<Arrival> mailbox;
    Waiter waiter;
    bool crashed = false;
    Time crashed_at = 0;
    double slow = 1.0;
    NodeStats stats;
    std::vector<std::size_t> tasks;
  };
  bool take(int node, int source, std::uint64_t tag, Arrival& out);
  void park(int node, int source, std::uint64_t tag, std::coroutine_handle<> h, Arrival* out);
  void deliver(int node, Arrival arrival);
  void account_receive(int node, Time began, const Arrival& arrival);
  void start_compute(int node, Time duration, std::coroutine_handle<> h);
  void apply(const Fault& fault);

  Engine engine_;
  Network network_;
  std::vector<Node> nodes_;
  DeliveryLog log_;
};

}  // namespace courier::sim
