// The simulator: the engine's order, the link model against closed forms, faults, the stall
// report, determinism, and the strategies' message patterns.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "courier/sim/cluster.h"
#include "courier/sim/engine.h"
#include "courier/sim/faults.h"
#include "courier/sim/workloads.h"
#include "courier/sim/world.h"
#include "sim/sim_helpers.h"

namespace courier::sim {
namespace {

TEST(SimEngine, RunsEventsInTimeThenSchedulingOrder) {
  Engine engine;
  std::string order;
  engine.at(20, [&] { order += 'c'; });
  engine.at(10, [&] { order += 'a'; });
  engine.at(10, [&] {
    order += 'b';
    engine.after(0, [&] { order += 'x'; });  // same time, scheduled later: after every earlier one
  });
  EXPECT_EQ(engine.run(), 4u);
  EXPECT_EQ(order, "abxc");
  EXPECT_EQ(engine.now(), 20);
}

TEST(SimEngine, StepRunsOneEventAtATimeInTheSameOrder) {
  Engine engine;
  std::string order;
  engine.at(20, [&] { order += 'c'; });
  engine.at(10, [&] { order += 'a'; });
  engine.at(10, [&] { order += 'b'; });
  EXPECT_TRUE(engine.step());
  EXPECT_EQ(order, "a");
  EXPECT_EQ(engine.now(), 10);
  EXPECT_TRUE(engine.step());
  EXPECT_TRUE(engine.step());
  EXPECT_EQ(order, "abc");
  EXPECT_EQ(engine.now(), 20);
  EXPECT_FALSE(engine.step());
  EXPECT_EQ(engine.events_run(), 3u);
}

TEST(SimEngine, CoroutinesSleepAndAwaitEachOther) {
  Engine engine;
  std::vector<Time> seen;
  auto inner = [&]() -> Task {
    co_await engine.sleep(5);
    seen.push_back(engine.now());
  };
  auto outer = [&]() -> Task {
    co_await engine.sleep(10);
    co_await inner();
    co_await inner();
    seen.push_back(engine.now());
  };
  const std::size_t id = engine.spawn(outer());
  engine.run();
  EXPECT_TRUE(engine.task(id).finished());
  EXPECT_EQ(seen, (std::vector<Time>{15, 20, 20}));
}

TEST(SimLink, ParsesUnitsAndNamesBadInput) {
  const LinkSpec link = *parse_link("25Gbps,5us");
  EXPECT_DOUBLE_EQ(link.bits_per_second, 25e9);
  EXPECT_EQ(link.latency, from_seconds(5e-6));
  EXPECT_DOUBLE_EQ(parse_link("100gbps, 2us, loss=0.01")->loss, 0.01);
  EXPECT_DOUBLE_EQ(parse_link("1GB/s,1ms")->bits_per_second, 8e9);
  for (const char* bad : {"25Gbps", "fast,5us", "25Gbps,5", "25Gbps,5us,loss=2", "-1Gbps,5us"}) {
    Result<LinkSpec> r = parse_link(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_NE(r.status().message().find("25Gbps,5us"), std::string::npos) << r.status().message();
  }
  ClusterSpec spec;
  EXPECT_FALSE(parse_fabric("fattree:0", spec).is_ok());
  EXPECT_FALSE(parse_fabric("torus", spec).is_ok());
  ASSERT_TRUE(parse_fabric("fattree:8:4", spec).is_ok());
  EXPECT_EQ(spec.leaf_size, 8);
  EXPECT_DOUBLE_EQ(spec.oversubscription, 4.0);
}

TEST(SimLink, OneMessageTakesLatencyPlusSerialisation) {
  World world(cluster(2, "8Gbps,10us"), {}, 1);
  Time arrived = 0;
  auto receiver = [&]() -> Task {
    co_await world.recv(1, 0, 7);
    arrived = world.now();
  };
  world.send(0, 1, 7, 1'000'000);  // 1 MB at 1 GB/s: 1 ms
  world.spawn(1, receiver());
  ASSERT_TRUE(world.run().is_ok());
  EXPECT_EQ(arrived, from_seconds(1e-3 + 10e-6));
}

TEST(SimLink, TwoSendersIntoOneNicShareItsBandwidth) {
  World world(cluster(3, "8Gbps,10us"), {}, 1);
  std::vector<Time> arrivals;
  auto receiver = [&]() -> Task {
    for (int i = 0; i < 2; ++i) {
      co_await world.recv(2, kAnyNode, 7);
      arrivals.push_back(world.now());
    }
  };
  world.send(0, 2, 7, 1'000'000);
  world.send(1, 2, 7, 1'000'000);
  world.spawn(2, receiver());
  ASSERT_TRUE(world.run().is_ok());
  // The second waits for the first on node 2's downlink: 2 ms of serialisation in all.
  EXPECT_EQ(arrivals[0], from_seconds(1e-3 + 10e-6));
  EXPECT_EQ(arrivals[1], from_seconds(2e-3 + 10e-6));
}

TEST(SimCollectives, RingAndHalvingDoublingMatchTheirClosedFormsOnSmallWorlds) {
  // The same checks as sim_scale_test.cc up to 1,024 nodes, small enough for the sanitizers.
  for (const int n : {2, 3, 7, 16, 64}) {
    const ClusterSpec spec = cluster(n);
    Result<RunTotals> r = simulate_allreduce(spec, Algorithm::kRing, 1 << 20, {}, 1);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_LT(relative_error(r->time, closed_form(Algorithm::kRing, n, 1 << 20, spec.link)), 0.02) << n;
    if ((n & (n - 1)) != 0) continue;
    Result<RunTotals> h = simulate_allreduce(spec, Algorithm::kHalvingDoubling, 1 << 20, {}, 1);
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    EXPECT_LT(relative_error(h->time, closed_form(Algorithm::kHalvingDoubling, n, 1 << 20, spec.link)), 0.02) << n;
  }
}

TEST(SimCollectives, NonPowerOfTwoAndTreeFinishWithTheRightMessageCount) {
  for (const int n : {3, 5, 6, 12}) {
    Result<RunTotals> hd = simulate_allreduce(cluster(n), Algorithm::kHalvingDoubling, 1 << 20, {}, 1);
    ASSERT_TRUE(hd.is_ok()) << hd.status().to_string();
    const int p = 1 << static_cast<int>(std::floor(std::log2(n)));
    const int rounds = 2 * static_cast<int>(std::log2(p));
    EXPECT_EQ(hd->network.messages, static_cast<std::uint64_t>(p * rounds + 2 * (n - p)));
    Result<RunTotals> tree = simulate_allreduce(cluster(n), Algorithm::kTree, 1 << 20, {}, 1);
    ASSERT_TRUE(tree.is_ok()) << tree.status().to_string();
    EXPECT_EQ(tree->network.messages, static_cast<std::uint64_t>(2 * (n - 1)));  // n-1 up, n-1 down
  }
}

TEST(SimCollectives, AnOversubscribedFatTreeSlowsTheRingDown) {
  const std::uint64_t bytes = 64 << 20;
  Result<RunTotals> flat = simulate_allreduce(cluster(32), Algorithm::kRing, bytes, {}, 1);
  Result<RunTotals> tree = simulate_allreduce(cluster(32, "25Gbps,5us", "fattree:8"), Algorithm::kRing, bytes, {}, 1);
  Result<RunTotals> over = simulate_allreduce(cluster(32, "25Gbps,5us", "fattree:8:16"), Algorithm::kRing, bytes, {}, 1);
  ASSERT_TRUE(flat.is_ok() && tree.is_ok() && over.is_ok());
  // A ring crosses each leaf boundary once: a full-bisection tree costs only latency...
  EXPECT_LT(relative_error(tree->time, flat->time), 0.05);
  // ...but uplinks at 1/16 of the leaf's capacity carry a NIC's traffic at half a NIC's speed.
  EXPECT_GT(over->time, flat->time * 3 / 2);
}

TEST(SimFaults, ParsesPlansAndNamesMistakes) {
  EXPECT_EQ(parse_fault("crash:3@10ms")->at, from_seconds(0.01));
  EXPECT_EQ(parse_fault("partition:0-3@1ms-never")->until, kNever);
  EXPECT_DOUBLE_EQ(parse_fault("slow:2:3")->factor, 3.0);
  for (const char* bad : {"crash:3", "explode:1@1s", "slow:2:0.5", "partition:3-1@1ms-2ms", "loss:1.5"}) {
    Result<Fault> f = parse_fault(bad);
    ASSERT_FALSE(f.is_ok()) << bad;
    EXPECT_NE(f.status().message().find("crash:N@T"), std::string::npos);
  }
  EXPECT_FALSE(check_faults({*parse_fault("crash:9@1ms")}, 8).is_ok());
}

TEST(SimFaults, ACrashStallsTheRingAndTheReportNamesTheCrashedNode) {
  Result<RunTotals> r = simulate_allreduce(cluster(8), Algorithm::kRing, 100 << 20, {*parse_fault("crash:3@100us")}, 1);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("node 3 crashed at 100.000 us"), std::string::npos) << m;
  EXPECT_NE(m.find("node 4 waits for a message from node 3, which crashed"), std::string::npos) << m;
}

TEST(SimFaults, LossIsResentCountedAndCostsTime) {
  const ClusterSpec clean = cluster(16);
  const ClusterSpec lossy = cluster(16, "25Gbps,5us,loss=0.01");
  Result<RunTotals> a = simulate_allreduce(clean, Algorithm::kRing, 16 << 20, {}, 1);
  Result<RunTotals> b = simulate_allreduce(lossy, Algorithm::kRing, 16 << 20, {}, 1);
  ASSERT_TRUE(a.is_ok() && b.is_ok()) << b.status().to_string();
  EXPECT_EQ(a->network.lost, 0u);
  EXPECT_GT(b->network.lost, 0u);
  EXPECT_EQ(b->network.messages, a->network.messages);  // every message still arrives once
  EXPECT_GT(b->time, a->time);
}

TEST(SimFaults, APartitionThatHealsOnlyDelays) {
  Result<RunTotals> r = simulate_allreduce(cluster(8), Algorithm::kRing, 1 << 20, {*parse_fault("partition:0-3@0s-2ms")}, 1);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_GT(r->time, from_seconds(2e-3));
  EXPECT_GT(r->network.lost, 0u);
}

TEST(SimDeterminism, TheSameSeedGivesTheSameTraceByteForByte) {
  const auto trace = [](std::uint64_t seed) {
    World world(cluster(16, "25Gbps,5us,loss=0.02"), {*parse_fault("slownic:3:2@10us")}, seed);
    world.keep_trace(true);
    for (int i = 0; i < 16; ++i) world.spawn(i, allreduce(world, i, 16, 4 << 20, Algorithm::kRing, 0));
    EXPECT_TRUE(world.run().is_ok());
    return std::make_pair(world.trace_text(), world.trace_digest());
  };
  const auto a = trace(7), b = trace(7), c = trace(8);
  EXPECT_FALSE(a.first.empty());
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
  EXPECT_NE(a.second, c.second);  // another seed loses other messages
}

TEST(SimTraining, OneWorkerIsAllComputeAndSharesAddUp) {
  Result<TrainingReport> one = train(plan(StrategyKind::kAllreduce, 1));
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one->step, from_seconds(10e-3));
  EXPECT_DOUBLE_EQ(one->efficiency, 1.0);
  for (StrategyKind kind : {StrategyKind::kAllreduce, StrategyKind::kParameterServer, StrategyKind::kGossip,
                            StrategyKind::kLocalSgd}) {
    Result<TrainingReport> r = train(plan(kind, 8));
    ASSERT_TRUE(r.is_ok()) << strategy_name(kind) << ": " << r.status().to_string();
    EXPECT_NEAR(r->compute_share + r->communicate_share + r->wait_share, 1.0, 1e-6) << strategy_name(kind);
    EXPECT_LT(r->efficiency, 1.0) << strategy_name(kind);
    EXPECT_GT(r->efficiency, 0.0) << strategy_name(kind);
  }
}

TEST(SimTraining, AllreduceStepIsComputePlusTheCollective) {
  const TrainingPlan p = plan(StrategyKind::kAllreduce, 8);
  Result<TrainingReport> r = train(p);
  ASSERT_TRUE(r.is_ok());
  const Time want = p.compute + closed_form(Algorithm::kRing, 8, p.encoded_bytes, cluster(8).link);
  EXPECT_LT(relative_error(r->step, want), 0.01);
}

TEST(SimTraining, MeasuredJitterMakesSynchronousWorkersWaitForTheSlowest) {
  // Steps of 8 or 12 ms (mean 10): every allreduce waits for the slowest of 16 workers, which
  // is almost always a 12 ms one; the same seed draws the same steps.
  TrainingPlan p = plan(StrategyKind::kAllreduce, 16);
  p.compute_samples = {from_seconds(8e-3), from_seconds(12e-3)};
  Result<TrainingReport> a = train(p), b = train(p);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  const Time collective = closed_form(Algorithm::kRing, 16, p.encoded_bytes, cluster(16).link);
  EXPECT_GT(a->step, from_seconds(11.9e-3) + collective);
  EXPECT_GT(a->wait_share, 0.1);
  EXPECT_EQ(a->step, b->step);
  EXPECT_EQ(a->totals.digest, b->totals.digest);
}

TEST(SimTraining, AsynchronousServersKeepTheirPaceWithAStraggler) {
  const std::vector<Fault> slow = {*parse_fault("slow:0:3")};
  TrainingPlan bsp = plan(StrategyKind::kParameterServer, 4);
  TrainingPlan ssp = bsp, asp = bsp;
  ssp.staleness = 3;
  asp.staleness = -1;
  Result<TrainingReport> b = train(bsp, slow), s = train(ssp, slow), a = train(asp, slow);
  ASSERT_TRUE(b.is_ok() && s.is_ok() && a.is_ok());
  // Under BSP everyone waits for the 3x slower worker every step.
  EXPECT_GT(b->wait_share, 0.4);
  // Asynchronous: the fast workers never wait for it (what is left is the pulls' round trip).
  EXPECT_LT(a->wait_share, b->wait_share / 4);
  EXPECT_LT(s->wait_share, b->wait_share);
  EXPECT_GT(s->wait_share, a->wait_share);
}

TEST(SimTraining, ACrashedWorkerStallsSynchronousTrainingWithAReport) {
  Result<TrainingReport> r = train(plan(StrategyKind::kParameterServer, 4), {*parse_fault("crash:2@25ms")});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("node 2 crashed at 25.000 ms"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace courier::sim
