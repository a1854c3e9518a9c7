// The courier command line: help, unknown flags and bad values, exit codes.
#include <cctype>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/subprocess.h"

namespace courier::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ProcessResult courier(std::vector<std::string> args) {
  args.insert(args.begin(), courier_binary());
  return run_process(args);
}

TEST(Cli, HelpDescribesCommands) {
  ProcessResult r = courier({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("message passing"));
  EXPECT_THAT(r.out, HasSubstr("demo"));
  EXPECT_THAT(r.out, HasSubstr("--log-level"));
}

TEST(Cli, DemoSeedHelpExplainsFlagsAndOutput) {
  ProcessResult r = courier({"demo", "seed", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* flag : {"--steps", "--lr", "--batch", "--hidden", "--seed", "--print-every"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  EXPECT_THAT(r.out, HasSubstr("Test Output:"));
  EXPECT_THAT(r.out, HasSubstr("0.083"));
}

TEST(Cli, VersionPrintsName) {
  ProcessResult r = courier({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("courier"));
}

TEST(Cli, MissingCommandIsUsageError) {
  ProcessResult r = courier({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("a command is required"));
  EXPECT_THAT(r.err, HasSubstr("--help"));
}

TEST(Cli, UnknownFlagIsNamed) {
  ProcessResult r = courier({"demo", "seed", "--lerning-rate", "0.1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--lerning-rate"));
  EXPECT_TRUE(r.out.empty()) << "nothing may run on a bad command line: " << r.out;
}

TEST(Cli, UnknownCommandIsNamed) {
  ProcessResult r = courier({"tarin"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("tarin"));
}

struct BadValue {
  std::vector<std::string> args;
  std::string flag;
};

void PrintTo(const BadValue& value, std::ostream* out) {
  for (const std::string& arg : value.args) *out << arg << ' ';
}

class CliBadValue : public ::testing::TestWithParam<BadValue> {};

TEST_P(CliBadValue, ExitsNonZeroNamingTheFlag) {
  std::vector<std::string> args = {"demo", "seed"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  ProcessResult r = courier(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(GetParam().flag));
  EXPECT_THAT(r.out, Not(HasSubstr("Step 0")));
}

INSTANTIATE_TEST_SUITE_P(
    Values, CliBadValue,
    ::testing::Values(BadValue{{"--lr", "-1"}, "--lr"}, BadValue{{"--lr", "0"}, "--lr"},
                      BadValue{{"--lr", "nan"}, "--lr"}, BadValue{{"--lr", "fast"}, "--lr"},
                      BadValue{{"--batch", "0"}, "--batch"}, BadValue{{"--batch", "-5"}, "--batch"},
                      BadValue{{"--steps", "0"}, "--steps"}, BadValue{{"--steps", "1.5"}, "--steps"},
                      BadValue{{"--hidden", "0"}, "--hidden"}, BadValue{{"--print-every", "0"}, "--print-every"},
                      BadValue{{"--seed", "-1"}, "--seed"}, BadValue{{"--lr"}, "--lr"},
                      BadValue{{"--log-level", "chatty"}, "--log-level"}),
    [](const ::testing::TestParamInfo<BadValue>& param_info) {
      std::string name;
      for (const std::string& arg : param_info.param.args) {
        for (char c : arg) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        name += '_';
      }
      return name + std::to_string(param_info.index);
    });

TEST(Cli, BadValueMessageSaysWhatIsExpected) {
  ProcessResult r = courier({"demo", "seed", "--lr", "-1"});
  EXPECT_THAT(r.err, HasSubstr("must be a number > 0, got -1"));
}

}  // namespace
}  // namespace courier::testing

namespace courier::testing {
namespace {

TEST(LaunchCli, RunsOnlyATrainingAndNeverResumesByHand) {
  ProcessResult none = courier({"launch", "-n", "2"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("command"));
  ProcessResult demo = courier({"launch", "-n", "2", "--", "demo", "seed"});
  EXPECT_EQ(demo.exit_code, 2);
  EXPECT_THAT(demo.err, HasSubstr("launch runs a training: courier launch -n 4 -- train CONFIG"));
  ProcessResult resume = courier({"launch", "-n", "2", "--", "train", COURIER_SOURCE_DIR "/configs/fashion-mlp.toml",
                                  "--resume", "runs/x"});
  EXPECT_EQ(resume.exit_code, 2);
  EXPECT_THAT(resume.err, HasSubstr("leave out --resume"));
  ProcessResult missing = courier({"launch", "-n", "2", "--", "train", "no-such.toml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no-such.toml"));
}

}  // namespace
}  // namespace courier::testing
