// Completion: completing once, waiting with a short spin then a condition variable.
#include "courier/comm/transport/completion.h"

#include <chrono>

namespace courier {
namespace {


inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

bool Completion::complete(Status status) {
  {
    std::lock_guard lock(mutex_);
    if (done_.load(std::memory_order_relaxed)) return false;
    status_ = std::move(status);
    canceller_ = nullptr;
    done_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  return true;
}

bool Completion::complete(Message message) {
  {
    std::lock_guard lock(mutex_);
    if (done_.load(std::memory_order_relaxed)) return false;
    status_ = Status::ok();
    message_ = std::move(message);
    canceller_ = nullptr;
    done_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  return true;
}

bool Completion::wait_until(const Deadline& deadline) {
  if (waiter_ != nullptr) return waiter_->wait_until(*this, deadline);
  const auto spin_until = std::chrono::steady_clock::now() + spin_;
  do {
    for (int i = 0; i < 16; ++i) {
      if (is_done()) return true;
      cpu_relax();
    }
  } while (std::chrono::steady_clock::now() < spin_until);
  std::unique_lock lock(mutex_);
  if (deadline.is_never()) {
    cv_.wait(lock, [&] { return is_done(); });
    return true;
  }
  const auto until = std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline.when()));
  return cv_.wait_until(lock, until, [&] { return is_done(); });
}

Status Completion::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::optional<Message> Completion::take_message() {
  std::lock_guard lock(mutex_);
  std::optional<Message> message = std::move(message_);
  message_.reset();
  return message;
}

void Completion::set_canceller(std::function<bool()> canceller) {
  std::lock_guard lock(mutex_);
  if (!done_.load(std::memory_order_relaxed)) canceller_ = std::move(canceller);
}

void Completion::cancel() {
  std::function<bool()> canceller;
  {
    std::lock_guard lock(mutex_);
    if (done_.load(std::memory_order_relaxed)) return;
    canceller = canceller_;
  }
  // Outside the lock: the transport takes its own locks and may complete us meanwhile.
  if (canceller && canceller()) complete(Status::cancelled("operation cancelled"));
}

}  // namespace courier
