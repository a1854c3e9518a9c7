// Whole-file byte access for the checkpoint tests, which damage files on purpose.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace courier::checkpoint_testing {

inline std::vector<char> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Replaces the file (a new inode: truncating in place makes ext4 flush on close, much slower).
inline void set_file_bytes(const std::filesystem::path& path, const std::vector<char>& bytes) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void set_file_text(const std::filesystem::path& path, const std::string& text) {
  set_file_bytes(path, std::vector<char>(text.begin(), text.end()));
}

}  // namespace courier::checkpoint_testing
