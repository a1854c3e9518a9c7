// The POSIX calls behind crash-safe writes: open, write in full, fsync, rename, fsync the
// directory; and positioned reads that report a short file as DATA_LOSS.
#include "courier/train/checkpoint/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace courier {
namespace {

// Closes a descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

Status write_all(int fd, const std::filesystem::path& path, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path, errno);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
  return Status::ok();
}

Status write_and_sync(const std::filesystem::path& path, std::span<const std::span<const std::byte>> chunks) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("create", path, errno);
  FdCloser closer(fd);
  for (std::span<const std::byte> chunk : chunks) {
    if (Status s = write_all(fd, path, chunk); !s.is_ok()) return s;
  }
  if (::fsync(fd) != 0) return errno_status("fsync", path, errno);
  return Status::ok();
}

}  // namespace

Status errno_status(std::string_view operation, const std::filesystem::path& path, int error) {
  std::string message = fmt::format("'{}': {} failed: {}", path.string(), operation, std::strerror(error));
  switch (error) {
    case ENOENT: return Status::not_found(std::move(message));
    case ENOSPC:
    case EDQUOT: return Status::resource_exhausted(message + "; free disk space or choose another directory");
    case EACCES:
    case EPERM:
    case EROFS:
    case ENOTDIR:
    case EISDIR: return Status::failed_precondition(message + "; check the path and its permissions");
    default: return Status::unavailable(std::move(message));
  }
}

Status fsync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open directory", directory, errno);
  FdCloser closer(fd);
  if (::fsync(fd) != 0) return errno_status("fsync directory", directory, errno);
  return Status::ok();
}

Status write_file_atomically(const std::filesystem::path& path, std::span<const std::span<const std::byte>> chunks) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  Status s = write_and_sync(temporary, chunks);
  if (s.is_ok() && ::rename(temporary.c_str(), path.c_str()) != 0) s = errno_status("rename into place", path, errno);
  if (!s.is_ok()) {
    ::unlink(temporary.c_str());
    return s;
  }
  const std::filesystem::path parent = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  return fsync_directory(parent);
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  const std::span<const std::byte> chunk = std::as_bytes(std::span(text.data(), text.size()));
  return write_file_atomically(path, std::span(&chunk, 1));
}

Result<ReadOnlyFile> ReadOnlyFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return errno_status("stat", path, error);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::failed_precondition(fmt::format("'{}' is not a regular file", path.string()));
  }
  return ReadOnlyFile(path, fd, static_cast<std::uint64_t>(info.st_size));
}

ReadOnlyFile::ReadOnlyFile(std::filesystem::path path, int fd, std::uint64_t size_bytes)
    : path_(std::move(path)), fd_(fd), size_bytes_(size_bytes) {}

ReadOnlyFile::ReadOnlyFile(ReadOnlyFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_bytes_(other.size_bytes_) {}

ReadOnlyFile& ReadOnlyFile::operator=(ReadOnlyFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_bytes_ = other.size_bytes_;
  }
  return *this;
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status ReadOnlyFile::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  std::uint64_t position = offset;
  while (!out.empty()) {
    const ssize_t got = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(position));
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno_status("read", path_, errno);
    }
    if (got == 0) {
      return Status::data_loss(fmt::format("'{}': the file ended at byte {} while reading {} more bytes; it is "
                                           "truncated (or was cut while being read)",
                                           path_.string(), position, out.size()));
    }
    position += static_cast<std::uint64_t>(got);
    out = out.subspan(static_cast<std::size_t>(got));
  }
  return Status::ok();
}

Result<std::string> read_small_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  Result<ReadOnlyFile> file = ReadOnlyFile::open(path);
  if (!file.is_ok()) return file.status();
  if (file->size_bytes() > max_bytes) {
    return Status::data_loss(fmt::format("'{}' has {} bytes, more than the {} such a file may have; it is damaged "
                                         "or not the file expected here",
                                         path.string(), file->size_bytes(), max_bytes));
  }
  std::string text(static_cast<std::size_t>(file->size_bytes()), '\0');
  if (Status s = file->read_at(0, std::as_writable_bytes(std::span(text.data(), text.size()))); !s.is_ok()) return s;
  return text;
}

}  // namespace courier
