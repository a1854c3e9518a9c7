// SGD with optional momentum, Nesterov momentum and L2 weight decay, as torch.optim.SGD:
//   g = grad + wd p
//   buf = g on the first step, else momentum buf + (1 - dampening) g
//   d = nesterov ? g + momentum buf : buf        (d = g without momentum)
//   p -= lr d
#pragma once

#include "courier/train/optim/optimizer.h"

namespace courier {

struct SgdOptions {
  float momentum = 0.0f;
  float dampening = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // for the single default group
};

class Sgd final : public Optimizer {
 public:
  // REQUIRES: momentum >= 0; nesterov needs momentum > 0 and dampening 0 (as PyTorch).
  Sgd(std::int64_t count, SgdOptions options, std::vector<ParamGroup> groups = {});

  std::string describe() const override;
  std::vector<OptimizerState> state() override;

 protected:
  void update(std::span<float> values, std::span<const float> grads, float lr) override;

 private:
  SgdOptions options_;
  std::vector<ParamGroup> groups_;
  std::vector<float> momentum_;  // empty without momentum
};

}  // namespace courier
