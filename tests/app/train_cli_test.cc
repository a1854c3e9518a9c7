// `courier train` and `courier eval` on bad input: each a message naming the problem and the
// next step, a non-zero exit, and nothing already saved lost. Plus one short real run, and
// `courier generate` from a small language model trained here.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/subprocess.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

const fs::path kConfigs = fs::path(COURIER_SOURCE_DIR) / "configs";
constexpr const char* kFashionMnist = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

ProcessResult train_cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv{courier_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, std::chrono::seconds(240));
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("courier_train_cli_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string mlp() { return (kConfigs / "fashion-mlp.toml").string(); }

TEST(TrainCli, MissingDataFileNamesThePathAndHowToGetIt) {
  ProcessResult r = train_cli({"train", mlp(), "--set", "data.path=/nonexistent/fashion", "--set",
                             "train.out=" + (scratch("missing") / "run").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/fashion"));
  EXPECT_THAT(r.err, HasSubstr("make data"));
}

TEST(TrainCli, MalformedTomlNamesTheFileAndLine) {
  const fs::path config = scratch("malformed") / "bad.toml";
  std::ofstream(config) << "[train]\nlr = 0.001\nepochs = \n";
  ProcessResult r = train_cli({"train", config.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("bad.toml"));
  EXPECT_THAT(r.err, HasSubstr("bad.toml:3:"));  // file:line:column
}

TEST(TrainCli, UnknownKeyNamesItAndTheClosestValidKey) {
  ProcessResult r = train_cli({"train", mlp(), "--set", "train.lrr=0.01"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("train.lrr"));
  EXPECT_THAT(r.err, HasSubstr("train.lr"));

  const fs::path config = scratch("unknown") / "typo.toml";
  std::ofstream(config) << "[dist]\nstrategie = \"ps\"\n";
  r = train_cli({"train", config.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("dist.strategie"));
  EXPECT_THAT(r.err, HasSubstr("dist.strategy"));
}

TEST(TrainCli, NegativeLearningRateNamesTheKeyAndTheAllowedRange) {
  ProcessResult r = train_cli({"train", mlp(), "--set", "train.lr=-0.001"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("train.lr"));
  EXPECT_THAT(r.err, HasSubstr("-0.001"));
  EXPECT_THAT(r.err, HasSubstr("> 0"));
}

TEST(TrainCli, TruncatedCheckpointIsRefusedNamingTheFileAndTheOlderOneStillWorks) {
  if (!fs::exists(kFashionMnist)) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  const fs::path run = scratch("truncated") / "run";
  ProcessResult r = train_cli({"train", mlp(), "--set", "train.workers=1", "--set", "train.iters=20", "--set",
                             "checkpoint.every=10", "--set", "train.out=" + run.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path older = run / "checkpoints" / "step-00000010";
  const fs::path newest = run / "checkpoints" / "step-00000020";
  ASSERT_TRUE(fs::exists(older / "model.safetensors"));
  const fs::path tensors = newest / "model.safetensors";
  fs::resize_file(tensors, fs::file_size(tensors) - 100);

  r = train_cli({"eval", (run / "checkpoints").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(tensors.string()));
  EXPECT_THAT(r.err, HasSubstr("truncated"));

  r = train_cli({"train", mlp(), "--set", "train.workers=1", "--set", "train.iters=30", "--set",
               "train.out=" + run.string(), "--resume", (run / "checkpoints").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(tensors.string()));

  r = train_cli({"eval", older.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("step 10"));
  EXPECT_THAT(r.out, HasSubstr("accuracy"));
}

TEST(TrainCli, EvalOfAMissingCheckpointSaysSo) {
  ProcessResult r = train_cli({"eval", "/nonexistent/checkpoints"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/checkpoints"));
}

TEST(TrainCli, ASimRunPrintsItsVirtualTime) {
  if (!fs::exists(kFashionMnist)) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  const fs::path run = scratch("sim") / "run";
  ProcessResult r = train_cli({"train", mlp(), "--set", "dist.transport=sim", "--set", "train.workers=2", "--set",
                             "train.iters=5", "--set", "dist.sim_compute_scale=0", "--set", "train.out=" + run.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("simulated: 5 steps in "));
  EXPECT_THAT(r.out, HasSubstr("of virtual time, step "));
  EXPECT_THAT(r.out, HasSubstr("(compute 0%"));
}

TEST(TrainCli, ABadSimLinkIsRefusedShowingTheSyntax) {
  ProcessResult r = train_cli({"train", mlp(), "--set", "dist.transport=sim", "--set", "dist.sim_link=fast"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("dist.sim_link"));
  EXPECT_THAT(r.err, HasSubstr("25Gbps,5us"));
}

TEST(TrainCli, ShortRunPrintsProgressWritesMetricsAndEvaluates) {
  if (!fs::exists(kFashionMnist)) GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  const fs::path run = scratch("short") / "run";
  ProcessResult r = train_cli({"train", mlp(), "--set", "train.workers=2", "--set", "train.iters=60", "--set",
                             "train.log_every=20", "--set", "train.out=" + run.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("step 60/60"));
  EXPECT_THAT(r.out, HasSubstr("test loss"));
  EXPECT_THAT(r.out, HasSubstr("accuracy"));
  std::ifstream metrics(run / "metrics.jsonl");
  std::string line;
  int steps = 0;
  int evals = 0;
  while (std::getline(metrics, line)) {
    if (line.find("\"kind\":\"step\"") != std::string::npos) {
      ++steps;
      for (const char* key : {"\"loss\"", "\"samples_per_s\"", "\"bytes_sent\"", "\"bytes_received\"", "\"wait_s\""}) {
        EXPECT_THAT(line, HasSubstr(key));
      }
    }
    if (line.find("\"kind\":\"eval\"") != std::string::npos) ++evals;
  }
  EXPECT_EQ(steps, 2 * 3) << "3 logged steps, one record per node";
  EXPECT_EQ(evals, 1);
  r = train_cli({"eval", (run / "checkpoints").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("step 60"));

  // --set changes the config the checkpoint was trained with: a bad key is a usage error,
  // a data path that is not there a failure naming it.
  r = train_cli({"eval", (run / "checkpoints").string(), "--set", "data.pth=x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("data.path"));
  r = train_cli({"eval", (run / "checkpoints").string(), "--set", "data.path=/nonexistent/elsewhere"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/elsewhere"));
}

TEST(GenerateCli, StreamsTheSameTextForASeedAndRefusesBadInput) {
  const fs::path dir = scratch("generate");
  const std::string corpus = (dir / "text.txt").string();
  {
    std::ofstream text(corpus);
    for (int i = 0; i < 5; ++i) text << "In the beginning God created the heaven and the earth.\nAnd it was so.\n";
  }
  ProcessResult r = train_cli({"train", (kConfigs / "gpt-kjv.toml").string(), "--set", "data.path=" + corpus, "--set",
                             "model.layers=1", "--set", "model.embedding=16", "--set", "model.heads=2", "--set",
                             "model.context=8", "--set", "train.iters=20", "--set", "train.eval_every=0", "--set",
                             "train.final_eval_examples=8", "--set", "train.out=" + (dir / "run").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bits/byte"));
  EXPECT_THAT(r.out, HasSubstr("tokens/s"));
  const std::string checkpoint = (dir / "run" / "checkpoints").string();
  const std::vector<std::string> args{"generate", checkpoint, "--prompt", "And", "--tokens", "30", "--seed", "4"};
  ProcessResult first = train_cli(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.rfind("And", 0), 0u);
  EXPECT_EQ(first.out.size(), 3u + 30u + 1u) << "the prompt, 30 characters and a newline";
  EXPECT_EQ(train_cli(args).out, first.out);

  r = train_cli({"eval", checkpoint});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bits/byte"));

  r = train_cli({"generate", checkpoint, "--prompt", "Jerusalem"});  // 'J' is not in the text
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("0x4a at offset 0"));
  EXPECT_EQ(r.out, "") << "nothing printed before the error";
  r = train_cli({"generate", (dir / "no-such-run").string(), "--prompt", "And"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no-such-run"));
}

}  // namespace
}  // namespace courier::testing
