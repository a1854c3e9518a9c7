// Pipeline schedules: for K stages and M micro-batches, the list of instructions each stage
// runs in one step (receive, forward, send, backward), and the cut of a model's layers into
// K contiguous stages.
//
// GPipe: every stage runs all M forwards, then all M backwards; stage s holds up to M
//   micro-batches' activations at once.
// 1F1B (PipeDream-Flush, as Megatron-LM): stage s runs w = min(K-1-s, M) warm-up forwards,
//   then alternates one forward and one backward, then drains the remaining backwards, so
//   it holds at most K - s micro-batches' activations.
// Both leave the same bubble, (K-1)/(M+K-1) of the step, idle.
//
// The lists are safe under the strictest message semantics: a send that blocks until its
// receiver takes it (rendezvous). In 1F1B's steady phase a stage receives the gradient it is
// about to use before it sends the activation just computed, so two neighbours never both
// send to each other at once.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "courier/core/status.h"

namespace courier {

enum class PipelineScheduleKind { kGpipe, k1f1b };
std::string_view pipeline_schedule_name(PipelineScheduleKind kind);  // "gpipe", "1f1b"
std::optional<PipelineScheduleKind> parse_pipeline_schedule(std::string_view name);

enum class PipelineOp {
  kRecvActivation,  // from stage s - 1; not on the first stage
  kForward,         // the last stage also computes the loss and its gradient
  kSendActivation,  // to stage s + 1; not on the last stage
  kRecvGrad,        // from stage s + 1; not on the last stage
  kBackward,
  kSendGrad,        // to stage s - 1; not on the first stage
};
std::string_view pipeline_op_name(PipelineOp op);

struct PipelineInstruction {
  PipelineOp op;
  int microbatch;

  friend bool operator==(const PipelineInstruction&, const PipelineInstruction&) = default;
};

// Stage `stage`'s instructions for one step. REQUIRES: 0 <= stage < stages, microbatches >= 0.
std::vector<PipelineInstruction> pipeline_stage_schedule(PipelineScheduleKind kind, int stages, int stage,
                                                         int microbatches);

// The fraction of a step each stage idles in an ideal pipeline of equal stages: (K-1)/(M+K-1).
double pipeline_bubble_fraction(int stages, int microbatches);

// Layers [first, last) of the model.
struct LayerRange {
  std::size_t first = 0;
  std::size_t last = 0;

  friend bool operator==(const LayerRange&, const LayerRange&) = default;
};

// Cuts layers with `layer_parameters[i]` parameters into `stages` contiguous ranges of at
// least one layer each, minimising the largest stage's parameter count (ties: earlier cuts).
// INVALID_ARGUMENT naming both numbers when there are fewer layers than stages.
Result<std::vector<LayerRange>> partition_layers(std::span<const std::int64_t> layer_parameters, int stages);

// What one stage did over the run (rank 0 collects replica 0's).
struct PipelineStageReport {
  int stage = 0;
  LayerRange layers;
  std::int64_t parameters = 0;             // the stage's own (tied copies not counted)
  std::int64_t peak_activation_bytes = 0;  // the most its micro-batch states held at once
  double bubble_fraction = 0.0;            // time waiting for activations and gradients / schedule time
  double ideal_bubble_fraction = 0.0;      // (K-1)/(M+K-1)
};

}  // namespace courier
