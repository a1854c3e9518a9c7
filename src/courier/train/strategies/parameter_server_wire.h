// The parameter server's messages (internal to parameter_server*.cc): tags, the request header
// every worker request and server replica starts with, and the reply header of a pull.
//
//   request  (worker or server -> server, tag kTagRequest):  RequestHeader, then
//            push:    the gradient slice, floats (option 0) or the codec's encoding (option 1)
//            replica: a Snapshot of the slice (server -> the next server)
//            pull, done: nothing
//   reply    (server -> worker, tag kTagReply + slice):      ReplyHeader, then `workers` bytes,
//            1 for a worker the server has dropped (dead or silent), then the slice as floats
//            (kWhole) or the codec's encoding of the change since the worker's last reply (kChange)
//   watch    (tag kTagWatch): never sent; a server's receive on it from each worker completes
//            with UNAVAILABLE when that worker's endpoint closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace courier::ps_wire {

inline constexpr std::uint64_t kTagRequest = 101;
inline constexpr std::uint64_t kTagWatch = 103;
inline constexpr std::uint64_t kTagReply = 1024;  // + the slice's index

enum class RequestKind : std::uint32_t { kPush = 1, kPull = 2, kDone = 3, kReplica = 4 };

struct RequestHeader {
  RequestKind kind;
  // push: 1 when the slice is the codec's encoding, 0 when floats; pull: 1 asks for the whole
  // slice even when compressing (a worker's last pull, and its first after a takeover).
  std::uint32_t option = 0;
  std::int64_t clock = 0;  // push: the step pushed; pull: the clock the parameters must reflect
  float lr = 0.0f;         // push: the learning rate of that step
  float weight = 1.0f;     // push: the factor the server applies to the gradient
  std::uint32_t slice = 0; // push, pull, replica: which server's slice (its index in [0, S))
  std::uint32_t busy_us = 0;  // push: microseconds the worker computed since its last pull returned
};
static_assert(sizeof(RequestHeader) == 32);

enum class ReplyForm : std::uint32_t { kWhole = 1, kChange = 2 };

struct ReplyHeader {
  ReplyForm form;
  std::uint32_t workers;  // the membership bytes that follow
};
static_assert(sizeof(ReplyHeader) == 8);

// A replica's fixed part; then `workers` i64 clocks pushed, the slice's values, and each of
// the optimizer's `state_buffers` buffers (as many floats as values, in state() order).
struct SnapshotHeader {
  std::int64_t updates = 0;          // optimizer updates the slice has seen (BSP: clocks)
  std::int64_t applied = 0;          // BSP: clocks applied
  std::int64_t optimizer_steps = 0;  // Optimizer::step_count (Adam's bias correction)
  std::uint32_t workers = 0;
  std::uint32_t state_buffers = 0;
};
static_assert(sizeof(SnapshotHeader) == 32);

// The header, then `body`.
template <typename Header>
std::vector<std::byte> with_header(const Header& header, std::vector<std::byte> body = {}) {
  const auto fixed = std::as_bytes(std::span<const Header>(&header, 1));
  body.insert(body.begin(), fixed.begin(), fixed.end());
  return body;
}

}  // namespace courier::ps_wire
