// Whole-epoch training on Fashion-MNIST (labelled slow): the MLP reaches PyTorch's accuracy
// with 4 in-process workers, every strategy ends within 1.5 points of allreduce, and the CNN
// reaches PyTorch's one-epoch accuracy; a worker killed halfway costs less than a point.
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "courier/train/data/idx.h"
#include "courier/train/trainer.h"
#include "testutil/fashion_mnist.h"

namespace courier {
namespace {

using testing::have_fashion_mnist;

Config base_config(const std::string& run) {
  Config config;  // defaults: MLP 784-256-128-10, Adam 1e-3, global batch 128
  config.train.out = (std::filesystem::path(::testing::TempDir()) / ("courier_accuracy_" + run)).string();
  std::filesystem::remove_all(config.train.out);
  config.train.log_every = 100000;
  config.train.eval_every = 100000;
  return config;
}

double final_accuracy(const Config& config) {
  Result<TrainResult> result = train(config);
  EXPECT_TRUE(result.is_ok()) << result.status().to_string();
  if (!result.is_ok() || !result->last_eval) return 0.0;
  return result->last_eval->accuracy;
}

TEST(Accuracy, MlpWithFourWorkersMatchesPyTorchAfterTenEpochs) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Config config = base_config("mlp10");
  config.train.workers = 4;
  config.train.epochs = 10;
  const double accuracy = final_accuracy(config);
  RecordProperty("accuracy", std::to_string(accuracy));
  EXPECT_GE(accuracy, 0.88) << "PyTorch reaches 0.884-0.888 with these settings";
}

TEST(Accuracy, EveryStrategyEndsWithinOnePointFiveOfAllreduce) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  constexpr int kEpochs = 3;
  Config reference = base_config("allreduce");
  reference.train.workers = 4;
  reference.train.epochs = kEpochs;
  const double baseline = final_accuracy(reference);
  RecordProperty("allreduce", std::to_string(baseline));
  struct Variant {
    const char* name;
    std::function<void(Config&)> set;
  };
  const std::vector<Variant> variants = {
      {"ps-bsp", [](Config& c) { c.dist.strategy = "ps"; c.dist.sync = "bsp"; c.dist.servers = 2; }},
      {"ps-asp", [](Config& c) { c.dist.strategy = "ps"; c.dist.sync = "asp"; c.dist.servers = 2; }},
      {"ps-ssp", [](Config& c) { c.dist.strategy = "ps"; c.dist.sync = "ssp"; c.dist.staleness = 3; c.dist.servers = 2; }},
      {"local-sgd", [](Config& c) { c.dist.strategy = "local-sgd"; c.dist.local_steps = 8; }},
      {"gossip", [](Config& c) { c.dist.strategy = "gossip"; c.dist.graph = "ring"; }},
  };
  for (const Variant& v : variants) {
    Config config = base_config(v.name);
    config.train.workers = 4;
    config.train.epochs = kEpochs;
    v.set(config);
    const double accuracy = final_accuracy(config);
    RecordProperty(v.name, std::to_string(accuracy));
    EXPECT_NEAR(accuracy, baseline, 0.015) << v.name << " vs allreduce " << baseline;
  }
}

// Issue 7: one of 4 in-process workers killed halfway; the survivors agree, roll back to their
// last commit and finish with the global batch over 3 workers.
TEST(Accuracy, AKilledWorkerCostsLessThanOnePointUnderAllreduceAndGossip) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  for (const char* strategy : {"allreduce", "gossip"}) {
    Config clean = base_config(std::string("elastic_clean_") + strategy);
    clean.train.workers = 4;
    clean.train.epochs = 2;  // 938 steps of 128
    clean.dist.strategy = strategy;
    clean.dist.recovery = "elastic";
    clean.dist.commit_every = 50;
    Config faulty = clean;
    faulty.train.out = base_config(std::string("elastic_kill_") + strategy).train.out;
    faulty.dist.faults = "kill:2@437";
    const double without = final_accuracy(clean);
    const double with = final_accuracy(faulty);
    RecordProperty(std::string(strategy) + "_clean", std::to_string(without));
    RecordProperty(std::string(strategy) + "_killed", std::to_string(with));
    std::printf("%s: accuracy %.4f without the fault, %.4f with worker 2 killed in step 437\n", strategy, without,
                with);
    EXPECT_NEAR(with, without, 0.01) << strategy;
  }
}

TEST(Accuracy, CnnReachesPyTorchsOneEpochAccuracy) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Config config = base_config("cnn");
  config.model.kind = "cnn";
  config.train.seed = 1;  // configs/fashion-cnn.toml's; one epoch varies by about +-0.007 across seeds
  config.train.workers = 2;
  config.train.epochs = 1;
  const double accuracy = final_accuracy(config);
  RecordProperty("accuracy", std::to_string(accuracy));
  EXPECT_GE(accuracy, 0.849) << "PyTorch's CNN reaches 0.849 after one epoch here";
}

}  // namespace
}  // namespace courier
