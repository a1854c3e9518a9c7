// DType names, sizes and ids.
#include "courier/core/dtype.h"

#include <array>
#include <cctype>
#include <string>

namespace courier {
namespace {

struct DTypeInfo {
  DType dtype;
  std::size_t bytes;
  std::string_view name;
};

constexpr std::array kDTypes = {
    DTypeInfo{DType::kF32, 4, "f32"}, DTypeInfo{DType::kF16, 2, "f16"}, DTypeInfo{DType::kBF16, 2, "bf16"},
    DTypeInfo{DType::kF64, 8, "f64"}, DTypeInfo{DType::kI8, 1, "i8"},   DTypeInfo{DType::kU8, 1, "u8"},
    DTypeInfo{DType::kI32, 4, "i32"}, DTypeInfo{DType::kI64, 8, "i64"},
};

const DTypeInfo* find(DType dtype) {
  for (const auto& info : kDTypes) {
    if (info.dtype == dtype) return &info;
  }
  return nullptr;
}

}  // namespace

std::size_t dtype_size(DType dtype) {
  const DTypeInfo* info = find(dtype);
  return info ? info->bytes : 0;
}

std::string_view dtype_name(DType dtype) {
  const DTypeInfo* info = find(dtype);
  return info ? info->name : "invalid";
}

std::optional<DType> parse_dtype(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& info : kDTypes) {
    if (info.name == lower) return info.dtype;
  }
  return std::nullopt;
}

std::optional<DType> dtype_from_id(std::uint8_t id) {
  for (const auto& info : kDTypes) {
    if (static_cast<std::uint8_t>(info.dtype) == id) return info.dtype;
  }
  return std::nullopt;
}

}  // namespace courier
