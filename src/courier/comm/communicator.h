// Communicator: point-to-point messaging among the ranks of a group, with integrity checks.
// Collectives, strategies and the seed demo talk through it; it talks to a Transport.
//
// What it adds to the transport:
// - groups: ranks are group ranks, translated to world ranks; the group's context id rides
//   in the top 16 bits of the tag, so groups sharing a transport never see each other's
//   messages. The world communicator has context 0.
// - sequence numbers per (peer, tag) channel: a duplicate is dropped (and counted), a gap
//   (a lost message) is a DATA_LOSS naming the peer, tag and step.
// - checksums: headers always, payloads when options.payload_checksums is set.
// - errors that name this rank, the peer, the operation, the tag and the step.
// - failure notices: a rank whose wait fails tells the other members. A damaged message or a
//   peer known to be gone is fatal at once for everyone. A timeout starts a stall resolution:
//   every member that is itself waiting says whom it waits for, and after a short grace each
//   follows the chain of waits to the rank that sent nothing. So every survivor's error names
//   the missing rank, not just its own neighbour, and nobody hangs.
// - a communicator that failed stays failed (its sequence state is no longer trustworthy);
//   recovery builds a new one.
// - an optional trace of every send and receive.
//
// Thread safety: send/recv/wait may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "courier/comm/message.h"
#include "courier/comm/transport/transport.h"
#include "courier/core/clock.h"

namespace courier {

class Trace;

// Tags below this are free for callers; the rest of the 48-bit tag space is the runtime's.
inline constexpr std::uint64_t kUserTagLimit = std::uint64_t{1} << 40;

struct CommunicatorOptions {
  bool payload_checksums = false;  // XXH3 over every payload (headers are always checksummed)
  Trace* trace = nullptr;          // records every send and receive when set; must outlive the communicator
  // After a timeout, how long to collect the other members' stall notices before naming the
  // missing rank. Longer than the spread of the members' timeouts plus a message's latency.
  std::chrono::milliseconds stall_grace{300};
};

// Describes what a payload holds (header fields); element_count defaults to bytes / dtype size.
struct SendInfo {
  DType dtype = DType::kU8;
  std::uint64_t element_count = 0;  // with a codec: the elements encoded (0 is then 0)
  std::uint8_t codec = kCodecIdentity;
  std::uint64_t step = 0;
  MessageKind kind = MessageKind::kData;
};

// Names an operation in errors: "allreduce_ring step 12".
struct OpContext {
  std::string_view op;
  std::uint64_t step = 0;
  // The caller outlives a peer's loss (an elastic parameter server): a wait whose peer is gone
  // (UNAVAILABLE) or whose deadline passes returns that status as it is, without failing the
  // communicator, telling the members or resolving a stall. Damaged or lost messages stay fatal.
  bool survivable = false;
};

struct PendingRecv {
  RecvHandle handle;
  int peer = kAnySource;      // group rank, or kAnySource
  std::uint64_t wire_tag = 0;
};

struct CommunicatorStats {
  std::uint64_t messages_sent = 0, bytes_sent = 0;
  std::uint64_t messages_received = 0, bytes_received = 0;
  std::uint64_t duplicates_dropped = 0;
};

class Communicator {
 public:
  // The whole world of `transport`, which must outlive the communicator.
  explicit Communicator(Transport& transport, CommunicatorOptions options = {});
  ~Communicator();
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;

  // A group over `members` (world ranks, listed in group-rank order). Every member builds it
  // with the same members and context; contexts of groups in use at once must differ and be
  // non-zero. REQUIRES: this rank is a member; members are distinct and valid.
  Communicator subgroup(std::vector<int> members, std::uint16_t context) const;

  int rank() const { return rank_; }
  int world_size() const { return static_cast<int>(members_.size()); }
  // The world rank of a group rank.
  int world_rank_of(int group_rank) const;
  Transport& transport() const { return *transport_; }
  const CommunicatorOptions& options() const { return options_; }

  // Non-blocking sends to a group rank. A borrowed span must stay valid until the handle
  // completes. REQUIRES: tag < kUserTagLimit or a runtime tag.
  SendHandle send(int peer, std::uint64_t tag, ByteSpan data, const SendInfo& info = {});
  SendHandle send(int peer, std::uint64_t tag, std::vector<std::byte> data, const SendInfo& info = {});
  // Posts a receive from a group rank (or kAnySource).
  PendingRecv recv(int peer, std::uint64_t tag);

  // Waits for a posted receive and checks what arrives. On DEADLINE_EXCEEDED the receive is
  // cancelled. Errors name this rank, the peer, the tag, the step and `context.op`.
  Result<Message> wait(PendingRecv& pending, const Deadline& deadline, const OpContext& context);
  Status wait(SendHandle& send, const Deadline& deadline, const OpContext& context, int peer);
  // recv + wait.
  Result<Message> receive(int peer, std::uint64_t tag, const Deadline& deadline, const OpContext& context);

  // Fails this communicator with `reason` and tells every other member, whose waits then fail
  // with it (best effort, never blocks). For failures found above the communicator (a
  // collective's size mismatch); failures of wait() are announced by wait() itself.
  void abort(const Status& reason);
  // The failure this communicator is in, from this rank or a notice from another, if any
  // (non-blocking; reads notices that have arrived).
  std::optional<Status> failure();

  CommunicatorStats stats() const;

  // The number of this call among the collectives on this communicator, from 0. Every member
  // calls the same collectives in the same order, so equal calls have equal numbers; the
  // collectives put it in their fingerprint (collectives/detail.h).
  std::uint64_t next_collective();

 private:
  struct State;
  Communicator(Transport& transport, CommunicatorOptions options, std::vector<int> members, std::uint16_t context);
  std::uint64_t wire_tag(std::uint64_t tag) const;
  SendHandle send_payload(int peer, std::uint64_t tag, Payload payload, const SendInfo& info);
  Status check_arrival(Message& message, const PendingRecv& pending, const OpContext& context, bool& duplicate);
  std::string where(int peer, std::uint64_t wire_tag, const OpContext& context) const;
  // Records `status` as this communicator's failure and, the first time, tells the members
  // (with `op`, the operation this rank is in, for stall notices).
  Status fail(const Status& status, int waiting_for_world_rank, bool stall, std::string_view op = {});
  // Reads every notice that has arrived (non-blocking). Caller holds no lock.
  void poll_notices();
  // The timeout path: announce whom this rank waits for, collect the others' notices for the
  // grace period, follow the chain of waits to the silent rank, and fail naming it.
  Status resolve_stall(int peer, const OpContext& context, std::string_view waited, std::string_view tag_text);

  Transport* transport_;
  CommunicatorOptions options_;
  std::vector<int> members_;  // group rank -> world rank
  std::uint16_t context_;
  int rank_;
  std::unique_ptr<State> state_;
};

}  // namespace courier
