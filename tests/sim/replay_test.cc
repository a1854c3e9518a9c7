// Replay of a recorded run: the compute/wait rule, the link fitted to the recording, a hand-
// computed ping-pong on two networks, and the step profile that sizes a simulated training run.
#include <string>

#include <gtest/gtest.h>

#include "courier/sim/replay.h"

namespace courier::sim {
namespace {

constexpr Time us(double micros) { return from_seconds(micros * 1e-6); }

ClusterSpec two_nodes(const std::string& link) {
  ClusterSpec spec;
  spec.nodes = 2;
  spec.link = *parse_link(link);
  return spec;
}

// Two rounds of ping-pong recorded on a 1 Gb/s, 10 us network: node 0 computes 100 us and sends
// 1000 bytes (18 us on the wire), node 1 computes 50 us and answers with 2000 bytes (26 us).
RecordedRun ping_pong() {
  RecordedRun run;
  run.nodes.resize(2);
  auto& a = run.nodes[0];
  auto& b = run.nodes[1];
  for (std::uint64_t round = 0; round < 2; ++round) {
    const double t = 194.0 * static_cast<double>(round);
    a.push_back({true, 1, 7, round, round + 1, 1000, us(t + 100)});
    b.push_back({false, 0, 7, round, round + 1, 1000, us(t + 118)});
    b.push_back({true, 0, 8, round, round + 1, 2000, us(t + 168)});
    a.push_back({false, 1, 8, round, round + 1, 2000, us(t + 194)});
  }
  return run;
}

TEST(SimReplay, FitsTheRecordedLinkFromTheReceivesNodesWaitedFor) {
  const LinkSpec link = fit_link(ping_pong());
  EXPECT_NEAR(link.bits_per_second, 1e9, 1e6);
  EXPECT_NEAR(to_seconds(link.latency), 10e-6, 1e-9);
}

TEST(SimReplay, PingPongTakesTheRecordedTimeOnItsOwnLinkAndTheHandComputedOneOnAFaster) {
  Result<ReplayProgram> program = make_replay_program(ping_pong(), *parse_link("1Gbps,10us"));
  ASSERT_TRUE(program.is_ok()) << program.status().to_string();
  // The recording starts at its first message (node 0's at 100 us): node 0 computed 100 us
  // before its second send only; node 1 waited for every message and computed 50 us before
  // each answer.
  EXPECT_EQ(program->nodes[0][0].compute, 0);
  EXPECT_EQ(program->nodes[0][1].compute, 0);
  EXPECT_EQ(program->nodes[0][2].compute, us(100));
  EXPECT_EQ(program->nodes[1][0].compute, 0);
  EXPECT_EQ(program->nodes[1][1].compute, us(50));
  EXPECT_EQ(program->recorded, us(388) - us(100));
  // Node 1, as recorded: 100 us of compute; 18 us of communication a message; before the
  // second it waited the 126 us until node 0 sent it.
  EXPECT_EQ(program->recorded_stats[1].compute, us(100));
  EXPECT_EQ(program->recorded_stats[1].wait, us(126));
  EXPECT_EQ(program->recorded_stats[1].communicate, us(18) * 2);

  Result<ReplayReport> same = replay(*program, two_nodes("1Gbps,10us"), {}, 1);
  ASSERT_TRUE(same.is_ok()) << same.status().to_string();
  EXPECT_EQ(same->replayed, same->recorded);
  EXPECT_EQ(same->replayed, us(288));
  EXPECT_EQ(same->nodes[0].compute, us(100));
  EXPECT_EQ(same->nodes[1].compute, us(100));

  // 10 Gb/s, 1 us: 1.8 us and 2.6 us a message: 1.8 + 50 + 2.6 + 100 + 1.8 + 50 + 2.6.
  Result<ReplayReport> fast = replay(*program, two_nodes("10Gbps,1us"), {}, 1);
  ASSERT_TRUE(fast.is_ok()) << fast.status().to_string();
  EXPECT_EQ(fast->replayed, us(208.8));
}

TEST(SimReplay, AMessageTakenLongAfterItArrivedCountsTheGapAsCompute) {
  RecordedRun run;
  run.nodes.resize(2);
  run.nodes[0].push_back({true, 1, 7, 0, 1, 1000, us(100)});
  run.nodes[1].push_back({false, 0, 7, 0, 1, 1000, us(500)});  // arrived at 118 us: node 1 was busy
  Result<ReplayProgram> program = make_replay_program(run, *parse_link("1Gbps,10us"));
  ASSERT_TRUE(program.is_ok());
  EXPECT_EQ(program->nodes[1][0].compute, us(400));  // from the recording's start, 100 us
  Result<ReplayReport> r = replay(*program, two_nodes("1Gbps,10us"), {}, 1);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->replayed, us(400));
}

TEST(SimReplay, AReceiveWithoutItsSendIsNamed) {
  RecordedRun run;
  run.nodes.resize(2);
  run.nodes[1].push_back({false, 0, 7, 3, 1, 1000, us(500)});
  Result<ReplayProgram> program = make_replay_program(run, *parse_link("1Gbps,10us"));
  EXPECT_EQ(program.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(program.status().message().find("node 1 received message 3 of tag 0x7 from node 0"), std::string::npos)
      << program.status().message();
}

TEST(SimReplay, StepProfileIsTheMedianComputeAndBytesOfTheStepsAfterTheFirst) {
  Result<ReplayProgram> program = make_replay_program(ping_pong(), *parse_link("1Gbps,10us"));
  ASSERT_TRUE(program.is_ok());
  // Both nodes as workers: step 2 (step 1 left out) holds node 0's 100 us and node 1's 50 us.
  Result<StepProfile> profile = profile_steps(*program, 2);
  ASSERT_TRUE(profile.is_ok());
  EXPECT_EQ(profile->steps, 2);
  EXPECT_EQ(profile->worker_bytes, 3000u);
  EXPECT_EQ(profile->compute, us(100));  // the median of {100, 50} by nth_element is the upper one
  EXPECT_EQ(profile->step, 0);           // one step after the first: no period to measure
}

}  // namespace
}  // namespace courier::sim
