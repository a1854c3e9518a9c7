#include "courier/comm/health/membership.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "courier/comm/message.h"
#include "courier/core/clock.h"

namespace courier {
namespace {

// Runtime tags in a context of their own (no communicator uses 0xfffe).
constexpr std::uint64_t kContext = std::uint64_t{0xfffe} << 48;
constexpr std::uint64_t kAgreeTag = kContext | 1;
constexpr std::uint64_t kInviteTag = kContext | 2;
constexpr int kMaxGenerations = 64;

enum class Round : std::uint32_t { kHello = 1, kView = 2 };

struct Note {
  std::uint64_t generation = 0;
  Round round = Round::kHello;
  std::vector<int> ranks;          // the view (kView) or nothing
  std::vector<std::byte> info;     // the info (kHello)
};

void append_u32(std::vector<std::byte>& out, std::uint32_t value) {
  const std::size_t at = out.size();
  out.resize(at + 4);
  std::memcpy(&out[at], &value, 4);
}

std::vector<std::byte> encode(Round round, const std::vector<int>& ranks, const std::vector<std::byte>& info) {
  std::vector<std::byte> bytes;
  append_u32(bytes, static_cast<std::uint32_t>(round));
  append_u32(bytes, static_cast<std::uint32_t>(ranks.size()));
  for (int rank : ranks) append_u32(bytes, static_cast<std::uint32_t>(rank));
  bytes.insert(bytes.end(), info.begin(), info.end());
  return bytes;
}

std::optional<Note> decode(const Message& message, int world) {
  if (!verify_checksum(message.header(), message.payload()).is_ok()) return std::nullopt;
  ByteSpan p = message.payload();
  if (p.size() < 8) return std::nullopt;
  Note note;
  note.generation = message.header().step;
  std::uint32_t round = 0, n = 0;
  std::memcpy(&round, p.data(), 4);
  std::memcpy(&n, p.data() + 4, 4);
  if (round != 1 && round != 2) return std::nullopt;
  if (n > static_cast<std::uint32_t>(world) || p.size() < 8 + 4 * static_cast<std::size_t>(n)) return std::nullopt;
  note.round = static_cast<Round>(round);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::int32_t v = 0;
    std::memcpy(&v, p.data() + 8 + 4 * i, 4);
    if (v < 0 || v >= world) return std::nullopt;
    note.ranks.push_back(v);
  }
  const std::size_t used = 8 + 4 * static_cast<std::size_t>(n);
  note.info.assign(p.begin() + static_cast<std::ptrdiff_t>(used), p.end());
  return note;
}

void send_note(Transport& transport, int to, std::uint64_t tag, std::uint64_t generation,
               std::vector<std::byte> payload) {
  MessageHeader header;
  header.kind = MessageKind::kControl;
  header.source = static_cast<std::uint32_t>(transport.rank());
  header.destination = static_cast<std::uint32_t>(to);
  header.tag = tag;
  header.step = generation;
  seal(header, payload);
  // Nobody waits for these sends: a dead candidate simply never takes them.
  static_cast<void>(transport.send(to, header, Payload::owned(std::move(payload))));
}

// One message on `tag` from `source`; on DEADLINE_EXCEEDED the receive is cancelled, so no
// later message is matched to it and lost.
Result<Message> receive_once(Transport& transport, int source, std::uint64_t tag, const Deadline& deadline) {
  RecvHandle handle = transport.recv(source, tag);
  Result<Message> message = handle.wait(deadline);
  if (!message.is_ok() && message.status().code() == StatusCode::kDeadlineExceeded) handle.cancel();
  return message;
}

// One agreement's view of each peer's messages: those read ahead of time (a later round or
// generation) wait here until asked for.
class Inbox {
 public:
  Inbox(Transport& transport) : transport_(transport) {}

  // The note of (generation, round) from `peer`, or why none came: ABORTED when a note of a
  // newer generation came first (the caller jumps to it). Older notes are dropped.
  Result<Note> take(int peer, std::uint64_t generation, Round round, const Deadline& deadline) {
    for (;;) {
      std::vector<Note>& early = early_[peer];
      for (auto it = early.begin(); it != early.end(); ++it) {
        if (it->generation == generation && it->round == round) {
          Note note = std::move(*it);
          early.erase(it);
          return note;
        }
      }
      Result<Message> message = receive_once(transport_, peer, kAgreeTag, deadline);
      if (!message.is_ok()) return message.status();
      std::optional<Note> note = decode(*message, transport_.world_size());
      if (!note || note->generation < generation) continue;  // damaged or stale
      newest_ = std::max(newest_, note->generation);
      if (note->generation == generation && note->round == round) return std::move(*note);
      early.push_back(std::move(*note));
      if (newest_ > generation) return Status::aborted("a peer is in a newer generation");
    }
  }
  std::uint64_t newest() const { return newest_; }

 private:
  Transport& transport_;
  std::map<int, std::vector<Note>> early_;
  std::uint64_t newest_ = 0;
};

}  // namespace

Result<Membership> agree(Transport& transport, const MembershipProposal& proposal) {
  const int me = transport.rank();
  std::vector<int> candidates = proposal.candidates;
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  Inbox inbox(transport);
  std::uint64_t generation = proposal.generation;
  for (int attempt = 0; attempt < kMaxGenerations; ++attempt) {
    // Hello: who is there, and what each says.
    for (int peer : candidates) {
      if (peer != me) send_note(transport, peer, kAgreeTag, generation, encode(Round::kHello, {}, proposal.info));
    }
    Membership result;
    result.generation = generation;
    result.info[me] = proposal.info;
    const Deadline hello_deadline = Deadline::after(real_clock(), proposal.timeout);
    for (int peer : candidates) {
      if (peer == me) continue;
      Result<Note> note = inbox.take(peer, generation, Round::kHello, hello_deadline);
      if (note.is_ok()) {
        result.info[peer] = std::move(note->info);
      } else if (note.status().code() == StatusCode::kCancelled) {
        return note.status();  // this endpoint closed
      } else if (note.status().code() == StatusCode::kAborted) {
        break;
      }
    }
    if (inbox.newest() > generation) {  // others moved on: meet them there
      generation = inbox.newest();
      continue;
    }
    std::vector<int> view;
    for (const auto& [rank, info] : result.info) view.push_back(rank);
    // View: does everyone see the same members?
    for (int peer : view) {
      if (peer != me) send_note(transport, peer, kAgreeTag, generation, encode(Round::kView, view, {}));
    }
    std::vector<int> common = view;
    bool agreed = true;
    const Deadline view_deadline = Deadline::after(real_clock(), proposal.timeout);
    for (int peer : view) {
      if (peer == me) continue;
      Result<Note> note = inbox.take(peer, generation, Round::kView, view_deadline);
      if (!note.is_ok()) {
        if (note.status().code() == StatusCode::kCancelled) return note.status();
        if (note.status().code() == StatusCode::kAborted) break;  // a newer generation: jump below
        agreed = false;
        common.erase(std::remove(common.begin(), common.end(), peer), common.end());
        continue;
      }
      if (note->ranks != view) agreed = false;
      std::vector<int> both;
      std::set_intersection(common.begin(), common.end(), note->ranks.begin(), note->ranks.end(),
                            std::back_inserter(both));
      common = std::move(both);
    }
    if (inbox.newest() > generation) {
      generation = inbox.newest();
      continue;
    }
    if (agreed) {
      result.members = view;
      for (int c : proposal.candidates) {
        if (!std::binary_search(view.begin(), view.end(), c)) result.left_out.push_back(c);
      }
      return result;
    }
    if (std::find(common.begin(), common.end(), me) == common.end()) common.push_back(me);
    std::sort(common.begin(), common.end());
    candidates = std::move(common);
    generation = std::max(generation + 1, inbox.newest());
  }
  return Status::unavailable(fmt::format("rank {}: no membership agreed in {} generations from {}", me,
                                         kMaxGenerations, proposal.generation));
}

void invite(Transport& transport, int node, std::uint64_t generation, const std::vector<int>& candidates) {
  send_note(transport, node, kInviteTag, generation, encode(Round::kHello, candidates, {}));
}

Result<Invitation> await_invitation(Transport& transport, const Deadline& deadline) {
  for (;;) {
    Result<Message> message = receive_once(transport, kAnySource, kInviteTag, deadline);
    if (!message.is_ok()) return message.status();
    std::optional<Note> note = decode(*message, transport.world_size());
    if (!note) continue;
    return Invitation{note->generation, std::move(note->ranks)};
  }
}

}  // namespace courier
