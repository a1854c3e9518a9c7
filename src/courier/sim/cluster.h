// The modelled cluster: nodes with a full-duplex NIC, links with a bandwidth and a latency,
// wired as one switch, a two-level fat tree or a ring; and Network, which moves messages
// across it in virtual time.
//
// Link model. A link is a FIFO server: a message holds it for bytes / bandwidth, and its head
// reaches the far end `latency` after it starts. A message crosses the links of its path cut-
// through: it starts on the next link once its head arrives there and the link is free, and
// cannot finish there before it has finished on the link before. Links are reserved when the
// message is injected, in injection order. So n uncontended messages on disjoint paths take
// latency + bytes / bandwidth each, two through one NIC take twice the serialisation, and a
// fat tree's uplinks are shared by every message that leaves its leaf.
//
// Fabrics (--cluster):
//   switch        every node's NIC to one non-blocking switch; the end-to-end latency is the
//                 link's (half on the way up, half on the way down).
//   fattree:K[:O] leaves of K nodes under one spine; a leaf's uplink carries K x link / O
//                 (O, the oversubscription, 1 by default); crossing leaves adds a latency.
//   ring          node i wired to i-1 and i+1 only; a message hops the short way round, one
//                 link latency a hop.
//
// Loss: a message is lost with probability 1 - (1 - loss)^hops; the sender's transport
// re-sends it after a retransmission timeout (a reliable transport over a lossy network), so
// loss shows up as delay and is counted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "courier/core/rng.h"
#include "courier/core/status.h"
#include "courier/sim/engine.h"

namespace courier::sim {

struct LinkSpec {
  double bits_per_second = 25e9;
  Time latency = from_seconds(5e-6);
  double loss = 0.0;  // per link crossed
};

// "25Gbps,5us", "100Gbps,2us,loss=0.001", "800Mbps,50us". Units: bps/Kbps/Mbps/Gbps/Tbps
// (also GB/s and MB/s, bytes), latency ns/us/ms/s.
Result<LinkSpec> parse_link(std::string_view text);
// "5us", "1.5 ms", "20ns", "2s" into `out`; false when it is not a duration.
bool parse_duration(std::string_view text, Time& out);
std::string describe(const LinkSpec& link);

enum class Fabric : std::uint8_t { kSwitch, kFatTree, kRing };

struct ClusterSpec {
  int nodes = 1;
  LinkSpec link;
  Fabric fabric = Fabric::kSwitch;
  int leaf_size = 16;             // fat tree: nodes a leaf
  double oversubscription = 1.0;  // fat tree: leaf downlink capacity over uplink capacity
};

// "switch", "fattree:16", "fattree:16:4", "ring".
Status parse_fabric(std::string_view text, ClusterSpec& spec);
std::string describe(const ClusterSpec& spec);

struct LinkStats {
  std::string name;  // "node 3 up", "leaf 1 up", "node 3 -> 4"
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  Time busy = 0;
};

struct NetworkStats {
  std::uint64_t messages = 0, bytes = 0;
  std::uint64_t lost = 0;          // copies lost and re-sent
  std::uint64_t undeliverable = 0;  // to or from a crashed node, or across a partition that never healed
};

class Network {
 public:
  // REQUIRES: spec.nodes >= 1; a fat tree's leaf_size >= 1.
  Network(Engine& engine, ClusterSpec spec, std::uint64_t seed);

  const ClusterSpec& spec() const { return spec_; }

  // Moves `bytes` from `source` to `destination`, starting now; `delivered` runs at the
  // arrival of its last byte. A message to oneself arrives at once.
  void transfer(int source, int destination, std::uint64_t bytes, std::function<void()> delivered);

  // Faults. Links of a crashed node drop everything from now on.
  void crash(int node);
  bool crashed(int node) const { return crashed_[static_cast<std::size_t>(node)]; }
  // Multiplies a node's NIC serialisation time (both directions) by `factor` from now on.
  void slow_nic(int node, double factor);
  // Until `heal` (kNever: for good), messages between the two sides are lost.
  void partition(std::vector<int> side, Time heal);
  void set_loss(double loss) { spec_.link.loss = loss; }

  const std::vector<LinkStats>& links() const { return stats_; }
  const NetworkStats& stats() const { return totals_; }
  // Uncontended delivery time of `bytes` between two nodes of the same leaf.
  Time ideal_time(std::uint64_t bytes) const;

 private:
  struct Link {
    double picos_per_byte;
    Time latency;
    Time free_at = 0;
    double slow = 1.0;
  };
  void route(int source, int destination, std::vector<int>& path) const;
  bool cut(int source, int destination) const;
  void attempt(int source, int destination, std::uint64_t bytes, std::function<void()> delivered);

  Engine* engine_;
  ClusterSpec spec_;
  Rng rng_;
  std::vector<Link> links_;
  std::vector<LinkStats> stats_;
  NetworkStats totals_;
  std::vector<bool> crashed_;
  std::vector<int> side_;  // partition side of each node (0 when none)
  Time partition_heal_ = 0;
  std::vector<int> path_;  // scratch
};

}  // namespace courier::sim
