// Parameter-server workers: pushes, pulls, and moving a slice to its replica when its server dies.
// The servers are in parameter_server_server.cc.
#include "courier/train/strategies/parameter_server.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "courier/comm/codecs/wire.h"
#include "courier/comm/collectives/collectives.h"
#include "courier/core/check.h"
#include "courier/train/strategies/parameter_server_wire.h"

namespace courier {
namespace {

using namespace ps_wire;

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
    : Strategy(world), parameters_(parameters), options_(options),
      owner_(static_cast<std::size_t>(options.servers)), dropped_(static_cast<std::size_t>(options.workers), false) {
  COURIER_CHECK_EQ(world.world_size(), options.workers + options.servers, "world = workers + servers");
  COURIER_CHECK_LT(world.rank(), options.workers, "a parameter-server worker must be a worker rank");
  for (int s = 0; s < options_.servers; ++s) owner_[static_cast<std::size_t>(s)] = s;
  if (options_.compression.enabled()) {
    for (int s = 0; s < options_.servers; ++s) push_codecs_.push_back(options_.compression.codec(world.rank()));
    pull_codec_ = options_.compression.codec_without_feedback(world.rank());
  }
}

std::string ParameterServerWorker::describe() const {
  std::string mode(sync_mode_name(options_.sync));
  if (options_.sync == SyncMode::kSsp) mode += fmt::format(" (staleness {})", options_.staleness);
  if (pull_codec_) mode += fmt::format(", pushes {} and pulls {} compressed", push_codecs_.front()->name(), pull_codec_->name());
  if (options_.elastic) {
    mode += options_.servers >= 2
                ? fmt::format(", elastic (slices replicated every {} updates)", options_.replicate_every)
                : std::string(", elastic (workers only: one server has no replica)");
  }
  return fmt::format("parameter server: {} workers, {} server{}, {}", options_.workers, options_.servers,
                     options_.servers == 1 ? "" : "s", mode);
}

std::optional<DataShare> ParameterServerWorker::data_share() const {
  DataShare share{.index = 0, .count = 0};
  for (int w = 0; w < options_.workers; ++w) {
    if (dropped_[static_cast<std::size_t>(w)]) continue;
    if (w < comm_.rank()) ++share.index;
    ++share.count;
  }
  return share;
}

Status ParameterServerWorker::start(Parameters& params, Optimizer&) {
  COURIER_CHECK_EQ(params.numel(), parameters_, "parameter count");
  Status pulled = pull(params, 0, PullKind::kStart);
  ready_since_ = std::chrono::steady_clock::now();
  return pulled;
}

void ParameterServerWorker::send_pull(int slice, std::int64_t clock, bool whole) {
  const RequestHeader header{.kind = RequestKind::kPull, .option = whole ? 1u : 0u, .clock = clock,
                             .slice = static_cast<std::uint32_t>(slice)};
  comm_.send(options_.workers + server_of(slice), kTagRequest, with_header(header),
             SendInfo{.step = static_cast<std::uint64_t>(std::max<std::int64_t>(clock, 0))});
}

void ParameterServerWorker::send_push(int slice, std::int64_t clock, std::span<const float> grads, bool plain) {
  // BSP averages the workers' gradients (each weighted by its share of the step's examples);
  // ASP and SSP apply each worker's own mean gradient as it comes.
  const float weight = options_.sync == SyncMode::kBsp
                           ? static_cast<float>(step_.local_examples) / static_cast<float>(step_.global_examples)
                           : 1.0f;
  const Slice range = server_slice(parameters_, options_.servers, slice);
  const bool encode = !plain && options_.compression.compresses(step_.step);
  const auto busy = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - ready_since_);
  const RequestHeader header{.kind = RequestKind::kPush, .option = encode ? 1u : 0u, .clock = clock, .lr = step_.lr,
                             .weight = weight, .slice = static_cast<std::uint32_t>(slice),
                             .busy_us = static_cast<std::uint32_t>(std::clamp<std::int64_t>(busy.count(), 1, 0xffffffff))};
  const std::span<const float> part =
      grads.subspan(static_cast<std::size_t>(range.offset), static_cast<std::size_t>(range.count));
  std::vector<std::byte> body;
  if (!encode) {
    const auto bytes = std::as_bytes(part);
    body.assign(bytes.begin(), bytes.end());
  } else {
    push_codecs_[static_cast<std::size_t>(slice)]->encode(part, body);
    compressed_ += CodecTraffic{part.size_bytes(), body.size()};
  }
  comm_.send(options_.workers + server_of(slice), kTagRequest, with_header(header, std::move(body)),
             SendInfo{.step = static_cast<std::uint64_t>(step_.step)});
}

Status ParameterServerWorker::fail_over(int slice, const Status& reason) {
  if (!options_.elastic || reason.code() != StatusCode::kUnavailable) return reason;
  const int dead = server_of(slice);
  const int replica = (slice + 1) % options_.servers;
  if (dead == replica) {
    return Status::unavailable(fmt::format(
        "worker rank {}: the slice of server rank {} is lost: {}{}", comm_.rank(), options_.workers + slice,
        reason.message(),
        options_.servers < 2 ? " (one server keeps no replica: run dist.servers >= 2)"
                             : " (its server and the server holding its replica are both gone)"));
  }
  owner_[static_cast<std::size_t>(slice)] = replica;
  return Status::ok();
}

// Asks every slice's server for the slice as of `clock` and copies the answers into `params`.
// A server found gone (elastic) hands its slice to the replica's server, which gets this step's
// push for it again and the pull.
Status ParameterServerWorker::pull(Parameters& params, std::int64_t clock, PullKind kind) {
  const bool whole = kind == PullKind::kFinish;
  for (int s = 0; s < options_.servers; ++s) send_pull(s, clock, whole);
  const auto started = std::chrono::steady_clock::now();
  for (int s = 0; s < options_.servers; ++s) {
    const Slice slice = server_slice(parameters_, options_.servers, s);
    for (;;) {
      const int server = options_.workers + server_of(s);
      Result<Message> reply = comm_.receive(server, kTagReply + static_cast<std::uint64_t>(s), deadline_for(options_),
                                            OpContext{.op = "parameter server pull",
                                                      .step = static_cast<std::uint64_t>(clock),
                                                      .survivable = options_.elastic});
      if (reply.is_ok()) {
        if (Status st = apply_reply(reply->payload(), server,
                                    params.values().span().subspan(static_cast<std::size_t>(slice.offset),
                                                                   static_cast<std::size_t>(slice.count)));
            !st.is_ok()) {
          return st;
        }
        break;
      }
      if (Status st = fail_over(s, reply.status()); !st.is_ok()) return st;
      if (kind == PullKind::kStep) send_push(s, clock - 1, params.grads().span(), /*plain=*/true);
      send_pull(s, clock, whole);
    }
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (dropped_[static_cast<std::size_t>(comm_.rank())]) {
    return Status::aborted(fmt::format("worker rank {}: the servers dropped this worker at clock {} (silent for longer "
                                       "than the worker timeout); the others go on without it",
                                       comm_.rank(), clock));
  }
  return Status::ok();
}

// Reads the membership and writes a pull's answer into the slice: the values as they are, or
// the change added.
Status ParameterServerWorker::apply_reply(ByteSpan reply, int server, std::span<float> slice) {
  ReplyHeader header{};
  const std::size_t members = dropped_.size();
  if (reply.size() >= sizeof header) std::memcpy(&header, reply.data(), sizeof header);
  if (reply.size() < sizeof header + members || header.workers != members) {
    return Status::data_loss(fmt::format("server rank {} sent a pull reply of {} bytes without the membership of {} "
                                         "workers", server, reply.size(), members));
  }
  for (std::size_t w = 0; w < members; ++w) {
    if (reply[sizeof header + w] != std::byte{0}) dropped_[w] = true;
  }
  const ByteSpan body = reply.subspan(sizeof header + members);
  if (header.form == ReplyForm::kWhole && body.size() == slice.size_bytes()) {
    if (!body.empty()) std::memcpy(slice.data(), body.data(), body.size());
    return Status::ok();
  }
  if (header.form == ReplyForm::kChange && pull_codec_) {
    decoded_.resize(slice.size());
    if (Status s = pull_codec_->decode(body, decoded_); !s.is_ok()) {
      return Status::data_loss(fmt::format("server rank {} sent a damaged {} pull: {}", server, pull_codec_->name(),
                                           s.message()));
    }
    for (std::size_t i = 0; i < slice.size(); ++i) slice[i] += decoded_[i];
    return Status::ok();
  }
  return Status::data_loss(fmt::format("server rank {} sent {} bytes for a slice of {} parameters", server,
                                       body.size(), slice.size()));
}

Status ParameterServerWorker::finish_step(Parameters& params, Optimizer&) {
  const std::span<const float> grads = params.grads().span();
  for (int s = 0; s < options_.servers; ++s) send_push(s, clock_, grads, /*plain=*/false);
  ++clock_;
  Status pulled = pull(params, clock_, PullKind::kStep);
  ready_since_ = std::chrono::steady_clock::now();
  return pulled;
}

Status ParameterServerWorker::finish(Parameters& params, Optimizer&) {
  if (pull_codec_) {
    if (Status s = pull(params, clock_, PullKind::kFinish); !s.is_ok()) return s;
  }
  // To every server, the dead ones too (the send fails quietly): a server serves until every
  // worker is done or dropped.
  for (int s = 0; s < options_.servers; ++s) {
    comm_.send(options_.workers + s, kTagRequest, with_header(RequestHeader{.kind = RequestKind::kDone, .clock = clock_}));
  }
  return Status::ok();
}

}  // namespace courier
