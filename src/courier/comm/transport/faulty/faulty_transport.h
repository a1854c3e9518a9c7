// FaultyTransport: wraps any transport and, following a seeded plan, drops, duplicates,
// corrupts, delays or reorders the messages its rank sends, or kills the rank. For tests of
// the runtime's failure handling: the same seed injects the same faults into the same
// sequence of sends, so a failure found once can be replayed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "courier/comm/transport/transport.h"

namespace courier {

enum class Fault { kDrop, kDuplicate, kCorrupt, kDelay, kReorder };

// Exactly one fault on the nth send (counted from 0) that matches the filters.
struct TargetedFault {
  Fault fault;
  std::uint64_t nth = 0;
  int destination = -1;                    // -1: any destination
  std::optional<std::uint64_t> tag = std::nullopt;  // the tag without its group context; unset: any tag
};

struct FaultPlan {
  std::uint64_t seed = 0;
  // Per-send probabilities of random faults (at most one fault a send, in this order).
  double drop_rate = 0.0;
  double duplicate_rate = 0.0;
  double corrupt_rate = 0.0;
  double delay_rate = 0.0;
  double reorder_rate = 0.0;
  std::chrono::milliseconds max_delay{5};
  std::vector<TargetedFault> targeted;
  // The rank dies once it has sent this many messages (0: before its first send).
  std::optional<std::uint64_t> kill_after_sends;
  // How a rank dies. false: its endpoint closes, so peers waiting on it learn at once (as a
  // crashed process's connections reset). true: it vanishes, and peers learn only by timeout.
  bool kill_silently = false;
  // Faults apply to data messages only unless set (runtime notices usually get through).
  bool include_control = false;
};

class FaultyTransport final : public Transport {
 public:
  FaultyTransport(std::unique_ptr<Transport> inner, FaultPlan plan);
  ~FaultyTransport() override;

  int rank() const override { return inner_->rank(); }
  int world_size() const override { return inner_->world_size(); }
  std::string_view name() const override { return "faulty"; }
  SendHandle send(int destination, MessageHeader header, Payload payload) override;
  RecvHandle recv(int source, std::uint64_t tag) override;
  void close() override;

  // Kills the rank now, as the plan's kill would.
  void kill();
  bool killed() const;

  struct Counts {
    std::uint64_t sends = 0, drops = 0, duplicates = 0, corruptions = 0, delays = 0, reorders = 0;
    Counts& operator+=(const Counts& other);
  };
  Counts counts() const;

 private:
  struct Impl;
  SendHandle inject(Fault fault, int destination, MessageHeader header, Payload payload);
  void run_timer();

  std::unique_ptr<Transport> inner_;
  std::unique_ptr<Impl> impl_;
};

// Wraps every endpoint of a world, with plan_for(rank) as its plan.
std::vector<std::unique_ptr<Transport>> wrap_faulty(std::vector<std::unique_ptr<Transport>> endpoints,
                                                    const std::function<FaultPlan(int rank)>& plan_for);

}  // namespace courier
