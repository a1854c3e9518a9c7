// The mpi transport's private state: the progress thread's work items and MpiTransport::Impl.
// Shared by mpi_transport.cc (user threads) and mpi_progress.cc (the progress thread); only
// this folder includes it, because it includes <mpi.h>.
#pragma once

// The C API only: the C++ bindings are deprecated, and their library is not linked.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "courier/comm/transport/mpi/buffer_pool.h"
#include "courier/comm/transport/mailbox.h"
#include "courier/comm/transport/mpi/mpi_transport.h"

namespace courier {
namespace mpi {

enum class StartState : int { kQueued, kStarted, kWithdrawn };

// A send from queueing until MPI is done with its buffers.
struct Outgoing {
  int destination = 0;
  std::uint64_t tag = 0;
  std::array<std::byte, kHeaderBytes> header_bytes{};  // encoded here; must outlive its Isend
  std::vector<std::byte> raw_header;                   // send_raw_header_for_testing only
  bool goodbye = false;                                // a zero-byte "I closed" message
  Payload payload;                                     // an owned payload is kept alive here
  std::shared_ptr<Completion> done;                    // null for goodbyes
  std::shared_ptr<std::atomic<StartState>> state = std::make_shared<std::atomic<StartState>>(StartState::kQueued);
  int pending = 0;  // MPI requests not yet complete
  Status failure;
};

// What arrived from a source, in header order: a message being received, or a marker that
// the source said goodbye or broke its stream.
struct Incoming {
  enum class Kind { kMessage, kGoodbye, kBroken } kind = Kind::kMessage;
  MessageHeader header;
  PooledBuffer buffer;
  int pending = 0;  // payload segments not yet received
  Status failure;   // why the stream broke (kBroken, or a failed segment)
};

// A native_allreduce: its caller waits on `done`, and withdraws the job if it has not started
// by the caller's deadline.
struct AllreduceJob {
  MutableByteSpan data;
  MPI_Datatype type = MPI_BYTE;
  MPI_Op op = MPI_SUM;
  std::size_t count = 0;
  std::atomic<StartState> state{StartState::kQueued};
  Completion done;
};

struct CloseCommand {};

using Command = std::variant<std::unique_ptr<Outgoing>, std::shared_ptr<AllreduceJob>, CloseCommand>;

// What an outstanding MPI request belongs to (one of the two).
struct RequestOwner {
  Outgoing* send = nullptr;
  Incoming* recv = nullptr;
  int source = 0;   // of `recv`
  int bytes = 0;    // of `recv`'s segment
};

// One of the ANY_SOURCE header receives kept posted, and what it received.
struct HeaderSlot {
  std::array<std::byte, kHeaderBytes> bytes{};
  MPI_Status status{};
  int error = MPI_SUCCESS;
  bool arrived = false;
};

struct Counters {
  std::atomic<std::uint64_t> messages_sent{0}, bytes_sent{0}, segments_sent{0};
  std::atomic<std::uint64_t> messages_received{0}, bytes_received{0}, segments_received{0};
  std::atomic<std::uint64_t> decode_failures{0}, messages_dropped{0};
};

// MPI's text for an error code.
std::string error_string(int code);

}  // namespace mpi

// Members under "Progress-thread state" are touched by the progress thread only; the rest is
// set before the thread starts or is synchronised as marked.
struct MpiTransport::Impl {
  using Outgoing = mpi::Outgoing;
  using Incoming = mpi::Incoming;
  using AllreduceJob = mpi::AllreduceJob;
  using Command = mpi::Command;
  using RequestOwner = mpi::RequestOwner;
  using HeaderSlot = mpi::HeaderSlot;

  explicit Impl(const MpiOptions& o) : options(o), pool(std::make_shared<mpi::BufferPool>(o.pool_cached_bytes)) {}

  // Progress thread.
  void run(std::promise<Status> ready);
  Status init_mpi();
  void progress_loop();
  bool take_commands();
  void execute(Command& command);
  void start_send(std::unique_ptr<Outgoing> out);
  void post_send_requests(Outgoing& out);
  void finish_send(Outgoing* out, int error);
  void run_allreduce(AllreduceJob& job);
  void send_goodbyes();
  bool poll();
  void on_header(HeaderSlot& slot);
  Status post_payload_receives(int source, Incoming& in);
  void finish_segment(const RequestOwner& owner, const MPI_Status& status, int error);
  void mark_broken(int source, Status why, bool decode_failure);
  void deliver_ready(int source);
  void idle_wait(Duration idle_for);
  bool shutdown_step();
  void fail_everything(const Status& why);
  void finish_mpi();
  void add_request(MPI_Request request, RequestOwner owner);
  void post_header_receive(std::size_t slot);

  // What a header must pass, on the sending and the receiving side.
  DecodeLimits decode_limits() const {
    return DecodeLimits{static_cast<std::uint32_t>(world_size), options.max_payload_bytes};
  }

  // User threads.
  bool enqueue(Command command);
  void poke();
  Status refused() const;

  const MpiOptions options;
  int rank = 0;
  int world_size = 1;
  std::string_view thread_level = "none";
  std::shared_ptr<mpi::BufferPool> pool;
  std::shared_ptr<Mailbox> mailbox;
  mpi::Counters counters;
  std::atomic<bool> closed{false};
  std::thread thread;

  // The command queue, shared by user threads and the progress thread.
  mutable std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::vector<Command> queue;             // guarded by queue_mutex
  bool shutdown_requested = false;        // guarded by queue_mutex
  std::optional<Status> fatal;            // guarded by queue_mutex: the progress thread died
  std::atomic<bool> has_commands{false};  // queue non-empty or shutdown requested
  std::atomic<bool> sleeping{false};      // the progress thread waits on queue_cv
  std::atomic<bool> hint{false};          // a receive was posted: a message is expected

  // Progress-thread state.
  MPI_Comm comm = MPI_COMM_NULL;  // a duplicate of MPI_COMM_WORLD for point-to-point traffic
  std::vector<HeaderSlot> header_slots;
  std::size_t next_header_slot = 0;
  std::vector<MPI_Request> requests;  // [0, header_slots.size()) are the header receives
  std::vector<RequestOwner> owners;   // parallel to requests
  std::vector<int> done_indices;
  std::vector<MPI_Status> done_statuses;
  std::vector<std::deque<std::unique_ptr<Incoming>>> incoming;  // per source, header order
  std::vector<bool> stream_dead;    // per source: later headers from it are ignored
  std::vector<bool> delivery_dead;  // per source: later completions from it are dropped
  std::vector<bool> peer_gone;      // per rank: it said goodbye; sends to it are refused
  std::unordered_map<Outgoing*, std::unique_ptr<Outgoing>> sending;
  std::vector<Command> batch;
  bool closed_here = false;  // the progress thread has processed close()
  bool shutting_down = false;
  Duration shutdown_deadline{};
  MPI_Request barrier = MPI_REQUEST_NULL;
  bool barrier_posted = false;
  bool barrier_done = false;
  Duration sleep_for{};
};

}  // namespace courier
