// The safetensors format (Hugging Face), so PyTorch and Hugging Face tools read courier's
// checkpoints: an 8-byte little-endian header length N, N bytes of JSON naming each tensor's
// dtype, shape and byte range, then the packed data. docs/checkpoint-format.md has the
// grammar and the list of checks the reader makes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "courier/core/dtype.h"
#include "courier/core/status.h"

namespace courier {

// The largest header the reader accepts, as in the reference implementation.
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// A tensor to write, borrowed: `values` must outlive the write. Row-major, shape {} is a
// scalar (one element). Only F32 for now; another dtype becomes another alternative for the
// data, and the writer sees a tensor only through dtype() and bytes().
struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::span<const float> values;

  DType dtype() const { return DType::kF32; }
  std::span<const std::byte> bytes() const { return std::as_bytes(values); }
};

// A tensor read back, owning its values.
struct OwnedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;

  NamedTensor view() const { return NamedTensor{name, shape, values}; }
};

struct SafetensorsFile {
  std::vector<OwnedTensor> tensors;  // in the order of their data in the file
  std::map<std::string, std::string> metadata;
};

// Writes `tensors` in the given order, packed, header padded with spaces to 8 bytes, to
// `path`.tmp; fsyncs it, renames it over `path` and fsyncs the directory, so `path` holds the
// old file or the new one after a crash. "__metadata__" is written only when `metadata` is
// not empty. INVALID_ARGUMENT for an empty, duplicate or reserved ("__metadata__") name, a
// negative dimension, a shape whose element count differs from values.size(), or a name or
// metadata string that is not UTF-8. Blocking; not safe against a concurrent writer of `path`.
Status write_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                         const std::map<std::string, std::string>& metadata);

// Reads and validates a whole file; trusts nothing in it. DATA_LOSS (naming the file and
// what is wrong) for a truncated or malformed file, UNIMPLEMENTED for a dtype other than F32
// (naming the tensor), NOT_FOUND for a missing file. Allocates no more than the file's size
// plus its header. Blocking; thread-safe (no shared state).
Result<SafetensorsFile> read_safetensors(const std::filesystem::path& path);

}  // namespace courier
