// spdlog set-up: the custom %N flag that prints the thread's node label.
#include "courier/core/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace courier {
namespace {

thread_local std::string t_node_label;

constexpr const char* kPattern = "[%H:%M:%S.%e] %^%-5l%$ %N%v";

// %N: "[rank 2] " when the thread has a label, nothing otherwise.
class NodeLabelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (t_node_label.empty()) return;
    dest.push_back('[');
    dest.append(t_node_label.data(), t_node_label.data() + t_node_label.size());
    dest.push_back(']');
    dest.push_back(' ');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<NodeLabelFlag>(); }
};

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "trace") return LogLevel::kTrace;
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return std::nullopt;
}

std::unique_ptr<spdlog::formatter> make_log_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<NodeLabelFlag>('N').set_pattern(kPattern);
  return formatter;
}

void configure_logging(const LogOptions& options) {
  auto logger = std::make_shared<spdlog::logger>("courier", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_formatter(make_log_formatter());
  logger->set_level(to_spdlog(options.level));
  spdlog::set_default_logger(std::move(logger));
}

NodeLogScope::NodeLogScope(std::string label) : previous_(std::exchange(t_node_label, std::move(label))) {}

NodeLogScope::~NodeLogScope() { t_node_label = std::move(previous_); }

const std::string& node_log_label() { return t_node_label; }

}  // namespace courier
