// DType sizes, names, parsing and the pinned wire ids.
#include "courier/core/dtype.h"

#include <array>
#include <cstdint>
#include <optional>

#include <gtest/gtest.h>

namespace courier {
namespace {

constexpr std::array kAll = {DType::kF32, DType::kF16, DType::kBF16, DType::kF64,
                             DType::kI8,  DType::kU8,  DType::kI32,  DType::kI64};

TEST(DTypeTest, Sizes) {
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kF64), 8u);
  EXPECT_EQ(dtype_size(DType::kI8), 1u);
  EXPECT_EQ(dtype_size(DType::kU8), 1u);
  EXPECT_EQ(dtype_size(DType::kI32), 4u);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
}

TEST(DTypeTest, Names) {
  EXPECT_EQ(dtype_name(DType::kF32), "f32");
  EXPECT_EQ(dtype_name(DType::kF16), "f16");
  EXPECT_EQ(dtype_name(DType::kBF16), "bf16");
  EXPECT_EQ(dtype_name(DType::kF64), "f64");
  EXPECT_EQ(dtype_name(DType::kI8), "i8");
  EXPECT_EQ(dtype_name(DType::kU8), "u8");
  EXPECT_EQ(dtype_name(DType::kI32), "i32");
  EXPECT_EQ(dtype_name(DType::kI64), "i64");
}

TEST(DTypeTest, IdsArePinned) {
  // Wire headers and checkpoints store these numbers: never renumber.
  EXPECT_EQ(static_cast<int>(DType::kF32), 1);
  EXPECT_EQ(static_cast<int>(DType::kF16), 2);
  EXPECT_EQ(static_cast<int>(DType::kBF16), 3);
  EXPECT_EQ(static_cast<int>(DType::kF64), 4);
  EXPECT_EQ(static_cast<int>(DType::kI8), 5);
  EXPECT_EQ(static_cast<int>(DType::kU8), 6);
  EXPECT_EQ(static_cast<int>(DType::kI32), 7);
  EXPECT_EQ(static_cast<int>(DType::kI64), 8);
}

TEST(DTypeTest, ParseConfigAndSafetensorsNames) {
  EXPECT_EQ(parse_dtype("f32"), DType::kF32);
  EXPECT_EQ(parse_dtype("F32"), DType::kF32);
  EXPECT_EQ(parse_dtype("bf16"), DType::kBF16);
  EXPECT_EQ(parse_dtype("BF16"), DType::kBF16);
  EXPECT_EQ(parse_dtype("Bf16"), DType::kBF16);
  EXPECT_EQ(parse_dtype("F16"), DType::kF16);
  EXPECT_EQ(parse_dtype("F64"), DType::kF64);
  EXPECT_EQ(parse_dtype("I8"), DType::kI8);
  EXPECT_EQ(parse_dtype("U8"), DType::kU8);
  EXPECT_EQ(parse_dtype("I32"), DType::kI32);
  EXPECT_EQ(parse_dtype("I64"), DType::kI64);
}

TEST(DTypeTest, ParseUnknownIsNullopt) {
  EXPECT_EQ(parse_dtype(""), std::nullopt);
  EXPECT_EQ(parse_dtype("f128"), std::nullopt);
  EXPECT_EQ(parse_dtype("f3"), std::nullopt);
  EXPECT_EQ(parse_dtype("f32 "), std::nullopt);
  EXPECT_EQ(parse_dtype("invalid"), std::nullopt);
}

TEST(DTypeTest, NameParseRoundTrip) {
  for (DType dtype : kAll) {
    SCOPED_TRACE(dtype_name(dtype));
    EXPECT_EQ(parse_dtype(dtype_name(dtype)), dtype);
  }
}

TEST(DTypeTest, IdRoundTrip) {
  for (DType dtype : kAll) {
    SCOPED_TRACE(dtype_name(dtype));
    EXPECT_EQ(dtype_from_id(static_cast<std::uint8_t>(dtype)), dtype);
  }
}

TEST(DTypeTest, UnknownIds) {
  EXPECT_EQ(dtype_from_id(0), std::nullopt);
  EXPECT_EQ(dtype_from_id(9), std::nullopt);
  EXPECT_EQ(dtype_from_id(255), std::nullopt);
  int known = 0;
  for (int id = 0; id < 256; ++id) {
    if (dtype_from_id(static_cast<std::uint8_t>(id)).has_value()) ++known;
  }
  EXPECT_EQ(known, 8);
}

TEST(DTypeTest, InvalidValueHasNoSizeAndAnInvalidName) {
  const auto bogus = static_cast<DType>(99);
  EXPECT_EQ(dtype_size(bogus), 0u);
  EXPECT_EQ(dtype_name(bogus), "invalid");
}

}  // namespace
}  // namespace courier
