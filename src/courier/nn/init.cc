// Initialiser arithmetic.
#include "courier/nn/init.h"

#include <cmath>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {

Init Init::constant(float value) { return Init(Kind::kConstant, value, 0.0f); }

Init Init::uniform(float lo, float hi) {
  COURIER_CHECK_LE(lo, hi, "uniform initialiser bounds");
  return Init(Kind::kUniform, lo, hi);
}

Init Init::normal(float mean, float stddev) {
  COURIER_CHECK_GE(stddev, 0.0f, "normal initialiser stddev");
  return Init(Kind::kNormal, mean, stddev);
}

Init Init::xavier_uniform(float gain) { return Init(Kind::kXavierUniform, gain, 0.0f); }
Init Init::xavier_normal(float gain) { return Init(Kind::kXavierNormal, gain, 0.0f); }
Init Init::kaiming_uniform(float a, FanMode mode) { return Init(Kind::kKaimingUniform, a, 0.0f, mode); }
Init Init::kaiming_normal(float a, FanMode mode) { return Init(Kind::kKaimingNormal, a, 0.0f, mode); }
Init Init::torch_linear_weight() { return kaiming_uniform(std::sqrt(5.0f)); }

Init Init::torch_linear_bias(std::int64_t fan_in) {
  COURIER_CHECK_GT(fan_in, 0, "torch_linear_bias fan_in");
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  return uniform(-bound, bound);
}

Fans compute_fans(const Shape& shape) {
  COURIER_CHECK_GE(shape.rank(), 2, "fan-based initialisers need a weight of rank >= 2, got {}", shape);
  std::int64_t receptive = 1;
  for (int i = 2; i < shape.rank(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

void Init::apply(Tensor& t, Rng& rng) const {
  switch (kind_) {
    case Kind::kConstant: t.fill(p0_); return;
    case Kind::kUniform: rng.fill_uniform(t.span(), p0_, p1_); return;
    case Kind::kNormal: rng.fill_normal(t.span(), p0_, p1_); return;
    default: break;
  }
  const Fans fans = compute_fans(t.shape());
  const auto fan_sum = static_cast<float>(fans.in + fans.out);
  const auto fan = static_cast<float>(mode_ == FanMode::kFanIn ? fans.in : fans.out);
  switch (kind_) {
    case Kind::kXavierUniform: {
      const float bound = p0_ * std::sqrt(6.0f / fan_sum);
      rng.fill_uniform(t.span(), -bound, bound);
      return;
    }
    case Kind::kXavierNormal: rng.fill_normal(t.span(), 0.0f, p0_ * std::sqrt(2.0f / fan_sum)); return;
    case Kind::kKaimingUniform:
    case Kind::kKaimingNormal: {
      const float gain = std::sqrt(2.0f / (1.0f + p0_ * p0_));
      const float stddev = gain / std::sqrt(fan);
      if (kind_ == Kind::kKaimingNormal) {
        rng.fill_normal(t.span(), 0.0f, stddev);
      } else {
        const float bound = std::sqrt(3.0f) * stddev;
        rng.fill_uniform(t.span(), -bound, bound);
      }
      return;
    }
    default: COURIER_CHECK(false, "unhandled initialiser kind");
  }
}

std::string Init::describe() const {
  const char* mode = mode_ == FanMode::kFanIn ? "fan_in" : "fan_out";
  switch (kind_) {
    case Kind::kConstant: return fmt::format("constant({})", p0_);
    case Kind::kUniform: return fmt::format("uniform({}, {})", p0_, p1_);
    case Kind::kNormal: return fmt::format("normal({}, {})", p0_, p1_);
    case Kind::kXavierUniform: return fmt::format("xavier_uniform(gain={})", p0_);
    case Kind::kXavierNormal: return fmt::format("xavier_normal(gain={})", p0_);
    case Kind::kKaimingUniform: return fmt::format("kaiming_uniform(a={}, {})", p0_, mode);
    case Kind::kKaimingNormal: return fmt::format("kaiming_normal(a={}, {})", p0_, mode);
  }
  return "unknown";
}

}  // namespace courier
