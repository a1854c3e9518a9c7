// `courier demo seed`: the exact output format, the loss it settles at, byte-for-byte determinism.
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/subprocess.h"

namespace courier::testing {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

ProcessResult seed_demo(std::vector<std::string> args) {
  args.insert(args.begin(), {courier_binary(), "demo", "seed"});
  return run_process(args);
}

TEST(DemoSeed, PrintsTheElevenLinesThenTenPredictions) {
  ProcessResult r = seed_demo({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 21u) << r.out;
  const std::regex step_line(R"(Step (\d+), Loss: \d\.\d{4})");
  for (int i = 0; i < 10; ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[static_cast<std::size_t>(i)], m, step_line)) << lines[static_cast<std::size_t>(i)];
    EXPECT_EQ(std::stoi(m[1]), i * 100);
  }
  EXPECT_EQ(lines[10], "Test Output:");
  const std::regex prediction(R"(\[0\.\d{4} 0\.\d{4}\])");
  for (std::size_t i = 11; i < 21; ++i) EXPECT_TRUE(std::regex_match(lines[i], prediction)) << lines[i];
}

TEST(DemoSeed, LossSettlesNearTheVarianceOfAUniformTarget) {
  ProcessResult r = seed_demo({"--print-every", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1000u + 11u);
  // The last 200 steps: the mean of fresh-noise losses is 1/12 plus the model's small bias.
  double total = 0.0;
  for (std::size_t i = 800; i < 1000; ++i) total += std::stod(lines[i].substr(lines[i].find(": ") + 2));
  const double mean = total / 200.0;
  EXPECT_NEAR(mean, 1.0 / 12.0, 0.006);
  const double first = std::stod(lines[0].substr(lines[0].find(": ") + 2));
  EXPECT_GT(first, mean + 0.02) << "the loss at step 0 (weights from U[0,1)) should be well above the settled loss";
}

TEST(DemoSeed, SameSeedSameBytes) {
  ProcessResult a = seed_demo({"--seed", "7"});
  ProcessResult b = seed_demo({"--seed", "7"});
  ASSERT_EQ(a.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0);
  EXPECT_EQ(a.out, b.out);
  ProcessResult c = seed_demo({"--seed", "8"});
  EXPECT_NE(a.out, c.out);
}

TEST(DemoSeed, FlagsChangeTheRun) {
  ProcessResult r = seed_demo({"--steps", "30", "--print-every", "10", "--batch", "5", "--hidden", "7", "--lr", "0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u + 1u + 10u) << r.out;
  EXPECT_THAT(lines[2], ::testing::StartsWith("Step 20, Loss: "));
}

TEST(DemoSeed, LayersAsNodesPrintTheSameBytes) {
  for (const char* seed : {"0", "5"}) {
    ProcessResult single = seed_demo({"--seed", seed});
    ProcessResult nodes = seed_demo({"--seed", seed, "--nodes", "layers"});
    ASSERT_EQ(single.exit_code, 0) << single.err;
    ASSERT_EQ(nodes.exit_code, 0) << nodes.err;
    EXPECT_EQ(single.out, nodes.out) << "seed " << seed;
  }
}

TEST(DemoSeed, LayersAsNodesWriteATrace) {
  const std::string path = ::testing::TempDir() + "courier_seed_trace.json";
  ProcessResult r = seed_demo({"--nodes", "layers", "--steps", "4", "--trace", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("message events to"));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  // 2 parameter messages, then per step 4 (inputs, targets, activations, gradients), then the
  // test inputs and activations: each recorded at both ends.
  int flows = 0;
  for (std::size_t at = text.str().find("\"ph\":\"s\""); at != std::string::npos; at = text.str().find("\"ph\":\"s\"", at + 1)) {
    ++flows;
  }
  EXPECT_EQ(flows, 2 + 4 * 4 + 2);
  std::remove(path.c_str());
}

TEST(DemoSeed, MpiTransportOutsideMpirunSaysHowToLaunch) {
  ProcessResult r = seed_demo({"--nodes", "layers", "--transport", "mpi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("mpirun -n 3"));
}

}  // namespace
}  // namespace courier::testing
