// Local SGD with an optional outer optimizer.
#include "courier/train/strategies/local_sgd.h"

#include <chrono>

#include <fmt/format.h>

namespace courier {

LocalSgdStrategy::LocalSgdStrategy(Communicator& workers, LocalSgdOptions options)
    : Strategy(workers), options_(std::move(options)) {}

std::string LocalSgdStrategy::describe() const {
  std::string outer = options_.outer_lr == 1.0f && options_.outer_momentum == 0.0f
                          ? std::string("plain averaging")
                          : fmt::format("outer Nesterov lr {} momentum {}", options_.outer_lr, options_.outer_momentum);
  const std::string compressed =
      compressor_ ? fmt::format(", changes compressed by {}", compressor_->name()) : std::string();
  return fmt::format("local SGD over {} workers, average every {} steps, {}{}", comm_.world_size(),
                     options_.local_steps, outer, compressed);
}

Status LocalSgdStrategy::start(Parameters& params, Optimizer&) {
  if (Status s = broadcast(comm_, std::as_writable_bytes(params.values().span()), 0, options_.collective); !s.is_ok()) {
    return s;
  }
  anchor_.assign(params.values().span().begin(), params.values().span().end());
  momentum_.assign(anchor_.size(), 0.0f);
  outer_.assign(anchor_.size(), 0.0f);
  if (options_.compression.enabled()) {
    compressor_ = options_.compression.make(0, params.numel(), comm_.rank());
  }
  return Status::ok();
}

Status LocalSgdStrategy::finish_step(Parameters& params, Optimizer& optimizer) {
  // A worker's own mean gradient, alone: that is what "training alone" means.
  optimizer.step(params.values().span(), params.grads().span(), step_.lr);
  if (++since_average_ < options_.local_steps) return Status::ok();
  return average(params);
}

// theta_avg = mean over workers; outer gradient g = anchor - theta_avg;
// buf = mu buf + g; anchor -= lr (g + mu buf) (Nesterov), or anchor -= lr g without momentum.
Status LocalSgdStrategy::average(Parameters& params) {
  since_average_ = 0;
  std::span<float> values = params.values().span();
  CollectiveOptions options = options_.collective;
  options.step = static_cast<std::uint64_t>(step_.step);
  const auto started = std::chrono::steady_clock::now();
  if (compressor_ && options_.compression.compresses(step_.step)) {
    // The mean of the workers' changes, anchor - theta_w, each sent compressed.
    const float share = 1.0f / static_cast<float>(comm_.world_size());
    for (std::size_t i = 0; i < values.size(); ++i) outer_[i] = (anchor_[i] - values[i]) * share;
    if (Status s = compressor_->allreduce(comm_, outer_, options, compressed_); !s.is_ok()) return s;
  } else {
    if (Status s = allreduce(comm_, values, ReduceOp::kAverage, options); !s.is_ok()) return s;
    for (std::size_t i = 0; i < values.size(); ++i) outer_[i] = anchor_[i] - values[i];
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const float mu = options_.outer_momentum;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float outer_grad = outer_[i];
    momentum_[i] = mu * momentum_[i] + outer_grad;
    const float update = mu > 0.0f ? outer_grad + mu * momentum_[i] : outer_grad;
    anchor_[i] -= options_.outer_lr * update;
    values[i] = anchor_[i];
  }
  return Status::ok();
}

Status LocalSgdStrategy::finish(Parameters& params, Optimizer&) {
  // Leave every worker with the same model.
  if (since_average_ == 0) return Status::ok();
  return average(params);
}

}  // namespace courier
