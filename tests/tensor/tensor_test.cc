// Tensor: factories, element access and its bounds checks, views sharing storage (view,
// rows, as_matrix, wrap), deep clone, fill and copy_from.
#include "courier/tensor/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

TEST(Tensor, DefaultIsUndefined) {
  const Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_EQ(t.numel(), 0);
  EXPECT_THROW(static_cast<void>(t.view({1})), CheckError);
  EXPECT_THROW(static_cast<void>(t.clone()), CheckError);
  Tensor u;
  EXPECT_THROW(u.fill(1.0f), CheckError);
}

TEST(Tensor, OverlapsDetectsSharedElementsNotJustSharedStart) {
  const Tensor t = Tensor::zeros({4, 3});
  EXPECT_TRUE(t.rows(1, 3).overlaps(t.rows(2, 4)));
  EXPECT_TRUE(t.rows(2, 3).overlaps(t));
  EXPECT_FALSE(t.rows(0, 2).overlaps(t.rows(2, 4)));
  EXPECT_FALSE(t.overlaps(Tensor::zeros({4, 3})));
  EXPECT_FALSE(t.rows(1, 1).overlaps(t)) << "an empty view overlaps nothing";
}

TEST(Tensor, FactoriesSetShapeAndValues) {
  const Tensor z = Tensor::zeros({2, 3});
  EXPECT_TRUE(z.defined());
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  EXPECT_EQ(z.rank(), 2);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.dim(-1), 3);
  for (float v : z.span()) EXPECT_EQ(v, 0.0f);

  const Tensor f = Tensor::full({4}, 2.5f);
  for (float v : f.span()) EXPECT_EQ(v, 2.5f);

  const Tensor e = Tensor::empty({3, 5});
  EXPECT_EQ(e.numel(), 15);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(e.data()) % 64, 0u) << "storage is 64-byte aligned";

  const Tensor empty_dim = Tensor::zeros({0, 4});
  EXPECT_TRUE(empty_dim.defined());
  EXPECT_EQ(empty_dim.numel(), 0);
}

TEST(Tensor, FromCopiesValuesRowMajor) {
  const Tensor t = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(t.at({0, 0}), 1.0f);
  EXPECT_EQ(t.at({0, 2}), 3.0f);
  EXPECT_EQ(t.at({1, 0}), 4.0f);
  EXPECT_EQ(t.at({1, 2}), 6.0f);
  EXPECT_EQ(t.at(4), 5.0f);

  std::vector<float> source{7, 8};
  const Tensor copied = Tensor::from({2}, source);
  source[0] = -1;
  EXPECT_EQ(copied.at(0), 7.0f) << "from() copies, it does not alias";
}

TEST(Tensor, FromSizeMismatchThrows) {
  EXPECT_THROW(Tensor::from({2, 3}, {1, 2, 3, 4, 5}), CheckError);
  const std::vector<float> seven(7, 1.0f);
  EXPECT_THROW(Tensor::from({2, 3}, seven), CheckError);
}

TEST(Tensor, AtIsBoundsChecked) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_THROW(t.at(6), CheckError);
  EXPECT_THROW(t.at(-1), CheckError);
  EXPECT_THROW(t.at({2, 0}), CheckError);
  EXPECT_THROW(t.at({0, 3}), CheckError);
  EXPECT_THROW(t.at({0, -1}), CheckError);
  EXPECT_THROW(t.at({0}), CheckError) << "wrong index rank";
  EXPECT_THROW(t.at({0, 0, 0}), CheckError) << "wrong index rank";
  const Tensor& c = t;
  EXPECT_THROW(static_cast<void>(c.at(6)), CheckError);
  EXPECT_THROW(static_cast<void>(c.at({1, 3})), CheckError);

  t.at({1, 2}) = 9.0f;
  EXPECT_EQ(t.data()[5], 9.0f);
  t.at(0) = 4.0f;
  EXPECT_EQ(c.at({0, 0}), 4.0f);
}

TEST(Tensor, AtErrorNamesIndexAndShape) {
  Tensor t = Tensor::zeros({2, 3});
  try {
    t.at(17);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("17"), std::string::npos) << what;
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
  }
}

TEST(Tensor, CopyIsAHandleNotACopy) {
  Tensor a = Tensor::zeros({3});
  Tensor b = a;
  b.at(1) = 5.0f;
  EXPECT_EQ(a.at(1), 5.0f);
  EXPECT_TRUE(a.same_storage(b));
}

TEST(Tensor, ViewSharesStorage) {
  Tensor t = Tensor::from({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor v = t.view({3, 2});
  EXPECT_EQ(v.shape(), Shape({3, 2}));
  EXPECT_TRUE(v.same_storage(t));
  EXPECT_EQ(v.at({2, 1}), 5.0f);
  v.at({1, 0}) = 42.0f;
  EXPECT_EQ(t.at({0, 2}), 42.0f) << "writing through a view is visible in the original";
  t.at({1, 1}) = -3.0f;
  EXPECT_EQ(v.at({2, 0}), -3.0f);
  EXPECT_THROW(static_cast<void>(t.view({4, 2})), CheckError);
}

TEST(Tensor, ViewKeepsStorageAlive) {
  Tensor v;
  {
    Tensor t = Tensor::from({4}, {1, 2, 3, 4});
    v = t.view({2, 2});
  }
  EXPECT_EQ(v.at({1, 1}), 4.0f);
}

TEST(Tensor, AsMatrixFoldsLeadingDims) {
  Tensor t = Tensor::zeros({2, 3, 4});
  Tensor m = t.as_matrix();
  EXPECT_EQ(m.shape(), Shape({6, 4}));
  EXPECT_TRUE(m.same_storage(t));
  EXPECT_EQ(Tensor::zeros({5}).as_matrix().shape(), Shape({1, 5}));
  EXPECT_EQ(Tensor::zeros(Shape()).as_matrix().shape(), Shape({1, 1}));
}

TEST(Tensor, RowsSliceSharesStorage) {
  Tensor t = Tensor::from({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor middle = t.rows(1, 3);
  EXPECT_EQ(middle.shape(), Shape({2, 2}));
  EXPECT_EQ(middle.at({0, 0}), 2.0f);
  EXPECT_EQ(middle.at({1, 1}), 5.0f);
  middle.at({1, 0}) = 100.0f;
  EXPECT_EQ(t.at({2, 0}), 100.0f);
  t.at({1, 1}) = -1.0f;
  EXPECT_EQ(middle.at({0, 1}), -1.0f);

  EXPECT_EQ(t.rows(2, 2).numel(), 0);
  EXPECT_EQ(t.rows(0, 4).at({3, 1}), 7.0f);
  EXPECT_THROW(static_cast<void>(t.rows(3, 5)), CheckError);
  EXPECT_THROW(static_cast<void>(t.rows(2, 1)), CheckError);
  EXPECT_THROW(static_cast<void>(t.rows(-1, 1)), CheckError);
  EXPECT_THROW(static_cast<void>(Tensor::zeros(Shape()).rows(0, 1)), CheckError);
}

TEST(Tensor, RowsOfHigherRankAndVector) {
  Tensor t = Tensor::zeros({3, 2, 2});
  for (std::int64_t i = 0; i < t.numel(); ++i) t.at(i) = static_cast<float>(i);
  Tensor last = t.rows(2, 3);
  EXPECT_EQ(last.shape(), Shape({1, 2, 2}));
  EXPECT_EQ(last.at({0, 0, 0}), 8.0f);
  EXPECT_EQ(last.at({0, 1, 1}), 11.0f);

  Tensor v = Tensor::from({5}, {0, 1, 2, 3, 4});
  Tensor tail = v.rows(3, 5);
  EXPECT_EQ(tail.shape(), Shape({2}));
  EXPECT_EQ(tail.at(0), 3.0f);
  tail.at(1) = 40.0f;
  EXPECT_EQ(v.at(4), 40.0f);
}

TEST(Tensor, CloneIsDeep) {
  Tensor t = Tensor::from({2, 2}, {1, 2, 3, 4});
  Tensor c = t.clone();
  EXPECT_EQ(c.shape(), t.shape());
  EXPECT_FALSE(c.same_storage(t));
  c.at(0) = 10.0f;
  EXPECT_EQ(t.at(0), 1.0f);
  t.at(3) = -4.0f;
  EXPECT_EQ(c.at(3), 4.0f);

  Tensor slice_clone = t.rows(1, 2).clone();
  EXPECT_EQ(slice_clone.at({0, 0}), 3.0f);
  EXPECT_EQ(slice_clone.at({0, 1}), -4.0f);
}

TEST(Tensor, FillZeroAndCopyFrom) {
  Tensor t = Tensor::empty({3, 3});
  t.fill(1.5f);
  for (float v : t.span()) EXPECT_EQ(v, 1.5f);
  t.zero();
  for (float v : t.span()) EXPECT_EQ(v, 0.0f);

  const Tensor source = Tensor::from({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  t.copy_from(source);
  EXPECT_EQ(t.at({2, 2}), 9.0f);
  EXPECT_FALSE(t.same_storage(source));
  EXPECT_THROW(t.copy_from(Tensor::zeros({9})), CheckError);

  // fill through a row view touches only those rows
  Tensor row = t.rows(1, 2);
  row.fill(0.0f);
  EXPECT_EQ(t.at({0, 2}), 3.0f);
  EXPECT_EQ(t.at({1, 0}), 0.0f);
  EXPECT_EQ(t.at({1, 2}), 0.0f);
  EXPECT_EQ(t.at({2, 0}), 7.0f);
}

TEST(Tensor, WrapViewsExternalMemory) {
  std::vector<float> memory{1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::wrap(memory.data(), {3, 2});
  EXPECT_EQ(t.at({2, 1}), 6.0f);
  t.at({0, 1}) = 20.0f;
  EXPECT_EQ(memory[1], 20.0f);
  memory[4] = 50.0f;
  EXPECT_EQ(t.at({2, 0}), 50.0f);
  EXPECT_THROW(Tensor::wrap(nullptr, {1}), CheckError);
}

}  // namespace
}  // namespace courier
