// Fault plans: what goes wrong in a simulation, and when. Every fault is at a virtual time,
// and the loss draws come from the simulation's seed, so a plan replays exactly.
//
//   crash:N@T            node N stops at time T: it runs no more, and what it would send or
//                        receive is lost. Nodes waiting for it are named in the stall report.
//   slow:N:F[@T]         node N computes F times slower from T (0 by default): a straggler.
//   slownic:N:F[@T]      node N's NIC serialises F times slower from T.
//   partition:A-B@T1-T2  nodes A..B are cut off from the rest between T1 and T2 (T2 may be
//                        "never"); messages across are re-sent until it heals.
//   loss:P               every link loses a message with probability P (re-sent, counted).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "courier/core/status.h"
#include "courier/sim/engine.h"

namespace courier::sim {

struct Fault {
  enum class Kind : std::uint8_t { kCrash, kSlowNode, kSlowNic, kPartition, kLoss };
  Kind kind = Kind::kCrash;
  int node = 0;        // crash, slow, slownic; first node of a partition
  int last = 0;        // last node of a partition
  double factor = 1.0;  // slow, slownic; the probability of loss
  Time at = 0;
  Time until = kNever;  // partition
};

// One fault in the syntax above. INVALID_ARGUMENT names the problem and shows the syntax.
Result<Fault> parse_fault(std::string_view text);
std::string describe(const Fault& fault);

// REQUIRES nothing; checks that every node a fault names is below `nodes`.
Status check_faults(const std::vector<Fault>& faults, int nodes);

}  // namespace courier::sim
