// Completion: the shared state of one asynchronous send or receive. The transport completes
// it (from any thread, exactly once; later attempts are ignored); the handle waits on it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>

#include "courier/comm/transport/message_buffer.h"
#include "courier/core/clock.h"
#include "courier/core/status.h"

namespace courier {

class Completion;

// Who blocks a waiting thread, when not the condition variable: the sim transport, whose node
// threads hand a baton to one another, gives the baton back in wait() instead of sleeping
// unseen. Set once, at construction; inproc and mpi leave it null.
class CompletionWaiter {
 public:
  virtual ~CompletionWaiter() = default;
  // Blocks the calling thread until `completion` is done or `deadline` passes; true when done.
  virtual bool wait_until(Completion& completion, const Deadline& deadline) = 0;
};

class Completion {
 public:
  // How long wait_until() polls before sleeping on the condition variable. A peer on another
  // core often answers within a few microseconds, and a sleep/wake costs tens in a VM; but a
  // spinning waiter steals the core from the thread that would answer when threads outnumber
  // cores. So the transport chooses (the bound is time, not a count: a `pause` costs ~30 ns
  // on some CPUs, ~5 ns on others).
  static constexpr Duration kDefaultSpin = std::chrono::microseconds(3);
  explicit Completion(Duration spin = kDefaultSpin) : spin_(spin) {}
  // Waits go through `waiter`, which must outlive every wait on this completion.
  explicit Completion(CompletionWaiter* waiter) : spin_(kDefaultSpin), waiter_(waiter) {}

  // Completes with a status (a send, or a failed receive). Returns false if already complete.
  bool complete(Status status);
  // Completes a receive with its message.
  bool complete(Message message);

  bool is_done() const { return done_.load(std::memory_order_acquire); }
  // Blocks until complete or the deadline passes (real time); true when complete.
  // Spins for the transport's chosen time first (see the constructor). With a waiter, the
  // waiter decides how to block (and what the deadline means).
  bool wait_until(const Deadline& deadline);

  // After completion: the status, and (for a successful receive) the message, once.
  Status status() const;
  std::optional<Message> take_message();

  // The transport's way to withdraw the operation; returns true if it was withdrawn before
  // completing. cancel() completes the operation with CANCELLED in that case.
  void set_canceller(std::function<bool()> canceller);
  void cancel();

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> done_{false};
  Status status_;
  std::optional<Message> message_;
  std::function<bool()> canceller_;
  Duration spin_;
  CompletionWaiter* waiter_ = nullptr;
};

}  // namespace courier
