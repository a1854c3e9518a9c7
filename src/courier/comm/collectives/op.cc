// Op: the bookkeeping every collective algorithm shares (deadline, tracked sends, receives
// checked for size, failure propagation).
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "courier/comm/collectives/detail.h"
#include "courier/core/check.h"

namespace courier::collectives {
namespace {

// After a failure, how long to wait for receivers to give back lent buffers.
constexpr auto kGiveBackGrace = std::chrono::seconds(5);

}  // namespace

Op::Op(Communicator& comm, std::string_view name, const CollectiveOptions& options, DType dtype, std::size_t bytes)
    : comm_(comm),
      name_(fmt::format("{} #{} of {} bytes{}", name, comm.next_collective(), bytes,
                        dtype == DType::kU8 ? std::string() : fmt::format(" {}", dtype_name(dtype)))),
      context_{name_, options.step},
      options_(options),
      dtype_(dtype),
      deadline_(Deadline::after(real_clock(), options.timeout)) {}

Op::~Op() {
  if (sends_.empty()) return;
  // A failure left sends pending. Withdraw what nobody has taken; wait for what a receiver
  // holds, so no peer reads the caller's buffer after the collective returns.
  for (auto& pending : sends_) pending.handle.cancel();
  const Deadline grace = Deadline::after(real_clock(), kGiveBackGrace);
  for (auto& pending : sends_) {
    if (!pending.handle.wait(grace).is_ok() && !pending.handle.test()) {
      spdlog::error("{}: a send to rank {} is still held by its receiver after the collective failed",
                    name_, comm_.world_rank_of(pending.peer));
    }
  }
}

void Op::send(int peer, std::uint64_t tag, ByteSpan bytes) {
  sends_.push_back({comm_.send(peer, tag, bytes, SendInfo{.dtype = dtype_, .step = options_.step}), peer});
}

void Op::send(int peer, std::uint64_t tag, std::vector<std::byte> bytes, const SendInfo& info) {
  sends_.push_back({comm_.send(peer, tag, std::move(bytes), info), peer});
}

void Op::send(int peer, std::uint64_t tag, ByteSpan bytes, const SendInfo& info) {
  sends_.push_back({comm_.send(peer, tag, bytes, info), peer});
}

Result<Message> Op::receive_message(int peer, std::uint64_t tag) {
  return comm_.receive(peer, tag, deadline_, context_);  // on failure the communicator has told the others
}

Result<Message> Op::receive(int peer, std::uint64_t tag, std::size_t expected_bytes) {
  Result<Message> message = comm_.receive(peer, tag, deadline_, context_);
  if (!message.is_ok()) return message.status();  // the communicator has told the other members
  if (message->payload().size() != expected_bytes) {
    return fail(Status::data_loss(fmt::format(
        "rank {}: {} step {}: rank {} sent {} bytes where {} were expected; every rank must call {} with the same size",
        comm_.transport().rank(), name_, options_.step, comm_.world_rank_of(peer), message->payload().size(),
        expected_bytes, name_)));
  }
  return message;
}

Status Op::receive_into(int peer, std::uint64_t tag, MutableByteSpan dst) {
  Result<Message> message = receive(peer, tag, dst.size());
  if (!message.is_ok()) return message.status();
  if (!dst.empty()) std::memcpy(dst.data(), message->payload().data(), dst.size());
  return Status::ok();
}

Status Op::receive_reduce(int peer, std::uint64_t tag, MutableByteSpan dst, ReduceOp op) {
  Result<Message> message = receive(peer, tag, dst.size());
  if (!message.is_ok()) return message.status();
  reduce_into(dst, message->payload(), dtype_, op);
  return Status::ok();
}

Status Op::finish_sends() {
  for (std::size_t i = 0; i < sends_.size(); ++i) {
    Status status = comm_.wait(sends_[i].handle, deadline_, context_, sends_[i].peer);
    if (!status.is_ok()) {
      sends_.erase(sends_.begin(), sends_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return status;  // the communicator has told the other members
    }
  }
  sends_.clear();
  return Status::ok();
}

Status Op::fail(Status status) {
  comm_.abort(status);
  return status;
}

Ring ring_of(const Op& op, ByteSpan data, DType dtype) {
  const int n = op.comm().world_size();
  const int r = op.comm().rank();
  return Ring{n, r, (r + 1) % n, (r + n - 1) % n, data.size() / dtype_size(dtype), segment_elements(op.options(), dtype)};
}

std::size_t segment_elements(const CollectiveOptions& options, DType dtype) {
  return std::max<std::size_t>(1, options.segment_bytes / dtype_size(dtype));
}

}  // namespace courier::collectives
