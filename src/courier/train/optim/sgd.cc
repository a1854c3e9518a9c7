// SGD update loops.
#include "courier/train/optim/sgd.h"

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {

Sgd::Sgd(std::int64_t count, SgdOptions options, std::vector<ParamGroup> groups)
    : options_(options), groups_(groups.empty() ? single_group(count, options.weight_decay) : std::move(groups)) {
  COURIER_CHECK_GE(options_.momentum, 0.0f, "SGD momentum");
  COURIER_CHECK(!options_.nesterov || (options_.momentum > 0.0f && options_.dampening == 0.0f),
                "Nesterov momentum needs momentum > 0 and dampening 0");
  check_groups(groups_, count);
  if (options_.momentum > 0.0f) momentum_.assign(static_cast<std::size_t>(count), 0.0f);
}

void Sgd::update(std::span<float> values, std::span<const float> grads, float lr) {
  COURIER_CHECK_EQ(values.size(), grads.size(), "SGD values and gradients");
  COURIER_CHECK_EQ(static_cast<std::int64_t>(values.size()), groups_.back().offset + groups_.back().count,
                   "SGD was built for another parameter count");
  const bool first = step_count_ == 0;
  const float mu = options_.momentum;
  for (const auto& group : groups_) {
    const float wd = group.weight_decay;
    for (std::int64_t i = group.offset; i < group.offset + group.count; ++i) {
      const auto k = static_cast<std::size_t>(i);
      float g = grads[k] + wd * values[k];
      if (mu > 0.0f) {
        float& buf = momentum_[k];
        buf = first ? g : mu * buf + (1.0f - options_.dampening) * g;
        g = options_.nesterov ? g + mu * buf : buf;
      }
      values[k] -= lr * g;
    }
  }
  ++step_count_;
}

std::string Sgd::describe() const {
  return fmt::format("SGD(momentum={}, dampening={}, nesterov={}, weight_decay={})", options_.momentum,
                     options_.dampening, options_.nesterov, options_.weight_decay);
}

std::vector<OptimizerState> Sgd::state() {
  if (momentum_.empty()) return {};
  return {OptimizerState{"momentum", momentum_}};
}

}  // namespace courier
