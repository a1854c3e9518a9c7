// Matching: first-come in delivery order, which is per-(source, tag) FIFO because each source's
// messages are delivered in the order they were sent. Completions run outside the lock.
#include "courier/comm/transport/mailbox.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "courier/comm/transport/transport.h"

namespace courier {
namespace {

bool matches(int source, std::uint64_t tag, const MessageHeader& header) {
  return header.tag == tag && (source == kAnySource || static_cast<int>(header.source) == source);
}

}  // namespace

std::shared_ptr<Completion> Mailbox::recv(int source, std::uint64_t tag) {
  auto done = std::make_shared<Completion>();
  std::optional<Message> found;
  Status failure;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      failure = *closed_;
    } else {
      auto it = std::find_if(arrivals_.begin(), arrivals_.end(),
                             [&](const Message& m) { return matches(source, tag, m.header()); });
      if (it != arrivals_.end()) {
        found = std::move(*it);
        arrivals_.erase(it);
      } else if (source != kAnySource && !source_failure_[static_cast<std::size_t>(source)].is_ok()) {
        failure = source_failure_[static_cast<std::size_t>(source)];
      } else {
        const std::uint64_t id = next_id_++;
        posted_.push_back(Posted{source, tag, done, id});
        done->set_canceller([weak = weak_from_this(), id] {
          auto self = weak.lock();
          return self && self->withdraw(id);
        });
        return done;
      }
    }
  }
  if (found) {
    done->complete(std::move(*found));
  } else {
    done->complete(with_receive_context(failure, source, tag));
  }
  return done;
}

bool Mailbox::withdraw(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(posted_.begin(), posted_.end(), [&](const Posted& p) { return p.id == id; });
  if (it == posted_.end()) return false;
  posted_.erase(it);
  return true;
}

bool Mailbox::deliver(Message message) {
  std::shared_ptr<Completion> receiver;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    auto it = std::find_if(posted_.begin(), posted_.end(),
                           [&](const Posted& p) { return matches(p.source, p.tag, message.header()); });
    if (it == posted_.end()) {
      arrivals_.push_back(std::move(message));
      return true;
    }
    receiver = std::move(it->done);
    posted_.erase(it);
  }
  receiver->complete(std::move(message));
  return true;
}

void Mailbox::fail_source(int source, const Status& why) {
  std::vector<Posted> failed;
  {
    std::lock_guard lock(mutex_);
    Status& failure = source_failure_[static_cast<std::size_t>(source)];
    if (!failure.is_ok()) return;
    failure = why;
    for (auto it = posted_.begin(); it != posted_.end();) {
      if (it->source == source) {
        failed.push_back(std::move(*it));
        it = posted_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& p : failed) p.done->complete(with_receive_context(why, p.source, p.tag));
}

void Mailbox::close(const Status& why) {
  std::deque<Posted> cancelled;
  std::deque<Message> dropped;  // given back outside the lock
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = why;
    cancelled.swap(posted_);
    dropped.swap(arrivals_);
  }
  for (auto& p : cancelled) p.done->complete(with_receive_context(why, p.source, p.tag));
}

Status Mailbox::with_receive_context(const Status& why, int source, std::uint64_t tag) const {
  return why.with_context(fmt::format("receive on rank {} from rank {} tag {:#x}", rank_,
                                      source == kAnySource ? std::string("any") : std::to_string(source), tag));
}

}  // namespace courier
