// Tensors as messages: the bridge between train (which has tensors) and comm (which moves
// bytes plus a dtype). Activations, gradients and parameters travel through these.
#pragma once

#include <cstdint>

#include "courier/comm/communicator.h"
#include "courier/tensor/tensor.h"

namespace courier {

// Sends the tensor's elements (fp32) to `peer`, lent, not copied: keep `tensor` alive and
// unchanged until the returned handle completes (wait on it before the next write).
SendHandle send_tensor(Communicator& comm, int peer, std::uint64_t tag, const Tensor& tensor, std::uint64_t step);

// Receives a message from `peer` on `tag` into `into`. DATA_LOSS if the message's size or
// dtype does not match the tensor (names both), besides the communicator's own checks.
Status receive_tensor(Communicator& comm, int peer, std::uint64_t tag, Tensor& into, const Deadline& deadline,
                      const OpContext& context);

}  // namespace courier
