// Parameter initialisers. Fans follow PyTorch's convention for a weight of shape
// (out, in, k...): fan_in = in * prod(k), fan_out = out * prod(k).
#pragma once

#include <cstdint>
#include <string>

#include "courier/core/rng.h"
#include "courier/tensor/tensor.h"

namespace courier {

class Init {
 public:
  enum class Kind { kConstant, kUniform, kNormal, kXavierUniform, kXavierNormal, kKaimingUniform, kKaimingNormal };
  enum class FanMode { kFanIn, kFanOut };

  static Init zeros() { return constant(0.0f); }
  static Init constant(float value);
  // U[lo, hi)
  static Init uniform(float lo, float hi);
  static Init normal(float mean, float stddev);
  // Glorot and Bengio 2010: U(-b, b), b = gain sqrt(6 / (fan_in + fan_out)); N(0, gain^2 2 / (fan_in + fan_out)).
  static Init xavier_uniform(float gain = 1.0f);
  static Init xavier_normal(float gain = 1.0f);
  // He et al. 2015 for leaky ReLU with negative slope `a` (0 is ReLU): gain = sqrt(2 / (1 + a^2)),
  // std = gain / sqrt(fan); uniform bound sqrt(3) std.
  static Init kaiming_uniform(float a = 0.0f, FanMode mode = FanMode::kFanIn);
  static Init kaiming_normal(float a = 0.0f, FanMode mode = FanMode::kFanIn);
  // What torch.nn.Linear does: weight kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
  // bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in.
  static Init torch_linear_weight();
  static Init torch_linear_bias(std::int64_t fan_in);

  // Fills `t` from `rng`. REQUIRES: fan-based kinds get a tensor of rank >= 2.
  void apply(Tensor& t, Rng& rng) const;

  Kind kind() const { return kind_; }
  std::string describe() const;

 private:
  Init(Kind kind, float p0, float p1, FanMode mode = FanMode::kFanIn) : kind_(kind), p0_(p0), p1_(p1), mode_(mode) {}
  Kind kind_;
  float p0_;  // value, lo, mean, gain or a, by kind
  float p1_;  // hi or stddev, by kind
  FanMode mode_;
};

struct Fans {
  std::int64_t in, out;
};
// PyTorch's fans of a weight shape. REQUIRES: rank >= 2.
Fans compute_fans(const Shape& shape);

}  // namespace courier
