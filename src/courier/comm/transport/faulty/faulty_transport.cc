// Fault injection on the send path. Faults that hold a message (delay, reorder) copy its
// payload, so the sender's send completes as if the message had left.
#include "courier/comm/transport/faulty/faulty_transport.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "courier/core/rng.h"

namespace courier {
namespace {

constexpr std::uint64_t kTagMask = (std::uint64_t{1} << 48) - 1;

struct Held {
  int destination;
  MessageHeader header;
  std::vector<std::byte> payload;
};

}  // namespace

struct FaultyTransport::Impl {
  explicit Impl(FaultPlan p, int rank) : plan(std::move(p)), rng(plan.seed, static_cast<std::uint64_t>(rank) + 1) {}

  FaultPlan plan;
  mutable std::mutex mutex;
  Rng rng;
  Counts counts;
  std::map<std::size_t, std::uint64_t> targeted_seen;  // index in plan.targeted -> matching sends so far
  std::atomic<bool> dead{false};

  // Delayed messages and the thread that delivers them when due.
  std::condition_variable timer_cv;
  std::multimap<std::chrono::steady_clock::time_point, Held> delayed;
  std::map<int, Held> reordered;  // by destination: held until the next send there
  std::multimap<std::chrono::steady_clock::time_point, int> flushes;  // when to release reordered[destination]
  bool stopping = false;
  std::thread timer;

  std::optional<Fault> choose(const MessageHeader& header, int destination) {
    for (std::size_t i = 0; i < plan.targeted.size(); ++i) {
      const TargetedFault& t = plan.targeted[i];
      if (t.destination >= 0 && t.destination != destination) continue;
      if (t.tag && *t.tag != (header.tag & kTagMask)) continue;
      if (targeted_seen[i]++ == t.nth) return t.fault;
    }
    const double u = rng.uniform_double();
    double edge = plan.drop_rate;
    if (u < edge) return Fault::kDrop;
    if (u < (edge += plan.duplicate_rate)) return Fault::kDuplicate;
    if (u < (edge += plan.corrupt_rate)) return Fault::kCorrupt;
    if (u < (edge += plan.delay_rate)) return Fault::kDelay;
    if (u < (edge += plan.reorder_rate)) return Fault::kReorder;
    return std::nullopt;
  }
};

FaultyTransport::FaultyTransport(std::unique_ptr<Transport> inner, FaultPlan plan)
    : inner_(std::move(inner)), impl_(std::make_unique<Impl>(std::move(plan), inner_->rank())) {
  impl_->timer = std::thread([this] { run_timer(); });
}

// Delivers delayed messages when due, and reordered ones nobody released in time.
void FaultyTransport::run_timer() {
  std::unique_lock lock(impl_->mutex);
  while (!impl_->stopping) {
    auto next = std::chrono::steady_clock::time_point::max();
    if (!impl_->delayed.empty()) next = impl_->delayed.begin()->first;
    if (!impl_->flushes.empty()) next = std::min(next, impl_->flushes.begin()->first);
    if (next == std::chrono::steady_clock::time_point::max()) {
      impl_->timer_cv.wait(lock);
      continue;
    }
    if (next > std::chrono::steady_clock::now()) {
      impl_->timer_cv.wait_until(lock, next);
      continue;
    }
    std::vector<Held> due;
    const auto now = std::chrono::steady_clock::now();
    while (!impl_->delayed.empty() && impl_->delayed.begin()->first <= now) {
      due.push_back(std::move(impl_->delayed.begin()->second));
      impl_->delayed.erase(impl_->delayed.begin());
    }
    while (!impl_->flushes.empty() && impl_->flushes.begin()->first <= now) {
      auto held = impl_->reordered.find(impl_->flushes.begin()->second);
      if (held != impl_->reordered.end()) {
        due.push_back(std::move(held->second));
        impl_->reordered.erase(held);
      }
      impl_->flushes.erase(impl_->flushes.begin());
    }
    lock.unlock();
    for (Held& held : due) {
      if (!impl_->dead) inner_->send(held.destination, held.header, Payload::owned(std::move(held.payload)));
    }
    lock.lock();
  }
}

FaultyTransport::~FaultyTransport() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->timer_cv.notify_all();
  impl_->timer.join();
}

SendHandle FaultyTransport::send(int destination, MessageHeader header, Payload payload) {
  std::optional<Fault> fault;
  std::optional<Held> release_after;  // a reordered message goes out right after this one
  {
    std::unique_lock lock(impl_->mutex);
    if (impl_->plan.kill_after_sends && impl_->counts.sends >= *impl_->plan.kill_after_sends && !impl_->dead) {
      lock.unlock();
      kill();  // outside the lock: closing the inner endpoint completes other ranks' operations
      lock.lock();
    }
    if (impl_->dead) {
      auto done = std::make_shared<Completion>();
      done->complete(Status::cancelled("this rank was killed by its fault plan"));
      return SendHandle(done);
    }
    ++impl_->counts.sends;
    if (header.kind == MessageKind::kData || impl_->plan.include_control) fault = impl_->choose(header, destination);
    auto held = impl_->reordered.find(destination);
    if (held != impl_->reordered.end()) {
      release_after = std::move(held->second);
      impl_->reordered.erase(held);
    }
  }
  SendHandle handle = fault ? inject(*fault, destination, header, std::move(payload))
                            : inner_->send(destination, header, std::move(payload));
  if (release_after) {
    inner_->send(release_after->destination, release_after->header, Payload::owned(std::move(release_after->payload)));
  }
  return handle;
}

SendHandle FaultyTransport::inject(Fault fault, int destination, MessageHeader header, Payload payload) {
  std::lock_guard lock(impl_->mutex);
  switch (fault) {
    case Fault::kDrop:
      ++impl_->counts.drops;
      return SendHandle();  // the sender believes it went out
    case Fault::kDuplicate: {
      ++impl_->counts.duplicates;
      std::vector<std::byte> copy(payload.bytes().begin(), payload.bytes().end());
      SendHandle handle = inner_->send(destination, header, std::move(payload));
      inner_->send(destination, header, Payload::owned(std::move(copy)));
      return handle;
    }
    case Fault::kCorrupt: {
      ++impl_->counts.corruptions;
      std::vector<std::byte> bytes = std::move(payload).take();
      if (!bytes.empty()) {
        const std::uint64_t bit = impl_->rng.below(bytes.size() * 8);
        bytes[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
      } else {
        header.step ^= std::uint64_t{1} << impl_->rng.below(64);  // no payload: damage the header
      }
      return inner_->send(destination, header, Payload::owned(std::move(bytes)));
    }
    case Fault::kDelay: {
      ++impl_->counts.delays;
      const auto delay = std::chrono::microseconds(
          1 + impl_->rng.below(static_cast<std::uint64_t>(impl_->plan.max_delay.count()) * 1000));
      impl_->delayed.emplace(std::chrono::steady_clock::now() + delay,
                             Held{destination, header, std::move(payload).take()});
      impl_->timer_cv.notify_all();
      return SendHandle();
    }
    case Fault::kReorder:
      ++impl_->counts.reorders;
      // Held until the next send to the same destination, or flushed by the timer after max_delay.
      if (auto previous = impl_->reordered.find(destination); previous != impl_->reordered.end()) {
        impl_->delayed.emplace(std::chrono::steady_clock::now(), std::move(previous->second));
        impl_->reordered.erase(previous);
      }
      impl_->reordered.emplace(destination, Held{destination, header, std::move(payload).take()});
      impl_->flushes.emplace(std::chrono::steady_clock::now() + impl_->plan.max_delay, destination);
      impl_->timer_cv.notify_all();
      return SendHandle();
  }
  return SendHandle();
}

RecvHandle FaultyTransport::recv(int source, std::uint64_t tag) {
  if (impl_->dead) {
    auto done = std::make_shared<Completion>();
    done->complete(Status::cancelled("this rank was killed by its fault plan"));
    return RecvHandle(done);
  }
  return inner_->recv(source, tag);
}

void FaultyTransport::close() { inner_->close(); }

void FaultyTransport::kill() {
  if (impl_->dead.exchange(true)) return;
  if (!impl_->plan.kill_silently) inner_->close();
}

bool FaultyTransport::killed() const { return impl_->dead; }

FaultyTransport::Counts& FaultyTransport::Counts::operator+=(const Counts& other) {
  sends += other.sends;
  drops += other.drops;
  duplicates += other.duplicates;
  corruptions += other.corruptions;
  delays += other.delays;
  reorders += other.reorders;
  return *this;
}

FaultyTransport::Counts FaultyTransport::counts() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counts;
}

std::vector<std::unique_ptr<Transport>> wrap_faulty(std::vector<std::unique_ptr<Transport>> endpoints,
                                                    const std::function<FaultPlan(int rank)>& plan_for) {
  std::vector<std::unique_ptr<Transport>> wrapped;
  for (std::size_t r = 0; r < endpoints.size(); ++r) {
    wrapped.push_back(std::make_unique<FaultyTransport>(std::move(endpoints[r]), plan_for(static_cast<int>(r))));
  }
  return wrapped;
}

}  // namespace courier
