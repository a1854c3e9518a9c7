// The Open MPI transport's public side: creation, destruction, and what user threads call.
// The progress thread (mpi_progress.cc) makes every MPI call; it matches arrivals to receives
// in a Mailbox (../mailbox.h) and receives payloads into a BufferPool (buffer_pool.h).
//
// Threads. MPI is initialised with MPI_THREAD_SERIALIZED, on the progress thread, which then
// makes every MPI call until it finalises (so init and finalize run on the same thread, as
// MPI asks, whichever user thread creates or destroys the transport). MPI_THREAD_MULTIPLE
// would let user threads call MPI, but Open MPI then takes a lock on every call, and with one
// thread posting and polling there is nothing to gain. User threads reach the progress thread
// through a locked command queue (send, close, allreduce, shutdown); receives and cancels
// never need MPI, because the progress thread receives every message that arrives.
#include "courier/comm/transport/mpi/mpi_transport.h"

#include <climits>
#include <future>

#include <fmt/format.h>

#include "courier/comm/reduce.h"
#include "courier/comm/transport/mpi/mpi_progress.h"
#include "courier/core/check.h"

namespace courier {

using mpi::AllreduceJob;
using mpi::CloseCommand;
using mpi::Outgoing;
using mpi::StartState;

// Queues a command for the progress thread; false if it will never run one again.
bool MpiTransport::Impl::enqueue(Command command) {
  std::lock_guard lock(queue_mutex);
  if (fatal || shutdown_requested) return false;
  queue.push_back(std::move(command));
  has_commands.store(true, std::memory_order_release);
  if (sleeping.load()) queue_cv.notify_one();
  return true;
}

// Tells a backed-off progress thread that a message is expected, so it polls at full speed.
void MpiTransport::Impl::poke() {
  hint.store(true);
  if (sleeping.load()) {
    std::lock_guard lock(queue_mutex);
    queue_cv.notify_one();
  }
}

Status MpiTransport::Impl::refused() const {
  std::lock_guard lock(queue_mutex);
  if (fatal) return *fatal;
  return Status::cancelled(fmt::format("rank {} is closed", rank));
}

MpiTransport::MpiTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<MpiTransport>> MpiTransport::create(const MpiOptions& options) {
  if (options.segment_bytes == 0 || options.segment_bytes > static_cast<std::size_t>(INT_MAX)) {
    return Status::invalid_argument(fmt::format("mpi segment_bytes must be in [1, {}], not {}", INT_MAX,
                                                options.segment_bytes));
  }
  if (options.max_idle_sleep < std::chrono::microseconds(1) || options.idle_spin < Duration::zero() ||
      options.idle_yield < Duration::zero()) {
    return Status::invalid_argument("mpi idle_spin and idle_yield must not be negative, max_idle_sleep at least 1 us");
  }
  static std::atomic<bool> created{false};
  if (created.exchange(true)) {
    return Status::failed_precondition(
        "an mpi transport was already created in this process; MPI can be initialised only once, so create one "
        "transport and share it");
  }
  auto impl = std::make_unique<Impl>(options);
  std::promise<Status> ready;
  std::future<Status> started = ready.get_future();
  impl->thread = std::thread([raw = impl.get(), ready = std::move(ready)]() mutable { raw->run(std::move(ready)); });
  Status status = started.get();
  if (!status.is_ok()) {
    impl->thread.join();
    return status;
  }
  return std::unique_ptr<MpiTransport>(new MpiTransport(std::move(impl)));
}

MpiTransport::~MpiTransport() {
  close();
  {
    std::lock_guard lock(impl_->queue_mutex);
    impl_->shutdown_requested = true;
    impl_->has_commands.store(true, std::memory_order_release);
  }
  impl_->queue_cv.notify_all();
  impl_->thread.join();
}

int MpiTransport::rank() const { return impl_->rank; }
int MpiTransport::world_size() const { return impl_->world_size; }
std::string_view MpiTransport::thread_level() const { return impl_->thread_level; }

SendHandle MpiTransport::send(int destination, MessageHeader header, Payload payload) {
  Impl& impl = *impl_;
  COURIER_CHECK(destination >= 0 && destination < impl.world_size, "send to rank {} in a world of {}", destination,
                impl.world_size);
  auto done = std::make_shared<Completion>();
  header.source = static_cast<std::uint32_t>(impl.rank);
  header.destination = static_cast<std::uint32_t>(destination);
  auto out = std::make_unique<Outgoing>();
  encode_header(header, out->header_bytes);
  Status invalid;
  if (header.payload_bytes != payload.size()) {
    invalid = Status::invalid_argument(fmt::format("{}: the header says {} payload bytes, the payload has {} (seal() "
                                                   "the header)", describe(header), header.payload_bytes,
                                                   payload.size()));
  } else if (Result<MessageHeader> decoded = decode_header(out->header_bytes, impl.decode_limits());
             !decoded.is_ok()) {
    invalid = Status::invalid_argument(fmt::format("{}: the header would not decode: {}", describe(header),
                                                   decoded.status().message()));
  }
  if (!invalid.is_ok()) {
    done->complete(invalid.with_context(fmt::format("send from rank {}", impl.rank)));
    return SendHandle(done);
  }
  out->destination = destination;
  out->tag = header.tag;
  out->payload = std::move(payload);
  out->done = done;
  done->set_canceller([state = out->state] {
    auto expected = StartState::kQueued;
    return state->compare_exchange_strong(expected, StartState::kWithdrawn);
  });
  if (impl.closed.load(std::memory_order_acquire) || !impl.enqueue(std::move(out))) done->complete(impl.refused());
  return SendHandle(done);
}

RecvHandle MpiTransport::recv(int source, std::uint64_t tag) {
  Impl& impl = *impl_;
  COURIER_CHECK(source == kAnySource || (source >= 0 && source < impl.world_size),
                "receive from rank {} in a world of {}", source, impl.world_size);
  std::shared_ptr<Completion> done = impl.mailbox->recv(source, tag);
  if (!done->is_done()) impl.poke();
  return RecvHandle(std::move(done));
}

void MpiTransport::close() {
  Impl& impl = *impl_;
  if (impl.closed.exchange(true)) return;
  impl.mailbox->close(Status::cancelled(fmt::format("rank {} closed its transport", impl.rank)));
  static_cast<void>(impl.enqueue(CloseCommand{}));  // refused only when the progress thread is gone
}

Status MpiTransport::native_allreduce(MutableByteSpan data, DType dtype, int op, const Deadline& deadline) {
  Impl& impl = *impl_;
  auto job = std::make_shared<AllreduceJob>();
  switch (dtype) {
    case DType::kF32: job->type = MPI_FLOAT; break;
    case DType::kF64: job->type = MPI_DOUBLE; break;
    case DType::kI32: job->type = MPI_INT32_T; break;
    case DType::kI64: job->type = MPI_INT64_T; break;
    case DType::kI8: job->type = MPI_INT8_T; break;
    case DType::kU8: job->type = MPI_UINT8_T; break;
    case DType::kF16:
    case DType::kBF16:
      return Status::unimplemented(fmt::format("native allreduce of {} on rank {}: MPI has no {} type; use a courier "
                                               "allreduce algorithm", dtype_name(dtype), impl.rank, dtype_name(dtype)));
  }
  if (op != static_cast<int>(ReduceOp::kSum) && op != static_cast<int>(ReduceOp::kAverage) &&
      op != static_cast<int>(ReduceOp::kMax)) {
    return Status::invalid_argument(fmt::format("native allreduce on rank {}: unknown reduce op {}", impl.rank, op));
  }
  if (data.size() % dtype_size(dtype) != 0) {
    return Status::invalid_argument(fmt::format("native allreduce on rank {}: {} bytes is not a whole number of {}",
                                                impl.rank, data.size(), dtype_name(dtype)));
  }
  job->op = op == static_cast<int>(ReduceOp::kMax) ? MPI_MAX : MPI_SUM;
  job->data = data;
  job->count = data.size() / dtype_size(dtype);
  if (impl.closed.load(std::memory_order_acquire) || !impl.enqueue(job)) return impl.refused();
  if (!job->done.wait_until(deadline)) {
    auto expected = StartState::kQueued;
    if (job->state.compare_exchange_strong(expected, StartState::kWithdrawn)) {
      return Status::deadline_exceeded(fmt::format("native allreduce of {} bytes on rank {} did not start before its "
                                                   "deadline", data.size(), impl.rank));
    }
    job->done.wait_until(Deadline::never());  // running: MPI is using `data` until it returns
  }
  if (Status status = job->done.status(); !status.is_ok()) return status;
  if (op == static_cast<int>(ReduceOp::kAverage)) divide_by(data, dtype, static_cast<std::size_t>(impl.world_size));
  return Status::ok();
}

MpiStats MpiTransport::stats() const {
  const mpi::Counters& c = impl_->counters;
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return MpiStats{get(c.messages_sent),     get(c.bytes_sent),      get(c.segments_sent),
                  get(c.messages_received), get(c.bytes_received),  get(c.segments_received),
                  get(c.decode_failures),   get(c.messages_dropped), impl_->pool->allocated(),
                  impl_->pool->reused()};
}

SendHandle MpiTransport::send_raw_header_for_testing(int destination, std::vector<std::byte> bytes) {
  Impl& impl = *impl_;
  COURIER_CHECK(destination >= 0 && destination < impl.world_size, "send to rank {}", destination);
  COURIER_CHECK(!bytes.empty(), "an empty raw header would be a goodbye");
  auto done = std::make_shared<Completion>();
  auto out = std::make_unique<Outgoing>();
  out->destination = destination;
  out->raw_header = std::move(bytes);
  out->done = done;
  if (impl.closed.load(std::memory_order_acquire) || !impl.enqueue(std::move(out))) done->complete(impl.refused());
  return SendHandle(done);
}

}  // namespace courier
