// Allreduce of floats whose every message is encoded by a codec.
//
// Dense codecs (every element encoded, nothing carried over): a ring reduce-scatter in which
// each hop decodes the block it receives, adds its own and encodes the sum again; then a ring
// allgather in which each block's owner encodes it once, decodes that encoding itself, and
// the same bytes travel on unchanged, so every rank decodes identical bytes. Cost: the ring's
// 2(n-1) blocks, each in encoded size.
//
// Other codecs (sparse, error feedback): every rank encodes its whole vector once, the
// encodings travel around a ring unchanged (an allgather of variable-sized messages), and
// every rank decodes all n and adds them in rank order: identical sums everywhere. Cost:
// n-1 encodings sent, which pays when an encoding is far smaller than the vector (top-k).
// Alone, a rank still encodes and decodes: a run on one node rounds as it would on many.
#include <algorithm>

#include <fmt/format.h>

#include "courier/comm/collectives/detail.h"

namespace courier::collectives {
namespace {

Status decode_into(const Codec& codec, ByteSpan bytes, std::span<float> out, Op& op, int from) {
  Status status = codec.decode(bytes, out);
  if (status.is_ok()) return status;
  return op.fail(Status::data_loss(fmt::format("rank {}: {} step {}: the {} encoding from rank {} is damaged: {}",
                                               op.comm().transport().rank(), op.context().op, op.context().step,
                                               codec.name(), op.comm().world_rank_of(from), status.message())));
}

// Receives the next encoding from `from`, checking that its header announces `codec` over `elements` floats.
Result<Message> receive_encoding(Op& op, const Codec& codec, int from, std::size_t elements) {
  Result<Message> message = op.receive_message(from, kTagAllreduceCompressed);
  if (!message.is_ok()) return message;
  Status status = check_encoding(*message, codec, elements);
  if (status.is_ok()) return message;
  return op.fail(Status::data_loss(fmt::format("rank {}: {} step {}: {}", op.comm().transport().rank(),
                                               op.context().op, op.context().step, status.message())));
}

Status dense_ring(Op& op, std::span<float> data, Codec& codec, std::uint64_t& wire) {
  const Ring ring = ring_of(op, std::as_bytes(data), DType::kF32);
  auto block = [&](int index) {
    const ElementRange r = ring.block(index);
    return data.subspan(r.begin, r.count);
  };
  std::vector<float> scratch(ring.block(0).count);  // block 0 is the largest
  const std::uint64_t step = op.options().step;
  auto send = [&](std::span<const float> values) {
    std::vector<std::byte> bytes;
    codec.encode(values, bytes);
    wire += bytes.size();
    op.send(ring.right, kTagAllreduceCompressed, std::move(bytes), codec.send_info(values.size(), step));
  };
  // Reduce-scatter: what arrives at step s is added to and leaves at step s + 1.
  send(block(ring.rank - 1));
  for (int s = 0; s < ring.n - 1; ++s) {
    std::span<float> mine = block(ring.rank - s - 2);
    Result<Message> message = receive_encoding(op, codec, ring.left, mine.size());
    if (!message.is_ok()) return message.status();
    const std::span<float> theirs(scratch.data(), mine.size());
    if (Status st = decode_into(codec, message->payload(), theirs, op, ring.left); !st.is_ok()) return st;
    for (std::size_t i = 0; i < mine.size(); ++i) mine[i] += theirs[i];
    if (s + 1 < ring.n - 1) send(mine);
  }
  // Allgather: the owner's one encoding of its block, decoded by everyone, the owner too.
  std::vector<std::byte> own;
  codec.encode(block(ring.rank), own);
  if (Status st = decode_into(codec, own, block(ring.rank), op, ring.rank); !st.is_ok()) return st;
  wire += own.size();
  op.send(ring.right, kTagAllreduceCompressed, std::move(own), codec.send_info(block(ring.rank).size(), step));
  for (int s = 0; s < ring.n - 1; ++s) {
    const std::span<float> theirs = block(ring.rank - s - 1);
    Result<Message> message = receive_encoding(op, codec, ring.left, theirs.size());
    if (!message.is_ok()) return message.status();
    if (Status st = decode_into(codec, message->payload(), theirs, op, ring.left); !st.is_ok()) return st;
    if (s + 1 < ring.n - 1) {
      const ByteSpan bytes = message->payload();
      wire += bytes.size();
      op.send(ring.right, kTagAllreduceCompressed, std::vector<std::byte>(bytes.begin(), bytes.end()),
              codec.send_info(theirs.size(), step));
    }
  }
  return Status::ok();
}

Status gather_encodings(Op& op, std::span<float> data, Codec& codec, std::uint64_t& wire) {
  const Ring ring = ring_of(op, std::as_bytes(data), DType::kF32);
  std::vector<std::vector<std::byte>> encodings(static_cast<std::size_t>(ring.n));
  std::vector<std::byte>& own = encodings[static_cast<std::size_t>(ring.rank)];
  codec.encode(data, own);
  wire += own.size();
  const SendInfo info = codec.send_info(data.size(), op.options().step);
  op.send(ring.right, kTagAllreduceCompressed, ByteSpan(own), info);  // lent: `encodings` outlives the sends
  for (int s = 0; s < ring.n - 1; ++s) {
    Result<Message> message = receive_encoding(op, codec, ring.left, data.size());
    if (!message.is_ok()) return message.status();
    const ByteSpan bytes = message->payload();
    std::vector<std::byte>& theirs = encodings[static_cast<std::size_t>((ring.rank - s - 1 + ring.n) % ring.n)];
    theirs.assign(bytes.begin(), bytes.end());
    if (s + 1 < ring.n - 1) {
      wire += theirs.size();
      op.send(ring.right, kTagAllreduceCompressed, ByteSpan(theirs), info);
    }
  }
  std::fill(data.begin(), data.end(), 0.0f);
  std::vector<float> decoded(data.size());
  for (int r = 0; r < ring.n; ++r) {
    const int from = r == ring.rank ? ring.rank : ring.left;  // who handed it over
    if (Status st = decode_into(codec, encodings[static_cast<std::size_t>(r)], decoded, op, from); !st.is_ok()) {
      return st;
    }
    for (std::size_t i = 0; i < data.size(); ++i) data[i] += decoded[i];
  }
  return op.finish_sends();
}

}  // namespace

Status allreduce_encoded(Communicator& comm, std::span<float> data, Codec& codec, const CollectiveOptions& options,
                         CodecTraffic* traffic) {
  Op op(comm, "allreduce_encoded", options, DType::kF32, data.size_bytes());
  if (comm.world_size() == 1) {  // nothing to send, but the same rounding as with company
    std::vector<std::byte> bytes;
    codec.encode(data, bytes);
    return decode_into(codec, bytes, data, op, comm.rank());
  }
  std::uint64_t wire = 0;
  Status status = codec.dense() ? dense_ring(op, data, codec, wire) : gather_encodings(op, data, codec, wire);
  if (status.is_ok()) status = op.finish_sends();
  if (status.is_ok() && traffic != nullptr) {
    *traffic += CodecTraffic{ring_allreduce_bytes(data.size(), sizeof(float), comm.world_size(), comm.rank()), wire};
  }
  return status;
}

}  // namespace courier::collectives
