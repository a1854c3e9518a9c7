// read_text: a whole file as a string ("" when it cannot be read), for tests that look into
// what a run wrote (metrics.jsonl, docs).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace courier::testing {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace courier::testing
