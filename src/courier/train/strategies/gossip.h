// Gossip (decentralised SGD, as D-PSGD): after each local step a worker averages its
// parameters with those of its neighbours on a graph (comm/topology.h) and nothing else; no
// global synchronisation, no central node. Replicas differ a little at any moment; finish()
// takes one global average so the model reported is the consensus.
//
// With a codec (dist.codec) the exchange is CHOCO-gossip (Koloskova, Stich and Jaggi, 2019):
// every worker keeps a public copy x̂ of its parameters, which its neighbours keep too; it
// sends the encoded difference q = C(x - x̂), and everyone holding x̂ adds decode(q). Then
// x += gamma (sum over neighbours of x̂_j - x̂_i) / (1 + neighbours), gamma the consensus step. What one round drops stays in
// x - x̂ and goes out in a later one; with the identity codec this is plain gossip.
#pragma once

#include <functional>
#include <vector>

#include "courier/comm/collectives/collectives.h"
#include "courier/comm/topology.h"
#include "courier/train/strategies/strategy.h"

namespace courier {

struct GossipOptions {
  GossipGraph graph = GossipGraph::kRing;
  int degree = 4;          // for the random graph
  std::uint64_t seed = 0;  // for the random graph
  std::chrono::nanoseconds timeout = std::chrono::minutes(2);
  CollectiveOptions collective;  // the final average
  CompressionOptions compression;
  float consensus_step = 1.0f;  // CHOCO's gamma, with a codec
};

class GossipStrategy final : public Strategy {
 public:
  GossipStrategy(Communicator& workers, GossipOptions options);

  std::string describe() const override;
  Status start(Parameters& params, Optimizer& optimizer) override;
  Status finish_step(Parameters& params, Optimizer& optimizer) override;
  Status finish(Parameters& params, Optimizer& optimizer) override;

 private:
  Status exchange_compressed(std::span<float> values);
  // Receives this step's message from every neighbour in receive_from order, handing each to
  // take(neighbour index, message); counts the time as waiting.
  Status receive_each(const Deadline& deadline, const std::function<Status(std::size_t, const Message&)>& take);

  GossipOptions options_;
  Neighbours neighbours_;
  std::vector<float> mixed_;
  std::unique_ptr<Codec> codec_;
  std::vector<float> public_mine_;                // x̂ of this worker
  std::vector<std::vector<float>> public_theirs_;  // x̂ of each neighbour received from
  std::vector<float> decoded_;
};

}  // namespace courier
