// Parameter-server workers and servers, and the BSP/ASP/SSP rules on the server.
#include "courier/train/strategies/parameter_server.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include <fmt/format.h>

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
  std::uint32_t reserved = 0;
  std::int64_t clock;  // push: the step pushed; pull: the clock the parameters must reflect
  float lr = 0.0f;     // push: the learning rate of that step
  float weight = 1.0f; // push: the factor the server applies to the gradient
};

std::vector<std::byte> encode_request(const RequestHeader& header, std::span<const float> values) {
  std::vector<std::byte> bytes(sizeof(RequestHeader) + values.size_bytes());
  std::memcpy(bytes.data(), &header, sizeof header);
  if (!values.empty()) std::memcpy(bytes.data() + sizeof header, values.data(), values.size_bytes());
  return bytes;
}

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
}

std::string ParameterServerWorker::describe() const {
  std::string mode(sync_mode_name(options_.sync));
  if (options_.sync == SyncMode::kSsp) mode += fmt::format(" (staleness {})", options_.staleness);
  return fmt::format("parameter server: {} workers, {} server{}, {}", options_.workers, options_.servers,
                     options_.servers == 1 ? "" : "s", mode);
}

Status ParameterServerWorker::start(Parameters& params, Optimizer&) {
  COURIER_CHECK_EQ(params.numel(), parameters_, "parameter count");
  return pull(params, 0);
}

// Asks every server for its slice as of `clock` and copies the answers into `params`.
Status ParameterServerWorker::pull(Parameters& params, std::int64_t clock) {
  for (int s = 0; s < options_.servers; ++s) {
    comm_.send(options_.workers + s, kTagRequest, encode_request({RequestKind::kPull, 0, clock}, {}),
               SendInfo{.step = static_cast<std::uint64_t>(std::max<std::int64_t>(clock, 0))});
  }
  const auto started = std::chrono::steady_clock::now();
  for (int s = 0; s < options_.servers; ++s) {
    const Slice slice = server_slice(parameters_, options_.servers, s);
    Result<Message> reply = comm_.receive(options_.workers + s, kTagReply, deadline_for(options_),
                                          {"parameter server pull", static_cast<std::uint64_t>(clock)});
    if (!reply.is_ok()) return reply.status();
    if (reply->payload().size() != static_cast<std::size_t>(slice.count) * sizeof(float)) {
      return Status::data_loss(fmt::format("server rank {} sent {} bytes for a slice of {} parameters",
                                           options_.workers + s, reply->payload().size(), slice.count));
    }
    std::memcpy(params.values().data() + slice.offset, reply->payload().data(), reply->payload().size());
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Status::ok();
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
    const RequestHeader header{RequestKind::kPush, 0, clock_, step_.lr, weight};
    comm_.send(options_.workers + s, kTagRequest,
               encode_request(header, grads.subspan(static_cast<std::size_t>(slice.offset),
                                                    static_cast<std::size_t>(slice.count))),
               SendInfo{.step = static_cast<std::uint64_t>(step_.step)});
  }
  ++clock_;
  return pull(params, clock_);
}

Status ParameterServerWorker::finish(Parameters&, Optimizer&) {
  for (int s = 0; s < options_.servers; ++s) {
    comm_.send(options_.workers + s, kTagRequest, encode_request({RequestKind::kDone, 0, clock_}, {}));
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
        pushed_(static_cast<std::size_t>(options.workers), 0), done_(static_cast<std::size_t>(options.workers), false) {}

  Status run();

 private:
  Status handle(const Message& message);
  Status push(int worker, const RequestHeader& header, std::span<const float> grads);
  bool can_answer(std::int64_t clock) const;
  void answer(int worker, std::int64_t clock);
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
  std::vector<std::pair<int, std::int64_t>> waiting_;  // pulls not yet answerable: (worker, clock)
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

void Server::answer(int worker, std::int64_t clock) {
  if (observer_.on_pull_answered) observer_.on_pull_answered(worker, clock, slowest());
  std::vector<std::byte> bytes(values_.size() * sizeof(float));
  std::memcpy(bytes.data(), values_.data(), bytes.size());
  comm_.send(worker, kTagReply, std::move(bytes),
             SendInfo{.dtype = DType::kF32, .step = static_cast<std::uint64_t>(std::max<std::int64_t>(clock, 0))});
}

void Server::answer_waiting() {
  std::erase_if(waiting_, [&](const std::pair<int, std::int64_t>& pull) {
    if (!can_answer(pull.second)) return false;
    answer(pull.first, pull.second);
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
  const std::size_t floats = (payload.size() - sizeof header) / sizeof(float);
  switch (header.kind) {
    case RequestKind::kPush: {
      if (floats != static_cast<std::size_t>(slice_.count)) {
        return Status::data_loss(fmt::format("server rank {}: worker {} pushed {} values for a slice of {}",
                                             comm_.rank(), worker, floats, slice_.count));
      }
      std::vector<float> grads(floats);
      std::memcpy(grads.data(), payload.data() + sizeof header, floats * sizeof(float));
      return push(worker, header, grads);
    }
    case RequestKind::kPull:
      if (can_answer(header.clock)) {
        answer(worker, header.clock);
      } else {
        waiting_.emplace_back(worker, header.clock);
      }
      return Status::ok();
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
