// GPipe and 1F1B instruction lists, and the parameter-balanced cut of a model into stages.
#include "courier/train/strategies/pipeline_schedule.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {
namespace {

using Ops = std::vector<PipelineInstruction>;

struct StagePosition {
  bool first, last;
};

void add_forward(Ops& ops, StagePosition at, int m) {
  if (!at.first) ops.push_back({PipelineOp::kRecvActivation, m});
  ops.push_back({PipelineOp::kForward, m});
  if (!at.last) ops.push_back({PipelineOp::kSendActivation, m});
}

void add_backward(Ops& ops, StagePosition at, int m) {
  if (!at.last) ops.push_back({PipelineOp::kRecvGrad, m});
  ops.push_back({PipelineOp::kBackward, m});
  if (!at.first) ops.push_back({PipelineOp::kSendGrad, m});
}

// 1F1B's steady pair: forward m, then backward b, with b's gradient received before m's
// activation leaves (see the header: no two neighbours sending to each other at once).
void add_forward_backward(Ops& ops, StagePosition at, int m, int b) {
  if (!at.first) ops.push_back({PipelineOp::kRecvActivation, m});
  ops.push_back({PipelineOp::kForward, m});
  if (!at.last) {
    ops.push_back({PipelineOp::kRecvGrad, b});
    ops.push_back({PipelineOp::kSendActivation, m});
  }
  ops.push_back({PipelineOp::kBackward, b});
  if (!at.first) ops.push_back({PipelineOp::kSendGrad, b});
}

}  // namespace

std::string_view pipeline_schedule_name(PipelineScheduleKind kind) {
  return kind == PipelineScheduleKind::kGpipe ? "gpipe" : "1f1b";
}

std::optional<PipelineScheduleKind> parse_pipeline_schedule(std::string_view name) {
  for (PipelineScheduleKind kind : {PipelineScheduleKind::kGpipe, PipelineScheduleKind::k1f1b}) {
    if (pipeline_schedule_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string_view pipeline_op_name(PipelineOp op) {
  switch (op) {
    case PipelineOp::kRecvActivation: return "recv-activation";
    case PipelineOp::kForward: return "forward";
    case PipelineOp::kSendActivation: return "send-activation";
    case PipelineOp::kRecvGrad: return "recv-grad";
    case PipelineOp::kBackward: return "backward";
    case PipelineOp::kSendGrad: return "send-grad";
  }
  return "unknown";
}

std::vector<PipelineInstruction> pipeline_stage_schedule(PipelineScheduleKind kind, int stages, int stage,
                                                         int microbatches) {
  COURIER_CHECK(stage >= 0 && stage < stages, "pipeline stage {} of {}", stage, stages);
  COURIER_CHECK_GE(microbatches, 0, "pipeline micro-batches");
  const StagePosition at{stage == 0, stage == stages - 1};
  Ops ops;
  if (kind == PipelineScheduleKind::kGpipe) {
    for (int m = 0; m < microbatches; ++m) add_forward(ops, at, m);
    for (int m = 0; m < microbatches; ++m) add_backward(ops, at, m);
    return ops;
  }
  const int warmup = std::min(stages - 1 - stage, microbatches);
  for (int m = 0; m < warmup; ++m) add_forward(ops, at, m);
  for (int b = 0; b + warmup < microbatches; ++b) add_forward_backward(ops, at, b + warmup, b);
  for (int b = microbatches - warmup; b < microbatches; ++b) add_backward(ops, at, b);
  return ops;
}

double pipeline_bubble_fraction(int stages, int microbatches) {
  return static_cast<double>(stages - 1) / static_cast<double>(microbatches + stages - 1);
}

// Linear partition by dynamic programming over (stages, prefix length), O(K n^2). A stage's
// cost is its parameter count, then its layer count (so layers without parameters spread
// out instead of piling onto one stage).
Result<std::vector<LayerRange>> partition_layers(std::span<const std::int64_t> layer_parameters, int stages) {
  const auto n = layer_parameters.size();
  if (stages < 1 || static_cast<std::size_t>(stages) > n) {
    return Status::invalid_argument(fmt::format(
        "dist.stages = {} but the model has {} top-level layers: each stage needs at least one; lower dist.stages "
        "(or deepen the model)",
        stages, n));
  }
  std::vector<std::int64_t> prefix(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + layer_parameters[i];
  const auto weight = static_cast<std::int64_t>(n + 1);
  auto cost = [&](std::size_t j, std::size_t i) {
    return (prefix[i] - prefix[j]) * weight + static_cast<std::int64_t>(i - j);
  };
  constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();
  const auto K = static_cast<std::size_t>(stages);
  // best[k][i]: the smallest largest cost of cutting layers [0, i) into k stages; cut[k][i]: where the last begins.
  std::vector<std::vector<std::int64_t>> best(K + 1, std::vector<std::int64_t>(n + 1, kNone));
  std::vector<std::vector<std::size_t>> cut(K + 1, std::vector<std::size_t>(n + 1, 0));
  best[0][0] = 0;
  for (std::size_t k = 1; k <= K; ++k) {
    for (std::size_t i = k; i <= n; ++i) {
      for (std::size_t j = k - 1; j < i; ++j) {
        if (best[k - 1][j] == kNone) continue;
        const std::int64_t candidate = std::max(best[k - 1][j], cost(j, i));
        if (candidate < best[k][i]) {
          best[k][i] = candidate;
          cut[k][i] = j;
        }
      }
    }
  }
  std::vector<LayerRange> ranges(K);
  std::size_t end = n;
  for (std::size_t k = K; k >= 1; --k) {
    ranges[k - 1] = {cut[k][end], end};
    end = cut[k][end];
  }
  return ranges;
}

}  // namespace courier
