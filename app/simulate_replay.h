// `courier simulate --replay TRACE.json`: a run recorded with `courier train --trace` played on a
// modelled cluster (src/courier/sim/replay.h). At the recorded size, message by message; at other
// worker counts, as training steps (simulate_training) of the strategy, bytes and compute the
// recording shows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "courier/sim/cluster.h"
#include "courier/sim/faults.h"

namespace courier::app {

struct ReplayRequest {
  std::string trace_path;
  std::vector<int> workers;            // empty: the recorded count only
  std::vector<sim::LinkSpec> links;    // empty: the link fitted to the recording's transport only
  std::string cluster = "switch";
  std::vector<sim::Fault> faults;
  std::int64_t steps = 20;             // steps simulated at other worker counts
  std::uint64_t seed = 1;
};

// Prints the replay's table; returns the exit code (bad input 2, a failed simulation 1).
int run_replay(const ReplayRequest& request);

}  // namespace courier::app
