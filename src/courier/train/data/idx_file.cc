// read_idx: the IDX file format, raw or gzipped (through zlib). No tensors here, so the fuzzer
// (fuzz/idx_fuzz.cc) builds it alone; the Dataset built on it is in idx.cc.
#include "courier/train/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "courier/core/check.h"

namespace courier {
namespace {

namespace fs = std::filesystem;

constexpr std::uint8_t kIdxUnsignedByte = 0x08;
constexpr int kIdxMaxDims = 4;
constexpr std::size_t kReadChunkBytes = std::size_t{16} << 20;
constexpr unsigned kGzBufferBytes = 256u << 10;

std::string quoted(const fs::path& path) { return fmt::format("'{}'", path.string()); }

std::string idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return "unknown";
  }
}

struct GzClose {
  void operator()(gzFile_s* file) const { gzclose(file); }
};

// The bytes of a file, inflated when it is gzipped. zlib passes a raw file through unchanged.
class IdxSource {
 public:
  static Result<IdxSource> open(const fs::path& path);

  // Up to out.size() bytes; fewer only at the end of the stream. A corrupt gzip stream is an error.
  Result<std::size_t> read(std::span<std::uint8_t> out);
  // Why the stream ended early, if zlib knows ("unexpected end of file"); empty otherwise.
  std::string early_end_reason() const;

  bool gzipped() const { return raw_bytes_ < 0; }
  // The size of a raw file: everything read() will deliver. -1 when gzipped (unknown up front).
  std::int64_t raw_bytes() const { return raw_bytes_; }

 private:
  IdxSource(fs::path path, gzFile_s* file, std::int64_t raw_bytes)
      : path_(std::move(path)), file_(file), raw_bytes_(raw_bytes) {}

  fs::path path_;
  std::unique_ptr<gzFile_s, GzClose> file_;
  std::int64_t raw_bytes_;
};

Result<IdxSource> IdxSource::open(const fs::path& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) {
    return Status::not_found(fmt::format(
        "no IDX file at {}: install the Fashion-MNIST files with `make data` (scripts/install-deps data installs "
        "Debian's dataset-fashion-mnist), or set data.path to the directory that holds the IDX files",
        quoted(path)));
  }
  if (fs::is_directory(status)) {
    return Status::invalid_argument(fmt::format("{} is a directory, not an IDX file: name the file itself", quoted(path)));
  }
  unsigned char magic[2] = {0, 0};
  std::ifstream probe(path, std::ios::binary);
  if (!probe) {
    return Status::failed_precondition(
        fmt::format("cannot open IDX file {}: {}; check its permissions", quoted(path), std::strerror(errno)));
  }
  probe.read(reinterpret_cast<char*>(magic), 2);
  const bool gzipped = probe.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  const std::int64_t raw_bytes = gzipped ? -1 : static_cast<std::int64_t>(fs::file_size(path, error));
  if (error) return Status::failed_precondition(fmt::format("cannot stat IDX file {}: {}", quoted(path), error.message()));

  gzFile_s* file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::failed_precondition(
        fmt::format("cannot open IDX file {}: {}; check its permissions", quoted(path), std::strerror(errno)));
  }
  gzbuffer(file, kGzBufferBytes);
  return IdxSource(path, file, raw_bytes);
}

Result<std::size_t> IdxSource::read(std::span<std::uint8_t> out) {
  std::size_t total = 0;
  while (total < out.size()) {
    const auto want = static_cast<unsigned>(std::min(out.size() - total, kReadChunkBytes));
    const int got = gzread(file_.get(), out.data() + total, want);
    if (got < 0) {
      int code = Z_OK;
      const char* message = gzerror(file_.get(), &code);
      if (code == Z_ERRNO) {
        return Status::data_loss(fmt::format("reading IDX file {} failed: {}", quoted(path_), std::strerror(errno)));
      }
      return Status::data_loss(fmt::format("IDX file {} is not a valid gzip stream ({}): the file is damaged; "
                                           "reinstall or re-create it",
                                           quoted(path_), message));
    }
    total += static_cast<std::size_t>(got);
    if (static_cast<unsigned>(got) < want) break;
  }
  return total;
}

std::string IdxSource::early_end_reason() const {
  int code = Z_OK;
  const char* message = gzerror(file_.get(), &code);
  return code == Z_OK ? std::string() : fmt::format(" (gzip: {})", message);
}

struct IdxHeader {
  std::vector<std::int64_t> dims;
  std::int64_t header_bytes = 0;
  std::int64_t data_bytes = 0;  // product(dims)
};

Status header_truncated(const fs::path& path, std::int64_t expected, std::size_t actual, const IdxSource& source) {
  return Status::data_loss(fmt::format("IDX file {} is truncated inside its header: expected {} header bytes, found {}{}; "
                                       "the file is damaged, reinstall or re-create it",
                                       quoted(path), expected, actual, source.early_end_reason()));
}

// 0x00 0x00 type ndims, with type 0x08 and ndims in 1..4.
Status check_magic(const std::uint8_t (&magic)[4], const fs::path& path) {
  if (magic[0] != 0 || magic[1] != 0) {
    return Status::invalid_argument(fmt::format("{} is not an IDX file: it starts with {:#04x} {:#04x}, an IDX file "
                                                "with 0x00 0x00",
                                                quoted(path), magic[0], magic[1]));
  }
  if (magic[2] != kIdxUnsignedByte) {
    return Status::invalid_argument(fmt::format("IDX file {} holds type {:#04x} ({}); courier reads only type 0x08 "
                                                "(unsigned byte): convert the file to bytes",
                                                quoted(path), magic[2], idx_type_name(magic[2])));
  }
  if (magic[3] < 1 || magic[3] > kIdxMaxDims) {
    return Status::invalid_argument(fmt::format(
        "IDX file {} declares {} dimensions; courier reads 1 to {}: the file is not an image or label file",
        quoted(path), magic[3], kIdxMaxDims));
  }
  return Status::ok();
}

// The product of the dimensions, checked against kIdxMaxBytes before anyone allocates from
// it. A zero dimension makes an empty (valid) array, whatever the others say.
Status set_data_bytes(IdxHeader& header, const fs::path& path) {
  if (std::find(header.dims.begin(), header.dims.end(), 0) != header.dims.end()) {
    header.data_bytes = 0;
    return Status::ok();
  }
  std::int64_t product = 1;
  for (const std::int64_t dim : header.dims) {
    if (product > kIdxMaxBytes / dim) {
      return Status::resource_exhausted(fmt::format(
          "IDX file {} declares dimensions [{}], more than the {} bytes courier reads from one IDX file: the header is "
          "probably damaged; reinstall or re-create the file",
          quoted(path), fmt::join(header.dims, ", "), kIdxMaxBytes));
    }
    product *= dim;
  }
  header.data_bytes = product;
  return Status::ok();
}

Result<IdxHeader> read_header(IdxSource& source, const fs::path& path) {
  std::uint8_t magic[4];
  Result<std::size_t> got = source.read(magic);
  if (!got.is_ok()) return got.status();
  if (*got < 4) return header_truncated(path, 4, *got, source);
  if (Status status = check_magic(magic, path); !status.is_ok()) return status;

  const std::size_t ndims = magic[3];
  IdxHeader header;
  header.header_bytes = 4 + 4 * static_cast<std::int64_t>(ndims);
  std::uint8_t dim_bytes[4 * kIdxMaxDims];
  got = source.read(std::span<std::uint8_t>(dim_bytes, 4 * ndims));
  if (!got.is_ok()) return got.status();
  if (*got < 4 * ndims) return header_truncated(path, header.header_bytes, 4 + *got, source);
  for (std::size_t d = 0; d < ndims; ++d) {
    const std::uint8_t* b = dim_bytes + 4 * d;  // big-endian uint32
    header.dims.push_back((std::int64_t{b[0]} << 24) | (std::int64_t{b[1]} << 16) | (std::int64_t{b[2]} << 8) | b[3]);
  }
  if (Status status = set_data_bytes(header, path); !status.is_ok()) return status;
  return header;
}

Status data_size_mismatch(const fs::path& path, const IdxHeader& header, std::int64_t actual, std::string_view why) {
  return Status::data_loss(fmt::format("IDX file {} {}: its header declares dimensions [{}] = {} data bytes, the file "
                                       "holds {} data bytes; the file is damaged, reinstall or re-create it",
                                       quoted(path), why, fmt::join(header.dims, ", "), header.data_bytes, actual));
}

// A raw file's size is known, so a wrong size is reported before anything is allocated.
Status check_raw_size(const fs::path& path, const IdxHeader& header, const IdxSource& source) {
  if (source.gzipped()) return Status::ok();
  const std::int64_t actual = source.raw_bytes() - header.header_bytes;
  if (actual < header.data_bytes) return data_size_mismatch(path, header, actual, "is truncated");
  if (actual > header.data_bytes) return data_size_mismatch(path, header, actual, "has bytes after its data");
  return Status::ok();
}

// Grows the buffer with the bytes that actually arrive, so a gzipped header that lies about
// its size cannot make us allocate more than the stream delivers.
Result<std::vector<std::uint8_t>> read_data(IdxSource& source, const fs::path& path, const IdxHeader& header) {
  std::vector<std::uint8_t> values;
  const auto expected = static_cast<std::size_t>(header.data_bytes);
  while (values.size() < expected) {
    const std::size_t before = values.size();
    const std::size_t want = std::min(expected - before, kReadChunkBytes);
    values.resize(before + want);
    Result<std::size_t> got = source.read(std::span<std::uint8_t>(values).subspan(before));
    if (!got.is_ok()) return got.status();
    values.resize(before + *got);
    if (*got < want) break;  // the end of the stream
  }
  if (values.size() < expected) {
    return data_size_mismatch(path, header, static_cast<std::int64_t>(values.size()),
                              "is truncated" + source.early_end_reason());
  }
  std::uint8_t extra[4096];
  std::int64_t trailing = 0;
  for (;;) {
    Result<std::size_t> got = source.read(extra);
    if (!got.is_ok()) return got.status();
    trailing += static_cast<std::int64_t>(*got);
    if (*got < sizeof(extra) || trailing > kIdxMaxBytes) break;
  }
  if (trailing > 0) return data_size_mismatch(path, header, header.data_bytes + trailing, "has bytes after its data");
  return values;
}

}  // namespace

Result<IdxArray> read_idx(const std::filesystem::path& path) {
  Result<IdxSource> source = IdxSource::open(path);
  if (!source.is_ok()) return source.status();
  Result<IdxHeader> header = read_header(*source, path);
  if (!header.is_ok()) return header.status();
  if (Status status = check_raw_size(path, *header, *source); !status.is_ok()) return status;
  Result<std::vector<std::uint8_t>> values = read_data(*source, path, *header);
  if (!values.is_ok()) return values.status();
  return IdxArray{std::move(header->dims), std::move(values).value()};
}

}  // namespace courier
