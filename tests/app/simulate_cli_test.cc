// `courier simulate`: one collective against its closed form, determinism across runs, faults
// reported, a config's training steps, and bad input named.
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/subprocess.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;

ProcessResult courier(std::vector<std::string> args) {
  args.insert(args.begin(), courier_binary());
  return run_process(args);
}

TEST(SimulateCli, OneCollectiveMatchesItsClosedFormAndIsDeterministic) {
  const std::vector<std::string> args = {"simulate", "--workers", "16,64", "--algo", "ring", "--bytes", "10M",
                                         "--link", "25Gbps,5us,loss=0.001", "--seed", "3"};
  ProcessResult a = courier(args), b = courier(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // Rows: nodes, link, time, closed form, ratio. Loss adds re-sends, so only near 1.
  const std::regex row(R"(\n\s+(16|64)\s+25Gbps,5\.000 us\s+\S+ \S+\s+\S+ \S+\s+(\d\.\d+))");
  int rows = 0;
  for (std::sregex_iterator it(a.out.begin(), a.out.end(), row), end; it != end; ++it, ++rows) {
    const double ratio = std::stod((*it)[2]);
    EXPECT_GE(ratio, 1.0);
    EXPECT_LT(ratio, 1.5);
  }
  EXPECT_EQ(rows, 2) << a.out;
  // Byte for byte, wall time aside.
  const std::regex wall(R"(\s+\d+\.\d\d\s+\d+\n)");
  EXPECT_EQ(std::regex_replace(a.out, wall, "\n"), std::regex_replace(b.out, wall, "\n"));
  EXPECT_THAT(a.out, HasSubstr("copies lost and re-sent"));
  EXPECT_THAT(a.out, HasSubstr("trace digest"));
}

TEST(SimulateCli, ACrashIsReportedWithTheNodesWaitingForIt) {
  ProcessResult r = courier({"simulate", "--workers", "4", "--bytes", "1M", "--fault", "crash:1@1us"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("node 1 crashed at 1.000 us"));
  EXPECT_THAT(r.err, HasSubstr("node 2 waits for a message from node 1, which crashed"));
}

TEST(SimulateCli, BadInputIsNamedWithTheSyntax) {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  const Case cases[] = {
      {{"simulate", "--link", "25Gbps"}, "BANDWIDTH,LATENCY"},
      {{"simulate", "--workers", "0"}, "worker count"},
      {{"simulate", "--bytes", "lots"}, "not a size"},
      {{"simulate", "--algo", "butterfly"}, "ring, halving-doubling or tree"},
      {{"simulate", "--cluster", "torus"}, "fattree:K"},
      {{"simulate", "--fault", "crash:99@1ms", "--workers", "4"}, "names node 99"},
      {{"simulate", "--fault", "boom"}, "crash:N@T"},
  };
  for (const Case& c : cases) {
    ProcessResult r = courier(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.says << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.says));
  }
}

TEST(SimulateCli, AConfigIsSimulatedWithAGivenComputeTime) {
  ProcessResult r = courier({"simulate", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--workers", "1,4",
                             "--compute", "2ms", "--steps", "5", "--link", "10Gbps,5us"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("computes 2.00 ms a step (given)"));
  EXPECT_THAT(r.out, HasSubstr("918.5 KiB of gradients"));  // 784*256+256 + 256*128+128 + 128*10+10 floats
  // One worker: all compute, efficiency 1.
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(\n\s+1\s+-\s+10Gbps,5\.000 us\s+2\.000 ms\s+100\.0%\s+0\.0%\s+0\.0%\s+1\.000)")))
      << r.out;

  // The cost model: 6 FLOPs a parameter a sample, 235,146 parameters, 32 samples a worker.
  ProcessResult cost = courier({"simulate", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--workers", "1",
                                "--compute", "1GFLOPS", "--steps", "1"});
  ASSERT_EQ(cost.exit_code, 0) << cost.err;
  EXPECT_THAT(cost.out, HasSubstr("computes 45.15 ms a step (cost model: 0.0451 GFLOP at 1 GFLOPS)"));
  ProcessResult bad = courier({"simulate", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--compute", "fast"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("neither a duration (95ms) nor a node speed (50GFLOPS)"));
}

}  // namespace
}  // namespace courier::testing
