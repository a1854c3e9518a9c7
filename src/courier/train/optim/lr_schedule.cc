// Learning-rate schedule arithmetic.
#include "courier/train/optim/lr_schedule.h"

#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {

LrSchedule LrSchedule::constant(float lr) {
  COURIER_CHECK_GE(lr, 0.0f, "learning rate");
  return LrSchedule(Kind::kConstant, lr);
}

LrSchedule LrSchedule::step_decay(float lr, std::int64_t step_size, float gamma) {
  COURIER_CHECK_GE(lr, 0.0f, "learning rate");
  COURIER_CHECK_GT(step_size, 0, "step_decay step_size");
  COURIER_CHECK_GT(gamma, 0.0f, "step_decay gamma");
  LrSchedule s(Kind::kStep, lr);
  s.step_size_ = step_size;
  s.gamma_ = gamma;
  return s;
}

LrSchedule LrSchedule::cosine(float lr, std::int64_t warmup_steps, std::int64_t total_steps, float min_lr) {
  COURIER_CHECK_GE(lr, 0.0f, "learning rate");
  COURIER_CHECK_GE(warmup_steps, 0, "cosine warmup_steps");
  COURIER_CHECK_GE(total_steps, warmup_steps, "cosine total_steps must not be below warmup_steps");
  COURIER_CHECK(min_lr >= 0.0f && min_lr <= lr, "cosine min_lr must be in [0, lr], got {}", min_lr);
  LrSchedule s(Kind::kCosine, lr);
  s.warmup_steps_ = warmup_steps;
  s.total_steps_ = total_steps;
  s.min_lr_ = min_lr;
  return s;
}

float LrSchedule::at(std::int64_t step) const {
  COURIER_CHECK_GE(step, 0, "learning-rate schedule step");
  switch (kind_) {
    case Kind::kConstant: return lr_;
    case Kind::kStep:
      return lr_ * static_cast<float>(std::pow(static_cast<double>(gamma_), static_cast<double>(step / step_size_)));
    case Kind::kCosine: {
      if (step < warmup_steps_) {
        // nanoGPT's ramp: lr (step + 1) / (warmup + 1), so the first step is not at full rate
        return lr_ * static_cast<float>(step + 1) / static_cast<float>(warmup_steps_ + 1);
      }
      if (step >= total_steps_) return min_lr_;
      const double progress =
          static_cast<double>(step - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
      const double coefficient = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
      return min_lr_ + static_cast<float>(coefficient) * (lr_ - min_lr_);
    }
  }
  return lr_;
}

std::string LrSchedule::describe() const {
  switch (kind_) {
    case Kind::kConstant: return fmt::format("constant(lr={})", lr_);
    case Kind::kStep: return fmt::format("step(lr={}, every={}, gamma={})", lr_, step_size_, gamma_);
    case Kind::kCosine:
      return fmt::format("cosine(lr={}, warmup={}, total={}, min_lr={})", lr_, warmup_steps_, total_steps_, min_lr_);
  }
  return "unknown";
}

}  // namespace courier
