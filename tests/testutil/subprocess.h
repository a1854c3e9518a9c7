// run_process: runs a program with arguments, captures stdout and stderr, and gives up
// (killing it) at a deadline. For tests of the courier executable.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace courier::testing {

struct ProcessResult {
  int exit_code = -1;      // the exit status, or 128 + signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(120));

// The courier executable of this build (its path is compiled into the test).
std::string courier_binary();

}  // namespace courier::testing
