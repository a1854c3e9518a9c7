// World: mailboxes, accounting, faults and the stall report.
#include "courier/sim/world.h"

#include <algorithm>
#include <exception>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier::sim {

World::World(ClusterSpec cluster, const std::vector<Fault>& faults, std::uint64_t seed)
    : network_(engine_, cluster, seed), nodes_(static_cast<std::size_t>(cluster.nodes)) {
  COURIER_CHECK(check_faults(faults, cluster.nodes).is_ok(), "a fault names a node outside the cluster");
  for (const Fault& fault : faults) {
    engine_.at(fault.at, [this, fault] { apply(fault); });
  }
}

void World::apply(const Fault& fault) {
  switch (fault.kind) {
    case Fault::Kind::kCrash: {
      Node& node = nodes_[static_cast<std::size_t>(fault.node)];
      node.crashed = true;
      node.crashed_at = now();
      network_.crash(fault.node);
      break;
    }
    case Fault::Kind::kSlowNode: nodes_[static_cast<std::size_t>(fault.node)].slow = fault.factor; break;
    case Fault::Kind::kSlowNic: network_.slow_nic(fault.node, fault.factor); break;
    case Fault::Kind::kPartition: {
      std::vector<int> side;
      for (int i = fault.node; i <= fault.last; ++i) side.push_back(i);
      network_.partition(std::move(side), fault.until);
      break;
    }
    case Fault::Kind::kLoss: network_.set_loss(fault.factor); break;
  }
}

void World::send(int from, int to, std::uint64_t tag, std::uint64_t bytes) {
  Node& sender = nodes_[static_cast<std::size_t>(from)];
  if (sender.crashed) return;
  ++sender.stats.messages_sent;
  sender.stats.bytes_sent += bytes;
  Arrival arrival{from, tag, bytes, now()};
  network_.transfer(from, to, bytes, [this, to, arrival] { deliver(to, arrival); });
}

void World::deliver(int to, Arrival arrival) {
  Node& node = nodes_[static_cast<std::size_t>(to)];
  if (node.crashed) return;
  log_.record(arrival.sent, now(), static_cast<std::uint64_t>(arrival.source), static_cast<std::uint64_t>(to),
              arrival.tag, arrival.bytes);
  node.stats.bytes_received += arrival.bytes;
  Waiter& w = node.waiter;
  if (w.handle && (w.source == kAnyNode || w.source == arrival.source) && w.tag == arrival.tag) {
    *w.out = arrival;
    std::coroutine_handle<> h = std::exchange(w.handle, {});
    h.resume();
    return;
  }
  node.mailbox.push_back(arrival);
}

bool World::take(int node_index, int source, std::uint64_t tag, Arrival& out) {
  std::deque<Arrival>& mailbox = nodes_[static_cast<std::size_t>(node_index)].mailbox;
  const auto it = std::find_if(mailbox.begin(), mailbox.end(), [&](const Arrival& a) {
    return (source == kAnyNode || a.source == source) && a.tag == tag;
  });
  if (it == mailbox.end()) return false;
  out = *it;
  mailbox.erase(it);
  return true;
}

void World::park(int node_index, int source, std::uint64_t tag, std::coroutine_handle<> h, Arrival* out) {
  Waiter& w = nodes_[static_cast<std::size_t>(node_index)].waiter;
  COURIER_CHECK(!w.handle, "a simulated node waits for two receives at once");
  w = Waiter{h, source, tag, out, now()};
}

void World::account_receive(int node_index, Time began, const Arrival& arrival) {
  NodeStats& s = nodes_[static_cast<std::size_t>(node_index)].stats;
  const Time blocked = now() - began;
  if (blocked <= 0) return;
  const Time waited = std::clamp(arrival.sent - began, Time{0}, blocked);
  s.wait += waited;
  s.communicate += blocked - waited;
}

void World::start_compute(int node_index, Time duration, std::coroutine_handle<> h) {
  Node& node = nodes_[static_cast<std::size_t>(node_index)];
  const Time scaled = static_cast<Time>(static_cast<double>(duration) * node.slow);
  node.stats.compute += scaled;
  engine_.at(now() + scaled, [this, node_index, h] {
    if (!nodes_[static_cast<std::size_t>(node_index)].crashed) h.resume();
  });
}

void World::spawn(int node, Task task) {
  nodes_[static_cast<std::size_t>(node)].tasks.push_back(engine_.spawn(std::move(task)));
}

Status World::run() {
  engine_.run();
  std::vector<std::string> blocked;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    for (std::size_t t : node.tasks) {
      const Task& task = engine_.task(t);
      if (task.error()) {
        try {
          std::rethrow_exception(task.error());
        } catch (const std::exception& e) {
          return Status::internal(fmt::format("simulated node {} failed: {}", i, e.what()));
        }
      }
      if (task.finished()) continue;
      if (node.crashed) {
        blocked.push_back(fmt::format("node {} crashed at {}", i, format_time(node.crashed_at)));
      } else if (node.waiter.handle) {
        const std::string from =
            node.waiter.source == kAnyNode ? "any node" : fmt::format("node {}", node.waiter.source);
        const bool gone = node.waiter.source != kAnyNode && nodes_[static_cast<std::size_t>(node.waiter.source)].crashed;
        blocked.push_back(fmt::format("node {} waits for a message from {}{} (tag {:#x}) since {}", i, from,
                                      gone ? ", which crashed" : "", node.waiter.tag, format_time(node.waiter.since)));
      } else {
        blocked.push_back(fmt::format("node {} never finished", i));
      }
    }
  }
  if (blocked.empty()) return Status::ok();
  constexpr std::size_t kShown = 12;
  std::string report;
  for (std::size_t i = 0; i < std::min(blocked.size(), kShown); ++i) report += "\n  " + blocked[i];
  if (blocked.size() > kShown) report += fmt::format("\n  ... and {} more", blocked.size() - kShown);
  return Status::unavailable(fmt::format("the simulation stalled at {} with {} nodes unable to go on:{}",
                                         format_time(now()), blocked.size(), report));
}

Shares shares_of(const World& world, const std::vector<Time>& finished) {
  double compute = 0, communicate = 0, wait = 0, total = 0;
  for (std::size_t i = 0; i < finished.size(); ++i) {
    const NodeStats& s = world.stats(static_cast<int>(i));
    compute += static_cast<double>(s.compute);
    communicate += static_cast<double>(s.communicate);
    wait += static_cast<double>(s.wait);
    total += static_cast<double>(finished[i]);
  }
  if (total <= 0) return {};
  return Shares{compute / total, communicate / total, wait / total};
}

}  // namespace courier::sim
