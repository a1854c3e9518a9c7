// dist.delivery under dist.faults: reliable delivery trains through dropped and damaged
// messages to exactly the clean run's losses, its counters adding up; checked delivery fails
// the run naming the damage, without hanging.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "courier/train/data/idx.h"
#include "courier/train/delivery.h"
#include "courier/train/trainer.h"
#include "testutil/fashion_mnist.h"
#include "testutil/read_text.h"

namespace courier {
namespace {

using ::testing::HasSubstr;

constexpr const char* kFaults = "drop:0.01 corrupt:0.001 seed:5";

using testing::have_fashion_mnist;

Config allreduce_config(const std::string& run, std::int64_t iters) {
  Config config;
  config.model.kind = "mlp";
  config.train.workers = 4;
  config.train.iters = iters;
  config.train.batch = 32;
  config.train.lr = 1e-3;
  config.train.log_every = 1000;
  config.train.eval_every = 100000;
  config.train.out = (std::filesystem::path(::testing::TempDir()) / ("courier_delivery_" + run)).string();
  std::filesystem::remove_all(config.train.out);
  return config;
}

TEST(Delivery, ReliableTrainingThroughDropsAndCorruptionEndsAtTheCleanLosses) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  constexpr std::int64_t kSteps = 200;
  Result<TrainResult> clean = train(allreduce_config("clean", kSteps));
  ASSERT_TRUE(clean.is_ok()) << clean.status().to_string();
  EXPECT_FALSE(clean->network.has_value());

  Config config = allreduce_config("reliable", kSteps);
  config.dist.faults = kFaults;
  config.dist.delivery = "reliable";
  Result<TrainResult> faulty = train(config);
  ASSERT_TRUE(faulty.is_ok()) << faulty.status().to_string();
  ASSERT_EQ(faulty->losses.size(), clean->losses.size());
  for (std::size_t i = 0; i < clean->losses.size(); ++i) EXPECT_EQ(faulty->losses[i], clean->losses[i]) << "step " << i;
  EXPECT_EQ(faulty->parameters, clean->parameters);

  ASSERT_TRUE(faulty->network.has_value());
  const NetworkReport& n = *faulty->network;
  std::printf("losses: clean %.9g -> %.9g, reliable under faults %.9g -> %.9g\n%s\n", clean->losses.front(),
              clean->losses.back(), faulty->losses.front(), faulty->losses.back(),
              describe_network(n, "reliable").c_str());
  EXPECT_TRUE(n.settled()) << "every frame reached a receiver";
  EXPECT_GT(n.injected.drops, 0u);
  EXPECT_GT(n.injected.corruptions, 0u);
  EXPECT_EQ(n.reliable.rejected, n.injected.corruptions) << "every damaged frame caught";
  EXPECT_GE(n.reliable.resent, n.injected.drops) << "every dropped message sent again";
  EXPECT_EQ(n.reliable.delivered, n.reliable.sent) << "every message delivered once";
  EXPECT_EQ(n.injected.sends, n.reliable.sent + n.reliable.resent + n.reliable.acks_sent);
  EXPECT_EQ(n.reliable.gave_up, 0u);

  std::istringstream metrics(testing::read_text(std::filesystem::path(config.train.out) / "metrics.jsonl"));
  nlohmann::json record;
  for (std::string line; std::getline(metrics, line);) {
    nlohmann::json r = nlohmann::json::parse(line);
    if (r["kind"] == "network") record = r;
  }
  ASSERT_FALSE(record.is_null()) << "no network record in metrics.jsonl";
  EXPECT_EQ(record["delivery"], "reliable");
  EXPECT_EQ(record["injected"]["corruptions"], n.injected.corruptions);
  EXPECT_EQ(record["reliable"]["rejected"], n.reliable.rejected);
  EXPECT_EQ(record["reliable"]["resent"], n.reliable.resent);
}

TEST(Delivery, CheckedTrainingFailsOnTheSameFaultsNamingTheDamage) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  Config config = allreduce_config("checked", 40);
  config.dist.faults = kFaults;
  const auto started = std::chrono::steady_clock::now();
  Result<TrainResult> run = train(config);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("checked delivery failed after %.2f s: %s\n", seconds, run.status().to_string().c_str());
  ASSERT_FALSE(run.is_ok());
  EXPECT_EQ(run.status().code(), StatusCode::kDataLoss) << run.status().to_string();
  EXPECT_THAT(run.status().message(), ::testing::ContainsRegex("lost on tag|checksum mismatch"));
  EXPECT_LT(seconds, 30.0) << "a lost message is found by the next one on its channel, not by a timeout";
}

TEST(Delivery, ReliableDeliveryIsForInProcessRuns) {
  Config config = allreduce_config("reliable_mpi", 5);
  config.dist.delivery = "reliable";
  config.dist.transport = "mpi";
  Result<TrainResult> run = train(config);
  ASSERT_EQ(run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(run.status().message(), HasSubstr("dist.delivery = reliable runs in process"));
}

}  // namespace
}  // namespace courier
