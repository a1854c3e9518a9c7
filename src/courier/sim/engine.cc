// Engine: the event queue and the virtual clock.
#include "courier/sim/engine.h"

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier::sim {

std::string format_time(Time t) {
  const double s = to_seconds(t);
  if (s >= 1.0) return fmt::format("{:.3f} s", s);
  if (s >= 1e-3) return fmt::format("{:.3f} ms", s * 1e3);
  if (s >= 1e-6) return fmt::format("{:.3f} us", s * 1e6);
  return fmt::format("{:.1f} ns", s * 1e9);
}

void Engine::push(Event event) {
  COURIER_CHECK(event.when >= now_, "an event cannot be scheduled in the past");
  event.order = next_order_++;
  queue_.push(std::move(event));
}

void Engine::at(Time when, Action action) { push(Event{when, 0, std::move(action), {}}); }

void Engine::resume_at(Time when, std::coroutine_handle<> handle) { push(Event{when, 0, nullptr, handle}); }

std::size_t Engine::spawn(Task task) {
  tasks_.push_back(std::move(task));
  resume_at(now_, tasks_.back().handle());
  return tasks_.size() - 1;
}

std::uint64_t Engine::run(Time until) {
  std::uint64_t count = 0;
  while (!queue_.empty() && queue_.top().when <= until) {
    // priority_queue::top is const: move the action out before popping.
    Event event = std::move(const_cast<Event&>(queue_.top()));
    queue_.pop();
    now_ = event.when;
    if (event.resume) {
      event.resume.resume();
    } else {
      event.action();
    }
    ++count;
  }
  events_run_ += count;
  return count;
}

bool Engine::step() {
  if (queue_.empty()) return false;
  Event event = std::move(const_cast<Event&>(queue_.top()));
  queue_.pop();
  now_ = event.when;
  ++events_run_;
  if (event.resume) {
    event.resume.resume();
  } else {
    event.action();
  }
  return true;
}

}  // namespace courier::sim
