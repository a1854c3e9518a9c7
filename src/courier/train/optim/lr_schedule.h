// Learning-rate schedules: the learning rate as a function of the step (counted from 0).
#pragma once

#include <cstdint>
#include <string>

namespace courier {

class LrSchedule {
 public:
  // lr at every step.
  static LrSchedule constant(float lr);
  // lr * gamma^(step / step_size): multiplied by gamma every step_size steps (torch StepLR).
  static LrSchedule step_decay(float lr, std::int64_t step_size, float gamma);
  // Linear warmup from lr / warmup_steps to lr over warmup_steps, then a half cosine from lr
  // down to min_lr at total_steps, then min_lr (nanoGPT's schedule).
  static LrSchedule cosine(float lr, std::int64_t warmup_steps, std::int64_t total_steps, float min_lr);

  float at(std::int64_t step) const;
  std::string describe() const;

 private:
  enum class Kind { kConstant, kStep, kCosine };
  LrSchedule(Kind kind, float lr) : kind_(kind), lr_(lr) {}

  Kind kind_;
  float lr_;
  float gamma_ = 1.0f;
  float min_lr_ = 0.0f;
  std::int64_t step_size_ = 1;
  std::int64_t warmup_steps_ = 0;
  std::int64_t total_steps_ = 0;
};

}  // namespace courier
