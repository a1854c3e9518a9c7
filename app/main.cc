// courier: the command-line program. Parses flags, runs one subcommand, decides the exit
// code. The only place in courier that prints for people.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.h"
#include "courier/core/check.h"
#include "courier/core/logging.h"

namespace {

constexpr const char* kDescription =
    "courier trains neural networks as message passing between nodes: workers, parameter-server\n"
    "shards and pipeline stages exchanging activations, gradients and parameters.";

constexpr const char* kFooter =
    "Examples:\n"
    "  courier demo seed                 the classic 2-3-2 sigmoid network, 1000 steps of SGD\n"
    "  courier demo seed --seed 7 --steps 200\n"
    "  courier demo seed --nodes layers      the same network as 3 nodes passing messages\n"
    "  courier train configs/gpt-kjv.toml     a character GPT on the King James Bible, 2 nodes\n"
    "  courier generate runs/gpt-kjv/checkpoints --prompt \"And God said\" --tokens 300\n"
    "  courier bench allreduce --ranks 2 --bytes 4K:64M --vs memcpy\n"
    "  mpirun -n 2 courier bench allreduce --transport mpi --algo ring --vs mpi-native\n"
    "Run 'courier <command> --help' for the flags of a command.";

}  // namespace

namespace courier::app {

int report_failure(const Status& status) {
  fmt::print(stderr, "courier: {}\n", status.message());
  return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace courier::app

int main(int argc, char** argv) {
  using namespace courier::app;
  CLI::App root(kDescription, "courier");
  root.footer(kFooter);
  root.set_version_flag("--version", "courier 0.1.0");
  root.require_subcommand(0, 1);
  std::string log_level = "info";
  root.add_option("--log-level", log_level, "Log verbosity: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}))
      ->capture_default_str();

  Action action;
  add_demo_command(root, action);
  add_bench_command(root, action);
  add_train_command(root, action);
  add_simulate_command(root, action);
  add_launch_command(root, action);
  add_generate_command(root, action);
  // Extras are allowed at the top level only so that a mistyped command can be named below;
  // subcommands were created before this and still refuse what they do not know.
  root.allow_extras();

  try {
    root.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "courier: {}\nRun 'courier --help' (or 'courier <command> --help') for usage.\n", e.what());
    return kExitUsage;
  }

  if (!root.remaining().empty()) {
    fmt::print(stderr, "courier: unknown command or argument '{}'\nRun 'courier --help' for the commands.\n",
               root.remaining().front());
    return kExitUsage;
  }
  if (!action) {
    fmt::print(stderr, "courier: a command is required\n{}", root.help());
    return kExitUsage;
  }
  courier::configure_logging({.level = *courier::parse_log_level(log_level)});
  try {
    return action();
  } catch (const courier::CheckError& e) {
    fmt::print(stderr, "courier: internal error (a bug; please report it): {}\n", e.what());
    return kExitInternal;
  } catch (const std::exception& e) {
    fmt::print(stderr, "courier: {}\n", e.what());
    return kExitFailure;
  }
}
