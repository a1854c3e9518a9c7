#include "courier/comm/health/heartbeats.h"

#include <algorithm>

#include <fmt/format.h>

#include "courier/comm/message.h"
#include "courier/core/clock.h"

namespace courier {
namespace {

constexpr std::uint64_t kBeatTag = (std::uint64_t{0xfffe} << 48) | 3;  // membership.cc's context

}  // namespace

Heartbeats::Heartbeats(Transport& transport, std::vector<int> peers, HeartbeatOptions options, OnSuspect on_suspect)
    : transport_(transport), options_(options), on_suspect_(std::move(on_suspect)) {
  for (int peer : peers) {
    if (peer != transport.rank()) peers_.push_back(peer);
  }
  thread_ = std::thread([this] { run(); });
}

Heartbeats::~Heartbeats() { stop(); }

void Heartbeats::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopping_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<int> Heartbeats::suspected() const {
  std::lock_guard lock(mutex_);
  std::vector<int> out;
  for (const auto& [peer, yes] : suspected_) {
    if (yes) out.push_back(peer);
  }
  return out;
}

std::uint64_t Heartbeats::beats_sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

std::uint64_t Heartbeats::beats_received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

void Heartbeats::suspect(int peer, const Status& why) {
  {
    std::lock_guard lock(mutex_);
    if (suspected_[peer]) return;
    suspected_[peer] = true;
  }
  on_suspect_(peer, why);
}

void Heartbeats::run() {
  using SteadyClock = std::chrono::steady_clock;
  const SteadyClock::time_point started = SteadyClock::now();
  std::map<int, SteadyClock::time_point> last_heard;
  for (int peer : peers_) last_heard[peer] = started;  // the timeout runs from the start
  std::map<int, SendHandle> beats;  // the last beat to each peer, to see a closed endpoint
  RecvHandle incoming = transport_.recv(kAnySource, kBeatTag);
  for (;;) {
    // Beat.
    for (int peer : peers_) {
      SendHandle& previous = beats[peer];
      if (previous.test()) {
        const Status sent = previous.wait(Deadline::at(Duration::zero()));
        if (sent.code() == StatusCode::kUnavailable) {
          suspect(peer, Status::unavailable(fmt::format("rank {} is gone: {}", peer, sent.message())));
        }
      }
      MessageHeader header;
      header.kind = MessageKind::kControl;
      header.source = static_cast<std::uint32_t>(transport_.rank());
      header.destination = static_cast<std::uint32_t>(peer);
      header.tag = kBeatTag;
      seal(header, {});
      previous = transport_.send(peer, header, Payload::owned({}));
    }
    {
      std::lock_guard lock(mutex_);
      sent_ += peers_.size();
    }
    // Listen: everything that has arrived.
    while (incoming.test()) {
      Result<Message> beat = incoming.wait(Deadline::at(Duration::zero()));
      if (!beat.is_ok()) return;  // this endpoint closed
      last_heard[static_cast<int>(beat->header().source)] = SteadyClock::now();
      {
        std::lock_guard lock(mutex_);
        ++received_;
      }
      incoming = transport_.recv(kAnySource, kBeatTag);
    }
    const SteadyClock::time_point now = SteadyClock::now();
    for (int peer : peers_) {
      if (now - last_heard[peer] > options_.timeout) {
        suspect(peer, Status::unavailable(fmt::format(
                          "rank {} sent no heartbeat for {} ms (dist.heartbeat_timeout_ms): it died, hangs or is cut off",
                          peer, std::chrono::duration_cast<std::chrono::milliseconds>(now - last_heard[peer]).count())));
      }
    }
    std::unique_lock lock(mutex_);
    if (stopping_.wait_for(lock, options_.interval, [&] { return stop_; })) break;
  }
  incoming.cancel();
}

}  // namespace courier
