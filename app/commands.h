// The courier subcommands. Each cmd_<name>.cc registers its subcommand on the root CLI::App
// and sets `action` when the user chose it; main.cc runs the action and owns exit codes.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "courier/core/status.h"

namespace courier::app {

// What a parsed command line asks for. Returns the process exit code.
using Action = std::function<int()>;

// Exit codes (sysexits.h spirit): 0 success, 1 the job failed, 2 bad usage, 70 a bug.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 70;

// Prints "courier: <message>" to stderr and returns the exit code of a failed command: bad
// input the user gave on the command line (INVALID_ARGUMENT) is usage, anything else a failure.
int report_failure(const Status& status);

void add_demo_command(CLI::App& root, Action& action);
void add_bench_command(CLI::App& root, Action& action);
void add_train_command(CLI::App& root, Action& action);
void add_generate_command(CLI::App& root, Action& action);
void add_simulate_command(CLI::App& root, Action& action);
void add_launch_command(CLI::App& root, Action& action);

}  // namespace courier::app
