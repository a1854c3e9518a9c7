// ToyRegression: batch shapes, values in [0, 1), the documented draw order, determinism per seed.
#include "courier/train/data/toy.h"

#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier {
namespace {

std::vector<float> toy_values(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

void expect_in_unit_interval(const Tensor& t) {
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    ASSERT_GE(t.data()[i], 0.0f) << i;
    ASSERT_LT(t.data()[i], 1.0f) << i;
  }
}

TEST(ToyTest, Shapes) {
  ToyRegression data(2, 3, Rng(1));
  const ToyBatch batch = data.next(5);
  EXPECT_EQ(batch.inputs.shape(), Shape({5, 2}));
  EXPECT_EQ(batch.targets.shape(), Shape({5, 3}));
  EXPECT_EQ(data.next_inputs(7).shape(), Shape({7, 2}));
  EXPECT_EQ(data.next(1).targets.shape(), Shape({1, 3}));
}

TEST(ToyTest, ValuesAreUniformInUnitInterval) {
  ToyRegression data(4, 4, Rng(2));
  const ToyBatch batch = data.next(5000);
  expect_in_unit_interval(batch.inputs);
  expect_in_unit_interval(batch.targets);
  // Mean 1/2 and variance 1/12, the numbers the seed demo's loss settles at.
  double sum = 0.0;
  double sum_sq = 0.0;
  for (float v : toy_values(batch.targets)) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(batch.targets.numel());
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.5, 0.01);
  EXPECT_NEAR(sum_sq / n - mean * mean, 1.0 / 12.0, 0.003);
}

TEST(ToyTest, InputsThenTargetsFromTheGeneratorStream) {
  ToyRegression data(2, 3, Rng(3));
  const ToyBatch batch = data.next(4);
  Rng reference(3);
  for (float v : toy_values(batch.inputs)) ASSERT_EQ(v, reference.uniform(0.0f, 1.0f));
  for (float v : toy_values(batch.targets)) ASSERT_EQ(v, reference.uniform(0.0f, 1.0f));
  const Tensor inputs = data.next_inputs(2);
  for (float v : toy_values(inputs)) ASSERT_EQ(v, reference.uniform(0.0f, 1.0f));
}

TEST(ToyTest, DeterministicPerSeed) {
  ToyRegression a(2, 2, Rng(4));
  ToyRegression b(2, 2, Rng(4));
  ToyRegression c(2, 2, Rng(5));
  const ToyBatch batch_a = a.next(10);
  const ToyBatch batch_b = b.next(10);
  const ToyBatch batch_c = c.next(10);
  EXPECT_EQ(toy_values(batch_a.inputs), toy_values(batch_b.inputs));
  EXPECT_EQ(toy_values(batch_a.targets), toy_values(batch_b.targets));
  EXPECT_NE(toy_values(batch_a.inputs), toy_values(batch_c.inputs));
  EXPECT_NE(toy_values(batch_a.targets), toy_values(batch_c.targets));
}

TEST(ToyTest, EveryBatchIsFresh) {
  ToyRegression data(2, 2, Rng(6));
  const ToyBatch first = data.next(10);
  const ToyBatch second = data.next(10);
  EXPECT_NE(toy_values(first.inputs), toy_values(second.inputs));
  EXPECT_NE(toy_values(first.targets), toy_values(second.targets));
  // Batches own their storage: the second draw did not overwrite the first.
  EXPECT_FALSE(first.inputs.same_storage(second.inputs));
}

TEST(ToyTest, InvalidSizesThrow) {
  EXPECT_THROW(ToyRegression(0, 2, Rng(7)), CheckError);
  EXPECT_THROW(ToyRegression(2, 0, Rng(7)), CheckError);
  EXPECT_THROW(ToyRegression(-1, 2, Rng(7)), CheckError);
  ToyRegression data(2, 2, Rng(7));
  EXPECT_THROW(data.next(0), CheckError);
  EXPECT_THROW(data.next_inputs(-3), CheckError);
}

}  // namespace
}  // namespace courier
