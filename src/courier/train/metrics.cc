// The JSON-lines metrics file.
#include "courier/train/metrics.h"

#include <fmt/format.h>

namespace courier {

Result<std::unique_ptr<MetricsWriter>> MetricsWriter::open(const std::filesystem::path& path) {
  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    return Status::failed_precondition(fmt::format("cannot create the directory of metrics file '{}': {}",
                                                   path.string(), error.message()));
  }
  std::ofstream out(path, std::ios::app);
  if (!out) {
    return Status::failed_precondition(fmt::format("cannot open metrics file '{}' for writing; check train.out",
                                                   path.string()));
  }
  return std::unique_ptr<MetricsWriter>(new MetricsWriter(path, std::move(out)));
}

void MetricsWriter::write(const nlohmann::json& record) {
  std::lock_guard lock(mutex_);
  out_ << record.dump() << '\n';
  out_.flush();
}

}  // namespace courier
