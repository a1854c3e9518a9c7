// Neighbour averaging after every local step.
#include "courier/train/strategies/gossip.h"

#include <chrono>
#include <cstring>

#include <fmt/format.h>

namespace courier {
namespace {

constexpr std::uint64_t kTagGossip = 201;

}  // namespace

GossipStrategy::GossipStrategy(Communicator& workers, GossipOptions options)
    : Strategy(workers), options_(options),
      neighbours_(gossip_neighbours(options.graph, workers.world_size(), workers.rank(), options.degree, options.seed)) {}

std::string GossipStrategy::describe() const {
  return fmt::format("gossip over {} workers on a {} graph ({} neighbours each)", comm_.world_size(),
                     gossip_graph_name(options_.graph), neighbours_.receive_from.size());
}

Status GossipStrategy::start(Parameters& params, Optimizer&) {
  mixed_.resize(static_cast<std::size_t>(params.numel()));
  return broadcast(comm_, std::as_writable_bytes(params.values().span()), 0, options_.collective);
}

// Local step, then theta = (theta + sum of the neighbours' theta) / (1 + neighbours).
Status GossipStrategy::finish_step(Parameters& params, Optimizer& optimizer) {
  std::span<float> values = params.values().span();
  optimizer.step(values, params.grads().span(), step_.lr);
  if (neighbours_.receive_from.empty()) return Status::ok();
  std::vector<SendHandle> sends;
  for (int peer : neighbours_.send_to) {
    sends.push_back(comm_.send(peer, kTagGossip, std::as_bytes(values),
                               SendInfo{.dtype = DType::kF32, .step = static_cast<std::uint64_t>(step_.step)}));
  }
  std::copy(values.begin(), values.end(), mixed_.begin());
  const Deadline deadline = Deadline::after(real_clock(), options_.timeout);
  const OpContext context{"gossip", static_cast<std::uint64_t>(step_.step)};
  const auto started = std::chrono::steady_clock::now();
  for (int peer : neighbours_.receive_from) {
    Result<Message> theirs = comm_.receive(peer, kTagGossip, deadline, context);
    if (!theirs.is_ok()) return theirs.status();
    if (theirs->payload().size() != values.size_bytes()) {
      return Status::data_loss(fmt::format("gossip step {}: rank {} sent {} bytes for {} parameters", step_.step,
                                           comm_.world_rank_of(peer), theirs->payload().size(), values.size()));
    }
    const auto* other = reinterpret_cast<const float*>(theirs->payload().data());
    for (std::size_t i = 0; i < mixed_.size(); ++i) mixed_[i] += other[i];
  }
  // Our parameters are lent to the neighbours until they have read them.
  for (std::size_t i = 0; i < sends.size(); ++i) {
    if (Status s = comm_.wait(sends[i], deadline, context, neighbours_.send_to[i]); !s.is_ok()) return s;
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const float scale = 1.0f / static_cast<float>(neighbours_.receive_from.size() + 1);
  for (std::size_t i = 0; i < mixed_.size(); ++i) values[i] = mixed_[i] * scale;
  return Status::ok();
}

Status GossipStrategy::finish(Parameters& params, Optimizer&) {
  return allreduce(comm_, params.values().span(), ReduceOp::kAverage, options_.collective);
}

}  // namespace courier
