// Replay: a run recorded by the runtime (comm/trace.h; the app turns it into a RecordedRun, as
// sim never includes comm) played again on a modelled cluster, message by message, with the
// compute between messages taken from the recording.
//
// Separating compute from waiting. A node's recording is a sequence of sends and receives; a
// receive is recorded when the node took the message, not when it began to wait. For each event
// at time r after the node's previous event at p (the first event: after the recording's start):
//   - before a send, the whole gap r - p is compute (a node sends what it has just computed);
//   - before a receive whose matching send was issued at s, the message could have been there
//     at a = s + d (d: the recording transport's delivery time for its size, fit_link()). If the
//     node took it later than max(p, a) + d, the message sat in the mailbox while the node was
//     busy: the whole gap is compute. Otherwise the node was blocked on it: no compute, the
//     part of the gap before s is waiting and the rest communication (World's own accounting).
// So on a link that delivers like the recording's transport the replay takes the recorded time;
// on another network only the messages' times change. A node that overlapped computing with
// communicating (a background thread) is replayed as one sequential program: a bound, not exact.
#pragma once

#include <cstdint>
#include <vector>

#include "courier/core/status.h"
#include "courier/sim/cluster.h"
#include "courier/sim/engine.h"
#include "courier/sim/faults.h"
#include "courier/sim/world.h"

namespace courier::sim {

struct RecordedEvent {
  bool send = true;
  int peer = 0;               // the destination of a send, the source of a receive
  std::uint64_t tag = 0;
  std::uint64_t seq = 0;      // the message's position in its (source, destination, tag) channel
  std::uint64_t step = 0;     // the training step the runtime stamped on it
  std::uint64_t bytes = 0;
  Time time = 0;              // on the recording's clock
};

// Every node's events in the order the node did them (by time).
struct RecordedRun {
  std::vector<std::vector<RecordedEvent>> nodes;
};

// One action of a replayed node: compute for `compute`, then send or receive the message.
struct ReplayOp {
  bool send = true;
  int peer = 0;
  std::uint64_t tag = 0;
  std::uint64_t bytes = 0;
  std::uint64_t step = 0;
  Time compute = 0;
  Time recorded_at = 0;  // when the node did it in the recording, from the recording's start
};

struct ReplayProgram {
  std::vector<std::vector<ReplayOp>> nodes;
  Time recorded = 0;                   // the recording's span, first event to last
  std::vector<NodeStats> recorded_stats;  // compute, communicate, wait of each node as recorded, by the rule above
};

// The link that delivers like the recording's transport: receive time - send time of the
// receives whose send came after the node's previous event (it was likely blocked on them),
// bucketed by size in powers of two; a line through each bucket's lower quartile (weighted by
// the bucket's samples; buckets of fewer than 4 left out) gives the latency and bandwidth. A transport without a size cost (in process: a pointer is passed)
// gets 1 Tbps.
LinkSpec fit_link(const RecordedRun& run);

// Each node's program, by the rule above, with `recorded_link` as the recording's delivery.
// DATA_LOSS, naming the node and the message, when a receive has no matching send or a send
// names a node outside the run; INVALID_ARGUMENT when the run has no events.
Result<ReplayProgram> make_replay_program(const RecordedRun& run, const LinkSpec& recorded_link);

struct ReplayReport {
  Time recorded = 0;     // the recording's span
  Time replayed = 0;     // virtual time until the last node finished
  std::vector<NodeStats> nodes;
  double compute_share = 0, communicate_share = 0, wait_share = 0;  // of all nodes' time
  NetworkStats network;
  std::uint64_t busiest_link_bytes = 0;
};

// Plays `program` on `cluster`. REQUIRES: cluster.nodes == program.nodes.size(). Fails as
// World::run() does (a stall report) if faults keep messages from arriving.
Result<ReplayReport> replay(const ReplayProgram& program, const ClusterSpec& cluster, const std::vector<Fault>& faults,
                            std::uint64_t seed);

// What one worker's step costs in a recorded training run, for simulate_training at other sizes.
struct StepProfile {
  int steps = 0;                     // steps with messages
  Time compute = 0;                  // median over workers and steps (the first left out) of a
                                     // worker's compute in the step, by the rule above
  std::uint64_t worker_bytes = 0;    // median over those steps of the bytes all workers sent
  Time step = 0;                     // median recorded step time of worker 0 (first sends apart)
};

// Nodes 0..workers-1 are the workers. INVALID_ARGUMENT when no step has messages.
Result<StepProfile> profile_steps(const ReplayProgram& program, int workers);

}  // namespace courier::sim
