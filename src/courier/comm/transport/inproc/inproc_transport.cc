// Mailboxes and matching for the in-process transport.
//
// Each rank's mailbox holds arrivals nobody has asked for yet and receives nobody has
// satisfied yet; a send to rank d locks only d's mailbox. Matching is first-come in arrival
// order, which gives per-(source, tag) FIFO because one sender's sends arrive in order.
#include "courier/comm/transport/inproc/inproc_transport.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {
namespace {

struct Arrival {
  MessageHeader header;
  Payload payload;
  std::shared_ptr<Completion> send_done;
  std::uint64_t id;
};

struct PostedRecv {
  int source;
  std::uint64_t tag;
  std::shared_ptr<Completion> done;
  std::uint64_t id;
};

struct Mailbox {
  std::mutex mutex;
  std::deque<Arrival> arrivals;
  std::deque<PostedRecv> posted;
};

// Removes the entry with `id` from a mailbox queue; false if it is no longer there.
template <typename Entry>
bool erase_by_id(std::deque<Entry>& queue, std::uint64_t id) {
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->id == id) {
      queue.erase(it);
      return true;
    }
  }
  return false;
}

bool matches(int wanted_source, std::uint64_t wanted_tag, const MessageHeader& header) {
  return header.tag == wanted_tag && (wanted_source == kAnySource || static_cast<int>(header.source) == wanted_source);
}

// Turns an arrival into the receiver's Message: owned payloads move, borrowed ones are lent
// and complete the sender's send when the receiver gives them back.
Message deliver(Arrival&& arrival) {
  if (arrival.payload.is_owned()) {
    arrival.send_done->complete(Status::ok());
    return Message(arrival.header, std::move(arrival.payload).take());
  }
  return Message(arrival.header, arrival.payload.bytes(),
                 [done = std::move(arrival.send_done)] { done->complete(Status::ok()); });
}

}  // namespace

class InprocFabric {
 public:
  explicit InprocFabric(int world_size)
      : mailboxes_(static_cast<std::size_t>(world_size)),
        closed_(world_size),
        // Ranks that fit on the cores spin longer before sleeping: the peer that will answer
        // is running. With more ranks than cores a spinner would steal the answerer's core.
        spin_(static_cast<unsigned>(world_size) <= std::max(1u, std::thread::hardware_concurrency())
                  ? std::chrono::microseconds(30)
                  : Completion::kDefaultSpin) {
    for (auto& closed : closed_) closed.store(false);
  }

  int world_size() const { return static_cast<int>(mailboxes_.size()); }
  Mailbox& mailbox(int rank) { return mailboxes_[static_cast<std::size_t>(rank)]; }
  bool is_closed(int rank) const { return closed_[static_cast<std::size_t>(rank)].load(std::memory_order_acquire); }
  std::uint64_t next_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  std::shared_ptr<Completion> new_completion() const { return std::make_shared<Completion>(spin_); }

  SendHandle send(int from, int to, MessageHeader header, Payload payload);
  RecvHandle recv(int rank, int source, std::uint64_t tag);
  void close(int rank);

 private:
  std::deque<Mailbox> mailboxes_;  // deque: Mailbox holds a mutex and cannot move
  std::vector<std::atomic<bool>> closed_;
  std::atomic<std::uint64_t> next_id_{1};
  Duration spin_;
};

SendHandle InprocFabric::send(int from, int to, MessageHeader header, Payload payload) {
  COURIER_CHECK(to >= 0 && to < world_size(), "send to rank {} in a world of {}", to, world_size());
  auto send_done = new_completion();
  if (is_closed(from)) {
    send_done->complete(Status::cancelled(fmt::format("rank {} is closed", from)));
    return SendHandle(send_done);
  }
  header.destination = static_cast<std::uint32_t>(to);
  Mailbox& box = mailbox(to);
  std::shared_ptr<Completion> receiver;
  Arrival arrival{header, std::move(payload), send_done, next_id()};
  {
    std::lock_guard lock(box.mutex);
    if (is_closed(to)) {
      send_done->complete(Status::unavailable(fmt::format("rank {} is gone (its endpoint is closed)", to)));
      return SendHandle(send_done);
    }
    for (auto it = box.posted.begin(); it != box.posted.end(); ++it) {
      if (matches(it->source, it->tag, header)) {
        receiver = std::move(it->done);
        box.posted.erase(it);
        break;
      }
    }
    if (!receiver) {
      const std::uint64_t id = arrival.id;
      // An owned payload belongs to the transport now: the send is done once it is queued.
      if (arrival.payload.is_owned()) send_done->complete(Status::ok());
      box.arrivals.push_back(std::move(arrival));
      send_done->set_canceller([this, to, id] {
        std::lock_guard guard(mailbox(to).mutex);
        return erase_by_id(mailbox(to).arrivals, id);
      });
      return SendHandle(send_done);
    }
  }
  receiver->complete(deliver(std::move(arrival)));
  return SendHandle(send_done);
}

RecvHandle InprocFabric::recv(int rank, int source, std::uint64_t tag) {
  COURIER_CHECK(source == kAnySource || (source >= 0 && source < world_size()), "receive from rank {} in a world of {}",
                source, world_size());
  auto done = new_completion();
  Mailbox& box = mailbox(rank);
  std::optional<Arrival> found;
  {
    std::lock_guard lock(box.mutex);
    if (is_closed(rank)) {
      done->complete(Status::cancelled(fmt::format("rank {} is closed", rank)));
      return RecvHandle(done);
    }
    for (auto it = box.arrivals.begin(); it != box.arrivals.end(); ++it) {
      if (matches(source, tag, it->header)) {
        found = std::move(*it);
        box.arrivals.erase(it);
        break;
      }
    }
    if (!found) {
      if (source != kAnySource && is_closed(source)) {
        done->complete(Status::unavailable(fmt::format("rank {} is gone (its endpoint is closed)", source)));
        return RecvHandle(done);
      }
      const std::uint64_t id = next_id();
      box.posted.push_back(PostedRecv{source, tag, done, id});
      done->set_canceller([this, rank, id] {
        std::lock_guard guard(mailbox(rank).mutex);
        return erase_by_id(mailbox(rank).posted, id);
      });
      return RecvHandle(done);
    }
  }
  done->complete(deliver(std::move(*found)));
  return RecvHandle(done);
}

// A closed rank behaves as a crashed process would: what it was waiting for is cancelled,
// what others sent it is refused, its own unreceived messages vanish, and everyone waiting
// for a message from it learns it is gone. Payloads it lent that a receiver still holds stay
// valid until given back (the receiver may be reading them).
void InprocFabric::close(int rank) {
  if (closed_[static_cast<std::size_t>(rank)].exchange(true)) return;
  const std::string gone = fmt::format("rank {} is gone (its endpoint is closed)", rank);
  std::vector<std::shared_ptr<Completion>> cancelled, refused, unavailable;
  {
    Mailbox& own = mailbox(rank);
    std::lock_guard lock(own.mutex);
    for (auto& posted : own.posted) cancelled.push_back(posted.done);
    for (auto& arrival : own.arrivals) refused.push_back(arrival.send_done);
    own.posted.clear();
    own.arrivals.clear();
  }
  for (int other = 0; other < world_size(); ++other) {
    if (other == rank) continue;
    Mailbox& box = mailbox(other);
    std::lock_guard lock(box.mutex);
    for (auto it = box.arrivals.begin(); it != box.arrivals.end();) {
      if (static_cast<int>(it->header.source) == rank) {
        cancelled.push_back(it->send_done);
        it = box.arrivals.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = box.posted.begin(); it != box.posted.end();) {
      if (it->source == rank) {
        unavailable.push_back(it->done);
        it = box.posted.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : cancelled) c->complete(Status::cancelled(fmt::format("rank {} is closed", rank)));
  for (auto& c : refused) c->complete(Status::unavailable(gone + " before receiving"));
  for (auto& c : unavailable) c->complete(Status::unavailable(gone));
}

InprocTransport::InprocTransport(std::shared_ptr<InprocFabric> fabric, int rank)
    : fabric_(std::move(fabric)), rank_(rank) {}

InprocTransport::~InprocTransport() = default;

int InprocTransport::world_size() const { return fabric_->world_size(); }

SendHandle InprocTransport::send(int destination, MessageHeader header, Payload payload) {
  header.source = static_cast<std::uint32_t>(rank_);
  return fabric_->send(rank_, destination, header, std::move(payload));
}

RecvHandle InprocTransport::recv(int source, std::uint64_t tag) { return fabric_->recv(rank_, source, tag); }

void InprocTransport::close() { fabric_->close(rank_); }

std::vector<std::unique_ptr<Transport>> make_inproc_world(int world_size) {
  COURIER_CHECK_GE(world_size, 1, "an in-process world needs at least one rank");
  auto fabric = std::make_shared<InprocFabric>(world_size);
  std::vector<std::unique_ptr<Transport>> endpoints;
  for (int r = 0; r < world_size; ++r) endpoints.push_back(std::make_unique<InprocTransport>(fabric, r));
  return endpoints;
}

}  // namespace courier
