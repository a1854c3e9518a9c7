// Workloads: the collectives' and strategies' message patterns as coroutines.
#include "courier/sim/workloads.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier::sim {
namespace {

// Block b of `bytes` split in n (the first bytes % n blocks one byte longer).
std::uint64_t block_bytes(std::uint64_t bytes, int n, int b) {
  const auto un = static_cast<std::uint64_t>(n);
  return bytes / un + (static_cast<std::uint64_t>(b) < bytes % un ? 1 : 0);
}

int mod(int a, int n) { return ((a % n) + n) % n; }

Task ring_allreduce(World& w, int node, int n, std::uint64_t bytes, std::uint64_t tag) {
  const int right = (node + 1) % n, left = (node + n - 1) % n;
  // Reduce-scatter: at step s send block node-s, receive block node-s-1 and add it.
  for (int s = 0; s < n - 1; ++s) {
    w.send(node, right, tag + static_cast<std::uint64_t>(s), block_bytes(bytes, n, mod(node - s, n)));
    co_await w.recv(node, left, tag + static_cast<std::uint64_t>(s));
  }
  // Allgather: pass the reduced blocks round.
  for (int s = 0; s < n - 1; ++s) {
    const std::uint64_t t = tag + static_cast<std::uint64_t>(n + s);
    w.send(node, right, t, block_bytes(bytes, n, mod(node + 1 - s, n)));
    co_await w.recv(node, left, t);
  }
}

Task halving_doubling_allreduce(World& w, int node, int n, std::uint64_t bytes, std::uint64_t tag) {
  const int p = static_cast<int>(std::bit_floor(static_cast<unsigned>(n)));
  const int rem = n - p;
  // Fix-up: among the first 2 rem nodes, the even ones hand their data to the odd one above.
  int new_rank = node;
  if (node < 2 * rem) {
    if (node % 2 == 0) {
      w.send(node, node + 1, tag, bytes);
      co_await w.recv(node, node + 1, tag + 1);
      co_return;
    }
    co_await w.recv(node, node - 1, tag);
    new_rank = node / 2;
  } else {
    new_rank = node - rem;
  }
  const auto real = [&](int r) { return r < rem ? 2 * r + 1 : r + rem; };
  // Recursive halving: keep half of the current range, send the other half.
  std::uint64_t lo = 0, hi = bytes;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> kept;
  std::uint64_t t = tag + 2;
  for (int mask = p / 2; mask >= 1; mask /= 2, ++t) {
    const int partner = real(new_rank ^ mask);
    const std::uint64_t mid = lo + (hi - lo) / 2;
    const bool lower = (new_rank & mask) == 0;
    kept.emplace_back(lo, hi);
    w.send(node, partner, t, lower ? hi - mid : mid - lo);
    co_await w.recv(node, partner, t);
    if (lower) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  // Recursive doubling: the rounds in reverse, exchanging what each side owns.
  for (int mask = 1; mask < p; mask *= 2, ++t) {
    const int partner = real(new_rank ^ mask);
    w.send(node, partner, t, hi - lo);
    co_await w.recv(node, partner, t);
    std::tie(lo, hi) = kept.back();
    kept.pop_back();
  }
  if (node < 2 * rem) w.send(node, node - 1, tag + 1, bytes);
}

Task tree_allreduce(World& w, int node, int n, std::uint64_t bytes, std::uint64_t tag) {
  // Binomial reduce to node 0, then binomial broadcast from it.
  int mask = 1;
  for (; mask < n; mask *= 2) {
    if (node & mask) {
      w.send(node, node - mask, tag, bytes);
      break;
    }
    if (node + mask < n) co_await w.recv(node, node + mask, tag);
  }
  if (node != 0) co_await w.recv(node, node - (node & -node), tag + 1);
  for (mask = (node == 0 ? static_cast<int>(std::bit_ceil(static_cast<unsigned>(n))) : (node & -node)) / 2;
       mask >= 1; mask /= 2) {
    if (node + mask < n) w.send(node, node + mask, tag + 1, bytes);
  }
}

}  // namespace

std::string_view algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kRing: return "ring";
    case Algorithm::kHalvingDoubling: return "halving-doubling";
    case Algorithm::kTree: return "tree";
  }
  return "?";
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
  if (name == "ring") return Algorithm::kRing;
  if (name == "halving-doubling") return Algorithm::kHalvingDoubling;
  if (name == "tree") return Algorithm::kTree;
  return std::nullopt;
}

Task allreduce(World& world, int node, int n, std::uint64_t bytes, Algorithm algorithm, std::uint64_t tag) {
  if (n <= 1) co_return;
  switch (algorithm) {
    case Algorithm::kRing: co_await ring_allreduce(world, node, n, bytes, tag); break;
    case Algorithm::kHalvingDoubling: co_await halving_doubling_allreduce(world, node, n, bytes, tag); break;
    case Algorithm::kTree: co_await tree_allreduce(world, node, n, bytes, tag); break;
  }
}

Task allgather(World& w, int node, int n, std::uint64_t bytes_each, std::uint64_t tag) {
  const int right = (node + 1) % n, left = (node + n - 1) % n;
  for (int s = 0; s < n - 1; ++s) {
    w.send(node, right, tag + static_cast<std::uint64_t>(s), bytes_each);
    co_await w.recv(node, left, tag + static_cast<std::uint64_t>(s));
  }
}

Time closed_form(Algorithm algorithm, int n, std::uint64_t bytes, const LinkSpec& link) {
  if (n <= 1) return 0;
  const double alpha = static_cast<double>(link.latency);
  const double beta = 8.0 * static_cast<double>(kPicosPerSecond) / link.bits_per_second;  // picoseconds a byte
  const double s = static_cast<double>(bytes), dn = n;
  switch (algorithm) {
    case Algorithm::kRing: return static_cast<Time>(2 * (dn - 1) * alpha + 2 * (dn - 1) / dn * s * beta);
    case Algorithm::kHalvingDoubling:
      return static_cast<Time>(2 * std::log2(dn) * alpha + 2 * (dn - 1) / dn * s * beta);
    case Algorithm::kTree: return static_cast<Time>(2 * std::ceil(std::log2(dn)) * (alpha + s * beta));
  }
  return 0;
}

namespace {

RunTotals totals_of(World& w) {
  RunTotals t;
  t.time = w.now();
  t.network = w.network().stats();
  for (const LinkStats& l : w.network().links()) t.busiest_link_bytes = std::max(t.busiest_link_bytes, l.bytes);
  t.events = w.engine().events_run();
  t.digest = w.trace_digest();
  return t;
}

}  // namespace

Result<RunTotals> simulate_allreduce(const ClusterSpec& cluster, Algorithm algorithm, std::uint64_t bytes,
                                     const std::vector<Fault>& faults, std::uint64_t seed) {
  if (Status s = check_faults(faults, cluster.nodes); !s.is_ok()) return s;
  World world(cluster, faults, seed);
  for (int i = 0; i < cluster.nodes; ++i) world.spawn(i, allreduce(world, i, cluster.nodes, bytes, algorithm, 0));
  if (Status s = world.run(); !s.is_ok()) return s;
  return totals_of(world);
}

std::string_view strategy_name(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kAllreduce: return "allreduce";
    case StrategyKind::kParameterServer: return "ps";
    case StrategyKind::kGossip: return "gossip";
    case StrategyKind::kLocalSgd: return "local-sgd";
  }
  return "?";
}

int nodes_needed(const TrainingPlan& plan) {
  return plan.workers + (plan.strategy == StrategyKind::kParameterServer ? plan.servers : 0);
}

namespace {

constexpr std::uint64_t kStepTagShift = 24;  // a step's collective tags stay below 2^24
constexpr std::uint64_t kTagPush = 1, kTagPull = 2;

std::uint64_t step_tag(int step) { return static_cast<std::uint64_t>(step + 1) << kStepTagShift; }

// Splits `bytes` over `shards` like the parameter server's shards (the first ones a byte longer).
std::uint64_t shard_bytes(std::uint64_t bytes, int shards, int s) { return block_bytes(bytes, shards, s); }

Task exchange(World& w, int node, const TrainingPlan& plan, int step) {
  if (plan.sparse) {
    co_await allgather(w, node, plan.workers, plan.encoded_bytes, step_tag(step));
  } else {
    co_await allreduce(w, node, plan.workers, plan.encoded_bytes, plan.algorithm, step_tag(step));
  }
}

Task worker(World& w, int node, const TrainingPlan& plan, std::uint64_t seed, Time& finished) {
  const int n = plan.workers;
  Rng rng(seed, /*stream=*/0x636f6d70000000ull + static_cast<std::uint64_t>(node));
  const std::vector<Time>& samples = plan.compute_samples;
  for (int step = 0; step < plan.steps; ++step) {
    co_await w.compute(node, samples.empty() ? plan.compute : samples[rng.below(samples.size())]);
    switch (plan.strategy) {
      case StrategyKind::kAllreduce: co_await exchange(w, node, plan, step); break;
      case StrategyKind::kLocalSgd:
        if ((step + 1) % plan.local_steps == 0 || step + 1 == plan.steps) co_await exchange(w, node, plan, step);
        break;
      case StrategyKind::kGossip: {
        // Ring gossip, as GossipStrategy's default graph: parameters to both neighbours.
        if (n == 1) break;
        const int right = (node + 1) % n, left = (node + n - 1) % n;
        w.send(node, right, step_tag(step), plan.encoded_bytes);
        if (left != right) w.send(node, left, step_tag(step), plan.encoded_bytes);
        co_await w.recv(node, left, step_tag(step));
        if (left != right) co_await w.recv(node, right, step_tag(step));
        break;
      }
      case StrategyKind::kParameterServer: {
        for (int s = 0; s < plan.servers; ++s) {
          w.send(node, n + s, kTagPush, shard_bytes(plan.encoded_bytes, plan.servers, s));
        }
        for (int s = 0; s < plan.servers; ++s) co_await w.recv(node, n + s, kTagPull);
        break;
      }
    }
  }
  finished = w.now();
}

// A parameter-server shard: answers a worker's push of clock c with the pull once every
// worker has pushed clock c - staleness (BSP: staleness 0; ASP: at once).
Task server(World& w, int node, const TrainingPlan& plan) {
  const int n = plan.workers;
  const int shard = node - n;
  const std::uint64_t bytes = shard_bytes(plan.encoded_bytes, plan.servers, shard);
  std::vector<int> clock(static_cast<std::size_t>(n), 0);   // pushes received from each worker
  std::vector<int> answered(static_cast<std::size_t>(n), 0);
  const auto release = [&] {
    const int slowest = *std::min_element(clock.begin(), clock.end());
    for (int r = 0; r < n; ++r) {
      auto& a = answered[static_cast<std::size_t>(r)];
      while (a < clock[static_cast<std::size_t>(r)] && (plan.staleness < 0 || slowest >= a + 1 - plan.staleness)) {
        w.send(node, r, kTagPull, bytes);
        ++a;
      }
    }
  };
  for (int received = 0; received < n * plan.steps; ++received) {
    const Arrival push = co_await w.recv(node, kAnyNode, kTagPush);
    ++clock[static_cast<std::size_t>(push.source)];
    release();
  }
}

}  // namespace

Result<TrainingReport> simulate_training(const TrainingPlan& plan, const ClusterSpec& cluster,
                                         const std::vector<Fault>& faults, std::uint64_t seed) {
  COURIER_CHECK_EQ(cluster.nodes, nodes_needed(plan));
  if (plan.workers < 1 || plan.steps < 1 || plan.servers < 1 || plan.local_steps < 1) {
    return Status::invalid_argument("a simulated run needs at least one worker, server, step and local step");
  }
  if (Status s = check_faults(faults, cluster.nodes); !s.is_ok()) return s;
  World world(cluster, faults, seed);
  std::vector<Time> finished(static_cast<std::size_t>(plan.workers), 0);
  for (int i = 0; i < plan.workers; ++i) world.spawn(i, worker(world, i, plan, seed, finished[static_cast<std::size_t>(i)]));
  if (plan.strategy == StrategyKind::kParameterServer) {
    for (int s = 0; s < plan.servers; ++s) world.spawn(plan.workers + s, server(world, plan.workers + s, plan));
  }
  if (Status s = world.run(); !s.is_ok()) return s;

  TrainingReport report;
  report.totals = totals_of(world);
  const Time end = *std::max_element(finished.begin(), finished.end());
  report.step = end / plan.steps;
  const Shares shares = shares_of(world, finished);
  report.compute_share = shares.compute;
  report.communicate_share = shares.communicate;
  report.wait_share = shares.wait;
  report.efficiency = report.step > 0 ? static_cast<double>(plan.compute) / static_cast<double>(report.step) : 1.0;
  std::uint64_t used = 0, sum = 0;
  for (const LinkStats& l : world.network().links()) {
    if (l.bytes == 0) continue;
    ++used;
    sum += l.bytes;
  }
  const auto steps = static_cast<std::uint64_t>(plan.steps);
  report.link_bytes_max = report.totals.busiest_link_bytes / steps;
  report.link_bytes_mean = used > 0 ? sum / used / steps : 0;
  return report;
}

}  // namespace courier::sim
