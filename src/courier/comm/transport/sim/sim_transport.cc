// The sim transport's scheduler (the baton), mailboxes, fault plan and stall report.
//
// Whoever gives the baton back runs the engine until an event grants it to a node: a node's
// own resumption at the virtual time it reached, or the arrival that completes the receive it
// is blocked on. Everything below runs under one mutex; only the baton holder is ever awake.
#include "courier/comm/transport/sim/sim_transport.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "courier/core/check.h"
#include "courier/sim/delivery_log.h"
#include "courier/sim/engine.h"

namespace courier {
namespace {

using sim::Time;

struct Arrival {
  MessageHeader header;
  std::vector<std::byte> bytes;
  Time sent = 0;
};

struct PostedRecv {
  int source;
  std::uint64_t tag;
  std::shared_ptr<Completion> done;
  std::uint64_t id;
};

bool matches(int wanted_source, std::uint64_t wanted_tag, const MessageHeader& header) {
  return header.tag == wanted_tag && (wanted_source == kAnySource || static_cast<int>(header.source) == wanted_source);
}

std::string who(int source) { return source == kAnySource ? "any rank" : fmt::format("rank {}", source); }

}  // namespace

class SimFabric {
 public:
  explicit SimFabric(const SimTransportOptions& options);

  int world_size() const { return static_cast<int>(nodes_.size()); }
  SendHandle send(int from, int to, MessageHeader header, Payload payload);
  RecvHandle recv(int rank, int source, std::uint64_t tag);
  void close(int rank);
  void attach(int rank);
  void detach(int rank);
  bool wait(int rank, Completion& completion, const Deadline& deadline);
  bool cancel(int rank, std::uint64_t id);
  SimReport report() const;

 private:
  struct Node final : CompletionWaiter {
    SimFabric* fabric = nullptr;
    int rank = 0;
    bool wait_until(Completion& completion, const Deadline& deadline) override {
      return fabric->wait(rank, completion, deadline);
    }

    std::condition_variable cv;
    std::thread::id thread;
    bool attached = false, ended = false, closed = false, crashed = false;
    Time crashed_at = 0;
    double slow = 1.0;
    std::chrono::steady_clock::time_point real_start;
    std::deque<Arrival> arrivals;
    std::deque<PostedRecv> posted;
    // The receive this node is blocked on, if any, and when the awaited message was sent.
    Completion* blocked_on = nullptr;
    int blocked_source = kAnySource;
    std::uint64_t blocked_tag = 0;
    Time awaited_sent = -1;
    std::vector<std::uint64_t> next_seq_to, next_seq_from;          // per peer
    std::map<std::pair<int, std::uint64_t>, Arrival> out_of_order;  // (source, sequence)
    SimNodeReport report;
  };

  Node& node(int rank) { return nodes_[static_cast<std::size_t>(rank)]; }
  const Node& node(int rank) const { return nodes_[static_cast<std::size_t>(rank)]; }
  std::shared_ptr<Completion> new_completion(int rank) { return std::make_shared<Completion>(&node(rank)); }
  // True when the caller is `rank`'s node thread and the node runs; then syncs it (below).
  bool enter(std::unique_lock<std::mutex>& lock, int rank);
  std::string outside_error(int rank) const;
  void sync(std::unique_lock<std::mutex>& lock, int rank);
  void hand_off(std::unique_lock<std::mutex>& lock, int self);
  void schedule();
  bool resolve_stall();
  std::string stall_message(int rank) const;
  void grant(int rank) { running_ = rank; }
  void wake(int rank);
  void arrive(int to, int from, std::uint64_t sequence, Arrival arrival);
  void accept(int to, Arrival arrival);
  void record(const Arrival& arrival, int to);
  void apply(const sim::Fault& fault);
  void crash(int rank);

  mutable std::mutex mutex_;
  sim::Engine engine_;
  sim::Network network_;
  std::deque<Node> nodes_;  // deque: a Node holds a condition variable and cannot move
  double compute_scale_;
  int running_ = -1;  // the rank holding the baton; -1: the scheduler
  int attached_ = 0, live_ = 0;
  std::uint64_t next_id_ = 1;
  sim::DeliveryLog log_;
};

SimFabric::SimFabric(const SimTransportOptions& options)
    : network_(engine_,
               [&] {
                 sim::ClusterSpec spec = options.cluster;
                 spec.nodes = options.world_size;
                 return spec;
               }(),
               options.seed),
      nodes_(static_cast<std::size_t>(options.world_size)),
      compute_scale_(options.compute_scale),
      live_(options.world_size) {
  for (int r = 0; r < world_size(); ++r) {
    Node& n = node(r);
    n.fabric = this;
    n.rank = r;
    n.next_seq_to.assign(nodes_.size(), 0);
    n.next_seq_from.assign(nodes_.size(), 0);
  }
  log_.keep_text(options.keep_trace);
  // Faults first: a crash at 0 happens before the node starts.
  for (const sim::Fault& fault : options.faults) engine_.at(fault.at, [this, fault] { apply(fault); });
  for (int r = 0; r < world_size(); ++r) engine_.at(0, [this, r] { grant(r); });
}

void SimFabric::apply(const sim::Fault& fault) {
  switch (fault.kind) {
    case sim::Fault::Kind::kCrash: crash(fault.node); break;
    case sim::Fault::Kind::kSlowNode: node(fault.node).slow = fault.factor; break;
    case sim::Fault::Kind::kSlowNic: network_.slow_nic(fault.node, fault.factor); break;
    case sim::Fault::Kind::kPartition: {
      std::vector<int> side;
      for (int i = fault.node; i <= fault.last; ++i) side.push_back(i);
      network_.partition(std::move(side), fault.until);
      break;
    }
    case sim::Fault::Kind::kLoss: network_.set_loss(fault.factor); break;
  }
}

// A crashed node's receives fail now and its later calls fail at once; the network drops what
// it sends or would receive. Its thread still runs (to its end) through the baton.
void SimFabric::crash(int rank) {
  Node& n = node(rank);
  if (n.crashed) return;
  n.crashed = true;
  n.crashed_at = engine_.now();
  network_.crash(rank);
  const std::string why = fmt::format("rank {} crashed at virtual time {} (fault plan)", rank,
                                      sim::format_time(n.crashed_at));
  for (PostedRecv& posted : n.posted) {
    posted.done->complete(Status::unavailable(why));
    if (n.blocked_on == posted.done.get()) wake(rank);
  }
  n.posted.clear();
  n.arrivals.clear();
}

// ---- the baton ----

std::string SimFabric::outside_error(int rank) const {
  return fmt::format(
      "sim transport: rank {} was called from a thread that is not its node's, or after its node ended; a sim node "
      "is one thread (see comm/transport/sim/sim_transport.h)",
      rank);
}

bool SimFabric::enter(std::unique_lock<std::mutex>& lock, int rank) {
  const Node& n = node(rank);
  if (!n.attached || n.ended || n.thread != std::this_thread::get_id() || running_ != rank) return false;
  sync(lock, rank);
  return true;
}

// Charges the caller's compute since it got the baton and resumes it when the engine reaches
// its virtual time, after every event scheduled before for that time or earlier.
void SimFabric::sync(std::unique_lock<std::mutex>& lock, int rank) {
  Node& n = node(rank);
  Time compute = 0;
  if (compute_scale_ > 0) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - n.real_start).count();
    compute = sim::from_seconds(seconds * compute_scale_ * n.slow);
  }
  n.report.compute += compute;
  engine_.at(engine_.now() + compute, [this, rank] { grant(rank); });
  hand_off(lock, rank);
}

// Gives the baton back, runs the engine until some node may run, wakes it and waits for this
// node's next turn.
void SimFabric::hand_off(std::unique_lock<std::mutex>& lock, int self) {
  running_ = -1;
  schedule();
  if (running_ != self) {
    if (running_ >= 0) node(running_).cv.notify_one();
    node(self).cv.wait(lock, [&] { return running_ == self; });
  }
  node(self).real_start = std::chrono::steady_clock::now();
}

void SimFabric::schedule() {
  while (running_ < 0 && live_ > 0) {
    if (engine_.step()) continue;
    if (!resolve_stall()) return;
  }
}

void SimFabric::wake(int rank) {
  node(rank).blocked_on = nullptr;
  engine_.at(engine_.now(), [this, rank] { grant(rank); });
}

void SimFabric::attach(int rank) {
  std::unique_lock lock(mutex_);
  Node& n = node(rank);
  COURIER_CHECK(!n.attached, "rank {} attached twice", rank);
  n.attached = true;
  n.thread = std::this_thread::get_id();
  if (++attached_ == world_size()) {
    schedule();
    if (running_ >= 0 && running_ != rank) node(running_).cv.notify_one();
  }
  n.cv.wait(lock, [&] { return running_ == rank; });
  n.real_start = std::chrono::steady_clock::now();
}

void SimFabric::detach(int rank) {
  std::unique_lock lock(mutex_);
  if (!enter(lock, rank)) return;
  Node& n = node(rank);
  n.ended = true;
  n.report.end = engine_.now();
  --live_;
  running_ = -1;
  schedule();
  if (running_ >= 0) node(running_).cv.notify_one();
}

// ---- stalls ----

// Every live node is blocked and no event is left: each blocked wait fails, naming the chain
// of waits from the waiting rank to the one that ended, crashed or closed (or the cycle).
bool SimFabric::resolve_stall() {
  std::vector<std::pair<int, std::string>> failed;
  for (int r = 0; r < world_size(); ++r) {
    if (node(r).blocked_on != nullptr && !node(r).ended) failed.emplace_back(r, stall_message(r));
  }
  if (failed.empty()) return false;
  for (auto& [rank, message] : failed) {
    Node& n = node(rank);
    Completion* done = n.blocked_on;
    for (auto it = n.posted.begin(); it != n.posted.end(); ++it) {
      if (it->done.get() == done) {
        n.posted.erase(it);
        break;
      }
    }
    done->complete(Status::unavailable(message));
    wake(rank);
  }
  return true;
}

std::string SimFabric::stall_message(int rank) const {
  const Node& n = node(rank);
  std::string text = fmt::format(
      "rank {} waits for a message from {} (tag {:#x}) at virtual time {}, and nothing more can happen (a stall)", rank,
      who(n.blocked_source), n.blocked_tag, sim::format_time(engine_.now()));
  std::vector<bool> seen(nodes_.size(), false);
  seen[static_cast<std::size_t>(rank)] = true;
  std::vector<std::string> chain;
  for (int s = n.blocked_source; s != kAnySource;) {
    const Node& peer = node(s);
    if (peer.crashed) {
      chain.push_back(fmt::format("rank {} crashed at {}", s, sim::format_time(peer.crashed_at)));
      break;
    }
    if (peer.closed) {
      chain.push_back(fmt::format("rank {} closed its endpoint", s));
      break;
    }
    if (peer.ended) {
      chain.push_back(fmt::format("rank {} ended without sending it", s));
      break;
    }
    if (peer.blocked_on == nullptr) break;
    chain.push_back(fmt::format("rank {} waits for {} (tag {:#x})", s, who(peer.blocked_source), peer.blocked_tag));
    if (peer.blocked_source != kAnySource && seen[static_cast<std::size_t>(peer.blocked_source)]) {
      chain.back() += ", a cycle of waits";
      break;
    }
    seen[static_cast<std::size_t>(s)] = true;
    s = peer.blocked_source;
  }
  if (!chain.empty()) text = fmt::format("{}: {}", text, fmt::join(chain, "; "));
  if (network_.stats().undeliverable > 0) {
    text += fmt::format("; the network dropped {} message(s) for good (a crash, or a partition that never heals)",
                        network_.stats().undeliverable);
  }
  return text;
}

// ---- messages ----

SendHandle SimFabric::send(int from, int to, MessageHeader header, Payload payload) {
  COURIER_CHECK(to >= 0 && to < world_size(), "send to rank {} in a world of {}", to, world_size());
  std::unique_lock lock(mutex_);
  auto done = new_completion(from);
  if (!enter(lock, from)) {
    done->complete(Status::failed_precondition(outside_error(from)));
    return SendHandle(done);
  }
  Node& n = node(from);
  if (n.closed) {
    done->complete(Status::cancelled(fmt::format("rank {} is closed", from)));
  } else if (n.crashed) {
    done->complete(Status::unavailable(
        fmt::format("rank {} crashed at virtual time {} (fault plan)", from, sim::format_time(n.crashed_at))));
  } else if (node(to).closed) {
    done->complete(Status::unavailable(fmt::format("rank {} is gone (its endpoint is closed)", to)));
  } else {
    header.destination = static_cast<std::uint32_t>(to);
    auto arrival = std::make_shared<Arrival>(Arrival{header, std::move(payload).take(), engine_.now()});
    const std::uint64_t bytes = arrival->bytes.size() + kHeaderBytes;
    const std::uint64_t sequence = n.next_seq_to[static_cast<std::size_t>(to)]++;
    network_.transfer(from, to, bytes,
                      [this, to, from, sequence, arrival] { arrive(to, from, sequence, std::move(*arrival)); });
    done->complete(Status::ok());
  }
  n.real_start = std::chrono::steady_clock::now();
  return SendHandle(done);
}

// Loss re-sends can overtake: arrivals wait here until their predecessors from that source came.
void SimFabric::arrive(int to, int from, std::uint64_t sequence, Arrival arrival) {
  Node& n = node(to);
  if (n.crashed || n.closed) return;
  std::uint64_t& next = n.next_seq_from[static_cast<std::size_t>(from)];
  if (sequence != next) {
    n.out_of_order.emplace(std::make_pair(from, sequence), std::move(arrival));
    return;
  }
  accept(to, std::move(arrival));
  ++next;
  for (auto it = n.out_of_order.find({from, next}); it != n.out_of_order.end();
       it = n.out_of_order.find({from, next})) {
    accept(to, std::move(it->second));
    n.out_of_order.erase(it);
    ++next;
  }
}

void SimFabric::accept(int to, Arrival arrival) {
  record(arrival, to);
  Node& n = node(to);
  for (auto it = n.posted.begin(); it != n.posted.end(); ++it) {
    if (!matches(it->source, it->tag, arrival.header)) continue;
    std::shared_ptr<Completion> done = std::move(it->done);
    n.posted.erase(it);
    const Time sent = arrival.sent;
    done->complete(Message(arrival.header, std::move(arrival.bytes)));
    if (n.blocked_on == done.get()) {
      n.awaited_sent = sent;
      wake(to);
    }
    return;
  }
  n.arrivals.push_back(std::move(arrival));
}

void SimFabric::record(const Arrival& arrival, int to) {
  log_.record(arrival.sent, engine_.now(), arrival.header.source, static_cast<std::uint64_t>(to), arrival.header.tag,
              arrival.bytes.size());
}

RecvHandle SimFabric::recv(int rank, int source, std::uint64_t tag) {
  COURIER_CHECK(source == kAnySource || (source >= 0 && source < world_size()), "receive from rank {} in a world of {}",
                source, world_size());
  std::unique_lock lock(mutex_);
  auto done = new_completion(rank);
  if (!enter(lock, rank)) {
    done->complete(Status::failed_precondition(outside_error(rank)));
    return RecvHandle(done);
  }
  Node& n = node(rank);
  const auto found = std::find_if(n.arrivals.begin(), n.arrivals.end(),
                                  [&](const Arrival& a) { return matches(source, tag, a.header); });
  if (n.closed) {
    done->complete(Status::cancelled(fmt::format("rank {} is closed", rank)));
  } else if (n.crashed) {
    done->complete(Status::unavailable(
        fmt::format("rank {} crashed at virtual time {} (fault plan)", rank, sim::format_time(n.crashed_at))));
  } else if (found != n.arrivals.end()) {
    done->complete(Message(found->header, std::move(found->bytes)));
    n.arrivals.erase(found);
  } else if (source != kAnySource && node(source).closed) {
    done->complete(Status::unavailable(fmt::format("rank {} is gone (its endpoint is closed)", source)));
  } else {
    const std::uint64_t id = next_id_++;
    n.posted.push_back(PostedRecv{source, tag, done, id});
    done->set_canceller([this, rank, id] { return cancel(rank, id); });
  }
  n.real_start = std::chrono::steady_clock::now();
  return RecvHandle(done);
}

bool SimFabric::cancel(int rank, std::uint64_t id) {
  std::unique_lock lock(mutex_);
  const bool on_turn = enter(lock, rank);
  Node& n = node(rank);
  bool withdrawn = false;
  for (auto it = n.posted.begin(); it != n.posted.end(); ++it) {
    if (it->id == id) {
      n.posted.erase(it);
      withdrawn = true;
      break;
    }
  }
  if (on_turn) n.real_start = std::chrono::steady_clock::now();
  return withdrawn;
}

bool SimFabric::wait(int rank, Completion& completion, const Deadline& deadline) {
  std::unique_lock lock(mutex_);
  if (!enter(lock, rank)) return completion.is_done();
  Node& n = node(rank);
  while (!completion.is_done() && !deadline.expired(real_clock())) {
    n.blocked_on = &completion;
    n.blocked_source = kAnySource;
    n.blocked_tag = 0;
    for (const PostedRecv& posted : n.posted) {
      if (posted.done.get() == &completion) {
        n.blocked_source = posted.source;
        n.blocked_tag = posted.tag;
      }
    }
    n.awaited_sent = -1;
    const Time since = engine_.now();
    hand_off(lock, rank);
    const Time blocked = engine_.now() - since;
    const Time waited = n.awaited_sent < 0 ? blocked : std::clamp(n.awaited_sent - since, Time{0}, blocked);
    n.report.wait += waited;
    n.report.communicate += blocked - waited;
  }
  n.real_start = std::chrono::steady_clock::now();
  return completion.is_done();
}

// Like inproc's close: what it waited for is cancelled, its unreceived messages (and those
// it sent that nobody took yet) vanish, and everyone waiting for a message from it is told.
void SimFabric::close(int rank) {
  std::unique_lock lock(mutex_);
  const bool on_turn = enter(lock, rank);
  Node& n = node(rank);
  if (!n.closed) {
    n.closed = true;
    for (PostedRecv& posted : n.posted) posted.done->complete(Status::cancelled(fmt::format("rank {} is closed", rank)));
    n.posted.clear();
    n.arrivals.clear();
    const std::string gone = fmt::format("rank {} is gone (its endpoint is closed)", rank);
    for (int other = 0; other < world_size(); ++other) {
      Node& peer = node(other);
      std::erase_if(peer.arrivals, [&](const Arrival& a) { return static_cast<int>(a.header.source) == rank; });
      for (auto it = peer.posted.begin(); it != peer.posted.end();) {
        if (it->source != rank) {
          ++it;
          continue;
        }
        it->done->complete(Status::unavailable(gone));
        if (peer.blocked_on == it->done.get()) wake(other);
        it = peer.posted.erase(it);
      }
    }
  }
  if (on_turn) n.real_start = std::chrono::steady_clock::now();
}

SimReport SimFabric::report() const {
  std::lock_guard lock(mutex_);
  SimReport report;
  for (const Node& n : nodes_) {
    report.nodes.push_back(n.report);
    report.end = std::max(report.end, n.ended ? n.report.end : engine_.now());
  }
  report.network = network_.stats();
  report.deliveries = log_.count();
  report.trace_digest = log_.digest();
  report.trace = log_.text();
  return report;
}

// ---- endpoints ----

SimTransport::SimTransport(std::shared_ptr<SimFabric> fabric, int rank) : fabric_(std::move(fabric)), rank_(rank) {}
SimTransport::~SimTransport() = default;

int SimTransport::world_size() const { return fabric_->world_size(); }

SendHandle SimTransport::send(int destination, MessageHeader header, Payload payload) {
  header.source = static_cast<std::uint32_t>(rank_);
  return fabric_->send(rank_, destination, header, std::move(payload));
}

RecvHandle SimTransport::recv(int source, std::uint64_t tag) { return fabric_->recv(rank_, source, tag); }
void SimTransport::close() { fabric_->close(rank_); }
void SimTransport::attach() { fabric_->attach(rank_); }
void SimTransport::detach() { fabric_->detach(rank_); }
SimReport SimTransport::report() const { return fabric_->report(); }

Status check_sim_options(const SimTransportOptions& options) {
  if (options.world_size < 1) return Status::invalid_argument("a simulated world needs at least one node");
  if (!(options.compute_scale >= 0)) {
    return Status::invalid_argument(
        fmt::format("the sim compute scale is {}; it must be >= 0 (0: compute is free, 1: real time)",
                    options.compute_scale));
  }
  return sim::check_faults(options.faults, options.world_size);
}

Result<std::vector<std::unique_ptr<Transport>>> make_sim_world(const SimTransportOptions& options) {
  if (Status s = check_sim_options(options); !s.is_ok()) return s;
  auto fabric = std::make_shared<SimFabric>(options);
  std::vector<std::unique_ptr<Transport>> endpoints;
  for (int r = 0; r < options.world_size; ++r) endpoints.push_back(std::make_unique<SimTransport>(fabric, r));
  return endpoints;
}

std::vector<Status> run_sim_nodes(std::vector<std::unique_ptr<Transport>>& endpoints,
                                  const std::function<Status(Transport&)>& node) {
  std::vector<Status> results(endpoints.size());
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < endpoints.size(); ++r) {
    threads.emplace_back([&, r] {
      auto& endpoint = static_cast<SimTransport&>(*endpoints[r]);
      endpoint.attach();
      try {
        results[r] = node(endpoint);
      } catch (const std::exception& e) {
        results[r] = Status::internal(fmt::format("rank {}: {}", r, e.what()));
      }
      endpoint.detach();
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace courier
