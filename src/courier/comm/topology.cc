// Gossip graphs as rank arithmetic.
#include "courier/comm/topology.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier {
namespace {

int wrap(int value, int n) { return ((value % n) + n) % n; }

// Distinct ranks other than `rank`, in a stable order.
std::vector<int> others(const std::set<int>& ranks, int rank) {
  std::vector<int> out;
  for (int r : ranks) {
    if (r != rank) out.push_back(r);
  }
  return out;
}

std::vector<int> symmetric_offsets(GossipGraph graph, int n, int degree, std::uint64_t seed) {
  if (graph == GossipGraph::kRing) return {1};
  // Random circulant: k/2 distinct offsets from 1..n/2, drawn the same way on every rank.
  std::vector<int> candidates;
  for (int d = 1; d <= n / 2; ++d) candidates.push_back(d);
  Rng rng(seed);
  rng.shuffle(std::span<int>(candidates));
  const int wanted = std::max(1, std::min(degree, n - 1) / 2);
  candidates.resize(std::min<std::size_t>(candidates.size(), static_cast<std::size_t>(wanted)));
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

}  // namespace

std::string_view gossip_graph_name(GossipGraph graph) {
  switch (graph) {
    case GossipGraph::kRing: return "ring";
    case GossipGraph::kTorus: return "torus";
    case GossipGraph::kRandom: return "random";
    case GossipGraph::kExponential: return "exponential";
  }
  return "unknown";
}

std::optional<GossipGraph> parse_gossip_graph(std::string_view name) {
  for (auto g : {GossipGraph::kRing, GossipGraph::kTorus, GossipGraph::kRandom, GossipGraph::kExponential}) {
    if (gossip_graph_name(g) == name) return g;
  }
  return std::nullopt;
}

Neighbours gossip_neighbours(GossipGraph graph, int world_size, int rank, int degree, std::uint64_t seed) {
  COURIER_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank {} of {}", rank, world_size);
  const int n = world_size;
  std::set<int> peers;
  switch (graph) {
    case GossipGraph::kRing:
    case GossipGraph::kRandom:
      for (int d : symmetric_offsets(graph, n, degree, seed)) {
        peers.insert(wrap(rank + d, n));
        peers.insert(wrap(rank - d, n));
      }
      break;
    case GossipGraph::kTorus: {
      int rows = static_cast<int>(std::sqrt(static_cast<double>(n)));
      while (rows > 1 && n % rows != 0) --rows;
      const int cols = n / rows;
      const int row = rank / cols, col = rank % cols;
      peers.insert(wrap(row + 1, rows) * cols + col);
      peers.insert(wrap(row - 1, rows) * cols + col);
      peers.insert(row * cols + wrap(col + 1, cols));
      peers.insert(row * cols + wrap(col - 1, cols));
      break;
    }
    case GossipGraph::kExponential: {
      Neighbours out;
      std::set<int> to, from;
      for (int step = 1; step < n; step *= 2) {
        to.insert(wrap(rank + step, n));
        from.insert(wrap(rank - step, n));
      }
      out.send_to = others(to, rank);
      out.receive_from = others(from, rank);
      return out;
    }
  }
  std::vector<int> list = others(peers, rank);
  return Neighbours{list, list};
}

}  // namespace courier
