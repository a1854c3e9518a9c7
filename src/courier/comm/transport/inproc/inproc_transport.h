// The in-process transport: every rank a thread of one process, one mailbox a rank. A send
// hands its payload to the receiver without copying: an owned payload moves, a borrowed one
// is lent and returns to the sender (completing its send) when the receiver releases it.
// This is courier's embedded default and the deterministic harness for fault tests.
#pragma once

#include <memory>
#include <vector>

#include "courier/comm/transport/transport.h"

namespace courier {

class InprocFabric;

class InprocTransport final : public Transport {
 public:
  InprocTransport(std::shared_ptr<InprocFabric> fabric, int rank);
  ~InprocTransport() override;

  int rank() const override { return rank_; }
  int world_size() const override;
  std::string_view name() const override { return "inproc"; }
  SendHandle send(int destination, MessageHeader header, Payload payload) override;
  RecvHandle recv(int source, std::uint64_t tag) override;
  void close() override;

 private:
  std::shared_ptr<InprocFabric> fabric_;
  int rank_;
};

// One endpoint a rank of a new in-process world; give endpoint i to the thread of rank i.
// REQUIRES: world_size >= 1.
std::vector<std::unique_ptr<Transport>> make_inproc_world(int world_size);

}  // namespace courier
