// Adam and AdamW update loops.
#include "courier/train/optim/adam.h"

#include <cmath>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {

Adam::Adam(std::int64_t count, AdamOptions options, std::vector<ParamGroup> groups)
    : options_(options),
      groups_(groups.empty() ? single_group(count, options.weight_decay) : std::move(groups)),
      exp_avg_(static_cast<std::size_t>(count), 0.0f),
      exp_avg_sq_(static_cast<std::size_t>(count), 0.0f) {
  COURIER_CHECK(options_.beta1 >= 0.0f && options_.beta1 < 1.0f, "Adam beta1 must be in [0, 1), got {}",
                options_.beta1);
  COURIER_CHECK(options_.beta2 >= 0.0f && options_.beta2 < 1.0f, "Adam beta2 must be in [0, 1), got {}",
                options_.beta2);
  COURIER_CHECK_GT(options_.eps, 0.0f, "Adam eps");
  check_groups(groups_, count);
}

void Adam::step(std::span<float> values, std::span<const float> grads, float lr) {
  COURIER_CHECK_EQ(values.size(), grads.size(), "Adam values and gradients");
  COURIER_CHECK_EQ(values.size(), exp_avg_.size(), "Adam was built for another parameter count");
  ++step_count_;
  const float b1 = options_.beta1;
  const float b2 = options_.beta2;
  const auto t = static_cast<double>(step_count_);
  const auto bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), t));
  const auto bias2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(b2), t)));
  for (const auto& group : groups_) {
    const float wd = group.weight_decay;
    for (std::int64_t i = group.offset; i < group.offset + group.count; ++i) {
      const auto k = static_cast<std::size_t>(i);
      float g = grads[k];
      if (options_.decoupled_weight_decay) {
        values[k] *= 1.0f - lr * wd;
      } else {
        g += wd * values[k];
      }
      exp_avg_[k] = b1 * exp_avg_[k] + (1.0f - b1) * g;
      exp_avg_sq_[k] = b2 * exp_avg_sq_[k] + (1.0f - b2) * g * g;
      const float denom = std::sqrt(exp_avg_sq_[k]) / bias2_sqrt + options_.eps;
      values[k] -= (lr / bias1) * exp_avg_[k] / denom;
    }
  }
}

std::string Adam::describe() const {
  return fmt::format("{}(beta1={}, beta2={}, eps={}, weight_decay={})",
                     options_.decoupled_weight_decay ? "AdamW" : "Adam", options_.beta1, options_.beta2,
                     options_.eps, options_.weight_decay);
}

std::vector<OptimizerState> Adam::state() {
  return {OptimizerState{"exp_avg", exp_avg_}, OptimizerState{"exp_avg_sq", exp_avg_sq_}};
}

}  // namespace courier
