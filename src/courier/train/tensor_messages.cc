// Tensor payloads over a Communicator.
#include "courier/train/tensor_messages.h"

#include <cstring>

#include <fmt/format.h>

namespace courier {

SendHandle send_tensor(Communicator& comm, int peer, std::uint64_t tag, const Tensor& tensor, std::uint64_t step) {
  return comm.send(peer, tag, std::as_bytes(tensor.span()),
                   SendInfo{.dtype = DType::kF32, .element_count = static_cast<std::uint64_t>(tensor.numel()),
                            .step = step});
}

Status receive_tensor(Communicator& comm, int peer, std::uint64_t tag, Tensor& into, const Deadline& deadline,
                      const OpContext& context) {
  Result<Message> message = comm.receive(peer, tag, deadline, context);
  if (!message.is_ok()) return message.status();
  const MessageHeader& h = message->header();
  if (h.dtype != DType::kF32 || h.element_count != static_cast<std::uint64_t>(into.numel())) {
    return Status::data_loss(fmt::format("{} step {}: rank {} sent {} {} elements for a tensor of shape {} ({} f32)",
                                         context.op, context.step, h.source, h.element_count, dtype_name(h.dtype),
                                         into.shape(), into.numel()));
  }
  std::memcpy(into.data(), message->payload().data(), message->payload().size());
  return Status::ok();
}

}  // namespace courier
