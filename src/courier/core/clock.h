// Clocks: where "now" comes from. Real time for training and the runtime; a manual clock
// for tests; a virtual clock arrives with the simulator. Code that waits or measures takes
// a Clock& instead of calling std::chrono directly, so the same code runs in virtual time.
#pragma once

#include <atomic>
#include <chrono>

namespace courier {

using Duration = std::chrono::nanoseconds;

// Time since the clock's own epoch. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Duration now() const = 0;
};

// Monotonic wall time (std::chrono::steady_clock).
class RealClock final : public Clock {
 public:
  Duration now() const override;
};

// The process's real clock. Stateless, so sharing it is safe.
Clock& real_clock();

// A clock that moves only when told to. For tests of timeouts and schedules.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Duration start = Duration::zero()) : now_(start.count()) {}
  Duration now() const override { return Duration(now_.load(std::memory_order_acquire)); }
  void advance(Duration by) { now_.fetch_add(by.count(), std::memory_order_acq_rel); }
  void set(Duration to) { now_.store(to.count(), std::memory_order_release); }

 private:
  std::atomic<Duration::rep> now_;
};

// A point in a clock's time after which a wait gives up.
class Deadline {
 public:
  // Saturates: a timeout too large to represent is never.
  static Deadline after(const Clock& clock, Duration timeout);
  static Deadline at(Duration when) { return Deadline(when); }
  static Deadline never() { return Deadline(Duration::max()); }

  bool is_never() const { return when_ == Duration::max(); }
  bool expired(const Clock& clock) const { return !is_never() && clock.now() >= when_; }
  // Zero once expired; Duration::max() for never.
  Duration remaining(const Clock& clock) const;
  Duration when() const { return when_; }

 private:
  explicit Deadline(Duration when) : when_(when) {}
  Duration when_;
};

// Measures elapsed time on a clock.
class Stopwatch {
 public:
  explicit Stopwatch(const Clock& clock = real_clock()) : clock_(&clock), start_(clock.now()) {}
  Duration elapsed() const { return clock_->now() - start_; }
  double elapsed_seconds() const { return std::chrono::duration<double>(elapsed()).count(); }
  void restart() { start_ = clock_->now(); }

 private:
  const Clock* clock_;
  Duration start_;
};

}  // namespace courier
