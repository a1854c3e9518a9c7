// Logging: the node label in every line, per-thread and nesting NodeLogScope, level names.
#include "courier/core/logging.h"

#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

namespace courier {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A logger that writes courier's format into a string stream.
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)),
        logger_("captured", sink_) {
    logger_.set_formatter(make_log_formatter());
    logger_.set_level(spdlog::level::trace);
  }

  spdlog::logger& logger() { return logger_; }
  std::string text() {
    logger_.flush();
    return out_.str();
  }
  void clear() { out_.str(""); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::logger logger_;
};

TEST(LoggingTest, LineCarriesTheNodeLabel) {
  CapturedLog log;
  {
    NodeLogScope scope("rank 3");
    log.logger().info("step {} loss {}", 100, 1.93);
  }
  const std::string text = log.text();
  EXPECT_THAT(text, HasSubstr("[rank 3] step 100 loss 1.93"));
  // "[HH:MM:SS.mmm] info  [rank 3] ...": time first, then the padded level.
  EXPECT_THAT(text, StartsWith("["));
  EXPECT_THAT(text, HasSubstr("] info  [rank 3] "));
  EXPECT_THAT(text, EndsWith("\n"));
}

TEST(LoggingTest, NoScopeNoLabel) {
  CapturedLog log;
  log.logger().info("hello");
  const std::string text = log.text();
  EXPECT_THAT(text, HasSubstr("] info  hello"));
  EXPECT_THAT(text, Not(HasSubstr("rank")));
  EXPECT_EQ(node_log_label(), "");
}

TEST(LoggingTest, ScopesNestAndRestore) {
  CapturedLog log;
  EXPECT_EQ(node_log_label(), "");
  {
    NodeLogScope outer("rank 1");
    EXPECT_EQ(node_log_label(), "rank 1");
    {
      NodeLogScope inner("server 2");
      EXPECT_EQ(node_log_label(), "server 2");
      log.logger().info("inner");
      EXPECT_THAT(log.text(), HasSubstr("[server 2] inner"));
      EXPECT_THAT(log.text(), Not(HasSubstr("rank 1")));
      log.clear();
    }
    EXPECT_EQ(node_log_label(), "rank 1");
    log.logger().info("outer again");
    EXPECT_THAT(log.text(), HasSubstr("[rank 1] outer again"));
    EXPECT_THAT(log.text(), Not(HasSubstr("server 2")));
    log.clear();
  }
  EXPECT_EQ(node_log_label(), "");
  log.logger().info("outside");
  EXPECT_THAT(log.text(), HasSubstr("info  outside"));
  EXPECT_THAT(log.text(), Not(HasSubstr("rank 1")));
}

TEST(LoggingTest, EachThreadHasItsOwnLabel) {
  CapturedLog log;
  NodeLogScope main_scope("rank 0");
  std::string label_at_thread_start = "unset";
  std::string label_in_thread;
  std::thread worker([&] {
    label_at_thread_start = node_log_label();
    NodeLogScope scope("rank 5");
    label_in_thread = node_log_label();
    log.logger().info("from worker");
  });
  worker.join();
  log.logger().info("from main");

  EXPECT_EQ(label_at_thread_start, "");
  EXPECT_EQ(label_in_thread, "rank 5");
  EXPECT_EQ(node_log_label(), "rank 0");
  const std::string text = log.text();
  EXPECT_THAT(text, HasSubstr("[rank 5] from worker"));
  EXPECT_THAT(text, HasSubstr("[rank 0] from main"));
  EXPECT_THAT(text, Not(HasSubstr("[rank 0] from worker")));
  EXPECT_THAT(text, Not(HasSubstr("[rank 5] from main")));
}

TEST(LoggingTest, EverySinkGetsTheLabel) {
  // With two sinks, spdlog gives the first a clone of the formatter: the custom %N flag
  // must survive cloning.
  std::ostringstream first;
  std::ostringstream second;
  spdlog::logger logger("two sinks", {std::make_shared<spdlog::sinks::ostream_sink_mt>(first),
                                      std::make_shared<spdlog::sinks::ostream_sink_mt>(second)});
  logger.set_formatter(make_log_formatter());
  NodeLogScope scope("worker 7");
  logger.info("both");
  logger.flush();
  EXPECT_THAT(first.str(), HasSubstr("[worker 7] both"));
  EXPECT_THAT(second.str(), HasSubstr("[worker 7] both"));
}

TEST(LoggingTest, ParseLogLevel) {
  EXPECT_EQ(parse_log_level("trace"), LogLevel::kTrace);
  EXPECT_EQ(parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(parse_log_level("info"), LogLevel::kInfo);
  EXPECT_EQ(parse_log_level("warn"), LogLevel::kWarn);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::kWarn);
  EXPECT_EQ(parse_log_level("error"), LogLevel::kError);
  EXPECT_EQ(parse_log_level("off"), LogLevel::kOff);
  EXPECT_EQ(parse_log_level(""), std::nullopt);
  EXPECT_EQ(parse_log_level("verbose"), std::nullopt);
  EXPECT_EQ(parse_log_level("inf"), std::nullopt);
}

TEST(LoggingTest, ConfigureLoggingSetsTheDefaultLogger) {
  const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  configure_logging(LogOptions{.level = LogLevel::kDebug});
  EXPECT_EQ(spdlog::default_logger()->name(), "courier");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
  configure_logging(LogOptions{.level = LogLevel::kOff});
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::off);
  configure_logging(LogOptions{});
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::info);
  spdlog::set_default_logger(previous);
}

}  // namespace
}  // namespace courier
