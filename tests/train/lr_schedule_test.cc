// Learning-rate schedules: constant, step decay at its boundaries, cosine with warmup, bad arguments.
#include "courier/train/optim/lr_schedule.h"

#include <cmath>
#include <numbers>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

TEST(LrScheduleTest, Constant) {
  const LrSchedule schedule = LrSchedule::constant(0.01f);
  for (std::int64_t step : {0, 1, 99, 1000000}) EXPECT_FLOAT_EQ(schedule.at(step), 0.01f) << step;
  EXPECT_FLOAT_EQ(LrSchedule::constant(0.0f).at(5), 0.0f);
  EXPECT_EQ(schedule.describe(), "constant(lr=0.01)");
}

TEST(LrScheduleTest, StepDecayChangesExactlyAtTheBoundaries) {
  // lr 1, every 3 steps times 0.5: steps 0-2 -> 1, 3-5 -> 0.5, 6-8 -> 0.25, 30 -> 0.5^10.
  const LrSchedule schedule = LrSchedule::step_decay(1.0f, 3, 0.5f);
  EXPECT_FLOAT_EQ(schedule.at(0), 1.0f);
  EXPECT_FLOAT_EQ(schedule.at(2), 1.0f);
  EXPECT_FLOAT_EQ(schedule.at(3), 0.5f);
  EXPECT_FLOAT_EQ(schedule.at(5), 0.5f);
  EXPECT_FLOAT_EQ(schedule.at(6), 0.25f);
  EXPECT_FLOAT_EQ(schedule.at(8), 0.25f);
  EXPECT_FLOAT_EQ(schedule.at(9), 0.125f);
  EXPECT_FLOAT_EQ(schedule.at(30), 1.0f / 1024.0f);
  EXPECT_EQ(schedule.describe(), "step(lr=1, every=3, gamma=0.5)");
}

TEST(LrScheduleTest, StepDecayWithStepSizeOneDecaysEveryStep) {
  // lr 0.2, gamma 0.9: 0.2, 0.18, 0.162.
  const LrSchedule schedule = LrSchedule::step_decay(0.2f, 1, 0.9f);
  EXPECT_FLOAT_EQ(schedule.at(0), 0.2f);
  EXPECT_FLOAT_EQ(schedule.at(1), 0.18f);
  EXPECT_FLOAT_EQ(schedule.at(2), 0.162f);
}

// lr 1, warmup 10, total 110, min_lr 0.1: the cosine runs over the 100 steps 10..110.
LrSchedule example_cosine() { return LrSchedule::cosine(1.0f, 10, 110, 0.1f); }

TEST(LrScheduleTest, CosineWarmup) {
  const LrSchedule schedule = example_cosine();
  // nanoGPT's lr (step + 1) / (warmup + 1): 1/11 at step 0, 5/11 at step 4, 10/11 at step
  // warmup - 1 = 9, then the top of the cosine.
  EXPECT_FLOAT_EQ(schedule.at(0), 1.0f / 11.0f);
  EXPECT_FLOAT_EQ(schedule.at(4), 5.0f / 11.0f);
  EXPECT_FLOAT_EQ(schedule.at(9), 10.0f / 11.0f);
  for (std::int64_t step = 1; step < 10; ++step) EXPECT_GT(schedule.at(step), schedule.at(step - 1)) << step;
}

TEST(LrScheduleTest, CosineDecay) {
  const LrSchedule schedule = example_cosine();
  // Step warmup starts the cosine at its top: 0.1 + 0.5 (1 + cos 0) 0.9 = 1.
  EXPECT_FLOAT_EQ(schedule.at(10), 1.0f);
  // Midpoint, step 60: progress 0.5, 0.1 + 0.5 (1 + cos(pi / 2)) 0.9 = 0.55.
  EXPECT_FLOAT_EQ(schedule.at(60), 0.55f);
  // A quarter in, step 35: 0.1 + 0.5 (1 + cos(pi / 4)) 0.9 = 0.868198.
  EXPECT_NEAR(schedule.at(35), 0.1 + 0.45 * (1.0 + std::cos(std::numbers::pi / 4)), 1e-6);
  // One step before the end, step 109: 0.1 + 0.45 (1 + cos(0.99 pi)), just above min_lr.
  EXPECT_NEAR(schedule.at(109), 0.1 + 0.45 * (1.0 + std::cos(0.99 * std::numbers::pi)), 1e-6);
  EXPECT_GT(schedule.at(109), 0.1f);
  // At total and beyond: min_lr.
  EXPECT_FLOAT_EQ(schedule.at(110), 0.1f);
  EXPECT_FLOAT_EQ(schedule.at(111), 0.1f);
  EXPECT_FLOAT_EQ(schedule.at(1000000), 0.1f);
}

TEST(LrScheduleTest, CosineDecreasesAfterWarmup) {
  const LrSchedule schedule = example_cosine();
  for (std::int64_t step = 11; step <= 110; ++step) {
    EXPECT_LT(schedule.at(step), schedule.at(step - 1)) << "step " << step;
  }
  for (std::int64_t step = 0; step < 200; ++step) {
    EXPECT_GE(schedule.at(step), step < 10 ? 0.0f : 0.1f) << step;  // the warmup starts below min_lr
    EXPECT_LE(schedule.at(step), 1.0f) << step;
  }
}

TEST(LrScheduleTest, CosineEdgeCases) {
  // No warmup: step 0 is the top of the cosine.
  const LrSchedule no_warmup = LrSchedule::cosine(0.5f, 0, 100, 0.0f);
  EXPECT_FLOAT_EQ(no_warmup.at(0), 0.5f);
  EXPECT_FLOAT_EQ(no_warmup.at(50), 0.25f);
  EXPECT_FLOAT_EQ(no_warmup.at(100), 0.0f);
  // Warmup as long as the run: warmup, then straight to min_lr (no division by zero).
  const LrSchedule all_warmup = LrSchedule::cosine(1.0f, 4, 4, 0.2f);
  EXPECT_FLOAT_EQ(all_warmup.at(3), 0.8f);
  EXPECT_FLOAT_EQ(all_warmup.at(4), 0.2f);
  EXPECT_TRUE(std::isfinite(all_warmup.at(4)));
  EXPECT_EQ(example_cosine().describe(), "cosine(lr=1, warmup=10, total=110, min_lr=0.1)");
}

TEST(LrScheduleTest, InvalidArgumentsThrow) {
  EXPECT_THROW(LrSchedule::constant(-0.1f), CheckError);
  EXPECT_THROW(LrSchedule::step_decay(-1.0f, 3, 0.5f), CheckError);
  EXPECT_THROW(LrSchedule::step_decay(1.0f, 0, 0.5f), CheckError);
  EXPECT_THROW(LrSchedule::step_decay(1.0f, -2, 0.5f), CheckError);
  EXPECT_THROW(LrSchedule::step_decay(1.0f, 3, 0.0f), CheckError);
  EXPECT_THROW(LrSchedule::cosine(-1.0f, 10, 100, 0.0f), CheckError);
  EXPECT_THROW(LrSchedule::cosine(1.0f, -1, 100, 0.0f), CheckError);
  EXPECT_THROW(LrSchedule::cosine(1.0f, 10, 9, 0.0f), CheckError);
  EXPECT_THROW(LrSchedule::cosine(1.0f, 10, 100, 1.5f), CheckError);
  EXPECT_THROW(LrSchedule::cosine(1.0f, 10, 100, -0.1f), CheckError);
  EXPECT_NO_THROW(LrSchedule::cosine(1.0f, 10, 100, 1.0f));
}

TEST(LrScheduleTest, NegativeStepThrows) {
  EXPECT_THROW(LrSchedule::constant(0.1f).at(-1), CheckError);
  EXPECT_THROW(example_cosine().at(-1), CheckError);
}

}  // namespace
}  // namespace courier
