// Shape: construction, numel, indexing from either end, prepend/drop_front, formatting and
// the checks on bad dimensions.
#include "courier/tensor/shape.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

TEST(Shape, DefaultIsScalarWithOneElement) {
  const Shape scalar;
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.leading_numel(), 1);
  EXPECT_EQ(scalar.to_string(), "[]");
}

TEST(Shape, ConstructionRankAndNumel) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s[1], 3);
  EXPECT_EQ(s[2], 4);
  ASSERT_EQ(s.dims().size(), 3u);
  EXPECT_EQ(s.dims()[1], 3);

  const std::vector<std::int64_t> dims{5, 7};
  const Shape from_span(dims);
  EXPECT_EQ(from_span, Shape({5, 7}));
  EXPECT_EQ(from_span.numel(), 35);
}

TEST(Shape, ZeroDimensionGivesZeroElements) {
  EXPECT_EQ(Shape({3, 0, 2}).numel(), 0);
  EXPECT_EQ(Shape({0}).numel(), 0);
}

TEST(Shape, NegativeIndexCountsFromTheBack) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s[-2], 3);
  EXPECT_EQ(s[-3], 2);
}

TEST(Shape, OutOfRangeIndexThrows) {
  const Shape s{2, 3};
  EXPECT_THROW(static_cast<void>(s[2]), CheckError);
  EXPECT_THROW(static_cast<void>(s[-3]), CheckError);
  EXPECT_THROW(static_cast<void>(Shape()[0]), CheckError);
}

TEST(Shape, NegativeDimensionAndTooHighRankThrow) {
  EXPECT_THROW(Shape({2, -1}), CheckError);
  EXPECT_THROW(Shape({1, 1, 1, 1, 1, 1, 1}), CheckError);
  EXPECT_NO_THROW(Shape({1, 1, 1, 1, 1, 1}));
}

TEST(Shape, PrependAndDropFront) {
  const Shape sample{3, 4};
  const Shape batched = sample.prepend(8);
  EXPECT_EQ(batched, Shape({8, 3, 4}));
  EXPECT_EQ(batched.drop_front(), sample);
  EXPECT_EQ(Shape({5}).drop_front(), Shape());
  EXPECT_EQ(Shape().prepend(2), Shape({2}));
  EXPECT_THROW(Shape().drop_front(), CheckError);
  EXPECT_THROW(Shape({1, 2, 3, 4, 5, 6}).prepend(7), CheckError);
}

TEST(Shape, LeadingNumelFoldsAllButLast) {
  EXPECT_EQ(Shape({2, 3, 4}).leading_numel(), 6);
  EXPECT_EQ(Shape({7, 5}).leading_numel(), 7);
  EXPECT_EQ(Shape({9}).leading_numel(), 1);
}

TEST(Shape, ToStringAndStream) {
  EXPECT_EQ(Shape({2, 3}).to_string(), "[2, 3]");
  EXPECT_EQ(Shape({7}).to_string(), "[7]");
  std::ostringstream out;
  out << Shape({1, 2, 3});
  EXPECT_EQ(out.str(), "[1, 2, 3]");
  EXPECT_EQ(fmt::format("{}", Shape({4, 5})), "[4, 5]");
}

TEST(Shape, Equality) {
  EXPECT_EQ(Shape({2, 3}), Shape({2, 3}));
  EXPECT_FALSE(Shape({2, 3}) == Shape({3, 2}));
  EXPECT_FALSE(Shape({2, 3}) == Shape({2, 3, 1}));
  EXPECT_FALSE(Shape({6}) == Shape({2, 3}));
  EXPECT_EQ(Shape(), Shape());
}

}  // namespace
}  // namespace courier
