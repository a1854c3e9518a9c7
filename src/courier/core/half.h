// fp16 (IEEE 754 binary16) and bf16 (bfloat16) storage conversions. Arithmetic happens in
// float; these only pack and unpack. Round to nearest even; NaN stays NaN.
#pragma once

#include <bit>
#include <cstdint>

namespace courier {

inline std::uint16_t float_to_bf16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

inline float bf16_to_float(std::uint16_t value) { return std::bit_cast<float>(static_cast<std::uint32_t>(value) << 16); }

std::uint16_t float_to_fp16(float value);
float fp16_to_float(std::uint16_t value);

}  // namespace courier
