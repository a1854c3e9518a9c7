// Logging on spdlog, with the node that speaks in every line:
//   [11:32:07.114] info  [rank 2] step 100 loss 1.93
// The label is per thread (on inproc every node is a thread), set by NodeLogScope.
// Library code logs with spdlog::info(...) etc.; the app calls configure_logging once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace courier {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

std::optional<LogLevel> parse_log_level(std::string_view name);  // "trace" ... "off"

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
};

// Sends the default logger to stderr with the node-label pattern. Call once, early,
// from the thread that owns the process (app/main.cc). Not thread-safe against logging.
void configure_logging(const LogOptions& options);

// The pattern formatter courier's loggers use; exposed for extra sinks and tests.
std::unique_ptr<spdlog::formatter> make_log_formatter();

// Labels the calling thread's log lines ("rank 3", "server 1") for the scope's lifetime
// and restores the previous label after. Scopes nest; each thread has its own label.
class NodeLogScope {
 public:
  explicit NodeLogScope(std::string label);
  ~NodeLogScope();
  NodeLogScope(const NodeLogScope&) = delete;
  NodeLogScope& operator=(const NodeLogScope&) = delete;

 private:
  std::string previous_;
};

// The calling thread's label, empty outside any NodeLogScope.
const std::string& node_log_label();

}  // namespace courier
