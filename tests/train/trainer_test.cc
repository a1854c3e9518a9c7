// The trainer on Fashion-MNIST: allreduce with N workers equals one worker with the whole
// batch, a resumed run equals an uninterrupted one bit for bit, and bad input is refused.
// (Accuracy after whole epochs lives in trainer_accuracy_test.cc, labelled slow.)
#include <filesystem>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/train/checkpoint/checkpoint.h"
#include "courier/train/data/idx.h"
#include "courier/train/trainer.h"
#include "testutil/fashion_mnist.h"
#include "testutil/read_text.h"

namespace courier {
namespace {

using ::testing::HasSubstr;

using testing::have_fashion_mnist;

std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / ("courier_trainer_" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

Config mlp_config(const std::string& run, int workers, std::int64_t iters) {
  Config config;
  config.model.kind = "mlp";
  config.train.workers = workers;
  config.train.iters = iters;
  config.train.batch = 128;
  config.train.lr = 1e-3;
  config.train.log_every = 1000;
  config.train.eval_every = 100000;  // no evaluation during these short runs
  config.train.out = fresh_dir(run).string();
  return config;
}

TEST(Trainer, AllreduceOfNWorkersEqualsOneWorkerWithTheWholeBatch) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Result<TrainResult> single = train(mlp_config("single", 1, 50));
  ASSERT_TRUE(single.is_ok()) << single.status().to_string();
  ASSERT_EQ(single->losses.size(), 50u);
  for (int workers : {2, 4}) {
    Result<TrainResult> parallel = train(mlp_config("parallel" + std::to_string(workers), workers, 50));
    ASSERT_TRUE(parallel.is_ok()) << parallel.status().to_string();
    ASSERT_EQ(parallel->losses.size(), 50u);
    for (std::size_t i = 0; i < 50; ++i) {
      EXPECT_NEAR(parallel->losses[i], single->losses[i], 1e-5 * single->losses[i])
          << workers << " workers, step " << i;
    }
  }
}

// The numerics do not depend on the transport: the same losses over the simulated network.
TEST(Trainer, OverTheSimTransportTheLossesAreThoseOfInproc) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Result<TrainResult> inproc = train(mlp_config("inproc_vs_sim", 2, 20));
  ASSERT_TRUE(inproc.is_ok()) << inproc.status().to_string();
  Config config = mlp_config("sim_vs_inproc", 2, 20);
  config.dist.transport = "sim";
  config.dist.sim_compute_scale = 0;
  Result<TrainResult> sim = train(config);
  ASSERT_TRUE(sim.is_ok()) << sim.status().to_string();
  ASSERT_EQ(sim->losses.size(), 20u);
  for (std::size_t i = 0; i < sim->losses.size(); ++i) EXPECT_EQ(sim->losses[i], inproc->losses[i]) << "step " << i;
  EXPECT_EQ(sim->parameters, inproc->parameters);
  EXPECT_FALSE(inproc->simulation.has_value());
  ASSERT_TRUE(sim->simulation.has_value());
  EXPECT_GT(sim->simulation->end, 0);
  EXPECT_EQ(sim->simulation->nodes.size(), 2u);
  ASSERT_TRUE(sim->simulated_steps.has_value());
  EXPECT_GT(sim->simulated_steps->end, 0);
  EXPECT_LT(sim->simulated_steps->end, sim->simulation->end);  // the start's broadcast is left out
  EXPECT_THAT(describe_simulation(*sim->simulated_steps, sim->steps), HasSubstr("simulated: 20 steps in "));
}

// A worker crashed by the fault plan: the run fails, naming it and its virtual time, and ends.
TEST(Trainer, OverSimACrashedWorkerIsNamed) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Config config = mlp_config("sim_crash", 3, 20);
  config.dist.transport = "sim";
  config.dist.sim_compute_scale = 0;
  config.dist.sim_faults = "crash:1@1ms";
  Result<TrainResult> run = train(config);
  ASSERT_FALSE(run.is_ok());
  EXPECT_EQ(run.status().code(), StatusCode::kUnavailable) << run.status().to_string();
  EXPECT_THAT(run.status().message(), HasSubstr("rank 1 crashed at 1.000 ms")) << run.status().to_string();
}

TEST(Trainer, ABadSimLinkOrClusterNamesTheSyntax) {
  Config config = mlp_config("bad_sim", 2, 5);
  config.dist.transport = "sim";
  config.dist.sim_link = "fast";
  Result<TrainResult> run = train(config);
  ASSERT_EQ(run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(run.status().message(), HasSubstr("dist.sim_link = \"fast\""));
  EXPECT_THAT(run.status().message(), HasSubstr("25Gbps,5us"));
  config.dist.sim_link = "25Gbps,5us";
  config.dist.sim_cluster = "torus";
  run = train(config);
  ASSERT_EQ(run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(run.status().message(), HasSubstr("dist.sim_cluster"));
  config.dist.sim_cluster = "switch";
  config.dist.sim_faults = "crash:1@10ms explode:2";
  run = train(config);
  ASSERT_EQ(run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(run.status().message(), HasSubstr("dist.sim_faults"));
  config.dist.sim_faults = "crash:7@10ms";  // a world of 2
  run = train(config);
  ASSERT_EQ(run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(run.status().message(), HasSubstr("7"));
}

TEST(Trainer, StopsAfterMaxBadStepsOfNonFiniteGradients) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Config config = mlp_config("diverge", 2, 50);
  config.train.optimizer = "sgd";
  config.train.lr = 1e30;  // the first update blows the weights up; the next gradients are NaN or Inf
  config.train.max_bad_steps = 3;
  std::vector<std::string> notes;
  TrainEvents events;
  events.on_note = [&](const std::string& note) { notes.push_back(note); };
  Result<TrainResult> result = train(config, {}, events);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("NaN or Inf in 3 steps in a row"));
  EXPECT_THAT(result.status().message(), HasSubstr("Lower train.lr"));
  int skipped = 0;
  for (const std::string& note : notes) skipped += note.find("update skipped") != std::string::npos;
  EXPECT_EQ(skipped, 3);
}

TEST(Trainer, ResumedRunEqualsUninterruptedRunBitForBit) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Config whole = mlp_config("whole", 2, 40);
  Result<TrainResult> uninterrupted = train(whole);
  ASSERT_TRUE(uninterrupted.is_ok()) << uninterrupted.status().to_string();

  Config first_half = mlp_config("halves", 2, 20);  // stops after a checkpoint at step 20
  ASSERT_TRUE(train(first_half).is_ok());
  const std::filesystem::path step_20 = list_checkpoints(std::filesystem::path(first_half.train.out) / "checkpoints").back();
  Config second_half = first_half;
  second_half.train.iters = 40;
  TrainOptions options;
  options.resume = std::filesystem::path(first_half.train.out) / "checkpoints";
  Result<TrainResult> resumed = train(second_half, options);
  ASSERT_TRUE(resumed.is_ok()) << resumed.status().to_string();
  EXPECT_EQ(resumed->steps, 20);
  EXPECT_EQ(resumed->parameters, uninterrupted->parameters) << "resume must be bit-exact";

  // Another world size continues from the same checkpoint.
  Config wider = second_half;
  wider.train.workers = 4;
  wider.train.out = fresh_dir("wider").string();
  options.resume = step_20;  // the root's latest is step 40 by now
  Result<TrainResult> widened = train(wider, options);
  ASSERT_TRUE(widened.is_ok()) << widened.status().to_string();
  EXPECT_EQ(widened->steps, 20);
  ASSERT_TRUE(widened->last_eval.has_value());
  EXPECT_GT(widened->last_eval->accuracy, 0.5);
}

TEST(Trainer, TheLastCheckpointHoldsTheModelTheRunEvaluated) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  // Local SGD averages once more in finish(): 12 steps with H = 8 end 4 steps after an average,
  // so a checkpoint taken before finish() would hold worker 0's own model, not the average.
  Config config = mlp_config("last_checkpoint", 2, 12);
  config.dist.strategy = "local-sgd";
  config.dist.local_steps = 8;
  Result<TrainResult> run = train(config);
  ASSERT_TRUE(run.is_ok()) << run.status().to_string();
  ASSERT_TRUE(run->last_eval.has_value());
  Result<EvalReport> saved = evaluate_checkpoint(std::filesystem::path(config.train.out) / "checkpoints");
  ASSERT_TRUE(saved.is_ok()) << saved.status().to_string();
  EXPECT_EQ(saved->step, 12);
  EXPECT_EQ(saved->loss, run->last_eval->loss);
  EXPECT_EQ(saved->accuracy, run->last_eval->accuracy);
}

// dist.codec reaches every strategy: the bytes a step shrink by the codec's ratio, and
// metrics.jsonl says so.
TEST(Trainer, ACodecCutsTheBytesEveryStrategySends) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  struct Case {
    const char* strategy;
    const char* codec;
    double low, high;  // the ratio of uncompressed to sent bytes
  };
  // fp16 halves a float; int8 is a quarter plus a scale a chunk; top-k 10% as 5.5 bytes an
  // element; ps pulls the whole slice once, then changes; gossip sends its whole change.
  for (const Case& c : {Case{"allreduce", "identity", 1.0, 1.0}, Case{"allreduce", "fp16", 1.99, 2.0},
                        Case{"allreduce", "int8", 3.8, 3.95}, Case{"ps", "int8+ef", 3.0, 3.95},
                        Case{"gossip", "topk:0.1", 5.0, 8.0}, Case{"local-sgd", "powersgd:2", 5.0, 200.0}}) {
    Config config = mlp_config(std::string(c.strategy) + "_codec", 2, 20);
    config.dist.strategy = c.strategy;
    config.dist.codec = c.codec;
    config.dist.local_steps = 4;
    config.train.log_every = 10;
    Result<TrainResult> run = train(config);
    ASSERT_TRUE(run.is_ok()) << c.codec << ": " << run.status().to_string();
    EXPECT_LT(run->losses.back(), run->losses.front()) << c.strategy << " " << c.codec;
    ASSERT_GT(run->bytes_per_step, 0) << c.strategy;
    const double ratio = run->raw_bytes_per_step / run->bytes_per_step;
    EXPECT_GE(ratio, c.low) << c.strategy << " " << c.codec;
    EXPECT_LE(ratio, c.high) << c.strategy << " " << c.codec;
    const std::string text = courier::testing::read_text(std::filesystem::path(config.train.out) / "metrics.jsonl");
    EXPECT_THAT(text, HasSubstr("\"compression_ratio\":"));
    EXPECT_THAT(text, HasSubstr("\"bytes_uncompressed\":"));
  }
}

// dist.exchange reaches the allreduce strategy: with 2 workers each mode says what it averages,
// and averaging Adam's changes (with the mean gradient's second moment estimated per worker)
// or preconditioned gradients trains, on losses of its own.
TEST(Trainer, DistExchangeChoosesWhatTheAllreduceAverages) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  std::map<std::string, std::vector<double>> losses;
  for (const char* exchange : {"gradients", "updates", "preconditioned"}) {
    Config config = mlp_config(std::string("exchange_") + exchange, 2, 20);
    config.train.optimizer = "adamw";
    config.dist.exchange = exchange;
    std::vector<std::string> notes;
    TrainEvents events;
    events.on_note = [&](const std::string& note) { notes.push_back(note); };
    Result<TrainResult> run = train(config, {}, events);
    ASSERT_TRUE(run.is_ok()) << exchange << ": " << run.status().to_string();
    EXPECT_LT(run->losses.back(), run->losses.front()) << exchange;
    losses[exchange] = run->losses;
    const std::string what = std::string(exchange) == "updates"          ? "allreduce of Adam updates"
                             : std::string(exchange) == "preconditioned" ? "allreduce of preconditioned gradients"
                                                                         : "allreduce over 2 workers";
    EXPECT_THAT(::testing::PrintToString(notes), HasSubstr(what)) << exchange;
  }
  EXPECT_NE(losses["updates"].back(), losses["gradients"].back());
  EXPECT_NE(losses["preconditioned"].back(), losses["updates"].back());
}

TEST(Trainer, MissingDataNamesThePathAndTheFix) {
  Config config = mlp_config("missing", 1, 5);
  config.data.path = "/nonexistent/fashion";
  Result<TrainResult> r = train(config);
  ASSERT_FALSE(r.is_ok());
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/fashion"));
  EXPECT_THAT(r.status().message(), HasSubstr("make data"));
}

TEST(Trainer, TruncatedCheckpointIsRefusedAndTheOlderOneStaysUsable) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Config config = mlp_config("truncated", 1, 20);
  config.checkpoint.every = 10;
  ASSERT_TRUE(train(config).is_ok());
  const std::filesystem::path root = std::filesystem::path(config.train.out) / "checkpoints";
  std::vector<std::filesystem::path> checkpoints = list_checkpoints(root);
  ASSERT_EQ(checkpoints.size(), 2u);
  const std::filesystem::path newest = checkpoints.back() / "model.safetensors";
  std::filesystem::resize_file(newest, std::filesystem::file_size(newest) / 2);
  TrainOptions options;
  options.resume = root;
  Config more = config;
  more.train.iters = 30;
  Result<TrainResult> r = train(more, options);
  ASSERT_FALSE(r.is_ok());
  EXPECT_THAT(r.status().message(), HasSubstr("model.safetensors"));
  options.resume = checkpoints.front();
  Result<TrainResult> older = train(more, options);
  ASSERT_TRUE(older.is_ok()) << older.status().to_string();
  EXPECT_EQ(older->steps, 20);
}

}  // namespace
}  // namespace courier
