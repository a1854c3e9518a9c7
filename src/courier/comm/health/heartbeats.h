// Heartbeats: a failure detector. Each node beats to its peers every `interval` and listens
// for theirs; a peer unheard for `timeout` is suspected (dead, hung or cut off), and a peer
// whose endpoint is known closed is suspected at the next beat. A suspicion is reported once
// per peer through the callback, which usually aborts the communicator so that every wait on
// the peer fails at once, naming it, instead of at its own deadline.
//
// The beats travel on the transport in a context of their own (no communicator sees them) on
// a thread of their own, so a node whose training thread computes for a long time still beats;
// a node that stops beating is one whose process died, froze or lost the network.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "courier/comm/transport/transport.h"
#include "courier/core/status.h"

namespace courier {

struct HeartbeatOptions {
  std::chrono::milliseconds interval{500};
  std::chrono::milliseconds timeout{5000};  // > interval; a few intervals
};

class Heartbeats {
 public:
  using OnSuspect = std::function<void(int peer, const Status& why)>;

  // Starts beating to and listening for `peers` (world ranks, this rank left out if listed).
  // `on_suspect` runs on the heartbeat thread and must not block for long.
  Heartbeats(Transport& transport, std::vector<int> peers, HeartbeatOptions options, OnSuspect on_suspect);
  ~Heartbeats();  // stops
  Heartbeats(const Heartbeats&) = delete;
  Heartbeats& operator=(const Heartbeats&) = delete;

  // Stops beating and listening (a node that goes silent). Idempotent.
  void stop();
  std::vector<int> suspected() const;
  std::uint64_t beats_sent() const;
  std::uint64_t beats_received() const;

 private:
  void run();
  void suspect(int peer, const Status& why);

  Transport& transport_;
  std::vector<int> peers_;
  HeartbeatOptions options_;
  OnSuspect on_suspect_;
  mutable std::mutex mutex_;
  std::condition_variable stopping_;
  bool stop_ = false;
  std::map<int, bool> suspected_;
  std::uint64_t sent_ = 0, received_ = 0;
  std::thread thread_;
};

}  // namespace courier
