// Reliable delivery: framing, the receive thread (verify, order, acknowledge) and the re-send
// thread (time out, back off, give up, watch for peers that are gone).
#include "courier/comm/transport/reliable/reliable_transport.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>

#include <fmt/format.h>

#include "courier/comm/transport/mailbox.h"
#include "courier/core/check.h"

namespace courier {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The wrapped transport carries only this layer's traffic, so any two tags would do.
constexpr std::uint64_t kFrameTag = 1;  // every frame: data and acknowledgements
constexpr std::uint64_t kWatchTag = 2;  // nothing is sent on it; a receive on it fails when its peer is gone
// How often the re-send thread looks whether a peer's endpoint has closed.
constexpr auto kWatchInterval = std::chrono::milliseconds(20);

// A message sent and not yet acknowledged.
struct Unacked {
  std::shared_ptr<const std::vector<std::byte>> frame;  // kept for re-sends
  MessageHeader frame_header;
  MessageHeader caller;  // for errors: tag, step, size
  std::shared_ptr<Completion> done;
  SteadyClock::time_point first_sent;
  SteadyClock::duration backoff{};
  int attempts = 0;  // 0: queued behind the window
};

struct Outbound {
  std::uint64_t next_seq = 0;
  std::map<std::uint64_t, Unacked> unacked;  // by sequence number, queued ones included
  std::deque<std::uint64_t> queued;          // not sent yet: the window was full
  // The round trip to the peer, smoothed, and its mean deviation (RFC 6298), from frames
  // acknowledged at their first attempt (a re-sent frame's acknowledgement could be the first's).
  std::optional<SteadyClock::duration> srtt;
  SteadyClock::duration rttvar{};
  // Sweeps of the re-send thread that found a frame of this stream timed out, since the last
  // round trip measured: each doubles the timeout of frames sent from then on (as TCP keeps its
  // backed-off timeout until a new sample), so a peer slower than its measured round trip, whose
  // re-sent frames give no samples, stops being flooded.
  int timeouts = 0;

  std::size_t in_flight() const { return unacked.size() - queued.size(); }
  void measure(SteadyClock::duration sample) {
    timeouts = 0;
    if (!srtt) {
      srtt = sample;
      rttvar = sample / 2;
      return;
    }
    const SteadyClock::duration deviation = sample > *srtt ? sample - *srtt : *srtt - sample;
    rttvar = (3 * rttvar + deviation) / 4;
    srtt = (7 * *srtt + sample) / 8;
  }
  SteadyClock::duration timeout(const ReliableOptions& options) const {
    const SteadyClock::duration measured = srtt ? *srtt + 4 * rttvar : SteadyClock::duration(options.resend_after);
    return std::clamp<SteadyClock::duration>(measured * (1 << std::min(timeouts, 6)), options.resend_after,
                                             options.max_backoff);
  }
};

// A frame that overtook one still missing, verified and unwrapped.
struct Held {
  MessageHeader caller;
  Message frame;
};

struct Inbound {
  std::uint64_t expected = 0;  // every frame below it was handed up
  std::map<std::uint64_t, Held> held;
};

// When a frame is due for its next attempt. Entries are not removed when the frame is
// acknowledged; a popped entry whose frame is gone or has moved on is skipped.
struct Due {
  SteadyClock::time_point when;
  int peer;
  std::uint64_t seq;
  int attempt;
  bool operator>(const Due& other) const { return when > other.when; }
};

// A frame to (re)send, taken out of the lock.
struct Attempt {
  int peer;
  MessageHeader frame_header;
  std::shared_ptr<const std::vector<std::byte>> frame;
};

DecodeLimits limits_for(int world_size) { return DecodeLimits{.world_size = static_cast<std::uint32_t>(world_size)}; }

// The caller's header and payload in one buffer, or why a receiver would refuse the header
// (refused here rather than re-sent until the sender gives up).
Result<std::shared_ptr<std::vector<std::byte>>> frame_of(const MessageHeader& header, ByteSpan payload,
                                                         int world_size) {
  auto frame = std::make_shared<std::vector<std::byte>>(kHeaderBytes + payload.size());
  encode_header(header, *frame);
  if (!payload.empty()) std::memcpy(frame->data() + kHeaderBytes, payload.data(), payload.size());
  Result<MessageHeader> decoded = decode_header(*frame, limits_for(world_size));
  if (!decoded.is_ok()) {
    return Status::invalid_argument(fmt::format("a header it cannot send: {}", decoded.status().message()));
  }
  if (decoded->payload_bytes != payload.size()) {
    return Status::invalid_argument(
        fmt::format("a header for {} payload bytes with {}", decoded->payload_bytes, payload.size()));
  }
  return frame;
}

// A data frame's header; its seq and checksum come later.
MessageHeader frame_header_for(const MessageHeader& caller, std::size_t frame_bytes) {
  MessageHeader outer;
  outer.kind = caller.kind == MessageKind::kData ? MessageKind::kData : MessageKind::kControl;
  outer.flags = kFlagPayloadChecksum;
  outer.source = caller.source;
  outer.destination = caller.destination;
  outer.tag = kFrameTag;
  outer.step = caller.step;
  outer.element_count = frame_bytes;
  return outer;
}

std::string format_seconds(SteadyClock::duration d) {
  return fmt::format("{:.3g} s", std::chrono::duration<double>(d).count());
}

}  // namespace

struct ReliableTransport::State {
  State(Transport& wrapped, const ReliableOptions& chosen)
      : inner(wrapped),
        options(chosen),
        rank(wrapped.rank()),
        world_size(wrapped.world_size()),
        mailbox(std::make_shared<Mailbox>(rank, world_size)),
        out(static_cast<std::size_t>(world_size)),
        in(static_cast<std::size_t>(world_size)),
        peer_gone(static_cast<std::size_t>(world_size)),
        watches(static_cast<std::size_t>(world_size)) {}

  Transport& inner;
  const ReliableOptions options;
  const int rank;
  const int world_size;
  std::shared_ptr<Mailbox> mailbox;  // what the receive thread hands up, for recv()

  mutable std::mutex mutex;
  std::condition_variable wake_resender;
  std::vector<Outbound> out;      // by destination
  std::vector<Inbound> in;        // by source
  std::vector<Status> peer_gone;  // OK while the peer is reachable
  std::optional<Status> down;     // this endpoint is closed or killed
  std::priority_queue<Due, std::vector<Due>, std::greater<>> dues;
  Counts counts;

  std::vector<RecvHandle> watches;  // by peer; the re-send thread's alone once started
  std::thread receiver, resender;
  std::mutex close_mutex;
  bool closed = false;

  // Under the lock: first attempts of queued frames while the peer's window has room.
  void open_window(int peer, SteadyClock::time_point now, std::vector<Attempt>& attempts);
  void send_attempt(const Attempt& attempt);
  void send_ack(int peer, std::uint64_t next_expected, std::uint64_t seq);
  void on_frame(Message frame);
  void on_ack(int peer, std::uint64_t next_expected, std::uint64_t seq);
  void on_data(int peer, std::uint64_t seq, const MessageHeader& caller, Message frame);
  // Due attempts and give-ups, taken under the lock.
  void take_due(SteadyClock::time_point now, std::vector<Attempt>& attempts,
                std::vector<std::pair<int, Status>>& gone);
  void check_watches();
  // The peer is gone: its unacknowledged sends and the receives from it fail with `why`.
  void fail_peer(int peer, const Status& why, bool gave_up);
  // This endpoint is closed or killed: everything pending fails with `why`; the threads end.
  void shut_down(const Status& why);
  Message unwrap(const MessageHeader& caller, Message frame) const;
};

ReliableTransport::Counts& ReliableTransport::Counts::operator+=(const Counts& o) {
  sent += o.sent;
  resent += o.resent;
  delivered += o.delivered;
  rejected += o.rejected;
  duplicates_dropped += o.duplicates_dropped;
  out_of_order_held += o.out_of_order_held;
  acks_sent += o.acks_sent;
  acks_received += o.acks_received;
  gave_up += o.gave_up;
  return *this;
}

ReliableTransport::ReliableTransport(std::unique_ptr<Transport> inner, ReliableOptions options)
    : inner_(std::move(inner)), state_(std::make_unique<State>(*inner_, options)) {
  for (int peer = 0; peer < state_->world_size; ++peer) {
    if (peer != state_->rank) state_->watches[static_cast<std::size_t>(peer)] = inner_->recv(peer, kWatchTag);
  }
  state_->receiver = std::thread([this] { run_receiver(); });
  state_->resender = std::thread([this] { run_resender(); });
}

ReliableTransport::~ReliableTransport() { close(); }

SendHandle ReliableTransport::send(int destination, MessageHeader header, Payload payload) {
  State& s = *state_;
  COURIER_CHECK(destination >= 0 && destination < s.world_size, "send to rank {} in a world of {}", destination,
                s.world_size);
  header.source = static_cast<std::uint32_t>(s.rank);
  header.destination = static_cast<std::uint32_t>(destination);
  Result<std::shared_ptr<std::vector<std::byte>>> frame = frame_of(header, payload.bytes(), s.world_size);
  if (!frame.is_ok()) {
    auto refused = std::make_shared<Completion>();
    refused->complete(frame.status().with_context(fmt::format("rank {}: send to rank {}", s.rank, destination)));
    return SendHandle(refused);
  }
  MessageHeader outer = frame_header_for(header, (*frame)->size());
  auto done = std::make_shared<Completion>();
  done->set_canceller([] { return true; });  // the caller lets go; the frame stays in the stream
  {
    std::lock_guard lock(s.mutex);
    outer.seq = s.out[static_cast<std::size_t>(destination)].next_seq++;
  }
  seal(outer, **frame);  // outside the lock: it reads the whole frame
  std::vector<Attempt> attempts;
  {
    std::lock_guard lock(s.mutex);
    const Status& gone = s.peer_gone[static_cast<std::size_t>(destination)];
    if (s.down || !gone.is_ok()) {
      done->complete(s.down ? *s.down : gone);
      return SendHandle(done);
    }
    Outbound& stream = s.out[static_cast<std::size_t>(destination)];
    Unacked queued{.frame = std::move(*frame), .frame_header = outer, .caller = header, .done = done,
                   .first_sent = {}, .backoff = {}, .attempts = 0};
    stream.unacked.emplace(outer.seq, std::move(queued));
    stream.queued.push_back(outer.seq);
    s.open_window(destination, SteadyClock::now(), attempts);
  }
  for (const Attempt& attempt : attempts) s.send_attempt(attempt);
  return SendHandle(done);
}

RecvHandle ReliableTransport::recv(int source, std::uint64_t tag) {
  COURIER_CHECK(source == kAnySource || (source >= 0 && source < state_->world_size),
                "receive from rank {} in a world of {}", source, state_->world_size);
  return RecvHandle(state_->mailbox->recv(source, tag));
}

void ReliableTransport::close() {
  State& s = *state_;
  std::lock_guard close_lock(s.close_mutex);
  if (s.closed) return;
  s.closed = true;
  inner_->close();  // the receive thread's receive completes: it ends
  s.shut_down(Status::cancelled(fmt::format("rank {} is closed", s.rank)));
  if (s.receiver.joinable()) s.receiver.join();
  if (s.resender.joinable()) s.resender.join();
}

ReliableTransport::Counts ReliableTransport::counts() const {
  std::lock_guard lock(state_->mutex);
  return state_->counts;
}

void ReliableTransport::run_receiver() {
  State& s = *state_;
  try {
    for (;;) {
      Result<Message> frame = inner_->recv(kAnySource, kFrameTag).wait(Deadline::never());
      if (!frame.is_ok()) {
        s.shut_down(frame.status());  // only this endpoint's closing ends a receive from any rank
        return;
      }
      s.on_frame(std::move(*frame));
    }
  } catch (const std::exception& e) {
    s.shut_down(Status::internal(fmt::format("rank {}: reliable delivery's receive thread: {}", s.rank, e.what())));
  }
}

void ReliableTransport::run_resender() {
  State& s = *state_;
  try {
    std::unique_lock lock(s.mutex);
    while (!s.down) {
      const auto now = SteadyClock::now();
      std::vector<Attempt> attempts;
      std::vector<std::pair<int, Status>> gone;
      s.take_due(now, attempts, gone);
      lock.unlock();
      for (const Attempt& attempt : attempts) s.send_attempt(attempt);
      for (const auto& [peer, why] : gone) s.fail_peer(peer, why, true);
      s.check_watches();
      lock.lock();
      auto wake_at = now + kWatchInterval;
      if (!s.dues.empty()) wake_at = std::min(wake_at, s.dues.top().when);
      if (!s.down) s.wake_resender.wait_until(lock, wake_at);
    }
  } catch (const std::exception& e) {
    s.shut_down(Status::internal(fmt::format("rank {}: reliable delivery's re-send thread: {}", s.rank, e.what())));
  }
}

void ReliableTransport::State::take_due(SteadyClock::time_point now, std::vector<Attempt>& attempts,
                                        std::vector<std::pair<int, Status>>& gone) {
  std::vector<bool> timed_out(out.size(), false);
  while (!dues.empty() && dues.top().when <= now) {
    const Due due = dues.top();
    dues.pop();
    auto& unacked = out[static_cast<std::size_t>(due.peer)].unacked;
    auto it = unacked.find(due.seq);
    if (it == unacked.end() || it->second.attempts != due.attempt) continue;  // acknowledged, or moved on
    Unacked& u = it->second;
    const auto give_up_at = u.first_sent + options.give_up_after;
    if (now >= give_up_at) {
      gone.emplace_back(due.peer, Status::unavailable(fmt::format(
          "rank {}: rank {} acknowledged nothing for {}: its message on tag {:#x} (step {}, {} bytes, seq {} of "
          "the stream) was sent {} times; rank {} is unreachable",
          rank, due.peer, format_seconds(now - u.first_sent), u.caller.tag, u.caller.step, u.caller.payload_bytes,
          due.seq, u.attempts, due.peer)));
      continue;
    }
    timed_out[static_cast<std::size_t>(due.peer)] = true;
    u.backoff = std::min<SteadyClock::duration>(u.backoff * 2, options.max_backoff);
    u.attempts += 1;
    counts.resent += 1;
    dues.push(Due{std::min(now + u.backoff, give_up_at), due.peer, due.seq, u.attempts});
    attempts.push_back(Attempt{due.peer, u.frame_header, u.frame});
  }
  for (std::size_t peer = 0; peer < out.size(); ++peer) {
    if (timed_out[peer]) out[peer].timeouts = std::min(out[peer].timeouts + 1, 6);
  }
}

void ReliableTransport::State::open_window(int peer, SteadyClock::time_point now, std::vector<Attempt>& attempts) {
  Outbound& stream = out[static_cast<std::size_t>(peer)];
  while (!stream.queued.empty() && stream.in_flight() < options.window) {
    const std::uint64_t seq = stream.queued.front();
    stream.queued.pop_front();
    Unacked& u = stream.unacked.at(seq);
    u.attempts = 1;
    u.first_sent = now;
    u.backoff = stream.timeout(options);
    const Due due{now + u.backoff, peer, seq, 1};
    if (dues.empty() || due.when < dues.top().when) wake_resender.notify_one();
    dues.push(due);
    counts.sent += 1;
    attempts.push_back(Attempt{peer, u.frame_header, u.frame});
  }
}

void ReliableTransport::State::send_attempt(const Attempt& attempt) {
  SendHandle handle = inner.send(attempt.peer, attempt.frame_header, Payload::owned(*attempt.frame));
  if (!handle.test()) return;
  const Status status = handle.wait(Deadline::never());
  if (status.code() == StatusCode::kUnavailable) fail_peer(attempt.peer, status, false);
}

// An acknowledgement says "I hold every frame below next_expected, and frame seq": the second
// half keeps frames that overtook a lost one from being re-sent while the lost one is.
void ReliableTransport::State::send_ack(int peer, std::uint64_t next_expected, std::uint64_t seq) {
  MessageHeader ack;
  ack.kind = MessageKind::kAck;
  ack.flags = kFlagPayloadChecksum;
  ack.source = static_cast<std::uint32_t>(rank);
  ack.destination = static_cast<std::uint32_t>(peer);
  ack.tag = kFrameTag;
  ack.seq = next_expected;
  std::vector<std::byte> held(sizeof(seq));
  for (std::size_t i = 0; i < held.size(); ++i) held[i] = static_cast<std::byte>(seq >> (8 * i));  // little-endian
  seal(ack, held);
  SendHandle handle = inner.send(peer, ack, Payload::owned(std::move(held)));
  if (!handle.test()) return;
  const Status status = handle.wait(Deadline::never());
  if (status.code() == StatusCode::kUnavailable) fail_peer(peer, status, false);
}

void ReliableTransport::State::on_frame(Message frame) {
  const MessageHeader& h = frame.header();
  const ByteSpan payload = frame.payload();
  bool intact = h.payload_checksummed() && verify_checksum(h, payload).is_ok() &&
                h.source < static_cast<std::uint32_t>(world_size) && h.destination == static_cast<std::uint32_t>(rank);
  if (intact && h.kind == MessageKind::kAck && payload.size() == sizeof(std::uint64_t)) {
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < payload.size(); ++i) seq |= std::to_integer<std::uint64_t>(payload[i]) << (8 * i);
    on_ack(static_cast<int>(h.source), h.seq, seq);
    return;
  }
  Result<MessageHeader> caller = Status::data_loss("a frame shorter than a header");
  if (intact && h.kind != MessageKind::kAck && payload.size() >= kHeaderBytes) {
    caller = decode_header(payload.first(kHeaderBytes), limits_for(world_size));
    intact = caller.is_ok() && caller->payload_bytes == payload.size() - kHeaderBytes && caller->source == h.source;
  }
  if (!intact || !caller.is_ok()) {
    std::lock_guard lock(mutex);
    counts.rejected += 1;
    return;
  }
  on_data(static_cast<int>(h.source), h.seq, *caller, std::move(frame));
}

void ReliableTransport::State::on_ack(int peer, std::uint64_t next_expected, std::uint64_t seq) {
  std::vector<std::shared_ptr<Completion>> acknowledged;
  std::vector<Attempt> attempts;
  const auto now = SteadyClock::now();
  {
    std::lock_guard lock(mutex);
    counts.acks_received += 1;
    Outbound& stream = out[static_cast<std::size_t>(peer)];
    auto& unacked = stream.unacked;
    if (auto it = unacked.find(seq); it != unacked.end() && it->second.attempts == 1) {
      stream.measure(now - it->second.first_sent);
    }
    for (auto it = unacked.begin(); it != unacked.end() && it->first < next_expected; it = unacked.erase(it)) {
      acknowledged.push_back(std::move(it->second.done));
    }
    if (auto it = unacked.find(seq); it != unacked.end() && it->second.attempts > 0) {
      acknowledged.push_back(std::move(it->second.done));
      unacked.erase(it);
    }
    open_window(peer, now, attempts);
  }
  for (auto& done : acknowledged) done->complete(Status::ok());
  for (const Attempt& attempt : attempts) send_attempt(attempt);
}

// In order: hand up with whatever it released. Ahead of a missing frame: hold. Behind (or held
// already): a duplicate. Every intact data frame is acknowledged.
void ReliableTransport::State::on_data(int peer, std::uint64_t seq, const MessageHeader& caller, Message frame) {
  std::vector<Message> ready;
  std::uint64_t next_expected = 0;
  {
    std::lock_guard lock(mutex);
    if (down || !peer_gone[static_cast<std::size_t>(peer)].is_ok()) return;
    Inbound& stream = in[static_cast<std::size_t>(peer)];
    if (seq < stream.expected || stream.held.count(seq) != 0) {
      counts.duplicates_dropped += 1;
    } else if (seq > stream.expected) {
      stream.held.emplace(seq, Held{caller, std::move(frame)});
      counts.out_of_order_held += 1;
    } else {
      ready.push_back(unwrap(caller, std::move(frame)));
      ++stream.expected;
      for (auto it = stream.held.begin(); it != stream.held.end() && it->first == stream.expected;
           it = stream.held.erase(it)) {
        ready.push_back(unwrap(it->second.caller, std::move(it->second.frame)));
        ++stream.expected;
      }
    }
    counts.delivered += ready.size();
    counts.acks_sent += 1;
    next_expected = stream.expected;
  }
  send_ack(peer, next_expected, seq);  // first: the caller may close this endpoint once it has the message
  for (Message& message : ready) mailbox->deliver(std::move(message));
}

// The caller's message: its header, and its payload lent from the frame, which lives as long
// as the message does.
Message ReliableTransport::State::unwrap(const MessageHeader& caller, Message frame) const {
  auto keep = std::make_shared<Message>(std::move(frame));
  return Message(caller, keep->payload().subspan(kHeaderBytes), [keep] {});
}

void ReliableTransport::State::check_watches() {
  for (int peer = 0; peer < world_size; ++peer) {
    RecvHandle& watch = watches[static_cast<std::size_t>(peer)];
    if (!watch.valid() || !watch.test()) continue;
    Result<Message> result = watch.wait(Deadline::never());
    watch = RecvHandle();
    if (result.is_ok()) {
      watch = inner.recv(peer, kWatchTag);  // nobody sends on it; ignore and watch on
    } else if (result.status().code() == StatusCode::kUnavailable) {
      fail_peer(peer, result.status(), false);
    }
    // CANCELLED: this endpoint is closing, which the receive thread reports.
  }
}

void ReliableTransport::State::fail_peer(int peer, const Status& why, bool gave_up) {
  std::vector<std::shared_ptr<Completion>> failed;
  {
    std::lock_guard lock(mutex);
    Status& gone = peer_gone[static_cast<std::size_t>(peer)];
    if (!gone.is_ok()) return;
    gone = why;
    Outbound& stream = out[static_cast<std::size_t>(peer)];
    for (auto& [seq, u] : stream.unacked) failed.push_back(std::move(u.done));
    if (gave_up) counts.gave_up += stream.unacked.size();
    stream.unacked.clear();
    stream.queued.clear();
    in[static_cast<std::size_t>(peer)].held.clear();
  }
  for (auto& done : failed) done->complete(why);
  mailbox->fail_source(peer, why);
}

void ReliableTransport::State::shut_down(const Status& why) {
  std::vector<std::shared_ptr<Completion>> failed;
  std::vector<Held> dropped;  // given back outside the lock
  {
    std::lock_guard lock(mutex);
    if (down) return;
    down = why;
    for (Outbound& stream : out) {
      for (auto& [seq, u] : stream.unacked) failed.push_back(std::move(u.done));
      stream.unacked.clear();
      stream.queued.clear();
    }
    for (Inbound& stream : in) {
      for (auto& [seq, held] : stream.held) dropped.push_back(std::move(held));
      stream.held.clear();
    }
  }
  wake_resender.notify_all();
  for (auto& done : failed) done->complete(why);
  mailbox->close(why);
}

std::vector<std::unique_ptr<Transport>> wrap_reliable(std::vector<std::unique_ptr<Transport>> endpoints,
                                                      const ReliableOptions& options) {
  std::vector<std::unique_ptr<Transport>> wrapped;
  for (auto& endpoint : endpoints) wrapped.push_back(std::make_unique<ReliableTransport>(std::move(endpoint), options));
  return wrapped;
}

}  // namespace courier
