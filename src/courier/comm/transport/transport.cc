// Handle waits shared by every transport.
#include "courier/comm/transport/transport.h"

#include <fmt/format.h>

namespace courier {

Status SendHandle::wait(const Deadline& deadline) {
  if (!completion_) return Status::ok();
  if (!completion_->wait_until(deadline)) return Status::deadline_exceeded("send not completed before its deadline");
  return completion_->status();
}

Result<Message> RecvHandle::wait(const Deadline& deadline) {
  COURIER_CHECK(completion_ != nullptr, "wait() on an empty receive handle");
  if (!completion_->wait_until(deadline)) return Status::deadline_exceeded("no message before the deadline");
  Status status = completion_->status();
  if (!status.is_ok()) return status;
  std::optional<Message> message = completion_->take_message();
  COURIER_CHECK(message.has_value(), "the message of a receive was already taken");
  return std::move(*message);
}

Status Transport::native_allreduce(MutableByteSpan, DType, int, const Deadline&) {
  return Status::unimplemented(fmt::format("the {} transport has no native allreduce; use --transport mpi", name()));
}

}  // namespace courier
