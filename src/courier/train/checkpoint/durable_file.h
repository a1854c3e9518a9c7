// Files that survive a crash, and reads that never trust a length they have not checked.
// POSIX: write to "<path>.tmp", fsync it, rename it over <path>, fsync the directory, so a
// reader sees the old file or the new one, never a mix. Errors name the path and errno text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "courier/core/status.h"

namespace courier {

// The Status for a failed system call `operation` on `path` with errno `error`:
// ENOENT -> NOT_FOUND, ENOSPC/EDQUOT -> RESOURCE_EXHAUSTED,
// EACCES/EPERM/EROFS/ENOTDIR/EISDIR -> FAILED_PRECONDITION, anything else -> UNAVAILABLE.
Status errno_status(std::string_view operation, const std::filesystem::path& path, int error);

// Writes the concatenation of `chunks` to `path`.tmp, fsyncs it, renames it over `path` and
// fsyncs the directory. On failure the temporary is removed and `path` is untouched.
// Not safe against another writer of the same path at the same time.
Status write_file_atomically(const std::filesystem::path& path, std::span<const std::span<const std::byte>> chunks);
Status write_file_atomically(const std::filesystem::path& path, std::string_view text);

// fsync of a directory, so that a rename or an unlink inside it is durable.
Status fsync_directory(const std::filesystem::path& directory);

// A file open for reading at offsets. Move-only; closes on destruction. Thread-compatible.
class ReadOnlyFile {
 public:
  static Result<ReadOnlyFile> open(const std::filesystem::path& path);

  ReadOnlyFile(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile& operator=(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  ~ReadOnlyFile();

  // Bytes in the file when it was opened.
  std::uint64_t size_bytes() const { return size_bytes_; }
  const std::filesystem::path& path() const { return path_; }

  // Fills `out` from `offset`. A file that ends early (it shrank since open) is DATA_LOSS.
  Status read_at(std::uint64_t offset, std::span<std::byte> out) const;

 private:
  ReadOnlyFile(std::filesystem::path path, int fd, std::uint64_t size_bytes);

  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_bytes_ = 0;
};

// The whole file as text. A file larger than `max_bytes` is DATA_LOSS (it is not what the
// caller expects to find there), so a damaged path cannot make the reader allocate much.
Result<std::string> read_small_file(const std::filesystem::path& path, std::uint64_t max_bytes);

}  // namespace courier
