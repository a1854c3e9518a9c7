// Workloads: what the nodes of a simulation do. The collectives send the same messages, in the
// same order and with the same sizes, as their implementations in comm/collectives (ring,
// recursive halving-doubling, binomial tree), but carry only sizes, never payloads: a
// 1,024-node ring allreduce of 100 MB needs no 100 GB. The training loops put a step's
// compute between them, as the strategies of train/strategies do.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "courier/core/status.h"
#include "courier/sim/cluster.h"
#include "courier/sim/engine.h"
#include "courier/sim/faults.h"
#include "courier/sim/world.h"

namespace courier::sim {

enum class Algorithm : std::uint8_t { kRing, kHalvingDoubling, kTree };
std::string_view algorithm_name(Algorithm algorithm);
std::optional<Algorithm> parse_algorithm(std::string_view name);  // "ring", "halving-doubling", "tree"

// Node `node`'s part in an allreduce of `bytes` among nodes 0..n-1. Tags tag..tag+2n.
Task allreduce(World& world, int node, int n, std::uint64_t bytes, Algorithm algorithm, std::uint64_t tag);
// Node `node`'s part in a ring allgather of `bytes_each` from every node of 0..n-1 (how sparse
// payloads, which do not add up, are exchanged).
Task allgather(World& world, int node, int n, std::uint64_t bytes_each, std::uint64_t tag);

// The textbook times on an uncontended network, alpha the latency and beta the time a byte:
// ring 2(n-1) alpha + 2 (n-1)/n S beta; halving-doubling (n a power of two)
// 2 log2(n) alpha + 2 (n-1)/n S beta; tree 2 ceil(log2 n) (alpha + S beta).
Time closed_form(Algorithm algorithm, int n, std::uint64_t bytes, const LinkSpec& link);

struct RunTotals {
  Time time = 0;               // virtual time until the last node finished
  NetworkStats network;
  std::uint64_t busiest_link_bytes = 0;
  std::uint64_t events = 0;
  std::uint64_t digest = 0;    // World::trace_digest()
};

// One allreduce among cluster.nodes nodes.
Result<RunTotals> simulate_allreduce(const ClusterSpec& cluster, Algorithm algorithm, std::uint64_t bytes,
                                     const std::vector<Fault>& faults, std::uint64_t seed);

enum class StrategyKind : std::uint8_t { kAllreduce, kParameterServer, kGossip, kLocalSgd };
std::string_view strategy_name(StrategyKind kind);

// One worker's step, and how a strategy moves it.
struct TrainingPlan {
  StrategyKind strategy = StrategyKind::kAllreduce;
  int workers = 1;
  int servers = 1;        // parameter server shards (nodes workers..workers+servers-1)
  int staleness = 0;      // parameter server: 0 BSP, s > 0 SSP, negative ASP
  int local_steps = 8;    // local SGD: an allreduce every local_steps steps
  Algorithm algorithm = Algorithm::kRing;
  int steps = 10;
  Time compute = 0;                   // forward and backward of one worker's batch
  // When not empty, each worker's every step draws its compute from these (seeded, a stream a
  // worker): measured steps carry the jitter that makes synchronous workers wait for the
  // slowest. `compute` is then their mean.
  std::vector<Time> compute_samples;
  std::uint64_t gradient_bytes = 0;   // the dense gradient (or, for gossip, the parameters)
  std::uint64_t encoded_bytes = 0;    // what the codec sends in its place; = gradient_bytes without one
  bool sparse = false;                // encoded payloads do not add up (top-k): allgathered, not reduced
};

struct TrainingReport {
  RunTotals totals;
  Time step = 0;                    // mean step time
  double compute_share = 0, communicate_share = 0, wait_share = 0;  // of the workers' time
  double efficiency = 0;            // one worker's mean step (compute alone) over this step time
  std::uint64_t link_bytes_max = 0;   // a step, on the busiest link
  std::uint64_t link_bytes_mean = 0;  // a step, over the links that carried anything
};

// The nodes the plan needs: workers, plus the servers for a parameter server.
int nodes_needed(const TrainingPlan& plan);
// REQUIRES: cluster.nodes == nodes_needed(plan).
Result<TrainingReport> simulate_training(const TrainingPlan& plan, const ClusterSpec& cluster,
                                         const std::vector<Fault>& faults, std::uint64_t seed);

}  // namespace courier::sim
