// The Open MPI transport: one process a rank, point-to-point messages over MPI_COMM_WORLD's
// processes. This folder is the only code in courier that includes <mpi.h>; this header
// does not, so users of the transport never see MPI types.
//
// Design (details in mpi_transport.cc and mpi_progress.cc):
// - One progress thread owns every MPI call, including MPI_Init_thread and MPI_Finalize.
//   send(), close() and native_allreduce() queue commands for it; recv() and cancel() never
//   need MPI (the progress thread receives everything that arrives and matches it to
//   receives in a mailbox), so they only take the mailbox lock.
// - Wire: a message is its 72-byte encoded header as one MPI message on the header MPI tag,
//   then its payload as ceil(payload_bytes / segment_bytes) MPI messages on the payload MPI
//   tag. Courier's 64-bit tags live in the header, never in MPI tags.
// - Received payloads land in pooled, reused buffers and are lent to the receiver; releasing
//   the Message returns its buffer to the pool.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "courier/comm/transport/transport.h"
#include "courier/core/clock.h"
#include "courier/core/status.h"

namespace courier {

struct MpiOptions {
  // Large payloads travel as MPI messages of this size, so that they pipeline.
  // REQUIRES: 1 <= segment_bytes <= INT_MAX.
  std::size_t segment_bytes = std::size_t{1} << 20;
  // ANY_SOURCE header receives kept posted, so bursts of headers land in place.
  int posted_header_receives = 8;
  // When idle, the progress thread polls without pause for idle_spin after its last work (or
  // the last receive posted), then polls with a yield between polls for idle_yield, then
  // sleeps between polls, up to max_idle_sleep. Any new command wakes it at once. Pure
  // spinning pays only when every busy thread has a core of its own; with more threads than
  // cores (ranks plus their compute threads on a small machine) it starves the threads the
  // spinner waits for, so the default is to yield from the start.
  Duration idle_spin = Duration::zero();
  Duration idle_yield = std::chrono::milliseconds(2);
  Duration max_idle_sleep = std::chrono::microseconds(50);
  // Free receive buffers kept for reuse; buffers returned beyond this are freed.
  std::size_t pool_cached_bytes = std::size_t{512} << 20;
  // Headers announcing more payload than this are treated as corrupt.
  std::uint64_t max_payload_bytes = std::uint64_t{1} << 34;
  // How long destruction keeps serving peers while waiting for this rank's sends to finish
  // and for every rank to reach its own shutdown (an MPI_Ibarrier), before MPI_Finalize.
  Duration shutdown_timeout = std::chrono::seconds(30);
};

// Counters since creation. Thread-safe snapshot.
struct MpiStats {
  std::uint64_t messages_sent = 0, bytes_sent = 0, segments_sent = 0;
  std::uint64_t messages_received = 0, bytes_received = 0, segments_received = 0;
  std::uint64_t decode_failures = 0;    // headers that did not decode (their source is marked broken)
  std::uint64_t messages_dropped = 0;   // arrivals discarded: from a broken source, or after close()
  std::uint64_t buffers_allocated = 0;  // receive buffers the pool had to allocate
  std::uint64_t buffers_reused = 0;     // receive buffers the pool handed out again
};

// Thread safety: every method may be called from any thread concurrently (transport.h),
// except that destruction must not race with other calls.
class MpiTransport final : public Transport {
 public:
  // Initialises MPI (MPI_Init_thread, asking for MPI_THREAD_SERIALIZED) on a new progress
  // thread and returns the rank's endpoint. FAILED_PRECONDITION if this process already
  // created one (MPI can be initialised only once per process) or MPI was initialised by
  // someone else; INVALID_ARGUMENT for bad options. Blocks until MPI_Init_thread returns,
  // which MPI offers no way to bound.
  static Result<std::unique_ptr<MpiTransport>> create(const MpiOptions& options = {});

  // Closes (see close()), then keeps serving peers while this rank's own sends finish and
  // every rank reaches its shutdown, bounded by options.shutdown_timeout, then finalises
  // MPI. MPI_Finalize waits for every rank to finalise; that wait is MPI's, not bounded.
  ~MpiTransport() override;
  MpiTransport(const MpiTransport&) = delete;
  MpiTransport& operator=(const MpiTransport&) = delete;

  int rank() const override;
  int world_size() const override;
  std::string_view name() const override { return "mpi"; }

  // Non-blocking. The handle completes when MPI is done with the payload (not when the peer
  // has received it); a borrowed payload is sent from the caller's memory without a copy.
  // Sets header.source and header.destination. INVALID_ARGUMENT (on the handle) when the
  // header does not describe the payload: header.payload_bytes must equal payload.size() and
  // the header must decode (seal() it, as the Communicator does). UNAVAILABLE when the
  // destination has closed. cancel() withdraws a send that MPI has not started yet.
  // REQUIRES: 0 <= destination < world_size().
  SendHandle send(int destination, MessageHeader header, Payload payload) override;
  // Non-blocking; never touches MPI. The message's payload is lent from the transport's
  // buffer pool: release it (or drop the Message) to recycle the buffer; it stays valid after
  // the transport is gone. DATA_LOSS when the stream from `source` was corrupted, UNAVAILABLE
  // when `source` has closed and nothing from it is left to match.
  // REQUIRES: source == kAnySource or 0 <= source < world_size().
  RecvHandle recv(int source, std::uint64_t tag) override;
  // Crash-like: pending receives complete CANCELLED, later sends and receives fail with
  // CANCELLED, arrivals are discarded, and peers are told this rank is gone (after the
  // messages it already sent). Sends MPI has started still run to completion. Idempotent.
  void close() override;

  // MPI_Allreduce in place over MPI_COMM_WORLD, run by the progress thread; blocks the caller.
  // op: 0 sum, 1 average (sum, then divide by world_size), 2 max. f32 f64 i32 i64 i8 u8;
  // f16/bf16 are UNIMPLEMENTED. The deadline bounds the wait for the allreduce to start;
  // once MPI_Allreduce runs it cannot be abandoned (it uses `data`), so the call then returns
  // when it finishes. Every rank must call it, in the same order as its other collectives.
  Status native_allreduce(MutableByteSpan data, DType dtype, int op, const Deadline& deadline) override;

  MpiStats stats() const;
  // "single", "funneled", "serialized" or "multiple": what MPI granted.
  std::string_view thread_level() const;

  // Sends `bytes` as a raw header-tag MPI message, bypassing encoding and validation, so a
  // test can deliver a corrupt header. Not for production code.
  SendHandle send_raw_header_for_testing(int destination, std::vector<std::byte> bytes);

 private:
  struct Impl;
  explicit MpiTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier
