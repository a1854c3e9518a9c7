// Typed reduction loops.
#include "courier/comm/reduce.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "courier/core/check.h"
#include "courier/core/half.h"

namespace courier {
namespace {

template <typename T, typename F>
void combine(MutableByteSpan acc, ByteSpan in, F f) {
  const std::size_t n = acc.size() / sizeof(T);
  // Byte buffers carry no alignment promise: go through memcpy-friendly loads when unaligned.
  if (reinterpret_cast<std::uintptr_t>(acc.data()) % alignof(T) == 0 &&
      reinterpret_cast<std::uintptr_t>(in.data()) % alignof(T) == 0) {
    T* a = reinterpret_cast<T*>(acc.data());
    const T* b = reinterpret_cast<const T*>(in.data());
    for (std::size_t i = 0; i < n; ++i) a[i] = f(a[i], b[i]);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    T a, b;
    std::memcpy(&a, acc.data() + i * sizeof(T), sizeof(T));
    std::memcpy(&b, in.data() + i * sizeof(T), sizeof(T));
    a = f(a, b);
    std::memcpy(acc.data() + i * sizeof(T), &a, sizeof(T));
  }
}

template <typename T>
void reduce_typed(MutableByteSpan acc, ByteSpan in, ReduceOp op) {
  if (op == ReduceOp::kMax) {
    combine<T>(acc, in, [](T a, T b) { return std::max(a, b); });
  } else {
    combine<T>(acc, in, [](T a, T b) { return static_cast<T>(a + b); });
  }
}

template <float (*Unpack)(std::uint16_t), std::uint16_t (*Pack)(float)>
void reduce_half(MutableByteSpan acc, ByteSpan in, ReduceOp op) {
  combine<std::uint16_t>(acc, in, [op](std::uint16_t a, std::uint16_t b) {
    const float x = Unpack(a), y = Unpack(b);
    return Pack(op == ReduceOp::kMax ? std::max(x, y) : x + y);
  });
}

template <typename T>
void divide_typed(MutableByteSpan data, std::size_t divisor) {
  const std::size_t n = data.size() / sizeof(T);
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
    v = static_cast<T>(v / static_cast<T>(divisor));
    std::memcpy(data.data() + i * sizeof(T), &v, sizeof(T));
  }
}

template <float (*Unpack)(std::uint16_t), std::uint16_t (*Pack)(float)>
void divide_half(MutableByteSpan data, std::size_t divisor) {
  const std::size_t n = data.size() / 2;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t v;
    std::memcpy(&v, data.data() + i * 2, 2);
    v = Pack(Unpack(v) / static_cast<float>(divisor));
    std::memcpy(data.data() + i * 2, &v, 2);
  }
}

}  // namespace

std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAverage: return "avg";
    case ReduceOp::kMax: return "max";
  }
  return "unknown";
}

std::optional<ReduceOp> parse_reduce_op(std::string_view name) {
  if (name == "sum") return ReduceOp::kSum;
  if (name == "avg" || name == "average" || name == "mean") return ReduceOp::kAverage;
  if (name == "max") return ReduceOp::kMax;
  return std::nullopt;
}

void reduce_into(MutableByteSpan accumulator, ByteSpan input, DType dtype, ReduceOp op) {
  COURIER_CHECK_EQ(accumulator.size(), input.size(), "reduce_into operands");
  COURIER_CHECK_EQ(accumulator.size() % dtype_size(dtype), 0u, "reduce_into size for {}", dtype_name(dtype));
  switch (dtype) {
    case DType::kF32: reduce_typed<float>(accumulator, input, op); return;
    case DType::kF64: reduce_typed<double>(accumulator, input, op); return;
    case DType::kI8: reduce_typed<std::int8_t>(accumulator, input, op); return;
    case DType::kU8: reduce_typed<std::uint8_t>(accumulator, input, op); return;
    case DType::kI32: reduce_typed<std::int32_t>(accumulator, input, op); return;
    case DType::kI64: reduce_typed<std::int64_t>(accumulator, input, op); return;
    case DType::kF16: reduce_half<fp16_to_float, float_to_fp16>(accumulator, input, op); return;
    case DType::kBF16: reduce_half<bf16_to_float, float_to_bf16>(accumulator, input, op); return;
  }
  COURIER_CHECK(false, "reduce_into: unhandled dtype");
}

void divide_by(MutableByteSpan data, DType dtype, std::size_t divisor) {
  COURIER_CHECK_GT(divisor, 0u, "divide_by zero");
  switch (dtype) {
    case DType::kF32: divide_typed<float>(data, divisor); return;
    case DType::kF64: divide_typed<double>(data, divisor); return;
    case DType::kI8: divide_typed<std::int8_t>(data, divisor); return;
    case DType::kU8: divide_typed<std::uint8_t>(data, divisor); return;
    case DType::kI32: divide_typed<std::int32_t>(data, divisor); return;
    case DType::kI64: divide_typed<std::int64_t>(data, divisor); return;
    case DType::kF16: divide_half<fp16_to_float, float_to_fp16>(data, divisor); return;
    case DType::kBF16: divide_half<bf16_to_float, float_to_bf16>(data, divisor); return;
  }
  COURIER_CHECK(false, "divide_by: unhandled dtype");
}

}  // namespace courier
