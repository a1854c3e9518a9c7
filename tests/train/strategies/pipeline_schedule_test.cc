// Pipeline schedules: every micro-batch forwarded and backwarded once per stage, the K lists
// run to the end under rendezvous and buffered message semantics, 1F1B keeps at most K - s
// micro-batches in flight on stage s (GPipe M), and the layer cut balances parameters.
#include "courier/train/strategies/pipeline_schedule.h"

#include <algorithm>
#include <deque>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace courier {
namespace {

using ::testing::HasSubstr;
using Schedule = std::vector<std::vector<PipelineInstruction>>;

Schedule all_stages(PipelineScheduleKind kind, int stages, int microbatches) {
  Schedule lists;
  for (int s = 0; s < stages; ++s) lists.push_back(pipeline_stage_schedule(kind, stages, s, microbatches));
  return lists;
}

std::string where(PipelineScheduleKind kind, int stages, int microbatches) {
  return fmt::format("{} K={} M={}", pipeline_schedule_name(kind), stages, microbatches);
}

bool is_send(PipelineOp op) { return op == PipelineOp::kSendActivation || op == PipelineOp::kSendGrad; }
bool is_recv(PipelineOp op) { return op == PipelineOp::kRecvActivation || op == PipelineOp::kRecvGrad; }

// The receive a send meets on the peer, and the peer's stage.
PipelineInstruction matching_recv(const PipelineInstruction& send) {
  return {send.op == PipelineOp::kSendActivation ? PipelineOp::kRecvActivation : PipelineOp::kRecvGrad,
          send.microbatch};
}
int peer_of(const PipelineInstruction& send, int stage) {
  return send.op == PipelineOp::kSendActivation ? stage + 1 : stage - 1;
}

struct Outcome {
  bool finished = false;
  std::vector<int> max_in_flight;  // per stage: forwards whose backward has not run yet
  std::string error;
};

// Runs the lists, one instruction a stage a round, until all are done or no stage can move.
// Rendezvous: a send completes only together with the peer's matching receive. Buffered: a
// send completes at once into a FIFO channel; a receive needs the matching message at its head.
Outcome simulate(const Schedule& lists, bool rendezvous) {
  const int stages = static_cast<int>(lists.size());
  std::vector<std::size_t> pc(lists.size(), 0);
  std::vector<int> in_flight(lists.size(), 0);
  Outcome outcome{false, std::vector<int>(lists.size(), 0), ""};
  std::vector<std::deque<PipelineInstruction>> inbox(lists.size());  // buffered: messages waiting at a stage
  auto done = [&](int s) { return pc[s] == lists[s].size(); };
  auto step_compute = [&](int s, const PipelineInstruction& ins) {
    in_flight[s] += ins.op == PipelineOp::kForward ? 1 : -1;
    outcome.max_in_flight[s] = std::max(outcome.max_in_flight[s], in_flight[s]);
    ++pc[s];
  };
  for (bool moved = true; moved;) {
    moved = false;
    for (int s = 0; s < stages; ++s) {
      if (done(s)) continue;
      const PipelineInstruction ins = lists[s][pc[s]];
      if (!is_send(ins.op) && !is_recv(ins.op)) {
        step_compute(s, ins);
        moved = true;
      } else if (is_send(ins.op)) {
        const int peer = peer_of(ins, s);
        if (peer < 0 || peer >= stages) {
          outcome.error = fmt::format("stage {} sends past the pipeline's end", s);
          return outcome;
        }
        if (!rendezvous) {
          inbox[peer].push_back(matching_recv(ins));
          ++pc[s];
          moved = true;
        } else if (!done(peer) && lists[peer][pc[peer]] == matching_recv(ins)) {
          ++pc[s];
          ++pc[peer];
          moved = true;
        }
      } else if (!rendezvous) {
        auto it = std::find(inbox[s].begin(), inbox[s].end(), ins);
        if (it != inbox[s].end()) {
          inbox[s].erase(it);
          ++pc[s];
          moved = true;
        }
      }
    }
  }
  outcome.finished = true;
  for (int s = 0; s < stages; ++s) outcome.finished = outcome.finished && done(s) && inbox[s].empty();
  return outcome;
}

constexpr PipelineScheduleKind kKinds[] = {PipelineScheduleKind::kGpipe, PipelineScheduleKind::k1f1b};

TEST(PipelineSchedule, EveryMicrobatchForwardedAndBackwardedOncePerStageForwardFirst) {
  for (PipelineScheduleKind kind : kKinds) {
    for (int K = 1; K <= 5; ++K) {
      for (int M = 1; M <= 9; ++M) {
        for (int s = 0; s < K; ++s) {
          const auto ops = pipeline_stage_schedule(kind, K, s, M);
          for (int m = 0; m < M; ++m) {
            auto count = [&](PipelineOp op) { return std::count(ops.begin(), ops.end(), PipelineInstruction{op, m}); };
            const auto forward = std::find(ops.begin(), ops.end(), PipelineInstruction{PipelineOp::kForward, m});
            const auto backward = std::find(ops.begin(), ops.end(), PipelineInstruction{PipelineOp::kBackward, m});
            const std::string at = where(kind, K, M) + fmt::format(" stage {} micro-batch {}", s, m);
            EXPECT_EQ(count(PipelineOp::kForward), 1) << at;
            EXPECT_EQ(count(PipelineOp::kBackward), 1) << at;
            EXPECT_LT(forward, backward) << at;
            EXPECT_EQ(count(PipelineOp::kRecvActivation), s > 0 ? 1 : 0) << at;
            EXPECT_EQ(count(PipelineOp::kSendGrad), s > 0 ? 1 : 0) << at;
            EXPECT_EQ(count(PipelineOp::kSendActivation), s < K - 1 ? 1 : 0) << at;
            EXPECT_EQ(count(PipelineOp::kRecvGrad), s < K - 1 ? 1 : 0) << at;
          }
        }
      }
    }
  }
}

TEST(PipelineSchedule, RunsToTheEndWithBlockingAndBufferedSends) {
  for (PipelineScheduleKind kind : kKinds) {
    for (int K = 1; K <= 5; ++K) {
      for (int M = 1; M <= 9; ++M) {
        for (bool rendezvous : {true, false}) {
          const Outcome outcome = simulate(all_stages(kind, K, M), rendezvous);
          EXPECT_TRUE(outcome.finished) << where(kind, K, M) << (rendezvous ? " rendezvous" : " buffered")
                                        << " deadlocks " << outcome.error;
        }
      }
    }
  }
}

TEST(PipelineSchedule, TheSimulationCatchesNeighboursSendingToEachOther) {
  using enum PipelineOp;
  // 1F1B with the activation sent before the gradient is taken: stage 0 sends activation 1
  // while stage 1 sends gradient 0. Buffered sends get through; blocking ones deadlock.
  const Schedule naive = {{{kForward, 0}, {kSendActivation, 0}, {kForward, 1}, {kSendActivation, 1}, {kRecvGrad, 0},
                           {kBackward, 0}, {kRecvGrad, 1}, {kBackward, 1}},
                          {{kRecvActivation, 0}, {kForward, 0}, {kBackward, 0}, {kSendGrad, 0}, {kRecvActivation, 1},
                           {kForward, 1}, {kBackward, 1}, {kSendGrad, 1}}};
  EXPECT_FALSE(simulate(naive, /*rendezvous=*/true).finished);
  EXPECT_TRUE(simulate(naive, /*rendezvous=*/false).finished);
}

TEST(PipelineSchedule, OneForwardOneBackwardBoundsMicrobatchesInFlight) {
  for (int K = 1; K <= 5; ++K) {
    for (int M = 1; M <= 9; ++M) {
      const Outcome gpipe = simulate(all_stages(PipelineScheduleKind::kGpipe, K, M), true);
      const Outcome one_f_one_b = simulate(all_stages(PipelineScheduleKind::k1f1b, K, M), true);
      for (int s = 0; s < K; ++s) {
        EXPECT_EQ(gpipe.max_in_flight[s], M) << where(PipelineScheduleKind::kGpipe, K, M) << " stage " << s;
        EXPECT_LE(one_f_one_b.max_in_flight[s], K - s) << where(PipelineScheduleKind::k1f1b, K, M) << " stage " << s;
        EXPECT_EQ(one_f_one_b.max_in_flight[s], std::min(K - s, M)) << "stage " << s;
      }
    }
  }
}

TEST(PipelineSchedule, OneForwardOneBackwardOrderOnFourStages) {
  using enum PipelineOp;
  // Stage 1 of 4 with 4 micro-batches: 2 warm-up forwards, 2 pairs, 2 drained backwards.
  const std::vector<PipelineInstruction> expected = {
      {kRecvActivation, 0}, {kForward, 0}, {kSendActivation, 0}, {kRecvActivation, 1}, {kForward, 1},
      {kSendActivation, 1}, {kRecvActivation, 2}, {kForward, 2}, {kRecvGrad, 0}, {kSendActivation, 2},
      {kBackward, 0}, {kSendGrad, 0}, {kRecvActivation, 3}, {kForward, 3}, {kRecvGrad, 1}, {kSendActivation, 3},
      {kBackward, 1}, {kSendGrad, 1}, {kRecvGrad, 2}, {kBackward, 2}, {kSendGrad, 2}, {kRecvGrad, 3},
      {kBackward, 3}, {kSendGrad, 3}};
  EXPECT_EQ(pipeline_stage_schedule(PipelineScheduleKind::k1f1b, 4, 1, 4), expected);
}

TEST(PipelineSchedule, NamesRoundTripAndTheBubbleIsTheTextbookOne) {
  for (PipelineScheduleKind kind : kKinds) EXPECT_EQ(parse_pipeline_schedule(pipeline_schedule_name(kind)), kind);
  EXPECT_FALSE(parse_pipeline_schedule("interleaved"));
  EXPECT_DOUBLE_EQ(pipeline_bubble_fraction(4, 8), 3.0 / 11.0);
  EXPECT_DOUBLE_EQ(pipeline_bubble_fraction(1, 8), 0.0);
}

TEST(PipelinePartition, BalancesParametersWithContiguousNonEmptyStages) {
  const std::vector<std::int64_t> params = {100, 0, 50, 0, 50, 0, 100};
  Result<std::vector<LayerRange>> two = partition_layers(params, 2);
  ASSERT_TRUE(two.is_ok()) << two.status().to_string();
  EXPECT_EQ(*two, (std::vector<LayerRange>{{0, 3}, {3, 7}}));  // 150 | 150, the earlier cut
  Result<std::vector<LayerRange>> seven = partition_layers(params, 7);
  ASSERT_TRUE(seven.is_ok());
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ((*seven)[i], (LayerRange{i, i + 1}));
  Result<std::vector<LayerRange>> three = partition_layers(params, 3);
  ASSERT_TRUE(three.is_ok());
  std::size_t next = 0;
  std::int64_t largest = 0;
  for (const LayerRange& r : *three) {
    EXPECT_EQ(r.first, next);
    EXPECT_LT(r.first, r.last);
    next = r.last;
    std::int64_t sum = 0;
    for (std::size_t i = r.first; i < r.last; ++i) sum += params[i];
    largest = std::max(largest, sum);
  }
  EXPECT_EQ(next, params.size());
  EXPECT_EQ(largest, 100);
}

TEST(PipelinePartition, MoreStagesThanLayersNamesBoth) {
  const std::vector<std::int64_t> params = {10, 0, 10};
  Result<std::vector<LayerRange>> cut = partition_layers(params, 4);
  ASSERT_FALSE(cut.is_ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(cut.status().message(), HasSubstr("dist.stages = 4"));
  EXPECT_THAT(cut.status().message(), HasSubstr("3 top-level layers"));
}

}  // namespace
}  // namespace courier
