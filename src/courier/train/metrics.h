// Metrics as JSON lines: one record a line, appended, flushed at once, so a crashed run keeps
// what it measured and `tail -f` shows a live one.
#pragma once

#include <filesystem>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "courier/core/status.h"

namespace courier {

class MetricsWriter {
 public:
  // Opens (creates or appends to) `path`, creating its directory. NOT_FOUND/FAILED_PRECONDITION
  // naming the path when it cannot.
  static Result<std::unique_ptr<MetricsWriter>> open(const std::filesystem::path& path);

  // Thread-safe.
  void write(const nlohmann::json& record);
  const std::filesystem::path& path() const { return path_; }

 private:
  MetricsWriter(std::filesystem::path path, std::ofstream out) : path_(std::move(path)), out_(std::move(out)) {}
  std::filesystem::path path_;
  std::mutex mutex_;
  std::ofstream out_;
};

}  // namespace courier
