// The trainer: runs the nodes a config describes (data-parallel workers, parameter servers
// for the ps strategy, the stages x replicas grid of a pipeline) on inproc threads or as MPI
// ranks (or on threads in the virtual time of the sim transport), each worker (pipeline: replica) reading its own shard of every global batch:
//   forward, loss, zero grads, backward (telling the strategy as each layer's gradients are
//   ready), strategy.finish_step (exchange and update), then metrics, evaluation, checkpoints.
// A pipeline stage runs its part of forward and backward through the strategy instead
// (strategies/pipeline.h).
// Deterministic for a given seed and world size.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "courier/comm/launch.h"
#include "courier/comm/trace.h"
#include "courier/comm/transport/sim/sim_transport.h"
#include "courier/core/status.h"
#include "courier/train/config.h"
#include "courier/train/evaluation.h"
#include "courier/train/strategies/pipeline_schedule.h"

namespace courier {

struct StepReport {
  std::int64_t step = 0;         // the step just finished, from 0
  std::int64_t total_steps = 0;
  std::int64_t epoch = 0;        // from 0
  double loss = 0.0;             // the global batch's for synchronous strategies, worker 0's own otherwise
  float lr = 0.0f;
  double samples_per_s = 0.0;    // over all workers, since the last report
  double tokens_per_s = 0.0;     // text: samples_per_s times the tokens a sample predicts; else 0
  double elapsed_s = 0.0;        // training time so far (evaluation and checkpoints excluded)
  // Worker 0's bytes sent a step, over the steps since the last report, and what they would
  // have been without dist.codec (equal without one).
  double bytes_per_step = 0.0;
  double raw_bytes_per_step = 0.0;
};

// Called on worker 0's thread (on mpi: in the process of rank 0 only).
struct TrainEvents {
  std::function<void(const StepReport&)> on_step;
  std::function<void(const EvalReport&)> on_eval;
  std::function<void(const std::string&)> on_note;  // one-off lines: what runs, checkpoints written, resumes
};

struct TrainOptions {
  std::filesystem::path resume;  // a checkpoint root or step directory; empty: start fresh
  Trace* trace = nullptr;        // records every message when set
};

struct TrainResult {
  std::int64_t steps = 0;                // steps run by this invocation
  std::vector<double> losses;            // every step's reported loss
  std::optional<EvalReport> last_eval;
  std::vector<float> parameters;         // worker 0's final flat parameters
  double samples_per_s = 0.0;            // training samples a second over the run (all workers)
  double tokens_per_s = 0.0;             // text: tokens a second over the run; else 0
  double median_step_s = 0.0;            // median time of a training step after the first 10 (warm-up)
  std::vector<double> step_seconds;      // worker 0's time of every training step, in order
  double median_tokens_per_s = 0.0;      // text: a full global batch's tokens over median_step_s; else 0
  // Worker 0's bytes sent a training step (the start's broadcast and the last average left
  // out), and what they would have been without dist.codec.
  double bytes_per_step = 0.0;
  double raw_bytes_per_step = 0.0;
  bool is_reporting_rank = false;        // false on the other MPI ranks, whose result is empty
  std::vector<PipelineStageReport> pipeline_stages;  // dist.strategy = pipeline: replica 0's stages
  std::optional<SimReport> simulation;   // dist.transport = sim: the whole run in virtual time
  // The same over the training steps alone (from worker 0's first step to its last; not the
  // start's broadcast nor the final evaluation). Its nodes' `end` is 0.
  std::optional<SimReport> simulated_steps;
  // dist.recovery = elastic: membership changes (failures survived and joins), the steps
  // redone after rolling back to a commit, and the workers at the end.
  int recoveries = 0;
  int joins = 0;
  std::int64_t steps_redone = 0;
  int final_workers = 0;
  // Every worker's time computing (forward and backward) and waiting for messages over the
  // run, by node, and the nodes whose compute a step exceeds 1.5x the median (stragglers).
  struct NodeTime {
    int node = 0;
    double compute_s = 0.0;
    double wait_s = 0.0;
    std::int64_t steps = 0;
    double elapsed_s = 0.0;    // its training steps' wall time
    std::int64_t samples = 0;  // the examples it trained on
  };
  std::vector<NodeTime> node_times;
  std::vector<int> stragglers;
  // dist.faults or dist.delivery = reliable (in process): the faults injected and what reliable
  // delivery found and repaired, over every node.
  std::optional<NetworkReport> network;
};

// "simulated: 20 steps in 0.410 s of virtual time, step 20.300 ms (compute 71%, communication
// 25%, waiting 4%)" for a report of the steps (TrainResult::simulated_steps): the shares are
// over every node's virtual time.
std::string describe_simulation(const SimReport& report, std::int64_t steps);

// Trains as `config` says. Fails with a Status naming what is wrong (a missing data file, a
// dead node, a corrupt checkpoint); never exits.
Result<TrainResult> train(const Config& config, const TrainOptions& options = {}, const TrainEvents& events = {});

// Test metrics (for text: validation metrics, over train.final_eval_examples windows) of a
// checkpoint on the test data of the config it was trained with, after
// `overrides` ("section.key=value", e.g. data.path) (`courier eval`).
Result<EvalReport> evaluate_checkpoint(const std::filesystem::path& checkpoint,
                                       std::span<const std::string> overrides = {});

}  // namespace courier
