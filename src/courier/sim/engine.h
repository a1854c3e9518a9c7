// Engine: a discrete-event scheduler in virtual time. Events run in (time, order of
// scheduling) order, one at a time on the caller's thread, so a simulation is a pure function
// of its inputs and seed: the same run gives the same events at the same times.
//
// Nodes of a simulation are coroutines (Task): a node's code reads like the real algorithm
// (send, co_await a receive, co_await compute) and suspends where the real node would block.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

namespace courier::sim {

// Virtual time in picoseconds: exact integer arithmetic (a byte at 100 Gb/s is 80 ps), and
// an int64 holds 106 days.
using Time = std::int64_t;
inline constexpr Time kPicosPerSecond = 1'000'000'000'000;
inline constexpr Time kNever = INT64_MAX;

constexpr Time from_seconds(double seconds) { return static_cast<Time>(seconds * static_cast<double>(kPicosPerSecond) + 0.5); }
constexpr double to_seconds(Time t) { return static_cast<double>(t) / static_cast<double>(kPicosPerSecond); }
// "12.5 us", "3.02 ms", "1.25 s".
std::string format_time(Time t);

// A coroutine that runs when awaited (or when spawned on an engine) and resumes its awaiter
// when it ends. Exceptions propagate to the awaiter.
class Task {
 public:
  struct promise_type {
    std::coroutine_handle<> continuation;
    std::exception_ptr error;
    bool finished = false;

    Task get_return_object() { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Resume {
        bool await_ready() noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
          self.promise().finished = true;
          if (self.promise().continuation) return self.promise().continuation;
          return std::noop_coroutine();
        }
        void await_resume() noexcept {}
      };
      return Resume{};
    }
    void return_void() {}
    void unhandled_exception() { error = std::current_exception(); }
  };

  Task() = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation = awaiter;
    return handle_;
  }
  void await_resume() const {
    if (handle_.promise().error) std::rethrow_exception(handle_.promise().error);
  }

  bool finished() const { return handle_ && handle_.promise().finished; }
  std::exception_ptr error() const { return handle_ ? handle_.promise().error : nullptr; }
  std::coroutine_handle<promise_type> handle() const { return handle_; }

 private:
  explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

class Engine {
 public:
  using Action = std::function<void()>;

  Time now() const { return now_; }
  // Runs `action` at virtual time `when`. REQUIRES: when >= now().
  void at(Time when, Action action);
  void after(Time delay, Action action) { at(now_ + delay, std::move(action)); }
  // Resumes a suspended coroutine at `when`.
  void resume_at(Time when, std::coroutine_handle<> handle);

  // Starts `task` now (as an event) and keeps it until the engine is destroyed.
  // Returns its index for finished()/error().
  std::size_t spawn(Task task);
  const Task& task(std::size_t index) const { return tasks_[index]; }
  std::size_t task_count() const { return tasks_.size(); }

  // Runs events until none is left or the next is later than `until`. Returns the number run.
  std::uint64_t run(Time until = kNever);
  // Runs the next event, if any; false when none is left. For drivers that must stop between
  // events (the sim transport hands control to a node thread after the event that wakes it).
  bool step();
  bool idle() const { return queue_.empty(); }
  std::uint64_t events_run() const { return events_run_; }

  // An awaitable that resumes after `duration` of virtual time.
  auto sleep(Time duration) {
    struct Sleep {
      Engine* engine;
      Time duration;
      bool await_ready() const noexcept { return duration <= 0; }
      void await_suspend(std::coroutine_handle<> h) { engine->resume_at(engine->now() + duration, h); }
      void await_resume() const noexcept {}
    };
    return Sleep{this, duration};
  }

 private:
  struct Event {
    Time when;
    std::uint64_t order;
    Action action;
    std::coroutine_handle<> resume;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.when != b.when ? a.when > b.when : a.order > b.order;
    }
  };
  void push(Event event);

  Time now_ = 0;
  std::uint64_t next_order_ = 0;
  std::uint64_t events_run_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::vector<Task> tasks_;
};

}  // namespace courier::sim
