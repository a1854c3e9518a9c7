// Parameter-server servers: the BSP/ASP/SSP rules over the live workers, dropping dead or
// silent workers, replicas of each slice on the next server, and taking a dead server's slice
// over from its replica.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "courier/comm/codecs/wire.h"
#include "courier/core/check.h"
#include "courier/core/logging.h"
#include "courier/train/strategies/parameter_server.h"
#include "courier/train/strategies/parameter_server_wire.h"

namespace courier {
namespace {

using namespace ps_wire;

// How often a waiting server looks at its workers' liveness (closed endpoints, silence).
constexpr auto kLivenessInterval = std::chrono::milliseconds(50);

struct Pull {
  int worker;
  std::int64_t clock;
  bool whole;  // the slice as it is, even when compressing
};

// One slice on the server serving it: its own, or one taken over from a dead server.
struct Shard {
  int index = 0;
  Slice slice;
  std::vector<float> values;
  std::unique_ptr<Optimizer> optimizer;
  std::int64_t updates = 0;  // optimizer updates applied (BSP: clocks)
  std::int64_t applied = 0;  // BSP: clocks applied
  std::vector<float> sum;    // BSP: the weighted gradients pushed for the open clock
  float weight_sum = 0.0f;
  float lr = 0.0f;
  std::vector<std::int64_t> pushed;  // per worker: clocks pushed
  std::vector<Pull> waiting;         // pulls not yet answerable
  // When compressing: per worker a pull encoder and a copy of what the worker holds (empty
  // until a whole answer).
  std::vector<std::unique_ptr<Codec>> pull_codecs;
  std::vector<std::vector<float>> held;
  // Taken over from a replica: the workers whose clock on it is known again (their first push
  // or pull after the takeover moves it to where they are, counting what the replica missed).
  bool adopted = false;
  std::vector<bool> rebased;
};

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::int64_t, std::int64_t)>;

class Server {
 public:
  Server(Communicator& comm, std::span<const float> initial, const MakeOptimizer& make_optimizer,
         const ParameterServerOptions& options, const ServerObserver& observer);

  Status run();

 private:
  int own() const { return comm_.rank() - options_.workers; }
  bool active(int worker) const {
    return !done_[static_cast<std::size_t>(worker)] && !dropped_[static_cast<std::size_t>(worker)];
  }
  bool any_active() const {
    for (int w = 0; w < options_.workers; ++w) {
      if (active(w)) return true;
    }
    return false;
  }
  bool replicating() const { return options_.elastic && options_.servers >= 2; }
  Status serve();
  Shard make_shard(int index) const;
  Status handle(const Message& message);
  Result<Shard*> shard_for(int slice, int worker);
  Status adopt(int slice);
  Status push(Shard& shard, int worker, const RequestHeader& header, std::span<const float> grads);
  bool rebase(Shard& shard, int worker, std::int64_t clock);
  void apply_round(Shard& shard);
  void after_update(Shard& shard);
  void replicate(const Shard& shard);
  bool can_answer(const Shard& shard, std::int64_t clock) const;
  void answer(Shard& shard, const Pull& pull);
  void answer_waiting(Shard& shard);
  // The slowest clock the bound counts; with_stragglers: a straggler left out of it too.
  std::int64_t slowest(const Shard& shard, bool with_stragglers = false) const;
  void note_busy(int worker, std::uint32_t busy_us);
  bool waits_here(int worker) const;
  Status check_workers();
  Status drop(int worker, const std::string& why);
  Status stalled(Duration waited) const;

  Communicator& comm_;
  ParameterServerOptions options_;
  ServerObserver observer_;
  std::span<const float> initial_;
  const MakeOptimizer& make_optimizer_;
  std::map<int, Shard> shards_;      // by slice: this server's own, and any taken over
  std::vector<std::byte> replica_;   // the last replica of the previous server's slice, if any
  std::vector<bool> done_, dropped_;
  std::vector<std::int64_t> dropped_clock_;  // BSP, per worker dropped: the clock open then
  std::vector<Duration> last_heard_;  // per worker: its last request, or the last answer it waited for
  // skip_stragglers: each worker's compute a step (pushes' busy_us, smoothed) and whether it is
  // out of SSP's bound.
  std::vector<double> busy_;
  std::vector<int> busy_samples_;
  std::vector<bool> straggling_;
  std::vector<PendingRecv> watches_;  // per worker, on kTagWatch: completes when its endpoint closes
  bool died_ = false;                 // the injected death happened
  std::unique_ptr<Codec> push_codec_;
  std::vector<float> change_, decoded_;
};

Server::Server(Communicator& comm, std::span<const float> initial, const MakeOptimizer& make_optimizer,
               const ParameterServerOptions& options, const ServerObserver& observer)
    : comm_(comm), options_(options), observer_(observer), initial_(initial), make_optimizer_(make_optimizer),
      done_(static_cast<std::size_t>(options.workers), false), dropped_(static_cast<std::size_t>(options.workers), false),
      dropped_clock_(static_cast<std::size_t>(options.workers), 0),
      last_heard_(static_cast<std::size_t>(options.workers), real_clock().now()),
      busy_(static_cast<std::size_t>(options.workers), 0.0), busy_samples_(static_cast<std::size_t>(options.workers), 0),
      straggling_(static_cast<std::size_t>(options.workers), false) {
  if (options_.compression.enabled()) push_codec_ = options_.compression.codec_without_feedback(comm.rank());
  shards_.emplace(own(), make_shard(own()));
}

// A slice as it starts: its initial values, a fresh optimizer, no clocks.
Shard Server::make_shard(int index) const {
  Shard shard;
  shard.index = index;
  shard.slice = server_slice(static_cast<std::int64_t>(initial_.size()), options_.servers, index);
  const auto begin = initial_.begin() + shard.slice.offset;
  shard.values.assign(begin, begin + shard.slice.count);
  shard.optimizer = make_optimizer_(shard.slice.offset, shard.slice.count);
  shard.sum.assign(static_cast<std::size_t>(shard.slice.count), 0.0f);
  shard.pushed.assign(static_cast<std::size_t>(options_.workers), 0);
  if (options_.compression.enabled()) {
    // Seeds as before slices could move: comm rank of the slice's own server.
    const int rank = options_.workers + index;
    for (int w = 0; w < options_.workers; ++w) {
      shard.pull_codecs.push_back(options_.compression.codec_without_feedback(rank * 7919 + w));
    }
    shard.held.resize(static_cast<std::size_t>(options_.workers));
  }
  return shard;
}

// The lowest clock pushed by a live worker. On a taken-over slice SSP counts only the workers
// heard from since: one that has not found its server gone yet may be waiting for another slice
// that waits for the worker this slice would hold back (a cycle); the other slices still bound
// it. BSP counts every live worker, as a clock's average needs each one's push.
std::int64_t Server::slowest(const Shard& shard, bool with_stragglers) const {
  std::int64_t lowest = std::numeric_limits<std::int64_t>::max();
  for (int w = 0; w < options_.workers; ++w) {
    const auto i = static_cast<std::size_t>(w);
    if (!active(w) || (shard.adopted && options_.sync != SyncMode::kBsp && !shard.rebased[i])) continue;
    if (options_.sync == SyncMode::kSsp && straggling_[i] && !with_stragglers) continue;  // skip_stragglers
    lowest = std::min(lowest, shard.pushed[i]);
  }
  return lowest;
}

bool Server::can_answer(const Shard& shard, std::int64_t clock) const {
  switch (options_.sync) {
    case SyncMode::kBsp: return shard.applied >= clock;
    case SyncMode::kAsp: return true;
    case SyncMode::kSsp: return slowest(shard) >= clock - options_.staleness;
  }
  return true;
}

void Server::answer(Shard& shard, const Pull& pull) {
  const int worker = pull.worker;
  const std::int64_t clock = pull.clock;
  if (observer_.on_pull_answered) observer_.on_pull_answered(worker, clock, slowest(shard, /*with_stragglers=*/true));
  const auto w = static_cast<std::size_t>(worker);
  last_heard_[w] = real_clock().now();  // it waited on this server until now: silence counts from here
  const std::vector<float>& values = shard.values;
  // A pull of clock c ends step c - 1's exchange (its push, then this answer).
  const bool change = push_codec_ && !shard.held[w].empty() && !pull.whole && options_.compression.compresses(clock - 1);
  const ReplyHeader header{.form = change ? ReplyForm::kChange : ReplyForm::kWhole,
                           .workers = static_cast<std::uint32_t>(options_.workers)};
  std::vector<std::byte> bytes = with_header(header);
  for (int other = 0; other < options_.workers; ++other) {
    // BSP: a worker dropped while clock d was open shows from the pulls of clock d + 1 on, so
    // every worker reads the new shares from the same step.
    const auto o = static_cast<std::size_t>(other);
    const bool shown = dropped_[o] && (options_.sync != SyncMode::kBsp || dropped_clock_[o] < clock);
    bytes.push_back(shown ? std::byte{1} : std::byte{0});
  }
  if (change) {
    // The change since the worker's copy, encoded; the copy moves by what the worker will decode.
    change_.resize(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) change_[i] = values[i] - shard.held[w][i];
    std::vector<std::byte> encoded;
    shard.pull_codecs[w]->encode(change_, encoded);
    decoded_.resize(values.size());
    const Status own_decode = shard.pull_codecs[w]->decode(encoded, decoded_);
    COURIER_CHECK(own_decode.is_ok(), "a codec cannot decode its own encoding: {}", own_decode.to_string());
    for (std::size_t i = 0; i < values.size(); ++i) shard.held[w][i] += decoded_[i];
    bytes.insert(bytes.end(), encoded.begin(), encoded.end());
  } else {
    if (push_codec_) shard.held[w] = values;
    const auto whole = std::as_bytes(std::span<const float>(values));
    bytes.insert(bytes.end(), whole.begin(), whole.end());
  }
  comm_.send(worker, kTagReply + static_cast<std::uint64_t>(shard.index), std::move(bytes),
             SendInfo{.step = static_cast<std::uint64_t>(std::max<std::int64_t>(clock, 0))});
}

void Server::answer_waiting(Shard& shard) {
  std::erase_if(shard.waiting, [&](const Pull& pull) {
    if (!can_answer(shard, pull.clock)) return false;
    answer(shard, pull);
    return true;
  });
}

// After a slice's update: the injected death, a replica when one is due, the pulls it frees.
void Server::after_update(Shard& shard) {
  ++shard.updates;
  if (shard.index == own() && shard.updates == options_.die_after_updates) {
    died_ = true;
    return;
  }
  if (replicating() && !shard.adopted && shard.updates % std::max<std::int64_t>(1, options_.replicate_every) == 0) {
    replicate(shard);
  }
  answer_waiting(shard);
}

void Server::apply_round(Shard& shard) {
  // After a worker was dropped the pushes of a clock may weigh less than one: scale them up.
  const bool reweight = std::find(dropped_.begin(), dropped_.end(), true) != dropped_.end() && shard.weight_sum > 0.0f;
  if (reweight) {
    for (float& g : shard.sum) g /= shard.weight_sum;
  }
  shard.optimizer->step(shard.values, shard.sum, shard.lr);
  std::fill(shard.sum.begin(), shard.sum.end(), 0.0f);
  shard.weight_sum = 0.0f;
  ++shard.applied;
  after_update(shard);
}

// A worker's first word on a taken-over slice says where its clock is: the replica's clock
// moves there, and what it skips is lost. False when the request is already reflected
// (a push the replica holds), and is to be dropped.
bool Server::rebase(Shard& shard, int worker, std::int64_t clock) {
  const auto w = static_cast<std::size_t>(worker);
  std::int64_t& known = options_.sync == SyncMode::kBsp ? shard.applied : shard.pushed[w];
  if (!shard.rebased[w]) {
    shard.rebased[w] = true;
    if (clock > known) {
      if (observer_.on_updates_lost) observer_.on_updates_lost(shard.index, clock - known);
      known = clock;
      if (options_.sync == SyncMode::kBsp) {
        std::fill(shard.sum.begin(), shard.sum.end(), 0.0f);
        shard.weight_sum = 0.0f;
      }
    }
  }
  return clock >= known;
}

Status Server::push(Shard& shard, int worker, const RequestHeader& header, std::span<const float> grads) {
  const auto w = static_cast<std::size_t>(worker);
  if (dropped_[w]) return Status::ok();  // a dropped worker's steps no longer count
  if (shard.adopted && !rebase(shard, worker, header.clock)) return Status::ok();
  if (options_.sync == SyncMode::kBsp) {
    if (header.clock != shard.applied) {
      return Status::failed_precondition(fmt::format("server rank {}: worker {} pushed clock {} while clock {} is open",
                                                     comm_.rank(), worker, header.clock, shard.applied));
    }
    for (std::size_t i = 0; i < shard.sum.size(); ++i) shard.sum[i] += header.weight * grads[i];
    shard.weight_sum += header.weight;
    shard.lr = header.lr;
    shard.pushed[w] = header.clock + 1;
    if (slowest(shard) > shard.applied) apply_round(shard);
    return Status::ok();
  }
  if (options_.skip_stragglers && options_.sync == SyncMode::kSsp) note_busy(worker, header.busy_us);
  shard.optimizer->step(shard.values, grads, header.lr);
  shard.pushed[w] = header.clock + 1;
  after_update(shard);
  return Status::ok();
}

// Smooths the worker's reported compute and moves it out of SSP's bound when it exceeds twice
// the (lower) median of the live workers', back in under 1.5x. Three pushes of each first.
void Server::note_busy(int worker, std::uint32_t busy_us) {
  const auto w = static_cast<std::size_t>(worker);
  const double x = static_cast<double>(busy_us);
  busy_[w] = busy_samples_[w] == 0 ? x : 0.7 * busy_[w] + 0.3 * x;
  ++busy_samples_[w];
  std::vector<double> known;
  for (int v = 0; v < options_.workers; ++v) {
    const auto i = static_cast<std::size_t>(v);
    if (active(v) && busy_samples_[i] >= 3) known.push_back(busy_[i]);
  }
  if (known.size() < 2 || busy_samples_[w] < 3) return;
  const auto middle = static_cast<std::ptrdiff_t>((known.size() - 1) / 2);
  std::nth_element(known.begin(), known.begin() + middle, known.end());
  const double median = known[static_cast<std::size_t>(middle)];
  if (median <= 0) return;
  const double ratio = busy_[w] / median;
  const bool was = straggling_[w];
  if (!was && ratio > 2.0) straggling_[w] = true;
  if (was && ratio < 1.5) straggling_[w] = false;
  if (straggling_[w] == was) return;
  spdlog::info("server rank {}: worker {} computes {:.2f}x the median step: {} SSP's bound", comm_.rank(), worker,
               ratio, straggling_[w] ? "left out of" : "back in");
  if (observer_.on_straggler) observer_.on_straggler(worker, straggling_[w], ratio);
  for (auto& [index, shard] : shards_) answer_waiting(shard);  // the bound may have moved
}

// Values, optimizer state and clocks of `shard`, to the next server (which takes it over if
// this one dies). Nobody waits for the send: a dead next server simply never takes it.
void Server::replicate(const Shard& shard) {
  std::vector<OptimizerState> state = shard.optimizer->state();
  const SnapshotHeader snapshot{.updates = shard.updates, .applied = shard.applied,
                                .optimizer_steps = shard.optimizer->step_count(),
                                .workers = static_cast<std::uint32_t>(options_.workers),
                                .state_buffers = static_cast<std::uint32_t>(state.size())};
  std::vector<std::byte> body = with_header(snapshot);
  const auto append = [&body](auto values) {
    const auto bytes = std::as_bytes(values);
    body.insert(body.end(), bytes.begin(), bytes.end());
  };
  append(std::span<const std::int64_t>(shard.pushed));
  append(std::span<const float>(shard.values));
  for (const OptimizerState& buffer : state) append(std::span<const float>(buffer.values));
  const RequestHeader header{.kind = RequestKind::kReplica, .clock = shard.updates,
                             .slice = static_cast<std::uint32_t>(shard.index)};
  comm_.send(options_.workers + (own() + 1) % options_.servers, kTagRequest, with_header(header, std::move(body)),
             SendInfo{.step = static_cast<std::uint64_t>(shard.updates)});
}

// Serves `slice` from here on, as its last replica left it (or as it started, before any).
Status Server::adopt(int slice) {
  Shard shard = make_shard(slice);
  shard.adopted = true;
  shard.rebased.assign(static_cast<std::size_t>(options_.workers), false);
  if (!replica_.empty()) {
    SnapshotHeader snapshot{};
    std::vector<OptimizerState> state = shard.optimizer->state();
    const std::size_t count = shard.values.size();
    const std::size_t expected = sizeof snapshot + shard.pushed.size() * sizeof(std::int64_t) +
                                 (1 + state.size()) * count * sizeof(float);
    if (replica_.size() >= sizeof snapshot) std::memcpy(&snapshot, replica_.data(), sizeof snapshot);
    if (replica_.size() != expected || snapshot.workers != shard.pushed.size() ||
        snapshot.state_buffers != state.size()) {
      return Status::data_loss(fmt::format("server rank {}: the replica of slice {} has {} bytes, not the {} its "
                                           "slice and optimizer need", comm_.rank(), slice, replica_.size(), expected));
    }
    const std::byte* at = replica_.data() + sizeof snapshot;
    const auto take = [&at](void* into, std::size_t bytes) {
      if (bytes > 0) std::memcpy(into, at, bytes);
      at += bytes;
    };
    take(shard.pushed.data(), shard.pushed.size() * sizeof(std::int64_t));
    take(shard.values.data(), count * sizeof(float));
    for (OptimizerState& buffer : state) take(buffer.values.data(), count * sizeof(float));
    shard.updates = snapshot.updates;
    shard.applied = snapshot.applied;
    shard.optimizer->set_step_count(snapshot.optimizer_steps);
  }
  if (observer_.on_takeover) observer_.on_takeover(slice, shard.updates);
  shards_.emplace(slice, std::move(shard));
  return Status::ok();
}

// The slice a request names: one served here, or the previous server's, taken over now (a
// worker only sends it here once it found that server gone).
Result<Shard*> Server::shard_for(int slice, int worker) {
  if (auto it = shards_.find(slice); it != shards_.end()) return &it->second;
  const bool backed_up_here = replicating() && slice >= 0 && slice < options_.servers &&
                              (slice + 1) % options_.servers == own();
  if (!backed_up_here) {
    return Status::data_loss(fmt::format("server rank {}: worker {} asked for slice {}, which this server neither "
                                         "serves nor replicates", comm_.rank(), worker, slice));
  }
  if (Status s = adopt(slice); !s.is_ok()) return s;
  return &shards_.at(slice);
}

Status Server::handle(const Message& message) {
  const int source = static_cast<int>(message.header().source);
  const ByteSpan payload = message.payload();
  RequestHeader header{};
  if (payload.size() >= sizeof header) std::memcpy(&header, payload.data(), sizeof header);
  const bool from_server = source >= options_.workers && header.kind == RequestKind::kReplica;
  if ((source >= options_.workers && !from_server) || payload.size() < sizeof header) {
    return Status::data_loss(fmt::format("server rank {}: malformed request from rank {}", comm_.rank(), source));
  }
  const ByteSpan body = payload.subspan(sizeof header);
  if (from_server) {
    replica_.assign(body.begin(), body.end());
    return Status::ok();
  }
  last_heard_[static_cast<std::size_t>(source)] = real_clock().now();
  if (header.kind == RequestKind::kDone) {
    done_[static_cast<std::size_t>(source)] = true;
    for (auto& [index, shard] : shards_) {
      if (options_.sync == SyncMode::kBsp && slowest(shard) > shard.applied && shard.weight_sum > 0.0f) {
        apply_round(shard);
      }
      answer_waiting(shard);  // a finished worker no longer holds SSP back
    }
    return Status::ok();
  }
  Result<Shard*> found = shard_for(static_cast<int>(header.slice), source);
  if (!found.is_ok()) return found.status();
  Shard& shard = **found;
  switch (header.kind) {
    case RequestKind::kPush: {
      std::vector<float> grads(static_cast<std::size_t>(shard.slice.count));
      if (header.option != 0) {
        if (!push_codec_) {
          return Status::data_loss(fmt::format("server rank {}: worker {} pushed an encoding, but this server runs "
                                               "no dist.codec: every node must run the same dist.codec",
                                               comm_.rank(), source));
        }
        if (Status s = push_codec_->decode(body, grads); !s.is_ok()) {
          return Status::data_loss(fmt::format("server rank {}: worker {} pushed a damaged {} encoding: {}",
                                               comm_.rank(), source, push_codec_->name(), s.message()));
        }
      } else {
        if (body.size() != grads.size() * sizeof(float)) {
          return Status::data_loss(fmt::format("server rank {}: worker {} pushed {} bytes for a slice of {} values",
                                               comm_.rank(), source, body.size(), shard.slice.count));
        }
        if (!body.empty()) std::memcpy(grads.data(), body.data(), body.size());
      }
      return push(shard, source, header, grads);
    }
    case RequestKind::kPull: {
      if (shard.adopted) rebase(shard, source, header.clock);
      const Pull pull{source, header.clock, header.option != 0};
      if (can_answer(shard, pull.clock)) {
        answer(shard, pull);
      } else {
        shard.waiting.push_back(pull);
      }
      return Status::ok();
    }
    default: break;
  }
  return Status::data_loss(fmt::format("server rank {}: unknown request kind {} from worker {}", comm_.rank(),
                                       static_cast<std::uint32_t>(header.kind), source));
}

bool Server::waits_here(int worker) const {
  for (const auto& [index, shard] : shards_) {
    for (const Pull& pull : shard.waiting) {
      if (pull.worker == worker) return true;
    }
  }
  return false;
}

// Drops the workers whose endpoint closed, and (elastic) a silent one: no word for
// worker_timeout, the slowest on this server's slice and not waiting on it (a worker that waits
// for others is ahead of them, so only the one they wait for is suspected).
Status Server::check_workers() {
  const Duration now = real_clock().now();
  const Shard& mine = shards_.at(own());
  for (int w = 0; w < options_.workers; ++w) {
    if (!active(w)) continue;
    PendingRecv& watch = watches_[static_cast<std::size_t>(w)];
    if (watch.handle.test()) {
      const Result<Message> closed = watch.handle.wait(Deadline::never());
      if (Status s = drop(w, closed.is_ok() ? std::string("it sent on the watch tag")
                                            : fmt::format("{}", closed.status().message()));
          !s.is_ok()) {
        return s;
      }
      continue;
    }
    const Duration silent = now - last_heard_[static_cast<std::size_t>(w)];
    if (options_.elastic && silent > options_.worker_timeout && !waits_here(w) &&
        mine.pushed[static_cast<std::size_t>(w)] == slowest(mine)) {
      if (Status s = drop(w, fmt::format("silent for {:.3g} s", std::chrono::duration<double>(silent).count()));
          !s.is_ok()) {
        return s;
      }
    }
  }
  return Status::ok();
}

Status Server::drop(int worker, const std::string& why) {
  const std::int64_t clock = shards_.at(own()).pushed[static_cast<std::size_t>(worker)];
  if (!options_.elastic) {
    return Status::unavailable(fmt::format(
        "server rank {}: worker rank {} is gone at clock {} ({}); with dist.recovery = \"elastic\" the other workers "
        "would go on without it",
        comm_.rank(), worker, clock, why));
  }
  dropped_[static_cast<std::size_t>(worker)] = true;
  dropped_clock_[static_cast<std::size_t>(worker)] = shards_.at(own()).applied;
  if (observer_.on_worker_dropped) observer_.on_worker_dropped(worker, clock);
  for (auto& [index, shard] : shards_) {
    // The open BSP clock may now have every live worker's push.
    if (options_.sync == SyncMode::kBsp && slowest(shard) > shard.applied && shard.weight_sum > 0.0f) {
      apply_round(shard);
      if (died_) return Status::ok();
    }
    answer_waiting(shard);
  }
  return Status::ok();
}

// No request for options.timeout: names the live workers this server waits for.
Status Server::stalled(Duration waited) const {
  std::vector<int> silent;
  for (int w = 0; w < options_.workers; ++w) {
    if (active(w) && !waits_here(w)) silent.push_back(w);
  }
  return Status::deadline_exceeded(fmt::format(
      "server rank {}: no request for {:.3g} s (slice {} at clock {}); waiting for worker rank(s) {}", comm_.rank(),
      std::chrono::duration<double>(waited).count(), own(), slowest(shards_.at(own())), fmt::join(silent, ", ")));
}

Status Server::serve() {
  Duration last_request = real_clock().now();
  while (any_active()) {
    if (Status s = check_workers(); !s.is_ok()) return s;
    if (died_) return Status::ok();
    const Deadline slice = Deadline::after(real_clock(), kLivenessInterval);
    Result<Message> request = comm_.receive(
        kAnySource, kTagRequest, slice,
        OpContext{.op = "parameter server", .step = static_cast<std::uint64_t>(shards_.at(own()).updates),
                  .survivable = true});
    if (request.is_ok()) {
      last_request = real_clock().now();
      if (Status s = handle(*request); !s.is_ok()) return s;
      if (died_) return Status::ok();
      continue;
    }
    if (request.status().code() != StatusCode::kDeadlineExceeded) return request.status();
    if (real_clock().now() - last_request > options_.timeout) return stalled(real_clock().now() - last_request);
  }
  return Status::ok();
}

Status Server::run() {
  for (int w = 0; w < options_.workers; ++w) watches_.push_back(comm_.recv(w, kTagWatch));
  Status status = serve();
  for (PendingRecv& watch : watches_) watch.handle.cancel();
  if (died_) {
    comm_.transport().close();  // as a crashed process: its connections reset, its slice is gone
    return Status::ok();
  }
  // A failure of this server's own (not one it heard of) goes to every member.
  if (!status.is_ok() && !comm_.failure()) comm_.abort(status);
  return status;
}

}  // namespace

Status run_parameter_server(Communicator& world, std::span<const float> initial, const MakeOptimizer& make_optimizer,
                            const ParameterServerOptions& options, const ServerObserver& observer) {
  COURIER_CHECK_EQ(world.world_size(), options.workers + options.servers, "world = workers + servers");
  COURIER_CHECK_GE(world.rank(), options.workers, "a parameter server must be a server rank");
  Server server(world, initial, make_optimizer, options, observer);
  return server.run();
}

}  // namespace courier
