// Message: a received message, its header and its payload bytes. The payload is either owned
// by the Message or lent by the sender (in-process, zero-copy); a lent payload goes back to
// its sender, completing the sender's send, when the Message is released or destroyed.
#pragma once

#include <functional>
#include <vector>

#include "courier/comm/bytes.h"
#include "courier/comm/message.h"

namespace courier {

class Message {
 public:
  Message() = default;
  Message(const MessageHeader& header, std::vector<std::byte> owned)
      : header_(header), owned_(std::move(owned)), payload_(owned_) {}
  Message(const MessageHeader& header, ByteSpan lent, std::function<void()> give_back)
      : header_(header), payload_(lent), give_back_(std::move(give_back)) {}
  ~Message() { release(); }

  Message(Message&& other) noexcept { *this = std::move(other); }
  Message& operator=(Message&& other) noexcept {
    if (this == &other) return *this;
    release();
    header_ = other.header_;
    const bool lent = other.is_lent();
    owned_ = std::move(other.owned_);
    payload_ = lent ? other.payload_ : ByteSpan(owned_);
    give_back_ = std::move(other.give_back_);
    other.give_back_ = nullptr;
    other.payload_ = {};
    return *this;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  const MessageHeader& header() const { return header_; }
  MessageHeader& header() { return header_; }
  // Valid until release() or destruction.
  ByteSpan payload() const { return payload_; }
  bool is_lent() const { return static_cast<bool>(give_back_); }

  // Returns a lent payload to its sender now. Idempotent. payload() is empty afterwards.
  void release() {
    if (give_back_) {
      auto give_back = std::move(give_back_);
      give_back_ = nullptr;
      payload_ = {};
      give_back();
    }
  }

  // Replaces the payload with an owned copy (so a faulty transport can damage it without
  // touching the sender's memory), returning a lent payload to its sender.
  std::vector<std::byte>& own_payload() {
    if (is_lent()) {
      owned_.assign(payload_.begin(), payload_.end());
      release();
    }
    payload_ = owned_;
    return owned_;
  }

 private:
  MessageHeader header_;
  std::vector<std::byte> owned_;
  ByteSpan payload_;
  std::function<void()> give_back_;
};

}  // namespace courier
