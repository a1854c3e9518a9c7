// DType: the element types courier stores and moves. The numeric ids are pinned: they
// appear in message headers and checkpoints, so never renumber and never reuse one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace courier {

enum class DType : std::uint8_t {
  kF32 = 1,
  kF16 = 2,
  kBF16 = 3,
  kF64 = 4,
  kI8 = 5,
  kU8 = 6,
  kI32 = 7,
  kI64 = 8,
};

// Bytes per element.
std::size_t dtype_size(DType dtype);
// "f32", "f16", "bf16", ... (the names configs use).
std::string_view dtype_name(DType dtype);
// The dtype with that name or with that safetensors name ("F32", "BF16"), if any.
std::optional<DType> parse_dtype(std::string_view name);
// The dtype with that wire id, if it is one.
std::optional<DType> dtype_from_id(std::uint8_t id);

}  // namespace courier
