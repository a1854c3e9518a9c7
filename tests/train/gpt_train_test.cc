// The GPT trained end to end on a small text: the loss falls and evaluation reports bits per
// byte; allreduce over 2 workers equals 1 worker with the whole batch; generation is
// deterministic for a seed, greedy at temperature 0, and refuses bad checkpoints and prompts.
#include <cmath>
#include <fstream>
#include <numbers>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/train/generate.h"
#include "courier/train/run_state.h"
#include "courier/train/trainer.h"
#include "testutil/scratch_dir.h"
#include "train/gpt_test_config.h"

namespace courier {
namespace {

using ::testing::HasSubstr;
using testing::gpt_config;
using testing::ScratchDir;

double mean(const std::vector<double>& v, std::size_t begin, std::size_t end) {
  double total = 0;
  for (std::size_t i = begin; i < end; ++i) total += v[i];
  return total / static_cast<double>(end - begin);
}

TEST(GptTraining, LossFallsAndEvaluationReportsBitsPerByte) {
  ScratchDir dir;
  Result<TrainResult> result = train(gpt_config(dir, "run", 1, 120));
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  ASSERT_EQ(result->losses.size(), 120u);
  EXPECT_NEAR(result->losses[0], std::log(31.0), 0.3) << "a fresh model is near uniform over the vocabulary";
  EXPECT_LT(mean(result->losses, 110, 120), mean(result->losses, 0, 10) - 1.0);
  ASSERT_TRUE(result->last_eval);
  EXPECT_EQ(result->last_eval->examples, 48);
  ASSERT_TRUE(result->last_eval->bits_per_byte);
  EXPECT_NEAR(*result->last_eval->bits_per_byte, result->last_eval->loss / std::numbers::ln2, 1e-9);
  EXPECT_GT(result->tokens_per_s, 0.0);
}

TEST(GptTraining, AllreduceOfTwoWorkersEqualsOneWorkerWithTheWholeBatch) {
  ScratchDir dir;
  Result<TrainResult> single = train(gpt_config(dir, "one", 1, 30));
  Result<TrainResult> pair = train(gpt_config(dir, "two", 2, 30));
  ASSERT_TRUE(single.is_ok()) << single.status().to_string();
  ASSERT_TRUE(pair.is_ok()) << pair.status().to_string();
  for (std::size_t i = 0; i < 30; ++i) {
    EXPECT_NEAR(pair->losses[i], single->losses[i], 1e-5 * single->losses[i]) << "step " << i;
  }
}

TEST(GptTraining, EveryStrategyTrainsTheGpt) {
  ScratchDir dir;
  struct Case {
    const char* strategy;
    const char* sync;
  };
  for (const Case& c : {Case{"ps", "bsp"}, Case{"ps", "asp"}, Case{"ps", "ssp"}, Case{"local-sgd", "bsp"},
                        Case{"gossip", "bsp"}}) {
    Config config = gpt_config(dir, std::string(c.strategy) + "-" + c.sync, 2, 80);
    config.dist.strategy = c.strategy;
    config.dist.sync = c.sync;
    config.dist.local_steps = 4;
    Result<TrainResult> result = train(config);
    ASSERT_TRUE(result.is_ok()) << c.strategy << " " << c.sync << ": " << result.status().to_string();
    ASSERT_EQ(result->losses.size(), 80u);
    EXPECT_LT(mean(result->losses, 70, 80), mean(result->losses, 0, 10) - 0.5) << c.strategy << " " << c.sync;
    ASSERT_TRUE(result->last_eval && result->last_eval->bits_per_byte);
  }
}

TEST(GptTraining, DropoutTrainsAndEvaluationDoesNotDrop) {
  ScratchDir dir;
  Config config = gpt_config(dir, "dropout", 2, 60);
  config.model.dropout = 0.2;
  Result<TrainResult> result = train(config);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_LT(mean(result->losses, 50, 60), mean(result->losses, 0, 10) - 0.5);
  const std::filesystem::path checkpoint = dir.file("dropout") / "checkpoints";
  Result<EvalReport> first = evaluate_checkpoint(checkpoint);
  Result<EvalReport> second = evaluate_checkpoint(checkpoint);
  ASSERT_TRUE(first.is_ok() && second.is_ok());
  EXPECT_EQ(first->loss, second->loss) << "no masks at evaluation";
  EXPECT_NEAR(first->loss, result->last_eval->loss, 1e-6) << "the trainer's evaluation does not drop either";
}

TEST(CheckpointVocabulary, RoundTripsAndRefusesAnythingButBytes) {
  Checkpoint checkpoint;
  Result<std::optional<std::string>> none = checkpoint_vocabulary(checkpoint);
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(*none) << "an image run's checkpoint has no vocabulary";
  set_checkpoint_vocabulary(checkpoint, std::string("\n AZ\xff", 5));
  Result<std::optional<std::string>> saved = checkpoint_vocabulary(checkpoint);
  ASSERT_TRUE(saved.is_ok() && *saved);
  EXPECT_EQ(**saved, std::string("\n AZ\xff", 5));
  for (const nlohmann::json& bad : {nlohmann::json("abc"), nlohmann::json({65, 300}), nlohmann::json({65, "B"})}) {
    checkpoint.manifest["vocabulary"] = bad;
    EXPECT_EQ(checkpoint_vocabulary(checkpoint).status().code(), StatusCode::kDataLoss) << bad.dump();
  }
}

class GptGeneration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    Result<TrainResult> result = train(gpt_config(*dir_, "run", 1, 60));
    ASSERT_TRUE(result.is_ok()) << result.status().to_string();
    checkpoint_ = dir_->file("run") / "checkpoints";
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string text(const GenerateOptions& options, Status* status = nullptr) {
    std::string out;
    const Status s = generate(checkpoint_, options, [&](std::string_view piece) { out += piece; });
    if (status != nullptr) *status = s;
    EXPECT_TRUE(status != nullptr || s.is_ok()) << s.to_string();
    return out;
  }

  static inline ScratchDir* dir_ = nullptr;
  static inline std::filesystem::path checkpoint_;
};

TEST_F(GptGeneration, TheSameSeedGivesTheSameText) {
  const GenerateOptions options{.prompt = "And God", .tokens = 40, .temperature = 1.0, .seed = 7};
  const std::string first = text(options);
  EXPECT_EQ(first.size(), std::string("And God").size() + 40);
  EXPECT_EQ(first.rfind("And God", 0), 0u) << "the prompt comes first";
  EXPECT_EQ(text(options), first);
  GenerateOptions other = options;
  other.seed = 8;
  EXPECT_NE(text(other), first) << "40 sampled characters from another seed";
}

TEST_F(GptGeneration, TemperatureZeroIsGreedy) {
  // Greedy decoding ignores the seed, and equals sampling among the single most likely token.
  const std::string greedy = text({.prompt = "The LORD", .tokens = 30, .temperature = 0.0, .seed = 1});
  EXPECT_EQ(text({.prompt = "The LORD", .tokens = 30, .temperature = 0.0, .seed = 2}), greedy);
  EXPECT_EQ(text({.prompt = "The LORD", .tokens = 30, .temperature = 1.0, .top_k = 1, .seed = 3}), greedy);
}

TEST_F(GptGeneration, LongPromptsKeepTheLastContextTokens) {
  const std::string prompt(50, 'e');  // far past model.context = 8
  EXPECT_EQ(text({.prompt = prompt, .tokens = 5, .temperature = 0.0}).size(), 55u);
  EXPECT_EQ(text({.prompt = "", .tokens = 5, .temperature = 0.0}).size(), 5u)
      << "an empty prompt starts from a newline";
}

TEST_F(GptGeneration, RefusesPromptBytesOutsideTheVocabulary) {
  Status status;
  text({.prompt = "In the Zion", .tokens = 5}, &status);  // 'Z' never occurs in the corpus
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("0x5a at offset 7"));
  EXPECT_THAT(status.message(), HasSubstr("this model knows only the"));
  text({.prompt = "In", .tokens = -1}, &status);
  EXPECT_THAT(status.message(), HasSubstr("--tokens must be >= 0"));
  text({.prompt = "In", .tokens = 1, .temperature = -1}, &status);
  EXPECT_THAT(status.message(), HasSubstr("--temperature must be >= 0"));
}

TEST_F(GptGeneration, RefusesAMissingCheckpoint) {
  const Status status = generate(dir_->file("nowhere"), {.prompt = "In"}, [](std::string_view) {});
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("nowhere"));
}

TEST_F(GptGeneration, EvaluationRefusesTextWithAnotherVocabulary) {
  const std::filesystem::path other = dir_->file("other.txt");
  std::ofstream(other) << std::string(500, 'x') << "yz\n";
  const std::string set = "data.path=" + other.string();
  Result<EvalReport> report = evaluate_checkpoint(checkpoint_, std::span<const std::string>(&set, 1));
  ASSERT_FALSE(report.is_ok());
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("vocabulary"));
  Result<EvalReport> same = evaluate_checkpoint(checkpoint_);
  ASSERT_TRUE(same.is_ok()) << same.status().to_string();
  EXPECT_TRUE(same->bits_per_byte);
  EXPECT_EQ(same->step, 60);
}

}  // namespace
}  // namespace courier
