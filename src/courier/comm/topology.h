// Topology: pure rank arithmetic for the graphs strategies talk over. No messages here.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace courier {

enum class GossipGraph {
  kRing,         // r talks to r-1 and r+1
  kTorus,        // a rows x cols grid (as square as n allows) wrapped at the edges: up, down, left, right
  kRandom,       // random k-regular circulant: k/2 offsets drawn from the seed, r talks to r +- each
  kExponential,  // r sends to r + 2^i and hears from r - 2^i, i < log2 n (one-peer exponential graph, all peers)
};
std::string_view gossip_graph_name(GossipGraph graph);
std::optional<GossipGraph> parse_gossip_graph(std::string_view name);  // ring, torus, random, exponential

struct Neighbours {
  std::vector<int> send_to;       // ranks this rank sends its parameters to
  std::vector<int> receive_from;  // ranks it receives from; the mixing averages over these and itself
};

// The neighbours of `rank` in a graph of `world_size` ranks. Undirected graphs have
// send_to == receive_from. Every rank has the same number of in-neighbours, so a uniform
// average over {self} + receive_from mixes doubly stochastically. `degree` is k for kRandom
// (rounded down to even, at most world_size - 1); `seed` picks its offsets (the same on every rank).
Neighbours gossip_neighbours(GossipGraph graph, int world_size, int rank, int degree = 4, std::uint64_t seed = 0);

}  // namespace courier
