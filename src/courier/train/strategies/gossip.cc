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
    : Strategy(workers), options_(std::move(options)),
      neighbours_(gossip_neighbours(options.graph, workers.world_size(), workers.rank(), options.degree, options.seed)) {}

std::string GossipStrategy::describe() const {
  const std::string compressed =
      codec_ ? fmt::format(", CHOCO with {}, consensus step {}", codec_->name(), options_.consensus_step) : std::string();
  return fmt::format("gossip over {} workers on a {} graph ({} neighbours each){}", comm_.world_size(),
                     gossip_graph_name(options_.graph), neighbours_.receive_from.size(), compressed);
}

Status GossipStrategy::start(Parameters& params, Optimizer&) {
  mixed_.resize(static_cast<std::size_t>(params.numel()));
  const std::span<float> values = params.values().span();
  if (Status s = broadcast(comm_, std::as_writable_bytes(values), 0, options_.collective); !s.is_ok()) return s;
  if (options_.compression.enabled()) {
    codec_ = options_.compression.codec_without_feedback(comm_.rank());
    public_mine_.assign(values.begin(), values.end());  // everyone starts from the same model
    public_theirs_.assign(neighbours_.receive_from.size(), public_mine_);
    decoded_.resize(values.size());
  }
  return Status::ok();
}

// Local step, then theta = (theta + sum of the neighbours' theta) / (1 + neighbours).
Status GossipStrategy::finish_step(Parameters& params, Optimizer& optimizer) {
  std::span<float> values = params.values().span();
  optimizer.step(values, params.grads().span(), step_.lr);
  if (neighbours_.receive_from.empty()) return Status::ok();
  if (options_.compression.compresses(step_.step)) return exchange_compressed(values);
  std::vector<SendHandle> sends;
  for (int peer : neighbours_.send_to) {
    sends.push_back(comm_.send(peer, kTagGossip, std::as_bytes(values),
                               SendInfo{.dtype = DType::kF32, .step = static_cast<std::uint64_t>(step_.step)}));
  }
  std::copy(values.begin(), values.end(), mixed_.begin());
  const Deadline deadline = Deadline::after(real_clock(), options_.timeout);
  Status received = receive_each(deadline, [&](std::size_t j, const Message& theirs) {
    if (theirs.payload().size() != values.size_bytes()) {
      return Status::data_loss(fmt::format("gossip step {}: rank {} sent {} bytes for {} parameters", step_.step,
                                           theirs.header().source, theirs.payload().size(), values.size()));
    }
    const auto* other = reinterpret_cast<const float*>(theirs.payload().data());
    for (std::size_t i = 0; i < mixed_.size(); ++i) mixed_[i] += other[i];
    // Warming up before CHOCO: what was sent is what everyone's public copies start from.
    if (codec_) std::copy(other, other + values.size(), public_theirs_[j].begin());
    return Status::ok();
  });
  if (!received.is_ok()) return received;
  if (codec_) std::copy(values.begin(), values.end(), public_mine_.begin());
  // Our parameters are lent to the neighbours until they have read them.
  const auto started = std::chrono::steady_clock::now();
  const OpContext context{"gossip", static_cast<std::uint64_t>(step_.step)};
  for (std::size_t i = 0; i < sends.size(); ++i) {
    if (Status s = comm_.wait(sends[i], deadline, context, neighbours_.send_to[i]); !s.is_ok()) return s;
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const float scale = 1.0f / static_cast<float>(neighbours_.receive_from.size() + 1);
  for (std::size_t i = 0; i < mixed_.size(); ++i) values[i] = mixed_[i] * scale;
  return Status::ok();
}

Status GossipStrategy::exchange_compressed(std::span<float> values) {
  for (std::size_t i = 0; i < values.size(); ++i) mixed_[i] = values[i] - public_mine_[i];
  std::vector<std::byte> bytes;
  codec_->encode(mixed_, bytes);
  const std::string codec_name = codec_->name();
  auto damaged = [&](int peer, const Status& why) {
    return Status::data_loss(fmt::format("gossip step {}: the {} encoding from rank {} is damaged: {}", step_.step,
                                         codec_name, comm_.world_rank_of(peer), why.message()));
  };
  if (Status s = codec_->decode(bytes, decoded_); !s.is_ok()) return damaged(comm_.rank(), s);
  for (std::size_t i = 0; i < values.size(); ++i) public_mine_[i] += decoded_[i];
  const SendInfo info = codec_->send_info(values.size(), static_cast<std::uint64_t>(step_.step));
  for (int peer : neighbours_.send_to) {
    comm_.send(peer, kTagGossip, std::vector<std::byte>(bytes), info);  // a copy each: the message owns it
    compressed_ += CodecTraffic{values.size_bytes(), bytes.size()};
  }
  Status received = receive_each(Deadline::after(real_clock(), options_.timeout),
                                 [&](std::size_t j, const Message& theirs) {
    if (Status s = check_encoding(theirs, *codec_, values.size()); !s.is_ok()) {
      return Status::data_loss(fmt::format("gossip step {}: {}", step_.step, s.message()));
    }
    if (Status s = codec_->decode(theirs.payload(), decoded_); !s.is_ok()) {
      return damaged(neighbours_.receive_from[j], s);
    }
    std::vector<float>& copy = public_theirs_[j];
    for (std::size_t i = 0; i < values.size(); ++i) copy[i] += decoded_[i];
    return Status::ok();
  });
  if (!received.is_ok()) return received;
  const float weight = options_.consensus_step / static_cast<float>(neighbours_.receive_from.size() + 1);
  std::fill(mixed_.begin(), mixed_.end(), 0.0f);
  for (const std::vector<float>& copy : public_theirs_) {
    for (std::size_t i = 0; i < values.size(); ++i) mixed_[i] += copy[i] - public_mine_[i];
  }
  for (std::size_t i = 0; i < values.size(); ++i) values[i] += weight * mixed_[i];
  return Status::ok();
}

Status GossipStrategy::receive_each(const Deadline& deadline,
                                    const std::function<Status(std::size_t, const Message&)>& take) {
  const OpContext context{"gossip", static_cast<std::uint64_t>(step_.step)};
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t j = 0; j < neighbours_.receive_from.size(); ++j) {
    Result<Message> theirs = comm_.receive(neighbours_.receive_from[j], kTagGossip, deadline, context);
    if (!theirs.is_ok()) return theirs.status();
    if (Status s = take(j, *theirs); !s.is_ok()) return s;
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Status::ok();
}

Status GossipStrategy::finish(Parameters& params, Optimizer&) {
  return allreduce(comm_, params.values().span(), ReduceOp::kAverage, options_.collective);
}

}  // namespace courier
