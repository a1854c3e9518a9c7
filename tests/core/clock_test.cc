// Clocks, deadlines and stopwatches: ManualClock for exact arithmetic, RealClock for monotonicity.
#include "courier/core/clock.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace courier {
namespace {

using namespace std::chrono_literals;

TEST(ManualClockTest, StartsWhereToldAndMovesOnlyWhenTold) {
  ManualClock zero;
  EXPECT_EQ(zero.now(), Duration::zero());
  ManualClock clock(10s);
  EXPECT_EQ(clock.now(), 10s);
  EXPECT_EQ(clock.now(), 10s);
  clock.advance(250ms);
  EXPECT_EQ(clock.now(), 10s + 250ms);
  clock.advance(1ns);
  EXPECT_EQ(clock.now(), 10s + 250ms + 1ns);
}

TEST(ManualClockTest, SetJumpsForwardAndBack) {
  ManualClock clock(5s);
  clock.set(1h);
  EXPECT_EQ(clock.now(), 1h);
  clock.set(3s);
  EXPECT_EQ(clock.now(), 3s);
  clock.advance(2s);
  EXPECT_EQ(clock.now(), 5s);
}

TEST(ManualClockTest, ConcurrentAdvancesAreNotLost) {
  ManualClock clock;
  constexpr int kAdvances = 10000;
  auto advance_many = [&clock] {
    for (int i = 0; i < kAdvances; ++i) clock.advance(1ns);
  };
  std::thread a(advance_many);
  std::thread b(advance_many);
  a.join();
  b.join();
  EXPECT_EQ(clock.now(), Duration(2 * kAdvances));
}

TEST(DeadlineTest, AfterExpiresExactlyAtItsTime) {
  ManualClock clock(10s);
  const Deadline deadline = Deadline::after(clock, 5s);
  EXPECT_FALSE(deadline.is_never());
  EXPECT_EQ(deadline.when(), 15s);
  EXPECT_FALSE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), 5s);

  clock.advance(4s);
  EXPECT_FALSE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), 1s);

  clock.set(15s - 1ns);
  EXPECT_FALSE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), 1ns);

  clock.set(15s);
  EXPECT_TRUE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), Duration::zero());

  clock.advance(1h);
  EXPECT_TRUE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), Duration::zero());
}

TEST(DeadlineTest, ZeroTimeoutIsAlreadyExpired) {
  ManualClock clock(1s);
  const Deadline deadline = Deadline::after(clock, Duration::zero());
  EXPECT_TRUE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), Duration::zero());
}

TEST(DeadlineTest, AtIsAnAbsoluteTime) {
  ManualClock clock(2s);
  const Deadline deadline = Deadline::at(3s);
  EXPECT_EQ(deadline.when(), 3s);
  EXPECT_EQ(deadline.remaining(clock), 1s);
  clock.set(3s);
  EXPECT_TRUE(deadline.expired(clock));
}

TEST(DeadlineTest, HugeTimeoutSaturatesToNever) {
  ManualClock clock(5s);
  EXPECT_TRUE(Deadline::after(clock, Duration::max()).is_never());
  EXPECT_TRUE(Deadline::after(clock, Duration::max() - 1s).is_never());
  EXPECT_FALSE(Deadline::after(clock, 1h).is_never());
}

TEST(DeadlineTest, NeverNeverExpires) {
  ManualClock clock;
  const Deadline deadline = Deadline::never();
  EXPECT_TRUE(deadline.is_never());
  EXPECT_FALSE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), Duration::max());
  clock.set(Duration::max() - 1ns);
  EXPECT_FALSE(deadline.expired(clock));
  clock.set(Duration::max());
  EXPECT_FALSE(deadline.expired(clock));
  EXPECT_EQ(deadline.remaining(clock), Duration::max());
  EXPECT_FALSE(Deadline::at(1s).is_never());
}

TEST(StopwatchTest, MeasuresOnAManualClock) {
  ManualClock clock(100s);
  Stopwatch watch(clock);
  EXPECT_EQ(watch.elapsed(), Duration::zero());
  clock.advance(250ms);
  EXPECT_EQ(watch.elapsed(), 250ms);
  EXPECT_DOUBLE_EQ(watch.elapsed_seconds(), 0.25);
  clock.advance(1750ms);
  EXPECT_EQ(watch.elapsed(), 2s);
  EXPECT_DOUBLE_EQ(watch.elapsed_seconds(), 2.0);
  watch.restart();
  EXPECT_EQ(watch.elapsed(), Duration::zero());
  clock.advance(3ms);
  EXPECT_EQ(watch.elapsed(), 3ms);
}

TEST(RealClockTest, IsMonotonic) {
  RealClock clock;
  Duration previous = clock.now();
  for (int i = 0; i < 100000; ++i) {
    const Duration now = clock.now();
    ASSERT_GE(now, previous) << "at read " << i;
    previous = now;
  }
}

TEST(RealClockTest, AdvancesAndFollowsSteadyClock) {
  const Duration before = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch());
  const Duration first = real_clock().now();
  // Spin (not sleep) until steady_clock has visibly moved on.
  while (std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch()) <= first) {
  }
  const Duration second = real_clock().now();
  EXPECT_GE(first, before);
  EXPECT_GT(second, first);
}

TEST(RealClockTest, SharedInstance) {
  EXPECT_EQ(&real_clock(), &real_clock());
  const Stopwatch watch;  // on the real clock by default
  EXPECT_GE(watch.elapsed(), Duration::zero());
  EXPECT_GE(watch.elapsed_seconds(), 0.0);
}

}  // namespace
}  // namespace courier
