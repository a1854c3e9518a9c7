// Pipeline parallelism (GPipe, and 1F1B as Megatron-LM): the model's top-level layers are
// cut into K contiguous stages (pipeline_schedule.h), and each stage node runs only its
// layers on M micro-batches a step, activations forward and gradients backward as messages.
// R replicas of the pipeline train data parallel.
//
// Grid: world = K stages x R replicas (dist.stages x train.workers), rank = replica * K +
// stage: a replica's pipeline is K consecutive ranks, and rank 0 (stage 0 of replica 0) is
// the node that reports, evaluates and saves.
//
// Every node builds the whole model from the same seed and updates only what it holds:
//   its stage's parameter range (its optimizer's), and a copy of every parameter one of its
//   layers reads from a layer on another stage (a GPT's head reads the embedding's token
//   table: Megatron's embedding group). After backward the owner and the reader exchange
//   their partial gradients, so both hold the sum and apply the same update.
// A step: forward_backward (the schedule; the first stage reads the inputs, the last the
// labels and the loss, each micro-batch's gradient weighted by its share of the global
// batch), then finish_step: the stage's R replicas allreduce its gradients (their own
// subgroup), tied copies are summed, the global gradient norm is summed over the stages (a
// tied parameter once), and each range is updated with it (so clipping matches one node).
// Evaluation and checkpoints: gather_model sends every stage's range to rank 0.
//
// Messages (world communicator, SendInfo dtype f32 and the step): micro-batch m's activation
// tagged 1000 + 2m, its gradient 1000 + 2m + 1, checked for size on arrival (DATA_LOSS naming
// the stage, the micro-batch and both sizes). Every wait has options.timeout; a stage that
// fails aborts the communicator, so its peers fail at once rather than at their timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "courier/comm/communicator.h"
#include "courier/nn/sequential.h"
#include "courier/nn/softmax_cross_entropy.h"
#include "courier/train/data/dataset.h"
#include "courier/train/strategies/pipeline_schedule.h"
#include "courier/train/strategies/strategy.h"

namespace courier {

// Rank arithmetic of the K x R grid.
struct PipelineGrid {
  int stages = 1;
  int replicas = 1;

  int world_size() const { return stages * replicas; }
  int stage_of(int rank) const { return rank % stages; }
  int replica_of(int rank) const { return rank / stages; }
  int rank_of(int stage, int replica) const { return replica * stages + stage; }
  // World ranks of one stage's replicas (in replica order), and of one replica's stages.
  std::vector<int> stage_members(int stage) const;
  std::vector<int> replica_members(int replica) const;
  // Distinct non-zero communicator contexts for those groups.
  std::uint16_t stage_context(int stage) const { return static_cast<std::uint16_t>(2 + stage); }
  std::uint16_t replica_context(int replica) const { return static_cast<std::uint16_t>(2 + stages + replica); }
};

struct PipelineOptions {
  PipelineGrid grid;
  PipelineScheduleKind schedule = PipelineScheduleKind::k1f1b;
  int microbatches = 1;
  std::chrono::nanoseconds timeout = std::chrono::minutes(10);  // any single wait
};

class PipelineStrategy final : public Strategy {
 public:
  using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::int64_t offset, std::int64_t count)>;

  // Cuts `model` (set up, the same on every node) for this node's stage of `world`. `stage_group`
  // spans this stage's replicas (grid.stage_members). `make_optimizer` builds the optimizer
  // of a tied copy's range. INVALID_ARGUMENT when the model has fewer layers than stages.
  static Result<std::unique_ptr<PipelineStrategy>> create(Communicator& world, Communicator& stage_group,
                                                           Sequential& model, const PipelineOptions& options,
                                                           OptimizerFactory make_optimizer);
  ~PipelineStrategy() override;

  std::string describe() const override;
  // The flat range this stage owns; the worker's optimizer covers exactly it.
  GradsReady owned_range() const { return stage_range(stage_); }

  // Every node starts from the same seed or checkpoint: nothing to exchange.
  Status start(Parameters& params, Optimizer& optimizer) override;
  // Runs this stage's schedule over the replica's examples `indices` of the step begun last
  // (split into min(microbatches, indices.size()) micro-batches), adding to the stage's
  // gradients those of the global batch's mean loss (StepInfo::global_examples).
  Status forward_backward(const Dataset& data, std::span<const std::int64_t> indices);
  // Replicas' sum, tied sums, global norm, update. Then replica_loss() is the replica's mean loss.
  Status finish_step(Parameters& params, Optimizer& optimizer) override;
  double replica_loss() const { return replica_loss_; }
  Status gather_model(Parameters& params) override;
  // Gathers the model and, on rank 0, the stage reports.
  Status finish(Parameters& params, Optimizer& optimizer) override;
  // Rank 0, after finish(): replica 0's stages, in stage order.
  const std::vector<PipelineStageReport>& stage_reports() const { return reports_; }

 private:
  struct Microbatch;
  struct Tie {
    std::int64_t offset, count;
    int peer_stage;
    std::unique_ptr<Optimizer> optimizer;  // the reader's copy only
  };

  PipelineStrategy(Communicator& world, Communicator& stage_group, Sequential& model, const PipelineOptions& options,
                   std::vector<LayerRange> ranges);
  Status run(const PipelineInstruction& ins);
  Status forward(Microbatch& mb);
  Status backward(Microbatch& mb);
  GradsReady stage_range(int stage) const;  // the flat parameters of a stage's layers
  Status receive_into(int peer_stage, std::uint64_t tag, Tensor& into, const char* what, int microbatch);
  void send_tensor(int peer_stage, std::uint64_t tag, const Tensor& tensor);
  Microbatch& acquire(int microbatch);
  void release(Microbatch& mb);
  Status sum_tied(Parameters& params);
  Result<double> global_norm_and_loss(Parameters& params);
  PipelineStageReport own_report() const;

  Communicator& stage_group_;
  Sequential& model_;
  PipelineOptions options_;
  std::vector<LayerRange> ranges_;
  int stage_, replica_;
  Communicator replica_group_;  // this replica's K stages
  std::vector<Tie> ties_;
  SoftmaxCrossEntropy loss_fn_;

  // The step being run.
  const Dataset* data_ = nullptr;
  std::vector<std::int64_t> offsets_;  // micro-batch m's examples: indices_[offsets_[m], offsets_[m + 1])
  std::vector<std::int64_t> indices_;
  double loss_sum_ = 0.0;  // last stage: sum of micro-batch losses, each times its share of the replica's examples
  double replica_loss_ = 0.0;

  std::vector<std::unique_ptr<Microbatch>> pool_;  // states in flight, and free ones for reuse
  std::vector<Microbatch*> by_index_;              // micro-batch m's state this step
  std::vector<std::pair<SendHandle, int>> sends_;  // this step's, with their peers; completed in finish_step
  Tensor scratch_inputs_;                          // last stage: fill() writes inputs besides the labels

  std::int64_t peak_bytes_ = 0;
  double schedule_seconds_ = 0.0;  // in forward_backward
  double recv_seconds_ = 0.0;      // of which waiting for activations and gradients
  std::vector<PipelineStageReport> reports_;
};

}  // namespace courier
