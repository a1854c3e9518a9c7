// Communicator: tags, sequence numbers, checksums, abort notices and errors with context.
#include "courier/comm/communicator.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "courier/comm/trace.h"
#include "courier/core/check.h"

namespace courier {
namespace {

// The runtime's own tags, above the user range.
constexpr std::uint64_t kNoticeTag = (std::uint64_t{1} << 48) - 1;
constexpr std::uint64_t kTagMask = (std::uint64_t{1} << 48) - 1;
// How often a blocked wait looks for failure notices from other members.
constexpr auto kNoticePollInterval = std::chrono::milliseconds(20);

// The next stretch of a wait: up to the deadline, but short enough to look for aborts.
Deadline next_slice(const Deadline& deadline) {
  const Duration now = real_clock().now();
  if (!deadline.is_never() && deadline.when() - now <= kNoticePollInterval) return deadline;
  return Deadline::at(now + kNoticePollInterval);
}

std::string format_duration(Duration d) {
  return fmt::format("{:.3g} s", std::chrono::duration<double>(d).count());
}

}  // namespace

struct Communicator::State {
  struct Notice {
    int waiting_for;  // world rank, or -1
    bool stall;       // a stall notice (else: a fatal failure)
    std::string op;   // the operation its sender is in (stall notices)
  };
  std::mutex mutex;
  std::map<std::pair<int, std::uint64_t>, std::uint64_t> next_send_seq;  // (world destination, wire tag)
  std::map<std::pair<int, std::uint64_t>, std::uint64_t> next_recv_seq;  // (world source, wire tag)
  CommunicatorStats stats;
  RecvHandle notice_recv;
  std::map<int, Notice> notices;  // by world rank of the sender
  std::optional<Status> failure;
  std::uint64_t collectives = 0;  // calls so far (next_collective)
};

Communicator::Communicator(Transport& transport, CommunicatorOptions options)
    : Communicator(transport, options, {}, 0) {}

Communicator::Communicator(Transport& transport, CommunicatorOptions options, std::vector<int> members,
                           std::uint16_t context)
    : transport_(&transport), options_(options), members_(std::move(members)), context_(context),
      state_(std::make_unique<State>()) {
  if (members_.empty()) {
    for (int r = 0; r < transport.world_size(); ++r) members_.push_back(r);
  }
  const auto me = std::find(members_.begin(), members_.end(), transport.rank());
  COURIER_CHECK(me != members_.end(), "rank {} is not a member of the group", transport.rank());
  rank_ = static_cast<int>(me - members_.begin());
}

Communicator::~Communicator() {
  if (state_ && state_->notice_recv.valid()) state_->notice_recv.cancel();
}

Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;

Communicator Communicator::subgroup(std::vector<int> members, std::uint16_t context) const {
  COURIER_CHECK_NE(context, 0, "context 0 is the world communicator's");
  COURIER_CHECK(!members.empty(), "a group needs members");
  std::set<int> distinct(members.begin(), members.end());
  COURIER_CHECK_EQ(distinct.size(), members.size(), "group members must be distinct");
  for (int m : members) {
    COURIER_CHECK(m >= 0 && m < transport_->world_size(), "group member {} outside a world of {}", m,
                  transport_->world_size());
  }
  return Communicator(*transport_, options_, std::move(members), context);
}

int Communicator::world_rank_of(int group_rank) const {
  COURIER_CHECK(group_rank >= 0 && group_rank < world_size(), "group rank {} in a group of {}", group_rank,
                world_size());
  return members_[static_cast<std::size_t>(group_rank)];
}

std::uint64_t Communicator::wire_tag(std::uint64_t tag) const {
  COURIER_CHECK_LE(tag, kTagMask, "tag {:#x} does not fit in 48 bits", tag);
  return (static_cast<std::uint64_t>(context_) << 48) | tag;
}

std::string Communicator::where(int peer, std::uint64_t tag, const OpContext& context) const {
  const std::string peer_text = peer == kAnySource ? "any rank" : fmt::format("rank {}", world_rank_of(peer));
  return fmt::format("rank {}: {} step {}: from {}, tag {:#x}", transport_->rank(), context.op, context.step,
                     peer_text, tag & kTagMask);
}

SendHandle Communicator::send(int peer, std::uint64_t tag, ByteSpan data, const SendInfo& info) {
  return send_payload(peer, tag, Payload::borrowed(data), info);
}

SendHandle Communicator::send(int peer, std::uint64_t tag, std::vector<std::byte> data, const SendInfo& info) {
  return send_payload(peer, tag, Payload::owned(std::move(data)), info);
}

SendHandle Communicator::send_payload(int peer, std::uint64_t tag, Payload payload, const SendInfo& info) {
  const int destination = world_rank_of(peer);
  MessageHeader header;
  header.kind = info.kind;
  header.flags = options_.payload_checksums ? kFlagPayloadChecksum : 0;
  header.source = static_cast<std::uint32_t>(transport_->rank());
  header.destination = static_cast<std::uint32_t>(destination);
  header.tag = wire_tag(tag);
  header.step = info.step;
  header.dtype = info.dtype;
  header.codec = info.codec;
  header.element_count = info.element_count != 0 || info.codec != kCodecIdentity
                             ? info.element_count
                             : payload.size() / dtype_size(info.dtype);
  {
    std::lock_guard lock(state_->mutex);
    header.seq = state_->next_send_seq[{destination, header.tag}]++;
    state_->stats.messages_sent += 1;
    state_->stats.bytes_sent += payload.size();
  }
  seal(header, payload.bytes());
  if (options_.trace != nullptr) options_.trace->record(TraceEvent::kSend, header);
  return transport_->send(destination, header, std::move(payload));
}

PendingRecv Communicator::recv(int peer, std::uint64_t tag) {
  const std::uint64_t full_tag = wire_tag(tag);
  const int source = peer == kAnySource ? kAnySource : world_rank_of(peer);
  return PendingRecv{transport_->recv(source, full_tag), peer, full_tag};
}

Status Communicator::check_arrival(Message& message, const PendingRecv& pending, const OpContext& context,
                                   bool& duplicate) {
  duplicate = false;
  const MessageHeader& h = message.header();
  if (Status s = verify_checksum(h, message.payload()); !s.is_ok()) {
    return s.with_context(where(pending.peer, pending.wire_tag, context));
  }
  if (pending.peer != kAnySource && static_cast<int>(h.source) != world_rank_of(pending.peer)) {
    return Status::data_loss(fmt::format("{}: message claims to come from rank {}", where(pending.peer, h.tag, context),
                                         h.source));
  }
  std::lock_guard lock(state_->mutex);
  std::uint64_t& expected = state_->next_recv_seq[{static_cast<int>(h.source), h.tag}];
  if (h.seq < expected) {
    duplicate = true;
    state_->stats.duplicates_dropped += 1;
    return Status::ok();
  }
  if (h.seq > expected) {
    const std::uint64_t lost = h.seq - expected;
    const std::uint64_t first_lost = expected;
    expected = h.seq + 1;
    return Status::data_loss(fmt::format("rank {}: {} step {}: {} message(s) from rank {} lost on tag {:#x} (expected "
                                         "seq {}, got seq {} of step {})",
                                         transport_->rank(), context.op, context.step, lost, h.source,
                                         h.tag & kTagMask, first_lost, h.seq, h.step));
  }
  ++expected;
  state_->stats.messages_received += 1;
  state_->stats.bytes_received += message.payload().size();
  return Status::ok();
}

Result<Message> Communicator::wait(PendingRecv& pending, const Deadline& deadline, const OpContext& context) {
  const Duration started = real_clock().now();
  const int peer_world = pending.peer == kAnySource ? -1 : world_rank_of(pending.peer);
  for (;;) {
    if (std::optional<Status> failed = failure()) {
      pending.handle.cancel();
      return failed->with_context(where(pending.peer, pending.wire_tag, context));
    }
    Result<Message> arrived = pending.handle.wait(next_slice(deadline));
    if (!arrived.is_ok() && arrived.status().code() == StatusCode::kDeadlineExceeded) {
      poll_notices();
      bool stall_announced;
      {
        std::lock_guard lock(state_->mutex);
        stall_announced = !state_->notices.empty();
      }
      if (!deadline.expired(real_clock()) && (!stall_announced || context.survivable)) continue;
      // Give up on the receive; it may have completed between the last look and the cancel.
      pending.handle.cancel();
      arrived = pending.handle.wait(Deadline::never());
      if (!arrived.is_ok() && arrived.status().code() == StatusCode::kCancelled) {
        if (std::optional<Status> failed = failure()) {
          return failed->with_context(where(pending.peer, pending.wire_tag, context));
        }
        if (context.survivable) {
          return Status::deadline_exceeded(fmt::format("{}: waited {}", where(pending.peer, pending.wire_tag, context),
                                                       format_duration(real_clock().now() - started)));
        }
        return resolve_stall(pending.peer, context, format_duration(real_clock().now() - started),
                             fmt::format("{:#x}", pending.wire_tag & kTagMask));
      }
    }
    if (!arrived.is_ok()) {
      Status lost = arrived.status().with_context(where(pending.peer, pending.wire_tag, context));
      if (context.survivable && lost.code() == StatusCode::kUnavailable) return lost;
      return fail(lost, peer_world, false);
    }
    bool duplicate = false;
    Status checked = check_arrival(*arrived, pending, context, duplicate);
    if (duplicate) {
      pending.handle = transport_->recv(pending.peer == kAnySource ? kAnySource : peer_world, pending.wire_tag);
      continue;
    }
    if (!checked.is_ok()) return fail(checked, peer_world, false);
    if (options_.trace != nullptr) options_.trace->record(TraceEvent::kReceive, arrived->header());
    return arrived;
  }
}

Status Communicator::wait(SendHandle& send, const Deadline& deadline, const OpContext& context, int peer) {
  const Duration started = real_clock().now();
  for (;;) {
    Status status = send.wait(next_slice(deadline));
    if (status.is_ok()) return status;
    if (status.code() != StatusCode::kDeadlineExceeded) {
      return fail(status.with_context(fmt::format("rank {}: {} step {}: sending to rank {}", transport_->rank(),
                                                  context.op, context.step, world_rank_of(peer))),
                  world_rank_of(peer), false);
    }
    if (std::optional<Status> failed = failure()) return *failed;
    poll_notices();
    bool stall_announced;
    {
      std::lock_guard lock(state_->mutex);
      stall_announced = !state_->notices.empty();
    }
    if (deadline.expired(real_clock()) || stall_announced) {
      return resolve_stall(peer, context, format_duration(real_clock().now() - started), "(send)");
    }
  }
}

Result<Message> Communicator::receive(int peer, std::uint64_t tag, const Deadline& deadline, const OpContext& context) {
  PendingRecv pending = recv(peer, tag);
  return wait(pending, deadline, context);
}

// Notices travel as owned control messages on kNoticeTag. Payload, as text lines:
//   stall|fatal, the world rank this rank waits for (-1: none or any), status code, the
//   operation this rank is in (may be empty), message.
Status Communicator::fail(const Status& status, int waiting_for_world_rank, bool stall, std::string_view op) {
  bool first = false;
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->failure) {
      state_->failure = status;
      first = true;
    }
  }
  if (first) {
    const std::string text = fmt::format("{}\n{}\n{}\n{}\n{}", stall ? "stall" : "fatal", waiting_for_world_rank,
                                         static_cast<int>(status.code()), op, status.message());
    for (int peer = 0; peer < world_size(); ++peer) {
      if (peer == rank_) continue;
      std::vector<std::byte> bytes(text.size());
      std::memcpy(bytes.data(), text.data(), text.size());
      // Nobody waits for these sends: a dead peer simply never takes them.
      send(peer, kNoticeTag, std::move(bytes), SendInfo{.kind = MessageKind::kControl});
    }
  }
  return status;
}

void Communicator::abort(const Status& reason) {
  COURIER_CHECK(!reason.is_ok(), "abort with an ok status");
  static_cast<void>(fail(reason, -1, false));
}

void Communicator::poll_notices() {
  for (;;) {
    Result<Message> notice = Status::unavailable("none");
    {
      std::lock_guard lock(state_->mutex);
      if (!state_->notice_recv.valid()) state_->notice_recv = transport_->recv(kAnySource, wire_tag(kNoticeTag));
      if (!state_->notice_recv.test()) return;
      notice = state_->notice_recv.wait(Deadline::never());
      state_->notice_recv = RecvHandle();
    }
    if (!notice.is_ok()) return;  // our endpoint is closing
    if (!verify_checksum(notice->header(), notice->payload()).is_ok()) continue;  // damaged: ignore
    std::istringstream in(std::string(reinterpret_cast<const char*>(notice->payload().data()),
                                      notice->payload().size()));
    std::string kind, waiting_for, code, op, message;
    std::getline(in, kind);
    std::getline(in, waiting_for);
    std::getline(in, code);
    std::getline(in, op);
    std::getline(in, message, '\0');
    const int from = static_cast<int>(notice->header().source);
    const int waits = std::atoi(waiting_for.c_str());
    int code_value = std::atoi(code.c_str());
    if (code_value <= 0 || code_value > static_cast<int>(StatusCode::kInternal)) {
      code_value = static_cast<int>(StatusCode::kAborted);
    }
    std::lock_guard lock(state_->mutex);
    state_->notices[from] = State::Notice{waits, kind == "stall", op};
    if (kind != "stall" && !state_->failure) {
      state_->failure = Status(static_cast<StatusCode>(code_value), fmt::format("rank {} failed: {}", from, message));
    }
  }
}

std::optional<Status> Communicator::failure() {
  poll_notices();
  std::lock_guard lock(state_->mutex);
  return state_->failure;
}

Status Communicator::resolve_stall(int peer, const OpContext& context, std::string_view waited,
                                   std::string_view tag_text) {
  const int me = transport_->rank();
  const int waits_for = peer == kAnySource ? -1 : world_rank_of(peer);
  const Status mine = Status::deadline_exceeded(
      fmt::format("rank {}: {} step {}: waited {} for {} (tag {})", me, context.op, context.step, waited,
                  waits_for < 0 ? std::string("any rank") : fmt::format("rank {}", waits_for), tag_text));
  static_cast<void>(fail(mine, waits_for, true, context.op));
  // Collect the other members' notices: each says whom its sender waits for.
  const Deadline grace = Deadline::after(real_clock(), options_.stall_grace);
  while (!grace.expired(real_clock())) {
    poll_notices();
    {
      std::lock_guard lock(state_->mutex);
      if (static_cast<int>(state_->notices.size()) >= world_size() - 1) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(state_->mutex);
  // Follow the chain me -> waits_for -> ... to a rank that sent no notice (or was not waiting).
  std::string chain = std::to_string(me);
  std::set<int> seen{me};
  int current = waits_for;
  while (current >= 0) {
    chain += fmt::format(" -> {}", current);
    auto notice = state_->notices.find(current);
    if (notice == state_->notices.end() || !notice->second.stall || seen.count(current) != 0) break;
    seen.insert(current);
    current = notice->second.waiting_for;
  }
  std::string verdict;
  if (current < 0) {
    verdict = "no single rank is to blame (a receive from any rank)";
  } else if (seen.count(current) != 0) {
    verdict = fmt::format("ranks wait for each other in a cycle ({}): mismatched operations", chain);
  } else {
    verdict = fmt::format("rank {} is missing or stalled (wait chain {}; rank {} sent no stall notice)", current,
                          chain, current);
  }
  // Members in different operations (another collective, or the same one at another call
  // number): name every call, grouped by operation.
  std::map<std::string, std::vector<int>> calls;
  calls[std::string(context.op)].push_back(me);
  for (const auto& [rank, notice] : state_->notices) {
    if (notice.stall && !notice.op.empty()) calls[notice.op].push_back(rank);
  }
  if (calls.size() > 1) {
    std::string list;
    for (const auto& [op, ranks] : calls) {
      list += fmt::format("{}{} {} in {}", list.empty() ? "" : ", ", ranks.size() == 1 ? "rank" : "ranks",
                          fmt::join(ranks, ", "), op);
    }
    verdict += fmt::format("; mismatched collectives: {}", list);
  }
  return Status::deadline_exceeded(fmt::format("{}; {}", mine.message(), verdict));
}

std::uint64_t Communicator::next_collective() {
  std::lock_guard lock(state_->mutex);
  return state_->collectives++;
}

CommunicatorStats Communicator::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

}  // namespace courier
