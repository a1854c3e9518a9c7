// Checkpoint directories: round trip, `latest`, pruning, damage of every kind refused with a
// message that names the file and the other checkpoints, the states a crash can leave behind,
// and writers killed with SIGKILL at random points.
#include "courier/train/checkpoint/checkpoint.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/core/rng.h"
#include "testutil/scratch_dir.h"
#include "train/checkpoint/file_bytes.h"

namespace courier {
namespace {

namespace fs = std::filesystem;
using ::courier::checkpoint_testing::file_bytes;
using ::courier::checkpoint_testing::set_file_bytes;
using ::courier::checkpoint_testing::set_file_text;
using ::courier::testing::ScratchDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A checkpoint whose every value is derived from `step`, so a reader can tell which step it
// holds and whether any value is off. `elements` sets the size of the weight.
Checkpoint make_checkpoint(std::int64_t step, std::size_t elements = 6) {
  Checkpoint c;
  c.manifest = {{"config", "[model]\nhidden = 3\n"}, {"epoch", step / 10}, {"world_size", 4},
                {"rng", {{"seed", 7}, {"state", {1, 2, 3, 4}}}}, {"data_position", step * 32},
                {"optimizer", {{"name", "adam"}, {"step_count", step}, {"state", {"exp_avg", "exp_avg_sq"}}}}};
  std::vector<float> weight(elements);
  for (std::size_t i = 0; i < elements; ++i) weight[i] = static_cast<float>(step) + 0.25f * static_cast<float>(i);
  c.tensors.push_back({"0.weight", {static_cast<std::int64_t>(elements / 2), 2}, weight});
  c.tensors.push_back({"0.bias", {2}, {static_cast<float>(-step), 0.5f}});
  c.tensors.push_back({"optimizer.exp_avg.0.weight", {static_cast<std::int64_t>(elements / 2), 2}, weight});
  c.tensors.push_back({"optimizer.exp_avg.0.bias", {2}, {0.0f, 1.0f}});
  return c;
}

void expect_holds_step(const Result<Checkpoint>& read, std::int64_t step, std::size_t elements = 6) {
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_EQ(read->manifest["step"], step);
  const Checkpoint expected = make_checkpoint(step, elements);
  ASSERT_EQ(read->tensors.size(), expected.tensors.size());
  for (std::size_t i = 0; i < expected.tensors.size(); ++i) {
    EXPECT_EQ(read->tensors[i].name, expected.tensors[i].name);
    EXPECT_EQ(read->tensors[i].shape, expected.tensors[i].shape);
    EXPECT_EQ(read->tensors[i].values, expected.tensors[i].values) << expected.tensors[i].name;
  }
}

std::vector<std::string> names_in(const fs::path& root) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(root)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string latest_of(const fs::path& root) {
  const std::vector<char> bytes = file_bytes(root / "latest");
  return {bytes.begin(), bytes.end()};
}

TEST(Checkpoint, WritesTheDocumentedLayoutAndReadsItBack) {
  ScratchDir dir;
  const fs::path root = dir.path() / "ckpt";
  ASSERT_TRUE(write_checkpoint(root, 123, make_checkpoint(123)).is_ok());
  EXPECT_EQ(names_in(root), (std::vector<std::string>{"latest", "step-00000123"}));
  EXPECT_EQ(names_in(root / "step-00000123"), (std::vector<std::string>{"manifest.json", "model.safetensors"}));
  EXPECT_EQ(latest_of(root), "step-00000123\n");

  for (const fs::path& path : {root, root / "step-00000123", root / "step-00000123/"}) {
    Result<Checkpoint> read = read_checkpoint(path);
    expect_holds_step(read, 123);
    EXPECT_EQ(read->manifest["format"], "courier-checkpoint");
    EXPECT_EQ(read->manifest["version"], 1);
    EXPECT_EQ(read->manifest["config"], "[model]\nhidden = 3\n");
    EXPECT_EQ(read->manifest["optimizer"]["state"][1], "exp_avg_sq");
    const auto& model = read->manifest["files"]["model.safetensors"];
    EXPECT_EQ(model["bytes"], fs::file_size(root / "step-00000123" / "model.safetensors"));
    EXPECT_EQ(model["xxh3"].get<std::string>().size(), 16u);
  }
  // The tensors file is plain safetensors, readable on its own.
  Result<SafetensorsFile> model = read_safetensors(root / "step-00000123" / "model.safetensors");
  ASSERT_TRUE(model.is_ok());
  EXPECT_EQ(model->metadata.at("format"), "pt");
}

TEST(Checkpoint, AnEmptyCheckpointRoundTrips) {
  ScratchDir dir;
  ASSERT_TRUE(write_checkpoint(dir.path(), 0, Checkpoint{}).is_ok());
  Result<Checkpoint> read = read_checkpoint(dir.path());
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_TRUE(read->tensors.empty());
  EXPECT_EQ(read->manifest["step"], 0);
}

TEST(Checkpoint, LatestFollowsTheNewestAndKeepPrunesTheOldest) {
  ScratchDir dir;
  for (std::int64_t step : {10, 20, 30}) {
    ASSERT_TRUE(write_checkpoint(dir.path(), step, make_checkpoint(step), 2).is_ok());
  }
  EXPECT_EQ(list_checkpoints(dir.path()),
            (std::vector<fs::path>{dir.path() / "step-00000020", dir.path() / "step-00000030"}));
  EXPECT_EQ(latest_of(dir.path()), "step-00000030\n");
  expect_holds_step(read_checkpoint(dir.path()), 30);
  expect_holds_step(read_checkpoint(dir.path() / "step-00000020"), 20);

  ASSERT_TRUE(write_checkpoint(dir.path(), 40, make_checkpoint(40), 1).is_ok());
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"latest", "step-00000040"}));
}

TEST(Checkpoint, ListIsInStepOrderAndIgnoresEverythingElse) {
  ScratchDir dir;
  for (std::int64_t step : {500, 7, 123456789}) ASSERT_TRUE(write_checkpoint(dir.path(), step, {}, 5).is_ok());
  fs::create_directory(dir.path() / "step-12");            // too few digits
  fs::create_directory(dir.path() / "step-0000000x");      // not a number
  fs::create_directory(dir.path() / "step-00000009.tmp");  // a temporary
  set_file_text(dir.path() / "step-00000008", "a file");   // not a directory
  EXPECT_EQ(list_checkpoints(dir.path()), (std::vector<fs::path>{dir.path() / "step-00000007",
                                                                   dir.path() / "step-00000500",
                                                                   dir.path() / "step-123456789"}));
  EXPECT_TRUE(list_checkpoints(dir.path() / "missing").empty());
  EXPECT_EQ(checkpoint_directory_name(42), "step-00000042");
}

TEST(Checkpoint, ACorruptedNewestCheckpointIsRefusedNamingItAndTheOlderOne) {
  ScratchDir dir;
  for (std::int64_t step : {1, 2}) ASSERT_TRUE(write_checkpoint(dir.path(), step, make_checkpoint(step)).is_ok());
  const fs::path model = dir.path() / "step-00000002" / "model.safetensors";
  std::vector<char> bytes = file_bytes(model);
  bytes[bytes.size() - 5] ^= 0x01;  // one bit of one float: still a valid safetensors file
  set_file_bytes(model, bytes);

  Result<Checkpoint> read = read_checkpoint(dir.path());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(),
              AllOf(HasSubstr("latest checkpoint step-00000002 refused"), HasSubstr(model.string()),
                    HasSubstr("checksum mismatch"), HasSubstr("other checkpoints under"),
                    HasSubstr("step-00000001"), HasSubstr((dir.path() / "step-00000001").string())));
  Result<Checkpoint> direct = read_checkpoint(dir.path() / "step-00000002");
  EXPECT_EQ(direct.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(direct.status().message(), HasSubstr(model.string()));
  expect_holds_step(read_checkpoint(dir.path() / "step-00000001"), 1);
}

// Damage to one file of step 2, the error it must give, and a phrase of the message.
struct Damage {
  std::string label;
  std::string file;
  std::function<void(const fs::path&)> apply;
  StatusCode code;
  std::string message;
};

std::vector<Damage> damages() {
  const auto replace_text = [](std::string from, std::string to) {
    return [from, to](const fs::path& path) {
      std::vector<char> bytes = file_bytes(path);
      std::string text(bytes.begin(), bytes.end());
      const std::size_t at = text.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      text.replace(at, from.size(), to);
      set_file_text(path, text);
    };
  };
  return {
      {"model truncated", "model.safetensors", [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) - 10); },
       StatusCode::kDataLoss, "truncated: "},
      {"model grown", "model.safetensors", [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) + 3); },
       StatusCode::kDataLoss, "3 more than the manifest's"},
      {"model deleted", "model.safetensors", [](const fs::path& p) { fs::remove(p); }, StatusCode::kDataLoss,
       "listed in the manifest but missing"},
      {"manifest deleted", "manifest.json", [](const fs::path& p) { fs::remove(p); }, StatusCode::kDataLoss,
       "manifest.json' is missing"},
      {"manifest not json", "manifest.json", [](const fs::path& p) { set_file_text(p, "{\"format\": "); },
       StatusCode::kDataLoss, "not a JSON object"},
      {"other format", "manifest.json", replace_text("courier-checkpoint", "other"), StatusCode::kDataLoss,
       "\"format\" is not \"courier-checkpoint\""},
      {"newer version", "manifest.json", replace_text("\"version\": 1", "\"version\": 2"), StatusCode::kUnimplemented,
       "version 2 is not readable by this build"},
      {"step differs", "manifest.json", replace_text("\"step\": 2", "\"step\": 3"), StatusCode::kDataLoss,
       "differs from the directory's step"},
      {"checksum edited", "manifest.json", replace_text("\"xxh3\": \"", "\"xxh3\": \"0"), StatusCode::kDataLoss,
       "is not {\"bytes\": n"},
      {"file escapes", "manifest.json",
       replace_text("\"model.safetensors\": {", "\"../x\": {}, \"model.safetensors\": {"),
       StatusCode::kDataLoss, "not a plain name"},
      {"model unlisted", "manifest.json", replace_text("\"model.safetensors\"", "\"other.bin\""), StatusCode::kDataLoss,
       "\"files\" does not list model.safetensors"},
  };
}

TEST(Checkpoint, EveryKindOfDamageIsRefusedWithItsCodeNamingTheFile) {
  for (const Damage& d : damages()) {
    ScratchDir dir;
    for (std::int64_t step : {1, 2}) ASSERT_TRUE(write_checkpoint(dir.path(), step, make_checkpoint(step)).is_ok());
    const fs::path path = dir.path() / "step-00000002" / d.file;
    d.apply(path);
    Result<Checkpoint> read = read_checkpoint(dir.path());
    EXPECT_EQ(read.status().code(), d.code) << d.label << ": " << read.status().to_string();
    EXPECT_THAT(read.status().message(), AllOf(HasSubstr(path.string()), HasSubstr(d.message),
                                               HasSubstr((dir.path() / "step-00000001").string())))
        << d.label;
    expect_holds_step(read_checkpoint(dir.path() / "step-00000001"), 1);
  }
}

TEST(Checkpoint, ARewrittenStepReplacesTheOldDirectoryAtomically) {
  // A crash after step 2's directory was renamed into place but before `latest` moved: the
  // root still reads step 1, and writing step 2 again exchanges the directories.
  ScratchDir dir;
  for (std::int64_t step : {1, 2}) ASSERT_TRUE(write_checkpoint(dir.path(), step, make_checkpoint(step)).is_ok());
  set_file_text(dir.path() / "latest", "step-00000001\n");
  expect_holds_step(read_checkpoint(dir.path()), 1);

  Checkpoint again = make_checkpoint(2, 10);
  ASSERT_TRUE(write_checkpoint(dir.path(), 2, again).is_ok());
  expect_holds_step(read_checkpoint(dir.path()), 2, 10);
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"latest", "step-00000001", "step-00000002"}));
}

TEST(Checkpoint, LeftoversOfACrashedWriteAreIgnoredThenCleanedByTheNextWrite) {
  ScratchDir dir;
  for (std::int64_t step : {1, 2}) ASSERT_TRUE(write_checkpoint(dir.path(), step, make_checkpoint(step)).is_ok());
  // A write of step 3 died while writing its tensors; another while replacing `latest`; a
  // prune died between renaming step 0 aside and deleting it.
  fs::create_directory(dir.path() / "step-00000003.tmp");
  set_file_text(dir.path() / "step-00000003.tmp" / "model.safetensors.tmp", "\x10\0\0\0\0\0\0\0{\"a\":");
  set_file_text(dir.path() / "latest.tmp", "step-000");
  fs::create_directory(dir.path() / "step-00000000.deleting");
  set_file_text(dir.path() / "step-00000000.deleting" / "manifest.json", "{}");
  set_file_text(dir.path() / "notes.txt", "the user's own file");

  expect_holds_step(read_checkpoint(dir.path()), 2);
  EXPECT_EQ(list_checkpoints(dir.path()).size(), 2u);

  ASSERT_TRUE(write_checkpoint(dir.path(), 3, make_checkpoint(3)).is_ok());
  EXPECT_EQ(names_in(dir.path()),
            (std::vector<std::string>{"latest", "notes.txt", "step-00000001", "step-00000002", "step-00000003"}));
  expect_holds_step(read_checkpoint(dir.path()), 3);
}

TEST(Checkpoint, ALatestThatPointsNowhereIsRefusedListingTheOthers) {
  ScratchDir dir;
  for (std::int64_t step : {1, 2}) ASSERT_TRUE(write_checkpoint(dir.path(), step, make_checkpoint(step)).is_ok());
  fs::remove_all(dir.path() / "step-00000002");
  Result<Checkpoint> read = read_checkpoint(dir.path());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), AllOf(HasSubstr((dir.path() / "latest").string()),
                                             HasSubstr("names step-00000002"),
                                             HasSubstr("does not exist"), HasSubstr("step-00000001")));

  set_file_text(dir.path() / "latest", "../../etc\n");
  read = read_checkpoint(dir.path());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), AllOf(HasSubstr("does not hold a step directory name"),
                                             HasSubstr("step-00000001")));

  fs::remove(dir.path() / "latest");
  read = read_checkpoint(dir.path());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), AllOf(HasSubstr("latest' is missing"), HasSubstr("step-00000001")));
}

TEST(Checkpoint, TheListOfOtherCheckpointsNamesTheNewestFive) {
  ScratchDir dir;
  for (std::int64_t step = 1; step <= 8; ++step) ASSERT_TRUE(write_checkpoint(dir.path(), step, {}, 10).is_ok());
  fs::remove(dir.path() / "step-00000008" / "manifest.json");
  Result<Checkpoint> read = read_checkpoint(dir.path());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(),
              AllOf(HasSubstr("(oldest first): 2 older and step-00000003, step-00000004, step-00000005, "
                              "step-00000006, step-00000007; to resume"),
                    HasSubstr((dir.path() / "step-00000007").string())));
}

TEST(Checkpoint, ReadingNothingIsNotFound) {
  ScratchDir dir;
  Result<Checkpoint> read = read_checkpoint(dir.path() / "missing");
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr((dir.path() / "missing").string()));
  read = read_checkpoint(dir.path());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr("there is no other checkpoint"));
  read = read_checkpoint(dir.path() / "step-00000001");
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
}

TEST(Checkpoint, AnUnwritableRootIsAClearErrorAndBadArgumentsAreRefused) {
  ScratchDir dir;
  set_file_text(dir.path() / "file", "not a directory");
  Status s = write_checkpoint(dir.path() / "file" / "ckpt", 1, make_checkpoint(1));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.to_string();
  EXPECT_THAT(s.message(), AllOf(HasSubstr((dir.path() / "file" / "ckpt").string()), HasSubstr("checkpoint root")));

  EXPECT_EQ(write_checkpoint(dir.path(), -1, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(write_checkpoint(dir.path(), 1, {}, 0).code(), StatusCode::kInvalidArgument);
  Checkpoint not_object;
  not_object.manifest = nlohmann::json::array();
  EXPECT_EQ(write_checkpoint(dir.path(), 1, not_object).code(), StatusCode::kInvalidArgument);
  Checkpoint wrong_step = make_checkpoint(1);
  wrong_step.manifest["step"] = 5;
  s = write_checkpoint(dir.path(), 1, wrong_step);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("says step 5"));
  Checkpoint bad_tensor = make_checkpoint(1);
  bad_tensor.tensors[0].shape = {7};
  s = write_checkpoint(dir.path(), 1, bad_tensor);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("0.weight"));
  // Nothing of the refused writes is left behind.
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"file"}));
}

struct CrashScenario {
  std::string label;
  std::int64_t step;  // written over checkpoints 1 and 2 (latest)
  int keep;
};

TEST(CheckpointCrash, ACrashAtEveryPointOfTheProtocolLeavesTheLatestReadable) {
  // A forked child writes one checkpoint and _exit()s at the n-th point of the protocol (the
  // after_stage hook), leaving on disk what a crash there leaves; n runs until the write completes.
  const std::vector<CrashScenario> scenarios = {
      {"a new step", 3, 2}, {"the latest step again", 2, 2}, {"keep 1 deletes both older", 3, 1}};
  for (const CrashScenario& scenario : scenarios) {
    for (int point = 1;; ++point) {
      SCOPED_TRACE(fmt::format("{}, crash point {}", scenario.label, point));
      ScratchDir dir;
      for (std::int64_t step : {1, 2}) ASSERT_TRUE(write_checkpoint(dir.path(), step, make_checkpoint(step)).is_ok());
      const pid_t child = ::fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        int calls = 0;
        const CheckpointWriteOptions options{scenario.keep, [&](CheckpointWriteStage stage) {
                                               if (++calls == point) ::_exit(10 + static_cast<int>(stage));
                                             }};
        const Status s = write_checkpoint(dir.path(), scenario.step, make_checkpoint(scenario.step, 10), options);
        ::_exit(s.is_ok() ? 0 : 1);
      }
      int status = 0;
      ASSERT_EQ(::waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFEXITED(status));
      ASSERT_NE(WEXITSTATUS(status), 1) << "the write failed on its own";
      if (WEXITSTATUS(status) == 0) {
        EXPECT_GE(point, 6) << "fewer crash points than the protocol has stages";
        break;
      }
      const auto stage = static_cast<CheckpointWriteStage>(WEXITSTATUS(status) - 10);
      const bool committed = stage >= CheckpointWriteStage::kCommitted;
      const bool replaced = committed || (scenario.step == 2 && stage >= CheckpointWriteStage::kPublished);
      expect_holds_step(read_checkpoint(dir.path()), committed ? scenario.step : 2, replaced ? 10 : 6);
      if (scenario.step == 2 && stage == CheckpointWriteStage::kPublished) {
        // Exchanged, not deleted first: the old copy still exists until the new one is in place.
        expect_holds_step(read_checkpoint(dir.path() / "step-00000002.tmp"), 2, 6);
      }
      // The next write succeeds and leaves nothing of the crashed one behind.
      ASSERT_TRUE(write_checkpoint(dir.path(), 4, make_checkpoint(4), 2).is_ok());
      expect_holds_step(read_checkpoint(dir.path()), 4);
      for (const std::string& name : names_in(dir.path())) {
        EXPECT_THAT(name, AllOf(Not(HasSubstr(".tmp")), Not(HasSubstr(".deleting"))));
      }
    }
  }
}

// Reads one completed step from the child's pipe, waiting at most 60 s.
std::optional<std::int64_t> next_report(int fd) {
  pollfd ready{fd, POLLIN, 0};
  if (::poll(&ready, 1, 60'000) != 1) return std::nullopt;
  std::int64_t step = 0;
  if (::read(fd, &step, sizeof(step)) != sizeof(step)) return std::nullopt;
  return step;
}

TEST(CheckpointCrash, AWriterKilledAtRandomPointsAlwaysLeavesTheLatestReadable) {
  // A child writes checkpoints in a loop and reports each step it completed; the parent kills
  // it with SIGKILL at a random moment within a write, then reads the root. What it reads must
  // be the last reported step or the one after it (committed just before the kill), intact.
  ScratchDir dir;
  constexpr std::size_t kElements = 1 << 16;  // 256 KiB a tensor: a write takes long enough to be cut
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(write_checkpoint(dir.path(), 0, make_checkpoint(0, kElements), 2).is_ok());
  const auto write_time =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  Rng rng(99);
  std::int64_t reported = 0;
  int cut_mid_write = 0;
  for (int trial = 0; trial < 24; ++trial) {
    const int keep = 1 + trial % 2;  // keep = 1: pruning deletes the checkpoint `latest` named before
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      for (std::int64_t step = reported + 1;; ++step) {
        // Every other step is written twice: the second replaces the committed directory.
        for (int copy = 0; copy < 1 + step % 2; ++copy) {
          if (!write_checkpoint(dir.path(), step, make_checkpoint(step, kElements), keep).is_ok()) ::_exit(1);
        }
        if (::write(fds[1], &step, sizeof(step)) != sizeof(step)) ::_exit(1);
      }
    }
    ::close(fds[1]);
    for (std::uint64_t i = 0, n = 1 + rng.below(2); i < n; ++i) {
      const std::optional<std::int64_t> step = next_report(fds[0]);
      if (!step) ::kill(child, SIGKILL);
      ASSERT_TRUE(step.has_value()) << "trial " << trial << ": the writer stopped reporting";
      reported = *step;
    }
    // Not a wait for an event: this random moment is where the crash happens.
    const std::uint64_t kill_after_us = rng.below(static_cast<std::uint64_t>(write_time.count()) + 1);
    std::this_thread::sleep_for(std::chrono::microseconds(kill_after_us));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "trial " << trial << ": the writer failed on its own";
    while (const std::optional<std::int64_t> late = next_report(fds[0])) reported = *late;  // sent before the kill
    ::close(fds[0]);

    for (const std::string& name : names_in(dir.path())) {
      cut_mid_write += name.ends_with(".tmp") || name.ends_with(".deleting");
    }
    Result<Checkpoint> read = read_checkpoint(dir.path());
    ASSERT_TRUE(read.is_ok()) << "trial " << trial << ": " << read.status().to_string();
    const std::int64_t step = read->manifest["step"].get<std::int64_t>();
    EXPECT_TRUE(step == reported || step == reported + 1) << "read step " << step << ", reported " << reported;
    expect_holds_step(read, step, kElements);
    reported = std::max(reported, step);
  }
  EXPECT_GT(cut_mid_write, 0) << "no kill landed inside a write; the test exercised nothing";
  // The next write cleans whatever the killed writers left behind.
  ASSERT_TRUE(write_checkpoint(dir.path(), reported + 1, make_checkpoint(reported + 1), 2).is_ok());
  expect_holds_step(read_checkpoint(dir.path()), reported + 1);
  EXPECT_EQ(list_checkpoints(dir.path()).size(), 2u);
  for (const std::string& name : names_in(dir.path())) {
    EXPECT_THAT(name, AllOf(Not(HasSubstr(".tmp")), Not(HasSubstr(".deleting"))));
  }
}

}  // namespace
}  // namespace courier
