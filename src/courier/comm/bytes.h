// Bytes in flight. comm moves bytes plus a dtype and never sees tensors or layers.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace courier {

using ByteSpan = std::span<const std::byte>;
using MutableByteSpan = std::span<std::byte>;

template <typename T>
ByteSpan as_bytes_of(std::span<const T> values) {
  return std::as_bytes(values);
}
template <typename T>
MutableByteSpan as_writable_bytes_of(std::span<T> values) {
  return std::as_writable_bytes(values);
}

// The payload of a message being sent: either owned (moved into the transport, nothing to
// keep alive) or borrowed (the sender keeps the bytes valid and unmodified until its send
// completes, as with MPI_Isend). Borrowing is how in-process sends avoid copies.
class Payload {
 public:
  Payload() = default;
  static Payload owned(std::vector<std::byte> bytes) {
    Payload p;
    p.owned_ = std::move(bytes);
    p.view_ = p.owned_;
    p.is_owned_ = true;
    return p;
  }
  static Payload borrowed(ByteSpan bytes) {
    Payload p;
    p.view_ = bytes;
    return p;
  }

  Payload(Payload&& other) noexcept { *this = std::move(other); }
  Payload& operator=(Payload&& other) noexcept {
    is_owned_ = other.is_owned_;
    owned_ = std::move(other.owned_);
    view_ = is_owned_ ? ByteSpan(owned_) : other.view_;
    other.view_ = {};
    other.is_owned_ = false;
    return *this;
  }
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;

  ByteSpan bytes() const { return view_; }
  std::size_t size() const { return view_.size(); }
  bool is_owned() const { return is_owned_; }
  // The bytes as an owned vector: moved out when owned, copied when borrowed.
  std::vector<std::byte> take() && {
    if (is_owned_) return std::move(owned_);
    return {view_.begin(), view_.end()};
  }

 private:
  std::vector<std::byte> owned_;
  ByteSpan view_;
  bool is_owned_ = false;
};

}  // namespace courier
