// Matching for transports that receive on a thread of their own (mpi's progress thread, the
// reliable layer's receive thread): arrived messages nobody asked for yet, and receives nothing
// has arrived for yet, with the same rules as inproc's mailbox. That thread delivers; user
// threads receive and cancel, so receives never wait for it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "courier/comm/transport/completion.h"
#include "courier/comm/transport/message_buffer.h"
#include "courier/core/status.h"

namespace courier {

// Thread-safe. Always held by a shared_ptr (cancellers hold it weakly).
class Mailbox : public std::enable_shared_from_this<Mailbox> {
 public:
  Mailbox(int rank, int world_size) : rank_(rank), source_failure_(static_cast<std::size_t>(world_size)) {}

  // The oldest arrival from `source` (or any, for kAnySource) with `tag`, completed at once;
  // else a posted receive that a later deliver() completes, withdrawn by cancel(). Fails at
  // once when closed, or when `source` has failed and nothing from it is left to match.
  std::shared_ptr<Completion> recv(int source, std::uint64_t tag);
  // Hands `message` to the oldest matching posted receive, or keeps it. False (and the
  // message dropped) when closed. REQUIRES: one source's messages delivered in send order.
  bool deliver(Message message);
  // Nothing more will come from `source`: its posted receives, and later ones that find
  // nothing from it, fail with `why`. The first failure sticks.
  void fail_source(int source, const Status& why);
  // Posted receives complete with `why`, arrivals are dropped, later receives fail with it.
  void close(const Status& why);

 private:
  struct Posted {
    int source;
    std::uint64_t tag;
    std::shared_ptr<Completion> done;
    std::uint64_t id;
  };
  Status with_receive_context(const Status& why, int source, std::uint64_t tag) const;
  bool withdraw(std::uint64_t id);

  const int rank_;
  std::mutex mutex_;
  std::deque<Message> arrivals_;
  std::deque<Posted> posted_;
  std::vector<Status> source_failure_;
  std::optional<Status> closed_;
  std::uint64_t next_id_ = 1;
};

}  // namespace courier
