// Helpers of the simulator's tests: a cluster from text, relative error, a training plan.
#pragma once

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "courier/sim/cluster.h"
#include "courier/sim/workloads.h"

namespace courier::sim {

inline ClusterSpec cluster(int nodes, const std::string& link = "25Gbps,5us", const std::string& fabric = "switch") {
  ClusterSpec spec;
  spec.nodes = nodes;
  spec.link = *parse_link(link);
  EXPECT_TRUE(parse_fabric(fabric, spec).is_ok());
  return spec;
}

inline double relative_error(Time got, Time want) {
  return std::abs(static_cast<double>(got - want)) / static_cast<double>(want);
}

inline TrainingPlan plan(StrategyKind kind, int workers) {
  TrainingPlan p;
  p.strategy = kind;
  p.workers = workers;
  p.steps = 20;
  p.compute = from_seconds(10e-3);
  p.gradient_bytes = p.encoded_bytes = 4 << 20;
  return p;
}

inline Result<TrainingReport> train(const TrainingPlan& p, const std::vector<Fault>& faults = {},
                             const std::string& link = "25Gbps,5us") {
  return simulate_training(p, cluster(nodes_needed(p), link), faults, 1);
}

}  // namespace courier::sim
