// The real clock and deadline arithmetic.
#include "courier/core/clock.h"

namespace courier {

Duration RealClock::now() const {
  return std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch());
}

Clock& real_clock() {
  static RealClock clock;
  return clock;
}

Deadline Deadline::after(const Clock& clock, Duration timeout) {
  const Duration now = clock.now();
  if (timeout > Duration::zero() && timeout >= Duration::max() - now) return never();
  return Deadline(now + timeout);
}

Duration Deadline::remaining(const Clock& clock) const {
  if (is_never()) return Duration::max();
  const Duration now = clock.now();
  return now >= when_ ? Duration::zero() : when_ - now;
}

}  // namespace courier
