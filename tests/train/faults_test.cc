#include "courier/train/faults.h"

#include "courier/train/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace courier {
namespace {

using ::testing::HasSubstr;

TEST(TrainFaultsTest, ParsesEveryKind) {
  Result<TrainFaults> faults =
      parse_train_faults("drop:0.01, corrupt:0.001 duplicate:0.02;delay:0.03 reorder:0.04 seed:9 kill:2@40 "
                         "hang:1@7 join:4@60 slow:3:3");
  ASSERT_TRUE(faults.is_ok()) << faults.status().to_string();
  EXPECT_DOUBLE_EQ(faults->network.drop_rate, 0.01);
  EXPECT_DOUBLE_EQ(faults->network.corrupt_rate, 0.001);
  EXPECT_DOUBLE_EQ(faults->network.duplicate_rate, 0.02);
  EXPECT_DOUBLE_EQ(faults->network.delay_rate, 0.03);
  EXPECT_DOUBLE_EQ(faults->network.reorder_rate, 0.04);
  EXPECT_EQ(faults->network.seed, 9u);
  EXPECT_TRUE(faults->network_faults());
  ASSERT_TRUE(faults->death_of(2).has_value());
  EXPECT_EQ(faults->death_of(2)->kind, NodeEvent::Kind::kKill);
  EXPECT_EQ(faults->death_of(2)->step, 40);
  EXPECT_EQ(faults->death_of(1)->kind, NodeEvent::Kind::kHang);
  EXPECT_FALSE(faults->death_of(4).has_value());
  EXPECT_EQ(faults->join_of(4)->step, 60);
  EXPECT_EQ(faults->joins(), 1);
  EXPECT_DOUBLE_EQ(faults->slowdown_of(3), 3.0);
  EXPECT_DOUBLE_EQ(faults->slowdown_of(0), 1.0);
  EXPECT_TRUE(check_train_faults(*faults, 4).is_ok());
}

TEST(TrainFaultsTest, AnEmptyPlanHasNothing) {
  Result<TrainFaults> faults = parse_train_faults("");
  ASSERT_TRUE(faults.is_ok());
  EXPECT_FALSE(faults->network_faults());
  EXPECT_TRUE(faults->events.empty());
}

TEST(TrainFaultsTest, BadItemsAreNamedWithTheSyntax) {
  for (const char* plan : {"drop", "drop:1.5", "kill:2", "kill:x@3", "kill:2@-1", "explode:1@2", "slow:1:0.5",
                           "seed:-3"}) {
    Result<TrainFaults> faults = parse_train_faults(plan);
    ASSERT_FALSE(faults.is_ok()) << plan;
    EXPECT_THAT(faults.status().message(), HasSubstr("write drop:P")) << plan;
  }
}

TEST(TrainFaultsTest, NodesMustFitTheRun) {
  EXPECT_THAT(check_train_faults(*parse_train_faults("kill:4@1"), 4).message(), HasSubstr("nodes 0 to 3"));
  EXPECT_THAT(check_train_faults(*parse_train_faults("kill:1@1 hang:1@2"), 4).message(), HasSubstr("dies twice"));
  EXPECT_THAT(check_train_faults(*parse_train_faults("join:5@1"), 4).message(), HasSubstr("numbered from 4"));
  EXPECT_TRUE(check_train_faults(*parse_train_faults("join:4@1 join:5@3"), 4).is_ok());
  EXPECT_THAT(check_train_faults(*parse_train_faults("slow:7:2"), 4).message(), HasSubstr("names no node"));
}

}  // namespace
}  // namespace courier

namespace courier {
namespace {

TEST(TrainFaultsTest, ValidateChecksThePlanAgainstTheConfig) {
  Config c;
  c.train.workers = 4;
  c.dist.faults = "kill:2@3";
  EXPECT_TRUE(validate(c).is_ok());
  c.dist.faults = "kill:9@3";
  EXPECT_THAT(validate(c).message(), ::testing::HasSubstr("dist.faults = \"kill:9@3\""));
  c.dist.faults = "join:4@3";
  EXPECT_THAT(validate(c).message(), ::testing::HasSubstr("needs dist.recovery = \"elastic\""));
  c.dist.recovery = "elastic";
  EXPECT_TRUE(validate(c).is_ok());
  c.dist.transport = "mpi";
  EXPECT_THAT(validate(c).message(), ::testing::HasSubstr("in process only"));
  c.dist.faults.clear();
  EXPECT_THAT(validate(c).message(), ::testing::HasSubstr("courier launch"));
}

}  // namespace
}  // namespace courier
