// The simulator at scale: closed forms up to 1,024 nodes and top-k at 256 workers. Seconds in
// a release build, minutes under the sanitizers, so labelled slow (sim_test covers the same
// code on small worlds under them).
#include <cmath>

#include <gtest/gtest.h>

#include "courier/sim/workloads.h"
#include "sim/sim_helpers.h"

namespace courier::sim {
namespace {

TEST(SimCollectives, RingAllreduceMatchesTheClosedFormUpTo1024Nodes) {
  for (const std::uint64_t bytes : {std::uint64_t{1} << 20, std::uint64_t{100'000'000}}) {
    for (const int n : {2, 3, 4, 7, 8, 16, 100, 256, 1024}) {
      const ClusterSpec spec = cluster(n);
      Result<RunTotals> r = simulate_allreduce(spec, Algorithm::kRing, bytes, {}, 1);
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      const Time want = closed_form(Algorithm::kRing, n, bytes, spec.link);
      EXPECT_LT(relative_error(r->time, want), 0.02) << n << " nodes, " << bytes << " bytes: " << format_time(r->time)
                                                    << " vs " << format_time(want);
      EXPECT_EQ(r->network.messages, static_cast<std::uint64_t>(2 * (n - 1) * n));
    }
  }
}


TEST(SimCollectives, HalvingDoublingMatchesTheClosedFormUpTo1024Nodes) {
  for (const std::uint64_t bytes : {std::uint64_t{1} << 20, std::uint64_t{100'000'000}}) {
    for (int n = 2; n <= 1024; n *= 2) {
      const ClusterSpec spec = cluster(n, "10Gbps,2us");
      Result<RunTotals> r = simulate_allreduce(spec, Algorithm::kHalvingDoubling, bytes, {}, 1);
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      const Time want = closed_form(Algorithm::kHalvingDoubling, n, bytes, spec.link);
      EXPECT_LT(relative_error(r->time, want), 0.02) << n << " nodes: " << format_time(r->time) << " vs "
                                                    << format_time(want);
    }
  }
}


TEST(SimTraining, TopKIsAllgatheredAndStopsPayingOffAtScale) {
  // 1% of the gradient, but every worker receives every other worker's 1%.
  TrainingPlan dense = plan(StrategyKind::kAllreduce, 256);
  TrainingPlan sparse = dense;
  sparse.encoded_bytes = dense.gradient_bytes / 100 * 3 / 2;  // values and indices
  sparse.sparse = true;
  Result<TrainingReport> d = train(dense, {}, "10Gbps,5us");
  Result<TrainingReport> s = train(sparse, {}, "10Gbps,5us");
  ASSERT_TRUE(d.is_ok() && s.is_ok());
  EXPECT_GT(s->link_bytes_max, d->link_bytes_max);  // 255 x 1.5% > 2 x 255/256
}


}  // namespace
}  // namespace courier::sim
