// A pipeline stage on its own: an activation of the wrong size is DATA_LOSS naming the stage,
// the micro-batch and both sizes, and the stage cuts a model with too few layers no further.
#include <chrono>
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/nn/linear.h"
#include "courier/nn/relu.h"
#include "courier/train/optim/sgd.h"
#include "courier/train/strategies/pipeline.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;

// Linear(4 -> 5), Relu, Linear(5 -> 3): stage 1 of 2 receives (rows, 5) activations.
Sequential tiny_mlp() {
  Sequential model;
  model.add<Linear>(4, 5);
  model.add<Relu>();
  model.add<Linear>(5, 3);
  Rng rng(3);
  model.setup({4}, rng);
  return model;
}

// Examples of 4 zeros, every label 0.
class ZeroData final : public Dataset {
 public:
  std::int64_t size() const override { return 8; }
  Shape sample_shape() const override { return {4}; }
  std::int64_t classes() const override { return 3; }
  std::int64_t labels_per_example() const override { return 1; }
  void fill(std::span<const std::int64_t>, Tensor& inputs, std::span<std::int32_t> labels) const override {
    inputs.zero();
    for (std::int32_t& label : labels) label = 0;
  }
};

std::unique_ptr<Optimizer> sgd(std::int64_t, std::int64_t count) {
  return std::make_unique<Sgd>(count, SgdOptions{}, single_group(count, 0.0f));
}

TEST(PipelineStage, AnActivationOfTheWrongSizeIsDataLossNamingStageMicrobatchAndSizes) {
  spawn_communicators(2, [](Communicator& world) {
    if (world.rank() == 0) {  // stands in for stage 0: 3 floats where 2 rows of 5 belong
      std::vector<std::byte> bytes(3 * sizeof(float));
      world.send(1, /*activation of micro-batch 0=*/1000, std::move(bytes), SendInfo{.dtype = DType::kF32});
      return;
    }
    Sequential model = tiny_mlp();
    Communicator stage_group = world.subgroup({1}, 3);
    const PipelineOptions options{.grid = {2, 1}, .microbatches = 1, .timeout = std::chrono::seconds(20)};
    Result<std::unique_ptr<PipelineStrategy>> stage = PipelineStrategy::create(world, stage_group, model, options, sgd);
    ASSERT_TRUE(stage.is_ok()) << stage.status().to_string();
    (*stage)->begin_step(StepInfo{.step = 0, .lr = 0.1f, .local_examples = 2, .global_examples = 2});
    ZeroData data;
    const std::vector<std::int64_t> indices = {0, 1};
    const Status status = (*stage)->forward_backward(data, indices);
    EXPECT_EQ(status.code(), StatusCode::kDataLoss) << status.to_string();
    EXPECT_THAT(status.message(), HasSubstr("pipeline stage 1 (rank 1)"));
    EXPECT_THAT(status.message(), HasSubstr("micro-batch 0"));
    EXPECT_THAT(status.message(), HasSubstr("holds 12 bytes, expected 40"));
  });
}

TEST(PipelineStage, MoreStagesThanLayersIsInvalidArgument) {
  spawn_communicators(4, [](Communicator& world) {
    Sequential model = tiny_mlp();
    PipelineGrid grid{4, 1};
    Communicator stage_group = world.subgroup({world.rank()}, grid.stage_context(world.rank()));
    Result<std::unique_ptr<PipelineStrategy>> stage =
        PipelineStrategy::create(world, stage_group, model, {.grid = grid}, sgd);
    EXPECT_EQ(stage.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(stage.status().message(), HasSubstr("dist.stages = 4 but the model has 3 top-level layers"));
  });
}

TEST(PipelineGrid, ReplicasAreBlocksOfConsecutiveStages) {
  const PipelineGrid grid{3, 2};
  EXPECT_EQ(grid.world_size(), 6);
  EXPECT_EQ(grid.rank_of(2, 1), 5);
  EXPECT_EQ(grid.stage_of(4), 1);
  EXPECT_EQ(grid.replica_of(4), 1);
  EXPECT_EQ(grid.stage_members(1), (std::vector<int>{1, 4}));
  EXPECT_EQ(grid.replica_members(1), (std::vector<int>{3, 4, 5}));
  EXPECT_NE(grid.stage_context(2), grid.replica_context(0));
}

}  // namespace
}  // namespace courier::testing
