// Adam (Kingma and Ba 2015) and AdamW (Loshchilov and Hutter 2019), as torch.optim:
//   Adam:  g = grad + wd p                    AdamW:  p *= 1 - lr wd;  g = grad
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Its direction (Optimizer::direction) is (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps);
// apply_direction does AdamW's p *= 1 - lr wd, then p -= the change it is given. With `workers`
// > 1 the denominator is the second moment of the workers' mean gradient as this worker can
// estimate it: its own gradient's is mu^2 + sigma^2, the mean's mu^2 + sigma^2 / workers, with
// mu a slow average of its gradients (beta2's, as long as v's window) and sigma^2 = v - mu^2; so
// v_mean = v / workers + mu^2 (1 - 1 / workers). Without it each worker's noisier v makes the
// averaged step smaller than allreduce's. Without momentum the direction is g / (sqrt(v_mean) +
// eps) and m stays 0: error feedback's residual, which sums these, takes momentum's place.
#pragma once

#include "courier/train/optim/optimizer.h"

namespace courier {

struct AdamOptions {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // for the single default group
  bool decoupled_weight_decay = false;  // true: AdamW
  // After this many steps the second moment (and its bias correction) stays as it was: an
  // element's step is then linear in its gradient (1-bit Adam's compression stage). 0: never.
  std::int64_t freeze_variance_at = 0;
};

class Adam final : public Optimizer {
 public:
  // REQUIRES: 0 <= beta < 1, eps > 0.
  Adam(std::int64_t count, AdamOptions options, std::vector<ParamGroup> groups = {});

  std::string describe() const override;
  std::vector<OptimizerState> state() override;
  // Not with Adam's coupled weight decay, whose gradient term needs the parameters.
  bool supports_direction() const override;

 protected:
  void update(std::span<float> values, std::span<const float> grads, float lr) override;
  void compute_direction(std::span<const float> grads, std::span<float> out, const DirectionOptions& how) override;
  void apply(std::span<float> values, std::span<const float> change, float lr) override;

 private:
  AdamOptions options_;
  std::vector<ParamGroup> groups_;
  std::vector<float> exp_avg_;
  std::vector<float> exp_avg_sq_;
  // Directions for several workers: the gradient averaged with beta2. Not in state(), so not in
  // checkpoints: a run resumed from one starts it again from 0.
  std::vector<float> slow_avg_;
};

// AdamW: Adam with decoupled weight decay (PyTorch's default weight_decay for AdamW is 0.01).
inline Adam make_adamw(std::int64_t count, AdamOptions options, std::vector<ParamGroup> groups = {}) {
  options.decoupled_weight_decay = true;
  return Adam(count, options, std::move(groups));
}

}  // namespace courier
