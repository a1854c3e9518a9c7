// The mpi transport's progress thread: it initialises MPI, posts and polls every request, turns
// arrivals into messages for the mailbox, and shuts MPI down.
//
// Wire. A message is its 72-byte header on kHeaderMpiTag, then ceil(payload_bytes /
// segment_bytes) segments on kPayloadMpiTag. A zero-byte message on kHeaderMpiTag says the
// sender closed ("goodbye"); riding the header stream, it arrives after every header that
// sender sent before closing. The receiver keeps `posted_header_receives` ANY_SOURCE header
// receives posted and handles them in posting order (MPI matches posted receives in order,
// and messages from one source in the order they were sent), so headers from one source are
// decoded in send order; on each header it posts receives for the payload segments, from
// that source, into one pooled buffer. Payload segments from one source therefore match in
// send order too.
//
// Delivery. Each source has a queue of its messages in header order; a message is delivered
// to the mailbox once it and every earlier message from that source are complete, so a small
// message never overtakes a large one from the same source (per-source FIFO, stronger than
// the per-(source, tag) FIFO the contract asks for).
//
// Shutdown. Destruction closes, keeps serving peers until this rank's sends finish, then
// enters an MPI_Ibarrier and keeps serving peers until every rank has entered it too (so no
// rank stops receiving while another still sends to it), all within shutdown_timeout; then
// cancels its receives and calls MPI_Finalize. MPI_Finalize cannot deadlock on a rank that
// finalised first: no rank finalises before the barrier completes, and the barrier needs
// every rank. After a timeout it finalises anyway and logs what it was waiting for.
#include <algorithm>
#include <climits>
#include <stdexcept>

#if defined(__linux__)
#include <pthread.h>
#include <sys/prctl.h>
#endif

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "courier/comm/transport/mpi/mpi_progress.h"

namespace courier {
namespace mpi {

std::string error_string(int code) {
  std::array<char, MPI_MAX_ERROR_STRING> text{};
  int length = 0;
  if (MPI_Error_string(code, text.data(), &length) != MPI_SUCCESS) return fmt::format("MPI error {}", code);
  return std::string(text.data(), static_cast<std::size_t>(length));
}

}  // namespace mpi

namespace {

using mpi::PooledBuffer;
using mpi::StartState;

constexpr int kHeaderMpiTag = 1;
constexpr int kPayloadMpiTag = 2;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace

// ---- Progress thread: lifecycle ------------------------------------------------------------

void MpiTransport::Impl::run(std::promise<Status> ready) {
  Status init = Status::internal("MPI initialisation threw");
  try {
    init = init_mpi();
  } catch (const std::exception& e) {
    init = Status::internal(fmt::format("MPI initialisation failed: {}", e.what()));
  }
  const bool ok = init.is_ok();
  ready.set_value(std::move(init));
  if (!ok) return;
  try {
    progress_loop();
  } catch (const std::exception& e) {
    fail_everything(Status::internal(fmt::format("rank {}: the MPI progress thread failed: {}", rank, e.what())));
  } catch (...) {
    fail_everything(Status::internal(fmt::format("rank {}: the MPI progress thread failed", rank)));
  }
  finish_mpi();
}

Status MpiTransport::Impl::init_mpi() {
#if defined(__linux__)
  prctl(PR_SET_TIMERSLACK, 1000UL);  // idle sleeps of a few microseconds, not the default 50
  pthread_setname_np(pthread_self(), "courier-mpi");
#endif
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized || finalized) {
    return Status::failed_precondition("MPI was already initialised in this process by other code; the mpi "
                                       "transport must own MPI (create it before anything else uses MPI)");
  }
  int provided = MPI_THREAD_SINGLE;
  if (int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided); rc != MPI_SUCCESS) {
    return Status::unavailable(fmt::format("MPI_Init_thread failed: {}", mpi::error_string(rc)));
  }
  // Only this thread, the one that initialised MPI, ever calls it, so FUNNELED would do;
  // SINGLE would not (the process has other threads).
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    return Status::failed_precondition("this MPI supports only MPI_THREAD_SINGLE; the mpi transport needs at "
                                       "least MPI_THREAD_FUNNELED (install an MPI built with thread support)");
  }
  thread_level = provided == MPI_THREAD_MULTIPLE     ? "multiple"
                 : provided == MPI_THREAD_SERIALIZED ? "serialized"
                                                     : "funneled";
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (int rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm); rc != MPI_SUCCESS) {
    MPI_Finalize();
    return Status::unavailable(fmt::format("MPI_Comm_dup failed: {}", mpi::error_string(rc)));
  }
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &world_size);
  const auto n = static_cast<std::size_t>(world_size);
  mailbox = std::make_shared<Mailbox>(rank, world_size);
  incoming.resize(n);
  stream_dead.assign(n, false);
  delivery_dead.assign(n, false);
  peer_gone.assign(n, false);
  header_slots.resize(static_cast<std::size_t>(std::max(1, options.posted_header_receives)));
  requests.assign(header_slots.size(), MPI_REQUEST_NULL);
  owners.assign(header_slots.size(), RequestOwner{});
  for (std::size_t i = 0; i < header_slots.size(); ++i) post_header_receive(i);
  return Status::ok();
}

// Poll, run commands, and when there is nothing to do, back off: spin (if configured), then
// yield, then sleep a little longer each time. New commands end a sleep at once; an arriving MPI message
// cannot, so it waits at most max_idle_sleep to be noticed once the thread has backed off.
void MpiTransport::Impl::progress_loop() {
  Duration last_work = real_clock().now();
  while (true) {
    bool worked = take_commands();
    worked |= poll();
    if (hint.load(std::memory_order_relaxed) && hint.exchange(false)) worked = true;
    if (shutting_down && shutdown_step()) return;
    const Duration now = real_clock().now();
    if (worked) {
      last_work = now;
      sleep_for = Duration::zero();
    } else {
      idle_wait(now - last_work);
    }
  }
}

void MpiTransport::Impl::idle_wait(Duration idle_for) {
  if (idle_for < options.idle_spin) {
    for (int i = 0; i < 16; ++i) cpu_relax();
    return;
  }
  if (idle_for < options.idle_spin + options.idle_yield) {
    std::this_thread::yield();
    return;
  }
  sleep_for = std::clamp<Duration>(2 * sleep_for, std::chrono::microseconds(1), options.max_idle_sleep);
  std::unique_lock lock(queue_mutex);
  sleeping.store(true);
  queue_cv.wait_for(lock, sleep_for, [&] { return has_commands.load() || hint.load(); });
  sleeping.store(false);
}

// One step of shutdown: first this rank's sends finish, then every rank enters the barrier.
// True when done (or out of time).
bool MpiTransport::Impl::shutdown_step() {
  if (!barrier_posted && sending.empty()) {
    if (int rc = MPI_Ibarrier(comm, &barrier); rc != MPI_SUCCESS) {
      spdlog::warn("rank {}: MPI_Ibarrier at shutdown failed: {}", rank, mpi::error_string(rc));
      return true;
    }
    barrier_posted = true;
  }
  if (barrier_posted) {
    int done = 0;
    MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
    barrier_done = done != 0;
    if (barrier_done) return true;
  }
  if (real_clock().now() < shutdown_deadline) return false;
  spdlog::warn("rank {}: shutting down after {:.3g} s with {} sends unfinished and {}; finalising MPI anyway",
               rank, std::chrono::duration<double>(options.shutdown_timeout).count(), sending.size(),
               barrier_posted ? "some ranks not yet shutting down" : "the shutdown barrier not entered");
  return true;
}

// Withdraws what MPI still holds, finalises, and completes sends MPI never finished (their
// buffers are safe to reuse only now).
void MpiTransport::Impl::finish_mpi() {
  try {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (requests[i] != MPI_REQUEST_NULL && owners[i].send == nullptr) MPI_Cancel(&requests[i]);
    }
    const Duration until = real_clock().now() + std::chrono::seconds(1);
    for (std::size_t i = 0; i < requests.size(); ++i) {
      int done = 0;
      while (owners[i].send == nullptr && requests[i] != MPI_REQUEST_NULL && !done && real_clock().now() < until) {
        MPI_Test(&requests[i], &done, MPI_STATUS_IGNORE);
      }
      if (requests[i] != MPI_REQUEST_NULL) MPI_Request_free(&requests[i]);
    }
    // Freeing a communicator with a collective still pending on it is erroneous: after a
    // timed-out shutdown barrier, MPI_Finalize reclaims it instead.
    if (comm != MPI_COMM_NULL && (barrier_done || !barrier_posted)) MPI_Comm_free(&comm);
    if (int rc = MPI_Finalize(); rc != MPI_SUCCESS) {
      spdlog::warn("rank {}: MPI_Finalize failed: {}", rank, mpi::error_string(rc));
    }
  } catch (const std::exception& e) {
    spdlog::error("rank {}: finalising MPI failed: {}", rank, e.what());
  }
  for (auto& [raw, out] : sending) {
    if (out->done) {
      out->done->complete(Status::unavailable(
          fmt::format("send from rank {} to rank {} tag {:#x} did not finish before rank {} shut down", rank,
                      out->destination, out->tag, rank)));
    }
  }
  sending.clear();
  incoming.clear();
}

// The progress thread broke: everything waiting fails with `why`, and so does everything
// asked later. MPI is left alone until shutdown.
void MpiTransport::Impl::fail_everything(const Status& why) {
  spdlog::error("{}", why.message());
  std::vector<Command> dropped = std::move(batch);  // what the failed batch had not run yet
  {
    std::lock_guard lock(queue_mutex);
    fatal = why;
    for (auto& command : queue) dropped.push_back(std::move(command));
    queue.clear();
  }
  for (auto& command : dropped) {
    auto* out = std::get_if<std::unique_ptr<Outgoing>>(&command);
    if (out && *out && (*out)->done) (*out)->done->complete(why);
    auto* job = std::get_if<std::shared_ptr<AllreduceJob>>(&command);
    if (job && *job) (*job)->done.complete(why);  // ignored by one already finished
  }
  if (mailbox) mailbox->close(why);
  std::unique_lock lock(queue_mutex);
  queue_cv.wait(lock, [&] { return shutdown_requested; });
}

// ---- Progress thread: commands -------------------------------------------------------------

bool MpiTransport::Impl::take_commands() {
  if (!has_commands.load(std::memory_order_acquire)) return false;
  bool shutdown = false;
  {
    std::lock_guard lock(queue_mutex);
    batch.swap(queue);
    has_commands.store(false, std::memory_order_relaxed);
    shutdown = shutdown_requested;
  }
  for (auto& command : batch) execute(command);
  batch.clear();
  if (shutdown && !shutting_down) {
    shutting_down = true;
    shutdown_deadline = real_clock().now() + options.shutdown_timeout;
  }
  return true;
}

void MpiTransport::Impl::execute(Command& command) {
  if (auto* out = std::get_if<std::unique_ptr<Outgoing>>(&command)) {
    start_send(std::move(*out));
  } else if (auto* job = std::get_if<std::shared_ptr<AllreduceJob>>(&command)) {
    run_allreduce(**job);
  } else if (!closed_here) {
    closed_here = true;
    send_goodbyes();
  }
}

void MpiTransport::Impl::start_send(std::unique_ptr<Outgoing> out) {
  auto expected = StartState::kQueued;
  if (!out->state->compare_exchange_strong(expected, StartState::kStarted)) return;  // cancelled: already done
  if (closed_here && !out->goodbye) {
    out->done->complete(Status::cancelled(fmt::format("rank {} is closed; send to rank {} tag {:#x} not started", rank,
                                                      out->destination, out->tag)));
    return;
  }
  if (peer_gone[static_cast<std::size_t>(out->destination)]) {
    if (out->done) {
      out->done->complete(Status::unavailable(fmt::format(
          "rank {} is gone (it closed its transport); send from rank {} tag {:#x} refused", out->destination, rank,
          out->tag)));
    }
    return;
  }
  post_send_requests(*out);
  if (out->pending == 0) {  // nothing could be posted
    if (out->done) out->done->complete(out->failure);
    return;
  }
  Outgoing* raw = out.get();
  sending.emplace(raw, std::move(out));
}

void MpiTransport::Impl::post_send_requests(Outgoing& out) {
  auto isend = [&](const void* data, std::size_t bytes, int mpi_tag) {
    MPI_Request request = MPI_REQUEST_NULL;
    const int rc = MPI_Isend(data, static_cast<int>(bytes), MPI_BYTE, out.destination, mpi_tag, comm, &request);
    if (rc != MPI_SUCCESS) {
      out.failure = Status::unavailable(fmt::format("MPI_Isend from rank {} to rank {} tag {:#x} failed: {}", rank,
                                                    out.destination, out.tag, mpi::error_string(rc)));
      return false;
    }
    add_request(request, RequestOwner{.send = &out});
    ++out.pending;
    return true;
  };
  if (out.goodbye) {
    isend(out.header_bytes.data(), 0, kHeaderMpiTag);
    return;
  }
  if (!out.raw_header.empty()) {
    isend(out.raw_header.data(), out.raw_header.size(), kHeaderMpiTag);
    return;
  }
  if (!isend(out.header_bytes.data(), kHeaderBytes, kHeaderMpiTag)) return;
  const ByteSpan payload = out.payload.bytes();
  for (std::size_t offset = 0; offset < payload.size(); offset += options.segment_bytes) {
    const std::size_t bytes = std::min(options.segment_bytes, payload.size() - offset);
    if (!isend(payload.data() + offset, bytes, kPayloadMpiTag)) return;
    bump(counters.segments_sent);
  }
}

void MpiTransport::Impl::finish_send(Outgoing* out, int error) {
  if (error != MPI_SUCCESS && out->failure.is_ok()) {
    out->failure = Status::unavailable(fmt::format("send from rank {} to rank {} tag {:#x} failed in MPI: {}", rank,
                                                   out->destination, out->tag, mpi::error_string(error)));
  }
  if (--out->pending > 0) return;
  if (out->failure.is_ok() && !out->goodbye) {
    bump(counters.messages_sent);
    bump(counters.bytes_sent, out->payload.size());
  }
  if (out->done) out->done->complete(out->failure);
  sending.erase(out);
}

void MpiTransport::Impl::send_goodbyes() {
  for (int peer = 0; peer < world_size; ++peer) {
    if (peer == rank || peer_gone[static_cast<std::size_t>(peer)]) continue;
    auto out = std::make_unique<Outgoing>();
    out->destination = peer;
    out->goodbye = true;
    start_send(std::move(out));
  }
}

void MpiTransport::Impl::run_allreduce(AllreduceJob& job) {
  auto expected = StartState::kQueued;
  if (!job.state.compare_exchange_strong(expected, StartState::kStarted)) return;  // withdrawn by its caller
  if (closed_here) {
    job.done.complete(Status::cancelled(fmt::format("rank {} is closed; native allreduce not started", rank)));
    return;
  }
  const std::size_t element_bytes = job.data.size() / std::max<std::size_t>(job.count, 1);
  std::size_t done = 0;
  do {  // MPI counts are ints: large buffers go in several calls (and an empty one in one)
    const std::size_t count = std::min<std::size_t>(job.count - done, INT_MAX);
    const int rc = MPI_Allreduce(MPI_IN_PLACE, job.data.data() + done * element_bytes, static_cast<int>(count),
                                 job.type, job.op, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
      job.done.complete(Status::unavailable(fmt::format("MPI_Allreduce on rank {} failed: {}", rank,
                                                        mpi::error_string(rc))));
      return;
    }
    done += count;
  } while (done < job.count);
  job.done.complete(Status::ok());
}

// ---- Progress thread: requests -------------------------------------------------------------

// Without its header receives a rank is deaf, so failing to post one is fatal.
void MpiTransport::Impl::post_header_receive(std::size_t slot) {
  const int rc = MPI_Irecv(header_slots[slot].bytes.data(), static_cast<int>(kHeaderBytes), MPI_BYTE, MPI_ANY_SOURCE,
                           kHeaderMpiTag, comm, &requests[slot]);
  if (rc != MPI_SUCCESS) {
    throw std::runtime_error(fmt::format("posting a header receive failed: {}", mpi::error_string(rc)));
  }
}

void MpiTransport::Impl::add_request(MPI_Request request, RequestOwner owner) {
  requests.push_back(request);
  owners.push_back(owner);
}

// Tests every outstanding request once and handles what completed. True if anything did.
bool MpiTransport::Impl::poll() {
  const int n = static_cast<int>(requests.size());
  done_indices.resize(requests.size());
  done_statuses.resize(requests.size());
  int completed = 0;
  const int rc = MPI_Testsome(n, requests.data(), &completed, done_indices.data(), done_statuses.data());
  if (rc != MPI_SUCCESS && rc != MPI_ERR_IN_STATUS) {
    throw std::runtime_error(fmt::format("MPI_Testsome failed: {}", mpi::error_string(rc)));
  }
  if (completed == MPI_UNDEFINED || completed == 0) return false;
  const std::size_t slots = header_slots.size();
  for (int k = 0; k < completed; ++k) {
    const auto i = static_cast<std::size_t>(done_indices[static_cast<std::size_t>(k)]);
    const MPI_Status& status = done_statuses[static_cast<std::size_t>(k)];
    const int error = rc == MPI_ERR_IN_STATUS ? status.MPI_ERROR : MPI_SUCCESS;
    if (requests[i] != MPI_REQUEST_NULL) MPI_Request_free(&requests[i]);  // a failed request MPI kept
    if (i < slots) {
      header_slots[i].status = status;
      header_slots[i].error = error;
      header_slots[i].arrived = true;
    } else if (owners[i].send) {
      finish_send(owners[i].send, error);
    } else {
      finish_segment(owners[i], status, error);
    }
  }
  // Headers in posting order, which is arrival order per source.
  while (header_slots[next_header_slot].arrived) {
    HeaderSlot& slot = header_slots[next_header_slot];
    slot.arrived = false;
    on_header(slot);
    post_header_receive(next_header_slot);
    next_header_slot = (next_header_slot + 1) % slots;
  }
  std::size_t kept = slots;
  for (std::size_t i = slots; i < requests.size(); ++i) {
    if (requests[i] == MPI_REQUEST_NULL) continue;
    requests[kept] = requests[i];
    owners[kept] = owners[i];
    ++kept;
  }
  requests.resize(kept);
  owners.resize(kept);
  return true;
}

void MpiTransport::Impl::on_header(HeaderSlot& slot) {
  const int source = slot.status.MPI_SOURCE;
  if (source < 0 || source >= world_size) return;
  const auto s = static_cast<std::size_t>(source);
  if (stream_dead[s]) {
    bump(counters.messages_dropped);
    return;
  }
  if (slot.error != MPI_SUCCESS) {
    mark_broken(source, Status::data_loss(fmt::format("a header failed in MPI: {}", mpi::error_string(slot.error))),
                true);
    return;
  }
  int count = 0;
  MPI_Get_count(&slot.status, MPI_BYTE, &count);
  if (count == 0) {  // goodbye
    peer_gone[s] = true;
    stream_dead[s] = true;
    auto marker = std::make_unique<Incoming>();
    marker->kind = Incoming::Kind::kGoodbye;
    incoming[s].push_back(std::move(marker));
    deliver_ready(source);
    return;
  }
  Result<MessageHeader> header =
      decode_header(ByteSpan(slot.bytes.data(), static_cast<std::size_t>(count)), decode_limits());
  if (!header.is_ok()) {
    mark_broken(source, header.status(), true);
    return;
  }
  if (static_cast<int>(header->source) != source || static_cast<int>(header->destination) != rank) {
    mark_broken(source, Status::data_loss(fmt::format("{} arrived from rank {} at rank {}", describe(*header), source,
                                                      rank)), true);
    return;
  }
  auto in = std::make_unique<Incoming>();
  in->header = *header;
  if (Status posted = post_payload_receives(source, *in); !posted.is_ok()) {
    mark_broken(source, posted, false);
    return;
  }
  incoming[s].push_back(std::move(in));
  deliver_ready(source);
}

Status MpiTransport::Impl::post_payload_receives(int source, Incoming& in) {
  const std::size_t bytes = in.header.payload_bytes;
  if (bytes == 0) return Status::ok();
  try {
    in.buffer = PooledBuffer(pool, bytes);
  } catch (const std::bad_alloc&) {
    return Status::resource_exhausted(fmt::format("no memory for the {}-byte payload of {}", bytes,
                                                  describe(in.header)));
  }
  for (std::size_t offset = 0; offset < bytes; offset += options.segment_bytes) {
    const int segment = static_cast<int>(std::min(options.segment_bytes, bytes - offset));
    MPI_Request request = MPI_REQUEST_NULL;
    const int rc = MPI_Irecv(in.buffer.data() + offset, segment, MPI_BYTE, source, kPayloadMpiTag, comm, &request);
    if (rc != MPI_SUCCESS) {
      // Segments already posted still complete; the message then fails as a whole.
      in.failure = Status::data_loss(fmt::format("MPI_Irecv for {} failed: {}", describe(in.header),
                                                 mpi::error_string(rc)));
      return in.pending == 0 ? in.failure : Status::ok();
    }
    add_request(request, RequestOwner{.recv = &in, .source = source, .bytes = segment});
    ++in.pending;
  }
  return Status::ok();
}

void MpiTransport::Impl::finish_segment(const RequestOwner& owner, const MPI_Status& status, int error) {
  Incoming& in = *owner.recv;
  int count = 0;
  if (error == MPI_SUCCESS) MPI_Get_count(&status, MPI_BYTE, &count);
  if (in.failure.is_ok() && (error != MPI_SUCCESS || count != owner.bytes)) {
    in.failure = Status::data_loss(
        error != MPI_SUCCESS
            ? fmt::format("a payload segment of {} failed in MPI: {}", describe(in.header), mpi::error_string(error))
            : fmt::format("a payload segment of {} has {} bytes, not {}", describe(in.header), count, owner.bytes));
  }
  bump(counters.segments_received);
  if (--in.pending == 0) deliver_ready(owner.source);
}

// The stream from `source` cannot be read any further: we cannot tell where its next header
// starts. Messages already on their way from it are still delivered, then receives from it
// fail with `why`.
void MpiTransport::Impl::mark_broken(int source, Status why, bool decode_failure) {
  if (decode_failure) bump(counters.decode_failures);
  const Status failure = why.with_context(fmt::format("rank {}: the message stream from rank {} is unusable ({})", rank,
                                                      source, decode_failure ? "a header did not decode"
                                                                             : "a payload could not be received"));
  spdlog::error("{}", failure.to_string());
  stream_dead[static_cast<std::size_t>(source)] = true;
  auto marker = std::make_unique<Incoming>();
  marker->kind = Incoming::Kind::kBroken;
  marker->failure = failure;
  incoming[static_cast<std::size_t>(source)].push_back(std::move(marker));
  deliver_ready(source);
}

// Delivers the completed messages at the front of `source`'s queue, in header order.
void MpiTransport::Impl::deliver_ready(int source) {
  const auto s = static_cast<std::size_t>(source);
  auto& queue_of_source = incoming[s];
  while (!queue_of_source.empty() && queue_of_source.front()->pending == 0) {
    std::unique_ptr<Incoming> in = std::move(queue_of_source.front());
    queue_of_source.pop_front();
    if (in->kind == Incoming::Kind::kGoodbye) {
      mailbox->fail_source(source, Status::unavailable(fmt::format(
                                       "rank {} is gone (it closed its transport); nothing more will come from it",
                                       source)));
      continue;
    }
    if (in->kind == Incoming::Kind::kBroken || !in->failure.is_ok()) {
      if (in->kind == Incoming::Kind::kMessage) spdlog::error("rank {}: {}", rank, in->failure.message());
      stream_dead[s] = true;
      delivery_dead[s] = true;
      mailbox->fail_source(source, in->failure);
      continue;
    }
    const std::uint64_t bytes = in->header.payload_bytes;
    Message message = bytes == 0 ? Message(in->header, std::vector<std::byte>{})
                                 : std::move(in->buffer).lend(in->header, bytes);
    if (delivery_dead[s] || !mailbox->deliver(std::move(message))) {
      bump(counters.messages_dropped);
      continue;
    }
    bump(counters.messages_received);
    bump(counters.bytes_received, bytes);
  }
}

}  // namespace courier
