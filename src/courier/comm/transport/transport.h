// Transport: moves messages (a header and payload bytes) between the ranks of a world.
// This is the seam every distributed piece of courier stands on; collectives, strategies and
// health checks use nothing else. Implementations, one folder each: inproc (threads in one
// process), mpi (Open MPI, one process a rank), faulty (a fault-injecting wrapper), and later
// sim (virtual time).
//
// Contract:
// - send() and recv() never block; they return handles. A handle's wait(deadline) blocks
//   until the operation completes or the deadline passes.
// - Messages from one source to one destination with one tag are received in the order they
//   were sent. recv(kAnySource, tag) takes the oldest matching arrival from any source.
// - A borrowed payload must stay valid and unmodified until its send handle completes. An
//   in-process send completes when the receiver releases the message; an MPI send when MPI
//   is done with the buffer. An owned payload belongs to the transport once send() returns;
//   its send completes as soon as the transport has queued it.
// - The header is the caller's and must describe the payload: payload_bytes equal to its size,
//   sealed (seal() in message.h), so it decodes on any transport. Transports deliver it as
//   given, stamping source and destination (the Communicator fills in sequence numbers and
//   checksums and verifies them on arrival).
// - close() ends this rank's participation: its pending operations complete with CANCELLED,
//   and peers see the rank as gone (their operations that need it fail with UNAVAILABLE).
//
// Thread safety: all methods may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "courier/comm/bytes.h"
#include "courier/comm/message.h"
#include "courier/comm/transport/completion.h"
#include "courier/comm/transport/message_buffer.h"
#include "courier/core/clock.h"
#include "courier/core/status.h"

namespace courier {

inline constexpr int kAnySource = -1;

class SendHandle {
 public:
  SendHandle() = default;  // an already-completed send
  explicit SendHandle(std::shared_ptr<Completion> completion) : completion_(std::move(completion)) {}

  // OK once the transport no longer needs the payload; the failure otherwise.
  // DEADLINE_EXCEEDED leaves the send pending: wait again or cancel().
  Status wait(const Deadline& deadline);
  bool test() const { return !completion_ || completion_->is_done(); }
  void cancel() {
    if (completion_) completion_->cancel();
  }

 private:
  std::shared_ptr<Completion> completion_;
};

class RecvHandle {
 public:
  RecvHandle() = default;
  explicit RecvHandle(std::shared_ptr<Completion> completion) : completion_(std::move(completion)) {}

  // The message, or why none came. DEADLINE_EXCEEDED leaves the receive posted: wait
  // again or cancel() it, or a later message will be matched to it and lost to the caller.
  // REQUIRES: a handle from recv(); a successful wait() hands the message over once.
  Result<Message> wait(const Deadline& deadline);
  bool test() const { return completion_ && completion_->is_done(); }
  void cancel() {
    if (completion_) completion_->cancel();
  }
  bool valid() const { return completion_ != nullptr; }

 private:
  std::shared_ptr<Completion> completion_;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string_view name() const = 0;

  // Sends `payload` with `header` to `destination` (header.destination is set to it).
  // REQUIRES: 0 <= destination < world_size().
  virtual SendHandle send(int destination, MessageHeader header, Payload payload) = 0;
  // Receives the next message from `source` (or kAnySource) carrying `tag`.
  virtual RecvHandle recv(int source, std::uint64_t tag) = 0;

  virtual void close() = 0;

  // MPI's own allreduce over the whole world, for measuring ourselves against it.
  // Transports without one return UNIMPLEMENTED. `op` is a ReduceOp (reduce.h) as an int so
  // the transport interface does not depend on the reduction code.
  virtual Status native_allreduce(MutableByteSpan data, DType dtype, int op, const Deadline& deadline);
};

}  // namespace courier
