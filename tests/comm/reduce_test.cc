// Byte-buffer reductions by dtype, aligned and unaligned, and the average's division.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "courier/comm/reduce.h"
#include "courier/core/check.h"
#include "courier/core/half.h"

namespace courier {
namespace {

template <typename T>
void check_typed(DType dtype) {
  std::vector<T> a = {1, 5, 3, 7}, b = {4, 2, 3, 9};
  reduce_into(std::as_writable_bytes(std::span(a)), std::as_bytes(std::span(b)), dtype, ReduceOp::kSum);
  EXPECT_EQ(a, (std::vector<T>{5, 7, 6, 16}));
  reduce_into(std::as_writable_bytes(std::span(a)), std::as_bytes(std::span(b)), dtype, ReduceOp::kMax);
  EXPECT_EQ(a, (std::vector<T>{5, 7, 6, 16}));
  std::vector<T> c = {0, 8, 0, 0};
  reduce_into(std::as_writable_bytes(std::span(a)), std::as_bytes(std::span(c)), dtype, ReduceOp::kMax);
  EXPECT_EQ(a, (std::vector<T>{5, 8, 6, 16}));
  divide_by(std::as_writable_bytes(std::span(a)), dtype, 2);
  EXPECT_EQ(a, (std::vector<T>{static_cast<T>(5) / 2, 4, 3, 8}));
}

TEST(Reduce, EveryIntegerAndFloatDtype) {
  check_typed<float>(DType::kF32);
  check_typed<double>(DType::kF64);
  check_typed<std::int8_t>(DType::kI8);
  check_typed<std::uint8_t>(DType::kU8);
  check_typed<std::int32_t>(DType::kI32);
  check_typed<std::int64_t>(DType::kI64);
}

TEST(Reduce, HalfPrecisionAccumulatesThroughFloat) {
  std::vector<std::uint16_t> a = {float_to_fp16(1.5f), float_to_fp16(-2.0f)};
  std::vector<std::uint16_t> b = {float_to_fp16(0.25f), float_to_fp16(3.0f)};
  reduce_into(std::as_writable_bytes(std::span(a)), std::as_bytes(std::span(b)), DType::kF16, ReduceOp::kSum);
  EXPECT_EQ(fp16_to_float(a[0]), 1.75f);
  EXPECT_EQ(fp16_to_float(a[1]), 1.0f);
  std::vector<std::uint16_t> x = {float_to_bf16(2.0f)}, y = {float_to_bf16(6.0f)};
  reduce_into(std::as_writable_bytes(std::span(x)), std::as_bytes(std::span(y)), DType::kBF16, ReduceOp::kMax);
  EXPECT_EQ(bf16_to_float(x[0]), 6.0f);
  divide_by(std::as_writable_bytes(std::span(x)), DType::kBF16, 4);
  EXPECT_EQ(bf16_to_float(x[0]), 1.5f);
}

TEST(Reduce, UnalignedBuffersGiveTheSameResult) {
  std::vector<std::byte> a(4 * sizeof(float) + 1), b(4 * sizeof(float) + 3);
  const float av[4] = {1.5f, 2.5f, -1.0f, 8.0f}, bv[4] = {0.5f, 0.5f, 1.0f, -8.0f};
  std::memcpy(a.data() + 1, av, sizeof av);
  std::memcpy(b.data() + 3, bv, sizeof bv);
  reduce_into(MutableByteSpan(a).subspan(1), ByteSpan(b).subspan(3), DType::kF32, ReduceOp::kSum);
  float out[4];
  std::memcpy(out, a.data() + 1, sizeof out);
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[1], 3.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 0.0f);
}

TEST(Reduce, MismatchedSizesAreABug) {
  std::vector<float> a(3), b(4);
  EXPECT_THROW(reduce_into(std::as_writable_bytes(std::span(a)), std::as_bytes(std::span(b)), DType::kF32,
                           ReduceOp::kSum),
               CheckError);
}

TEST(Reduce, OpNames) {
  EXPECT_EQ(parse_reduce_op("avg"), ReduceOp::kAverage);
  EXPECT_EQ(parse_reduce_op("max"), ReduceOp::kMax);
  EXPECT_FALSE(parse_reduce_op("min").has_value());
  EXPECT_EQ(reduce_op_name(ReduceOp::kSum), "sum");
}

}  // namespace
}  // namespace courier
