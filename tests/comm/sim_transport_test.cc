// The sim transport: real collectives over the modelled cluster in virtual time. Results equal
// the closed forms (as on inproc), the virtual time of a ring allreduce equals the size-only
// simulator's, runs replay exactly, and a rank that never sends is named, never a hang.
#include <cstring>
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "comm/collective_cases.h"
#include "courier/comm/collectives/collectives.h"
#include "courier/comm/launch.h"
#include "courier/comm/transport/sim/sim_transport.h"
#include "courier/sim/workloads.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;

SimTransportOptions free_compute(int world_size) {
  SimTransportOptions options;
  options.world_size = world_size;
  options.compute_scale = 0;
  return options;
}

// Runs fn(communicator) on every rank of a sim world; returns the report.
SimReport run_sim(const SimTransportOptions& options, const std::function<void(Communicator&)>& fn) {
  Result<std::vector<std::unique_ptr<Transport>>> world = make_sim_world(options);
  EXPECT_TRUE(world.is_ok()) << world.status().to_string();
  if (!world.is_ok()) return {};
  const std::vector<Status> results = run_sim_nodes(*world, [&](Transport& transport) {
    Communicator comm(transport);
    fn(comm);
    return Status::ok();
  });
  for (std::size_t r = 0; r < results.size(); ++r) EXPECT_TRUE(results[r].is_ok()) << "rank " << r << ": " << results[r].to_string();
  return static_cast<SimTransport&>(*world->front()).report();
}

CollectiveOptions sim_small_segments() {
  CollectiveOptions options;
  options.segment_bytes = 4096;
  return options;
}

class SimCollectives : public ::testing::TestWithParam<int> {};

TEST_P(SimCollectives, EveryAllreduceAlgorithmMatchesTheClosedForm) {
  for (AllreduceAlgorithm algorithm :
       {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kHalvingDoubling, AllreduceAlgorithm::kTree}) {
    const SimReport report =
        run_sim(free_compute(GetParam()), [&](Communicator& comm) { sweep_allreduce(comm, algorithm); });
    if (GetParam() > 1) {
      EXPECT_GT(report.end, 0) << allreduce_algorithm_name(algorithm);
    }
  }
}

TEST_P(SimCollectives, BroadcastAndAllgatherMatchTheClosedForm) {
  const int n = GetParam();
  run_sim(free_compute(n), [&](Communicator& comm) {
    for (int root = 0; root < n; ++root) {
      std::vector<std::uint8_t> data(10000);
      for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<std::uint8_t>(comm.rank() == root ? (i * 7 + 3) % 251 : 0xEE);
      }
      ASSERT_TRUE(broadcast(comm, std::as_writable_bytes(std::span(data)), root, sim_small_segments()).is_ok());
      for (std::size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], (i * 7 + 3) % 251) << "root " << root << " byte " << i;
    }
    const std::size_t each = 5000;
    std::vector<std::int32_t> mine(each);
    for (std::size_t i = 0; i < each; ++i) mine[i] = static_cast<std::int32_t>(comm.rank() * 100000 + i);
    std::vector<std::int32_t> all(each * static_cast<std::size_t>(n), -1);
    ASSERT_TRUE(
        allgather(comm, std::as_bytes(std::span(mine)), std::as_writable_bytes(std::span(all)), sim_small_segments()).is_ok());
    for (int r = 0; r < n; ++r) {
      for (std::size_t i = 0; i < each; ++i) {
        ASSERT_EQ(all[static_cast<std::size_t>(r) * each + i], r * 100000 + static_cast<std::int32_t>(i));
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Sim, SimCollectives, ::testing::Values(1, 2, 3, 4, 7),
                         [](const ::testing::TestParamInfo<int>& p) { return std::to_string(p.param) + "_ranks"; });

// With free compute, a real ring allreduce takes the virtual time of the size-only one: the
// same messages (plus a header each) through the same network.
TEST(SimTransport, RingAllreduceTakesTheSimulatorsVirtualTime) {
  const int n = 4;
  const std::size_t count = 256 * 1024 / sizeof(float);
  SimTransportOptions options = free_compute(n);
  const SimReport report = run_sim(options, [&](Communicator& comm) {
    std::vector<float> data = make_input<float>(comm.rank(), count);
    CollectiveOptions collective;
    collective.algorithm = AllreduceAlgorithm::kRing;
    collective.segment_bytes = std::size_t{1} << 30;  // one message a block, as the simulator sends
    ASSERT_TRUE(allreduce(comm, std::span<float>(data), ReduceOp::kSum, collective).is_ok());
    EXPECT_EQ(data[5], static_cast<float>(expected_value(ReduceOp::kSum, n, 5)));
  });
  sim::ClusterSpec cluster = options.cluster;
  cluster.nodes = n;
  Result<sim::RunTotals> expected = sim::simulate_allreduce(cluster, sim::Algorithm::kRing, count * sizeof(float), {}, 0);
  ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();
  EXPECT_NEAR(sim::to_seconds(report.end), sim::to_seconds(expected->time), 0.02 * sim::to_seconds(expected->time))
      << "sim transport " << sim::format_time(report.end) << ", simulator " << sim::format_time(expected->time);
  EXPECT_EQ(report.network.messages, expected->network.messages);
  EXPECT_EQ(report.network.bytes, expected->network.bytes + expected->network.messages * kHeaderBytes);
  for (const SimNodeReport& node : report.nodes) {
    EXPECT_EQ(node.compute, 0);
    EXPECT_EQ(node.compute + node.communicate + node.wait, node.end);
  }
}

TEST(SimTransport, SameSeedSameVirtualTimesAndDeliveries) {
  SimTransportOptions options = free_compute(5);
  options.keep_trace = true;
  options.cluster.link.loss = 0.05;  // the seed decides which copies are lost
  options.seed = 7;
  const auto workload = [](Communicator& comm) {
    for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
      std::vector<float> data = make_input<float>(comm.rank(), 3001);
      CollectiveOptions collective = sim_small_segments();
      collective.algorithm = algorithm;
      ASSERT_TRUE(allreduce(comm, std::span<float>(data), ReduceOp::kSum, collective).is_ok());
    }
  };
  const SimReport first = run_sim(options, workload);
  const SimReport second = run_sim(options, workload);
  EXPECT_GT(first.network.lost, 0u);
  EXPECT_GT(first.deliveries, 0u);
  EXPECT_EQ(first.end, second.end);
  EXPECT_EQ(first.trace_digest, second.trace_digest);
  EXPECT_EQ(first.trace, second.trace);
  for (std::size_t r = 0; r < first.nodes.size(); ++r) EXPECT_EQ(first.nodes[r].end, second.nodes[r].end) << r;
}

// Rank 2 returns without sending; every other rank waits on a chain that ends at it.
TEST(SimTransport, AStallFailsEveryWaitNamingTheSilentRank) {
  Result<std::vector<std::unique_ptr<Transport>>> world = make_sim_world(free_compute(4));
  ASSERT_TRUE(world.is_ok());
  const std::vector<Status> results = run_sim_nodes(*world, [](Transport& t) -> Status {
    if (t.rank() == 2) return Status::ok();
    Result<Message> got = t.recv((t.rank() + 3) % 4, 7).wait(Deadline::after(real_clock(), std::chrono::seconds(30)));
    return got.status();
  });
  for (int r : {0, 1, 3}) {
    const Status& s = results[static_cast<std::size_t>(r)];
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << r << ": " << s.to_string();
    EXPECT_THAT(s.message(), HasSubstr(fmt::format("rank {} waits for a message from rank {} (tag 0x7)", r, (r + 3) % 4)));
    EXPECT_THAT(s.message(), HasSubstr("rank 2 ended without sending it"));
    EXPECT_THAT(s.message(), HasSubstr("virtual time"));
  }
  EXPECT_TRUE(results[2].is_ok());
}

TEST(SimTransport, ACrashedPeerIsNamedWithItsTime) {
  SimTransportOptions options = free_compute(2);
  Result<sim::Fault> crash = sim::parse_fault("crash:1@1us");
  ASSERT_TRUE(crash.is_ok());
  options.faults.push_back(*crash);
  Result<std::vector<std::unique_ptr<Transport>>> world = make_sim_world(options);
  ASSERT_TRUE(world.is_ok());
  const std::vector<Status> results = run_sim_nodes(*world, [](Transport& t) -> Status {
    return t.recv(1 - t.rank(), 3).wait(Deadline::never()).status();
  });
  EXPECT_EQ(results[1].code(), StatusCode::kUnavailable);
  EXPECT_THAT(results[1].message(), HasSubstr("rank 1 crashed at virtual time 1.000 us"));
  EXPECT_EQ(results[0].code(), StatusCode::kUnavailable);
  EXPECT_THAT(results[0].message(), HasSubstr("rank 1 crashed at 1.000 us"));
}

TEST(SimTransport, AnExpiredDeadlineIsAPollAndSendsArriveInOrder) {
  Result<std::vector<std::unique_ptr<Transport>>> world = make_sim_world(free_compute(2));
  ASSERT_TRUE(world.is_ok());
  const std::vector<Status> results = run_sim_nodes(*world, [](Transport& t) -> Status {
    if (t.rank() == 0) {
      for (std::uint8_t i = 0; i < 5; ++i) {
        std::vector<std::byte> bytes(1000u * (5 - i), std::byte{i});
        MessageHeader header;
        header.tag = 9;
        header.payload_bytes = bytes.size();
        if (Status s = t.send(1, header, Payload::owned(std::move(bytes))).wait(Deadline::never()); !s.is_ok()) return s;
      }
      return Status::ok();
    }
    RecvHandle first = t.recv(0, 9);
    EXPECT_FALSE(first.test());
    for (std::uint8_t i = 0; i < 5; ++i) {
      RecvHandle handle = i == 0 ? std::move(first) : t.recv(0, 9);
      Result<Message> got = handle.wait(Deadline::never());
      if (!got.is_ok()) return got.status();
      EXPECT_EQ(got->payload().size(), 1000u * (5 - i));
      EXPECT_EQ(got->payload()[0], std::byte{i});
    }
    // Nothing more comes: a poll returns at once, not done.
    RecvHandle none = t.recv(0, 9);
    Result<Message> polled = none.wait(Deadline::at(Duration::zero()));
    EXPECT_EQ(polled.status().code(), StatusCode::kDeadlineExceeded);
    none.cancel();
    return Status::ok();
  });
  for (const Status& s : results) EXPECT_TRUE(s.is_ok()) << s.to_string();
}

// As on inproc: the closing rank's own receive is cancelled, and a receive from it fails.
TEST(SimTransport, CloseCancelsOwnReceivesAndPeersSeeTheRankGone) {
  Result<std::vector<std::unique_ptr<Transport>>> world = make_sim_world(free_compute(2));
  ASSERT_TRUE(world.is_ok());
  const std::vector<Status> results = run_sim_nodes(*world, [](Transport& t) -> Status {
    if (t.rank() == 1) {
      RecvHandle mine = t.recv(0, 4);
      t.close();
      EXPECT_EQ(mine.wait(Deadline::never()).status().code(), StatusCode::kCancelled);
      return Status::ok();
    }
    return t.recv(1, 4).wait(Deadline::never()).status();
  });
  EXPECT_EQ(results[0].code(), StatusCode::kUnavailable) << results[0].to_string();
  EXPECT_THAT(results[0].message(), HasSubstr("rank 1 is gone"));
  EXPECT_TRUE(results[1].is_ok());
}

TEST(SimTransport, RunNodesRunsOnSimAndFillsTheReport) {
  EXPECT_EQ(parse_transport_kind("sim"), TransportKind::kSim);
  EXPECT_EQ(transport_kind_name(TransportKind::kSim), "sim");
  SimReport report;
  LaunchOptions launch;
  launch.transport = TransportKind::kSim;
  launch.world_size = 3;
  launch.sim.compute_scale = 0;
  launch.sim_report = &report;
  ASSERT_TRUE(run_nodes(launch, [](Communicator& comm) {
                std::vector<float> data = make_input<float>(comm.rank(), 100);
                return allreduce(comm, std::span<float>(data), ReduceOp::kSum);
              }).is_ok());
  EXPECT_EQ(report.nodes.size(), 3u);
  EXPECT_GT(report.end, 0);
  EXPECT_GT(report.network.messages, 0u);
}

TEST(SimTransport, BadOptionsAreRefused) {
  SimTransportOptions options = free_compute(2);
  options.compute_scale = -1;
  EXPECT_EQ(make_sim_world(options).status().code(), StatusCode::kInvalidArgument);
  options.compute_scale = 0;
  Result<sim::Fault> crash = sim::parse_fault("crash:5@1us");
  ASSERT_TRUE(crash.is_ok());
  options.faults.push_back(*crash);
  EXPECT_EQ(make_sim_world(options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace courier::testing
