// `courier launch -n N [--max-restarts R] [--shrink] -- train CONFIG [--set ...]`: runs the
// training under mpirun and, when a rank dies (Open MPI then ends the whole job), starts it
// again from the newest checkpoint, with one rank fewer each time if --shrink asks for it. At
// most one checkpoint interval of work is lost. See docs/fault-tolerance.md.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "courier/train/checkpoint/checkpoint.h"
#include "courier/train/config.h"

namespace courier::app {
namespace {

struct LaunchFlags {
  int ranks = 2;
  int max_restarts = 3;
  bool shrink = false;
  std::string mpirun = "mpirun";
  std::vector<std::string> command;  // after --: train CONFIG [--set ...]
};

std::atomic<pid_t> g_child{0};
std::atomic<int> g_signal{0};

// Ctrl-C or a TERM to launch stops the job for good: pass it on, and never restart after it.
void forward_signal(int signal) {
  g_signal.store(signal);
  const pid_t child = g_child.load();
  if (child > 0) kill(child, signal);
}

// The newest checkpoint step under `root`, from its directory name ("step-00000050").
std::optional<std::int64_t> newest_checkpoint(const std::filesystem::path& root) {
  const std::vector<std::filesystem::path> steps = list_checkpoints(root);
  if (steps.empty()) return std::nullopt;
  const std::string name = steps.back().filename().string();
  try {
    return std::stoll(name.substr(name.find('-') + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The last step rank 0 logged in `out`/metrics.jsonl (every train.log_every steps), counted
// as steps done.
std::optional<std::int64_t> last_logged_step(const std::filesystem::path& out) {
  std::ifstream in(out / "metrics.jsonl");
  std::optional<std::int64_t> last;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.value("kind", "") == "step" && record.value("node", -1) == 0) {
      last = record.value("step", std::int64_t{-1}) + 1;
    }
  }
  return last;
}

// Runs argv and waits for it. Returns the wait status, or -1 if it could not start.
int run_child(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execvp(args[0], args.data());
    fmt::print(stderr, "courier: launch: cannot run '{}': {}\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  g_child.store(pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child.store(0);
  return status;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("exit status {}", WEXITSTATUS(status));
}

int run_launch(const LaunchFlags& flags) {
  if (flags.command.size() < 2 || flags.command[0] != "train") {
    fmt::print(stderr, "courier: launch runs a training: courier launch -n 4 -- train CONFIG [--set key=value ...]\n");
    return kExitUsage;
  }
  // Read the config as train will, for its output directory and its shape.
  const std::string& config_path = flags.command[1];
  std::vector<std::string> overrides;
  for (std::size_t i = 2; i < flags.command.size(); ++i) {
    if (flags.command[i] == "--set" && i + 1 < flags.command.size()) {
      overrides.push_back(flags.command[++i]);
    } else if (flags.command[i].starts_with("--set=")) {
      overrides.push_back(flags.command[i].substr(6));
    } else if (flags.command[i] == "--resume") {
      fmt::print(stderr, "courier: launch resumes by itself from train.out's checkpoints; leave out --resume\n");
      return kExitUsage;
    }
  }
  Result<Config> config = load_config(config_path);
  for (const std::string& o : overrides) {
    if (!config.is_ok()) break;
    if (Status s = apply_override(*config, o); !s.is_ok()) config = s;
  }
  if (config.is_ok()) {
    if (Status s = validate(*config); !s.is_ok()) config = s;
  }
  if (!config.is_ok()) {
    fmt::print(stderr, "courier: {}\n", config.status().message());
    return kExitUsage;
  }
  const bool ps = config->dist.strategy == "ps";
  const int servers = ps ? static_cast<int>(config->dist.servers) : 0;
  if (flags.shrink && config->dist.strategy == "pipeline") {
    fmt::print(stderr, "courier: launch --shrink cannot shrink a pipeline's stages x replicas grid; leave out --shrink\n");
    return kExitUsage;
  }
  const std::filesystem::path out(config->train.out);
  const std::filesystem::path checkpoints = out / "checkpoints";
  char self[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  const std::string courier = length > 0 ? std::string(self, static_cast<std::size_t>(length)) : "courier";

  struct sigaction action{};
  action.sa_handler = forward_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  int ranks = flags.ranks;
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> argv = {flags.mpirun, "--oversubscribe"};
    if (geteuid() == 0) argv.push_back("--allow-run-as-root");
    argv.insert(argv.end(), {"-n", std::to_string(ranks), courier});
    argv.insert(argv.end(), flags.command.begin(), flags.command.end());
    argv.insert(argv.end(), {"--set", "dist.transport=mpi"});
    if (flags.shrink) argv.insert(argv.end(), {"--set", fmt::format("train.workers={}", ranks - servers)});
    const std::optional<std::int64_t> resume_step = newest_checkpoint(checkpoints);
    if (attempt > 0 && resume_step) argv.insert(argv.end(), {"--resume", checkpoints.string()});
    fmt::print(stderr, "launch: attempt {} of {}: {} ranks{}\n", attempt + 1, flags.max_restarts + 1, ranks,
               attempt > 0 ? (resume_step ? fmt::format(", from checkpoint step {}", *resume_step)
                                          : std::string(", from the start (no checkpoint yet)"))
                           : std::string());
    std::fflush(stderr);
    const int status = run_child(argv);
    if (status == -1) {
      fmt::print(stderr, "courier: launch: cannot start {}: {}\n", flags.mpirun, std::strerror(errno));
      return kExitFailure;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      if (attempt > 0) fmt::print(stderr, "launch: the training finished after {} restart(s)\n", attempt);
      return kExitOk;
    }
    if (g_signal.load() != 0) {
      fmt::print(stderr, "launch: stopped by signal {}; not restarting\n", g_signal.load());
      return 128 + g_signal.load();
    }
    if (WIFEXITED(status) && (WEXITSTATUS(status) == kExitUsage || WEXITSTATUS(status) == 127)) {
      fmt::print(stderr, "launch: the job failed with {} (bad usage or a missing program): a restart would fail "
                         "the same way; not restarting\n", describe_exit(status));
      return kExitFailure;
    }
    const std::optional<std::int64_t> reached = last_logged_step(out);
    const std::optional<std::int64_t> saved = newest_checkpoint(checkpoints);
    std::string lost = "no checkpoint yet: the restart begins again from step 0";
    if (saved) {
      lost = reached ? fmt::format("the newest checkpoint is step {}; the job had logged step {}: {} step(s) lost",
                                   *saved, *reached, std::max<std::int64_t>(0, *reached - *saved))
                     : fmt::format("the newest checkpoint is step {}", *saved);
    }
    fmt::print(stderr, "launch: attempt {} failed ({}); {}\n", attempt + 1, describe_exit(status), lost);
    if (attempt >= flags.max_restarts) {
      fmt::print(stderr, "courier: launch: gave up after {} restart(s) (--max-restarts {}); the checkpoints under {} "
                         "are intact: raise --max-restarts or run 'courier train ... --resume {}'\n",
                 attempt, flags.max_restarts, checkpoints.string(), checkpoints.string());
      return kExitFailure;
    }
    if (flags.shrink) {
      if (ranks - 1 - servers < 1) {
        fmt::print(stderr, "courier: launch: cannot shrink below one worker\n");
        return kExitFailure;
      }
      --ranks;
    }
  }
}

}  // namespace

void add_launch_command(CLI::App& root, Action& action) {
  auto flags = std::make_shared<LaunchFlags>();
  CLI::App* cmd = root.add_subcommand(
      "launch",
      "Run a training under mpirun (dist.transport = mpi) and, when a rank dies, restart it from the\n"
      "newest checkpoint under train.out, up to --max-restarts times; --shrink restarts with one rank\n"
      "fewer each time. At most checkpoint.every steps are lost a failure (docs/fault-tolerance.md).");
  cmd->add_option("-n,--ranks", flags->ranks, "MPI ranks (workers, plus dist.servers for ps)")
      ->required()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--max-restarts", flags->max_restarts, "Restarts after failures before giving up")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_flag("--shrink", flags->shrink, "Restart with one rank fewer (sets train.workers) after each failure");
  cmd->add_option("--mpirun", flags->mpirun, "The mpirun to use")->capture_default_str();
  cmd->add_option("command", flags->command, "-- train CONFIG [--set key=value ...]")->required();
  cmd->prefix_command(false);
  cmd->callback([flags, &action] { action = [flags] { return run_launch(*flags); }; });
}

}  // namespace courier::app
