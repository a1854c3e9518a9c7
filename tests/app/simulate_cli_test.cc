// `courier simulate`: one collective against its closed form, determinism across runs, faults
// reported, a config's training steps, a recorded run replayed, and bad input named.
#include <filesystem>
#include <fstream>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/subprocess.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;

ProcessResult simulate_cli(std::vector<std::string> args) {
  args.insert(args.begin(), courier_binary());
  return run_process(args);
}

TEST(SimulateCli, OneCollectiveMatchesItsClosedFormAndIsDeterministic) {
  const std::vector<std::string> args = {"simulate", "--workers", "16,64", "--algo", "ring", "--bytes", "10M",
                                         "--link", "25Gbps,5us,loss=0.001", "--seed", "3"};
  ProcessResult a = simulate_cli(args), b = simulate_cli(args);
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
  ProcessResult r = simulate_cli({"simulate", "--workers", "4", "--bytes", "1M", "--fault", "crash:1@1us"});
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
      {{"simulate", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--servers", "many"}, "1/K (one shard per K"},
  };
  for (const Case& c : cases) {
    ProcessResult r = simulate_cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.says << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.says));
  }
}

TEST(SimulateCli, AConfigIsSimulatedWithAGivenComputeTime) {
  ProcessResult r = simulate_cli({"simulate", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--workers", "1,4",
                             "--compute", "2ms", "--steps", "5", "--link", "10Gbps,5us"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("computes 2.00 ms a step (given)"));
  EXPECT_THAT(r.out, HasSubstr("918.5 KiB of gradients"));  // 784*256+256 + 256*128+128 + 128*10+10 floats
  // One worker: all compute, efficiency 1.
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(\n\s+1\s+-\s+10Gbps,5\.000 us\s+2\.000 ms\s+100\.0%\s+0\.0%\s+0\.0%\s+1\.000)")))
      << r.out;

  // The cost model: 6 FLOPs a parameter a sample, 235,146 parameters, 32 samples a worker.
  ProcessResult cost = simulate_cli({"simulate", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--workers", "1",
                                "--compute", "1GFLOPS", "--steps", "1"});
  ASSERT_EQ(cost.exit_code, 0) << cost.err;
  EXPECT_THAT(cost.out, HasSubstr("computes 45.15 ms a step (cost model: 0.0451 GFLOP at 1 GFLOPS)"));
  ProcessResult bad = simulate_cli({"simulate", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--compute", "fast"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("neither a duration (95ms) nor a node speed (50GFLOPS)"));
}

// The measuring run is local SGD, so a config's SSP or ASP (which need ps) must not reach it.
TEST(SimulateCli, StaleAndAsynchronousParameterServersAreSimulated) {
  for (const char* config : {"/configs/fashion-mlp-ps-ssp.toml", "/configs/fashion-mlp-ps-asp.toml"}) {
    ProcessResult r = courier({"simulate", std::string(COURIER_SOURCE_DIR) + config, "--workers", "4", "--compute",
                               "2ms", "--steps", "5", "--link", "10Gbps,5us"});
    ASSERT_EQ(r.exit_code, 0) << config << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("computes 2.00 ms a step (given)")) << config;
  }
}

std::string scratch_file(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("courier_simulate_cli_" + name)).string();
}

TEST(SimulateCli, ARecordedRunIsReplayedAtItsSizeAndSimulatedAtAnother) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (make data)";
  }
  // A short quiet run (about 2 s): 15 steps, one small final evaluation, no checkpoints between.
  const std::string trace = scratch_file("mlp.trace.json");
  ProcessResult t = run_process(
      {courier_binary(), "train", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml", "--set", "train.workers=2", "--set",
       "train.iters=15", "--set", "train.eval_every=1000000", "--set", "train.final_eval_examples=100", "--set",
       "checkpoint.every=0", "--set", "train.out=" + scratch_file("mlp-run"), "--trace", trace},
      std::chrono::seconds(240));
  ASSERT_EQ(t.exit_code, 0) << t.err;

  ProcessResult same = simulate_cli({"simulate", "--replay", trace, "--link", "10Gbps,5us"});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_THAT(same.out, HasSubstr("2 nodes (2 workers)"));
  EXPECT_THAT(same.out, HasSubstr("allreduce (auto), codec identity, recorded on inproc"));
  // Rows: nodes, link, recorded, replayed, ratio, shares. The fitted link's ratio depends on the
  // recording's real timing (about 1; not asserted: no real-time assertions in tests).
  const std::regex fitted(R"(\n\s+2\s+fitted \S+ \S+\s+\S+ \S+\s+\S+ \S+\s+(\d+\.\d+)\s+\d+\.\d%)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(same.out, m, fitted)) << same.out;
  EXPECT_GT(std::stod(m[1]), 0.0);
  EXPECT_TRUE(std::regex_search(same.out, std::regex(R"(\n\s+2\s+10Gbps,5\.000 us\s)"))) << same.out;

  ProcessResult bigger = simulate_cli({"simulate", "--replay", trace, "--workers", "8", "--link", "10Gbps,5us",
                                  "--steps", "5"});
  ASSERT_EQ(bigger.exit_code, 0) << bigger.err;
  EXPECT_THAT(bigger.out, HasSubstr("ms a step (recorded)"));
  // The same columns as a config's: workers, servers, link, step, compute, comm, wait, efficiency.
  EXPECT_TRUE(std::regex_search(
      bigger.out, std::regex(R"(\n\s+8\s+-\s+10Gbps,5\.000 us\s+\S+ \S+\s+\d+\.\d%\s+\d+\.\d%\s+\d+\.\d%\s+[01]\.\d{3})")))
      << bigger.out;
  std::filesystem::remove(trace);
}

// One message from rank 0 to rank 1 at `step`, as courier train --trace writes it.
std::string fmt_trace(const std::string& strategy, int step) {
  std::string slice = R"({"ph": "X", "cat": "message", "name": "NAME", "ts": TS, "dur": 1.0, "pid": 0, "tid": TID,
                          "args": {"peer": PEER, "tag": "0x5", "context": 0, "seq": 0, "step": STEP, "bytes": 64}})";
  const auto fill = [&](const char* name, const char* ts, const char* tid, const char* peer) {
    std::string s = slice;
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"NAME", name}, {"TS", ts}, {"TID", tid},
                                     {"PEER", peer}, {"STEP", std::to_string(step)}}) {
      s.replace(s.find(key), key.size(), value);
    }
    return s;
  };
  return R"({"traceEvents": [)" + fill("send -> rank 1", "0", "0", "1") + ", " + fill("recv <- rank 0", "10", "1", "0") +
         R"(], "otherData": {"courier_trace": "1", "origin_ns": "0", "dist.strategy": ")" + strategy + R"("}})";
}

TEST(SimulateCli, AMalformedMissingPipelineOrStepLessTraceIsNamed) {
  const std::string bad = scratch_file("bad.trace.json");
  std::ofstream(bad) << R"({"traceEvents": [{"ph": "X", "cat": "message")";
  ProcessResult r = simulate_cli({"simulate", "--replay", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad));
  EXPECT_THAT(r.err, HasSubstr("is not JSON"));
  std::filesystem::remove(bad);

  ProcessResult missing = simulate_cli({"simulate", "--replay", scratch_file("absent.json")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("cannot open trace file"));

  // A well-formed trace, but of a pipeline run, or of a run with no training step.
  const auto trace_of = [&](const std::string& strategy, int step) {
    const std::string path = scratch_file(strategy + ".trace.json");
    std::ofstream(path) << fmt_trace(strategy, step);
    return path;
  };
  ProcessResult pipeline = simulate_cli({"simulate", "--replay", trace_of("pipeline", 3)});
  EXPECT_EQ(pipeline.exit_code, 2);
  EXPECT_THAT(pipeline.err, HasSubstr("records a pipeline run"));
  ProcessResult no_steps = simulate_cli({"simulate", "--replay", trace_of("allreduce", 0)});
  EXPECT_EQ(no_steps.exit_code, 2);
  EXPECT_THAT(no_steps.err, HasSubstr("holds no training step"));
}

}  // namespace
}  // namespace courier::testing
