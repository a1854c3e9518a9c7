// dist.faults: what goes wrong in an in-process run, for studying and testing recovery. The
// network faults apply to every rank's sends (comm/transport/faulty), drawn from the seed, so a
// plan replays exactly; the node events happen at step boundaries of the training.
//
//   drop:P  duplicate:P  corrupt:P  delay:P  reorder:P
//                  every data message is lost, sent twice, damaged, held back or overtaken
//                  with probability P (at most one fault a message)
//   seed:N         the seed of those draws (default 1)
//   kill:N@S       node N dies during step S (from 0): its endpoint closes, as a crashed
//                  process's connections reset, and its peers learn at once
//   hang:N@S       node N stops during step S without a word; its peers learn by timeout
//   join:N@S       node N, a spare beyond the configured ones, joins after step S
//   slow:N:F       node N computes F times slower (a straggler)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "courier/comm/transport/faulty/faulty_transport.h"
#include "courier/core/status.h"

namespace courier {

struct NodeEvent {
  enum class Kind : std::uint8_t { kKill, kHang, kJoin };
  Kind kind = Kind::kKill;
  int node = 0;
  std::int64_t step = 0;
};

struct TrainFaults {
  FaultPlan network;              // rates and seed; no kills (those are node events)
  std::vector<NodeEvent> events;  // in the order written
  std::vector<std::pair<int, double>> slow;  // node, factor

  bool network_faults() const;
  // The kill or hang of `node`, if the plan has one.
  std::optional<NodeEvent> death_of(int node) const;
  // The join of `node`, if the plan has one.
  std::optional<NodeEvent> join_of(int node) const;
  int joins() const;
  double slowdown_of(int node) const;  // 1 when not slow
};

// The items of a plan (dist.faults, dist.sim_faults): the words between spaces, commas and semicolons.
std::vector<std::string_view> plan_items(std::string_view plan);

// The plan in the syntax above, items separated by spaces, commas or semicolons. INVALID_ARGUMENT
// names the item and shows the syntax.
Result<TrainFaults> parse_train_faults(std::string_view plan);
// REQUIRES nothing; checks the nodes against the run: joins name the spares numbered from
// `nodes` (workers and servers) on, without gaps; deaths name a node or one of those spares.
Status check_train_faults(const TrainFaults& faults, int nodes);

}  // namespace courier
