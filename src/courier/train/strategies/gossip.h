// Gossip (decentralised SGD, as D-PSGD): after each local step a worker averages its
// parameters with those of its neighbours on a graph (comm/topology.h) and nothing else; no
// global synchronisation, no central node. Replicas differ a little at any moment; finish()
// takes one global average so the model reported is the consensus.
#pragma once

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
};

class GossipStrategy final : public Strategy {
 public:
  GossipStrategy(Communicator& workers, GossipOptions options);

  std::string describe() const override;
  Status start(Parameters& params, Optimizer& optimizer) override;
  Status finish_step(Parameters& params, Optimizer& optimizer) override;
  Status finish(Parameters& params, Optimizer& optimizer) override;

 private:
  GossipOptions options_;
  Neighbours neighbours_;
  std::vector<float> mixed_;
};

}  // namespace courier
