// Parameter-server workers and servers, and the BSP/ASP/SSP rules on the server.
#include "courier/train/strategies/parameter_server.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "courier/comm/codecs/wire.h"
#include "courier/comm/collectives/collectives.h"
#include "courier/core/check.h"

namespace courier {
namespace {

constexpr std::uint64_t kTagRequest = 101;  // worker -> server: push, pull, done
constexpr std::uint64_t kTagReply = 102;    // server -> worker: the slice's parameters

enum class RequestKind : std::uint32_t { kPush = 1, kPull = 2, kDone = 3 };

// The fixed part of a request; a push's gradient slice follows it.
struct RequestHeader {
  RequestKind kind;
  // push: 1 when the slice is the codec's encoding, 0 when floats; pull: 1 asks for the
  // whole slice even when compressing (a worker's last pull: the model it ends with is the
  // servers' own, not a compressed copy of it).
  std::uint32_t option = 0;
  std::int64_t clock;  // push: the step pushed; pull: the clock the parameters must reflect
  float lr = 0.0f;     // push: the learning rate of that step
  float weight = 1.0f; // push: the factor the server applies to the gradient
};

// The header, then `body` (a push's gradient slice, as floats or encoded).
std::vector<std::byte> encode_request(const RequestHeader& header, std::vector<std::byte> body = {}) {
  const auto fixed = std::as_bytes(std::span<const RequestHeader>(&header, 1));
  body.insert(body.begin(), fixed.begin(), fixed.end());
  return body;
}

// A pull's answer: u32 form, then the slice as floats (kWhole) or the codec's encoding of
// the change since the worker's last answer (kChange).
enum class ReplyForm : std::uint32_t { kWhole = 1, kChange = 2 };

Deadline deadline_for(const ParameterServerOptions& options) { return Deadline::after(real_clock(), options.timeout); }

}  // namespace

std::string_view sync_mode_name(SyncMode mode) {
  switch (mode) {
    case SyncMode::kBsp: return "bsp";
    case SyncMode::kAsp: return "asp";
    case SyncMode::kSsp: return "ssp";
  }
  return "unknown";
}

std::optional<SyncMode> parse_sync_mode(std::string_view name) {
  for (SyncMode m : {SyncMode::kBsp, SyncMode::kAsp, SyncMode::kSsp}) {
    if (sync_mode_name(m) == name) return m;
  }
  return std::nullopt;
}

Slice server_slice(std::int64_t parameters, int servers, int index) {
  const ElementRange r = block_range(static_cast<std::size_t>(parameters), servers, index);
  return {static_cast<std::int64_t>(r.begin), static_cast<std::int64_t>(r.count)};
}

// ---- worker -----------------------------------------------------------------------------

ParameterServerWorker::ParameterServerWorker(Communicator& world, std::int64_t parameters,
                                             ParameterServerOptions options)
    : Strategy(world), parameters_(parameters), options_(options) {
  COURIER_CHECK_EQ(world.world_size(), options.workers + options.servers, "world = workers + servers");
  COURIER_CHECK_LT(world.rank(), options.workers, "a parameter-server worker must be a worker rank");
  if (options_.compression.enabled()) {
    for (int s = 0; s < options_.servers; ++s) push_codecs_.push_back(options_.compression.codec(world.rank()));
    pull_codec_ = options_.compression.codec_without_feedback(world.rank());
  }
}

std::string ParameterServerWorker::describe() const {
  std::string mode(sync_mode_name(options_.sync));
  if (options_.sync == SyncMode::kSsp) mode += fmt::format(" (staleness {})", options_.staleness);
  if (pull_codec_) mode += fmt::format(", pushes {} and pulls {} compressed", push_codecs_.front()->name(), pull_codec_->name());
  return fmt::format("parameter server: {} workers, {} server{}, {}", options_.workers, options_.servers,
                     options_.servers == 1 ? "" : "s", mode);
}

Status ParameterServerWorker::start(Parameters& params, Optimizer&) {
  COURIER_CHECK_EQ(params.numel(), parameters_, "parameter count");
  return pull(params, 0);
}

// Asks every server for its slice as of `clock` and copies the answers into `params`.
Status ParameterServerWorker::pull(Parameters& params, std::int64_t clock, bool whole) {
  for (int s = 0; s < options_.servers; ++s) {
    comm_.send(options_.workers + s, kTagRequest, encode_request({RequestKind::kPull, whole ? 1u : 0u, clock}),
               SendInfo{.step = static_cast<std::uint64_t>(std::max<std::int64_t>(clock, 0))});
  }
  const auto started = std::chrono::steady_clock::now();
  for (int s = 0; s < options_.servers; ++s) {
    const Slice slice = server_slice(parameters_, options_.servers, s);
    Result<Message> reply = comm_.receive(options_.workers + s, kTagReply, deadline_for(options_),
                                          {"parameter server pull", static_cast<std::uint64_t>(clock)});
    if (!reply.is_ok()) return reply.status();
    if (Status st = apply_reply(reply->payload(), options_.workers + s,
                                params.values().span().subspan(static_cast<std::size_t>(slice.offset),
                                                               static_cast<std::size_t>(slice.count)));
        !st.is_ok()) {
      return st;
    }
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Status::ok();
}

// Writes a pull's answer into the slice: the values as they are, or the change added.
Status ParameterServerWorker::apply_reply(ByteSpan reply, int server, std::span<float> slice) {
  const auto form = reply.size() >= 4 ? static_cast<ReplyForm>(codec_wire::get<std::uint32_t>(reply, 0)) : ReplyForm{};
  const ByteSpan body = reply.size() >= 4 ? reply.subspan(4) : reply;
  if (form == ReplyForm::kWhole && body.size() == slice.size_bytes()) {
    if (!body.empty()) std::memcpy(slice.data(), body.data(), body.size());
    return Status::ok();
  }
  if (form == ReplyForm::kChange && pull_codec_) {
    decoded_.resize(slice.size());
    if (Status s = pull_codec_->decode(body, decoded_); !s.is_ok()) {
      return Status::data_loss(fmt::format("server rank {} sent a damaged {} pull: {}", server, pull_codec_->name(),
                                           s.message()));
    }
    for (std::size_t i = 0; i < slice.size(); ++i) slice[i] += decoded_[i];
    return Status::ok();
  }
  return Status::data_loss(fmt::format("server rank {} sent {} bytes for a slice of {} parameters", server,
                                       reply.size(), slice.size()));
}

Status ParameterServerWorker::finish_step(Parameters& params, Optimizer&) {
  // BSP averages the workers' gradients (each weighted by its share of the step's examples);
  // ASP and SSP apply each worker's own mean gradient as it comes.
  const float weight = options_.sync == SyncMode::kBsp
                           ? static_cast<float>(step_.local_examples) / static_cast<float>(step_.global_examples)
                           : 1.0f;
  const std::span<const float> grads = params.grads().span();
  for (int s = 0; s < options_.servers; ++s) {
    const Slice slice = server_slice(parameters_, options_.servers, s);
    const bool encode = options_.compression.compresses(step_.step);
    const RequestHeader header{RequestKind::kPush, encode ? 1u : 0u, clock_, step_.lr, weight};
    const std::span<const float> part =
        grads.subspan(static_cast<std::size_t>(slice.offset), static_cast<std::size_t>(slice.count));
    std::vector<std::byte> body;
    if (!encode) {
      const auto bytes = std::as_bytes(part);
      body.assign(bytes.begin(), bytes.end());
    } else {
      push_codecs_[static_cast<std::size_t>(s)]->encode(part, body);
      compressed_ += CodecTraffic{part.size_bytes(), body.size()};
    }
    comm_.send(options_.workers + s, kTagRequest, encode_request(header, std::move(body)),
               SendInfo{.step = static_cast<std::uint64_t>(step_.step)});
  }
  ++clock_;
  return pull(params, clock_);
}

Status ParameterServerWorker::finish(Parameters& params, Optimizer&) {
  if (pull_codec_) {
    if (Status s = pull(params, clock_, /*whole=*/true); !s.is_ok()) return s;
  }
  for (int s = 0; s < options_.servers; ++s) {
    comm_.send(options_.workers + s, kTagRequest, encode_request({RequestKind::kDone, 0, clock_}));
  }
  return Status::ok();
}

// ---- server -----------------------------------------------------------------------------

namespace {

class Server {
 public:
  Server(Communicator& comm, std::span<const float> initial, std::unique_ptr<Optimizer> optimizer,
         const ParameterServerOptions& options, const ServerObserver& observer)
      : comm_(comm), options_(options), observer_(observer),
        slice_(server_slice(static_cast<std::int64_t>(initial.size()), options.servers, comm.rank() - options.workers)),
        values_(initial.begin() + slice_.offset, initial.begin() + slice_.offset + slice_.count),
        sum_(static_cast<std::size_t>(slice_.count), 0.0f), optimizer_(std::move(optimizer)),
        pushed_(static_cast<std::size_t>(options.workers), 0), done_(static_cast<std::size_t>(options.workers), false) {
    if (options_.compression.enabled()) {
      push_codec_ = options_.compression.codec_without_feedback(comm.rank());
      for (int w = 0; w < options.workers; ++w) pull_codecs_.push_back(options_.compression.codec_without_feedback(comm.rank() * 7919 + w));
      held_.resize(static_cast<std::size_t>(options.workers));
    }
  }

  Status run();

 private:
  Status handle(const Message& message);
  Status push(int worker, const RequestHeader& header, std::span<const float> grads);
  bool can_answer(std::int64_t clock) const;
  struct Pull {
    int worker;
    std::int64_t clock;
    bool whole;  // the slice as it is, even when compressing
  };
  void answer(const Pull& pull);
  void answer_waiting();
  std::int64_t slowest() const;

  Communicator& comm_;
  ParameterServerOptions options_;
  ServerObserver observer_;
  Slice slice_;
  std::vector<float> values_;
  std::vector<float> sum_;  // BSP: the weighted gradients pushed for the current clock
  int sum_count_ = 0;
  std::int64_t applied_ = 0;  // BSP: clocks applied
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<std::int64_t> pushed_;  // per worker: clocks pushed
  std::vector<bool> done_;
  std::vector<Pull> waiting_;  // pulls not yet answerable
  // When compressing: the decoder of pushes, and per worker a pull encoder and a copy of what
  // the worker holds (empty until its first, whole, pull).
  std::unique_ptr<Codec> push_codec_;
  std::vector<std::unique_ptr<Codec>> pull_codecs_;
  std::vector<std::vector<float>> held_;
  std::vector<float> change_, decoded_;
};

std::int64_t Server::slowest() const {
  std::int64_t lowest = std::numeric_limits<std::int64_t>::max();
  for (std::size_t w = 0; w < pushed_.size(); ++w) {
    if (!done_[w]) lowest = std::min(lowest, pushed_[w]);
  }
  return lowest;
}

bool Server::can_answer(std::int64_t clock) const {
  switch (options_.sync) {
    case SyncMode::kBsp: return applied_ >= clock;
    case SyncMode::kAsp: return true;
    case SyncMode::kSsp: return slowest() >= clock - options_.staleness;
  }
  return true;
}

void Server::answer(const Pull& pull) {
  const int worker = pull.worker;
  const std::int64_t clock = pull.clock;
  if (observer_.on_pull_answered) observer_.on_pull_answered(worker, clock, slowest());
  std::vector<std::byte> bytes;
  const auto w = static_cast<std::size_t>(worker);
  // A pull of clock c ends step c - 1's exchange (its push, then this answer).
  if (push_codec_ && !held_[w].empty() && !pull.whole && options_.compression.compresses(clock - 1)) {
    // The change since the worker's copy, encoded; the copy moves by what the worker will decode.
    change_.resize(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) change_[i] = values_[i] - held_[w][i];
    codec_wire::put<std::uint32_t>(bytes, static_cast<std::uint32_t>(ReplyForm::kChange));
    std::vector<std::byte> encoded;
    pull_codecs_[w]->encode(change_, encoded);
    decoded_.resize(values_.size());
    const Status own = pull_codecs_[w]->decode(encoded, decoded_);
    COURIER_CHECK(own.is_ok(), "a codec cannot decode its own encoding: {}", own.to_string());
    for (std::size_t i = 0; i < values_.size(); ++i) held_[w][i] += decoded_[i];
    bytes.insert(bytes.end(), encoded.begin(), encoded.end());
  } else {
    if (push_codec_) held_[w] = values_;
    codec_wire::put<std::uint32_t>(bytes, static_cast<std::uint32_t>(ReplyForm::kWhole));
    const auto whole = std::as_bytes(std::span<const float>(values_));
    bytes.insert(bytes.end(), whole.begin(), whole.end());
  }
  comm_.send(worker, kTagReply, std::move(bytes),
             SendInfo{.step = static_cast<std::uint64_t>(std::max<std::int64_t>(clock, 0))});
}

void Server::answer_waiting() {
  std::erase_if(waiting_, [&](const Pull& pull) {
    if (!can_answer(pull.clock)) return false;
    answer(pull);
    return true;
  });
}

Status Server::push(int worker, const RequestHeader& header, std::span<const float> grads) {
  if (options_.sync == SyncMode::kBsp) {
    if (header.clock != applied_) {
      return Status::failed_precondition(fmt::format("server rank {}: worker {} pushed clock {} while clock {} is open",
                                                     comm_.rank(), worker, header.clock, applied_));
    }
    for (std::size_t i = 0; i < sum_.size(); ++i) sum_[i] += header.weight * grads[i];
    if (++sum_count_ == options_.workers) {
      optimizer_->step(values_, sum_, header.lr);
      std::fill(sum_.begin(), sum_.end(), 0.0f);
      sum_count_ = 0;
      ++applied_;
    }
  } else {
    optimizer_->step(values_, grads, header.lr);
  }
  pushed_[static_cast<std::size_t>(worker)] = header.clock + 1;
  answer_waiting();
  return Status::ok();
}

Status Server::handle(const Message& message) {
  const int worker = static_cast<int>(message.header().source);
  const ByteSpan payload = message.payload();
  if (worker >= options_.workers || payload.size() < sizeof(RequestHeader)) {
    return Status::data_loss(fmt::format("server rank {}: malformed request from rank {}", comm_.rank(), worker));
  }
  RequestHeader header{};
  std::memcpy(&header, payload.data(), sizeof header);
  const ByteSpan body = payload.subspan(sizeof header);
  switch (header.kind) {
    case RequestKind::kPush: {
      std::vector<float> grads(static_cast<std::size_t>(slice_.count));
      if (header.option != 0) {
        if (!push_codec_) {
          return Status::data_loss(fmt::format("server rank {}: worker {} pushed an encoding, but this server runs "
                                               "no dist.codec: every node must run the same dist.codec",
                                               comm_.rank(), worker));
        }
        if (Status s = push_codec_->decode(body, grads); !s.is_ok()) {
          return Status::data_loss(fmt::format("server rank {}: worker {} pushed a damaged {} encoding: {}",
                                               comm_.rank(), worker, push_codec_->name(), s.message()));
        }
      } else {
        if (body.size() != grads.size() * sizeof(float)) {
          return Status::data_loss(fmt::format("server rank {}: worker {} pushed {} bytes for a slice of {} values",
                                               comm_.rank(), worker, body.size(), slice_.count));
        }
        if (!body.empty()) std::memcpy(grads.data(), body.data(), body.size());
      }
      return push(worker, header, grads);
    }
    case RequestKind::kPull: {
      const Pull pull{worker, header.clock, header.option != 0};
      if (can_answer(pull.clock)) {
        answer(pull);
      } else {
        waiting_.push_back(pull);
      }
      return Status::ok();
    }
    case RequestKind::kDone:
      done_[static_cast<std::size_t>(worker)] = true;
      answer_waiting();  // a finished worker no longer holds SSP back
      return Status::ok();
  }
  return Status::data_loss(fmt::format("server rank {}: unknown request kind {} from worker {}", comm_.rank(),
                                       static_cast<std::uint32_t>(header.kind), worker));
}

Status Server::run() {
  while (std::count(done_.begin(), done_.end(), false) > 0) {
    Result<Message> request = comm_.receive(kAnySource, kTagRequest, deadline_for(options_),
                                            {"parameter server", static_cast<std::uint64_t>(applied_)});
    if (!request.is_ok()) return request.status();
    if (Status s = handle(*request); !s.is_ok()) {
      comm_.abort(s);
      return s;
    }
  }
  return Status::ok();
}

}  // namespace

Status run_parameter_server(Communicator& world, std::span<const float> initial,
                            const std::function<std::unique_ptr<Optimizer>(std::int64_t, std::int64_t)>& make_optimizer,
                            const ParameterServerOptions& options, const ServerObserver& observer) {
  COURIER_CHECK_EQ(world.world_size(), options.workers + options.servers, "world = workers + servers");
  COURIER_CHECK_GE(world.rank(), options.workers, "a parameter server must be a server rank");
  const Slice slice = server_slice(static_cast<std::int64_t>(initial.size()), options.servers,
                                   world.rank() - options.workers);
  Server server(world, initial, make_optimizer(slice.offset, slice.count), options, observer);
  return server.run();
}

}  // namespace courier
