// Reductions: sum/mean/squared_norm against double references and bitwise reproducible
// across calls and thread counts, sum_over_rows against its reference (with accumulate),
// and row_max forward/backward including ties.
#include "courier/tensor/reduce.h"

#include <omp.h>

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "courier/tensor/reference.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::random_uniform;
using testing::expect_tensor_near;


// Around the 4096-element block and the 32768-element OpenMP threshold.
const std::vector<std::int64_t> kCounts = {1, 2, 7, 4095, 4096, 4097, 32767, 32768, 100003, 1 << 20};

// Sets the OpenMP thread count for one scope.
class ScopedThreads {
 public:
  explicit ScopedThreads(int threads) : previous_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~ScopedThreads() { omp_set_num_threads(previous_); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int previous_;
};

TEST(Reduce, SumAndMeanHandComputed) {
  const Tensor x = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(sum_forward(x), 21.0f);
  EXPECT_EQ(mean_forward(x), 3.5f);
  EXPECT_EQ(squared_norm(x.span()), 91.0);
  EXPECT_EQ(sum_forward(Tensor::zeros({0})), 0.0f);
  EXPECT_EQ(squared_norm({}), 0.0);
}

TEST(Reduce, SumMatchesDoubleReference) {
  Rng rng(40);
  for (std::int64_t n : kCounts) {
    SCOPED_TRACE(n);
    const Tensor x = random_uniform({n}, rng, -0.5f, 1.5f);
    // Both sum in double and round once, so only the last float bit may differ.
    EXPECT_FLOAT_EQ(sum_forward(x), reference::sum_forward(x));
    EXPECT_FLOAT_EQ(mean_forward(x), static_cast<float>(static_cast<double>(reference::sum_forward(x)) / n));
    const double expected_norm = reference::squared_norm(x.span());
    EXPECT_NEAR(squared_norm(x.span()), expected_norm, 1e-12 * expected_norm);
  }
}

TEST(Reduce, SumIsMoreAccurateThanFloatAccumulation) {
  // 2^24 + 1 ones: a float accumulator stalls at 2^24; the double sum is exact.
  const std::int64_t n = (std::int64_t{1} << 24) + 2;
  Tensor x = Tensor::full({n}, 1.0f);
  EXPECT_EQ(static_cast<double>(sum_forward(x)), static_cast<double>(n));
}

TEST(Reduce, SumIsBitwiseDeterministic) {
  Rng rng(41);
  const Tensor x = random_uniform({(1 << 20) + 123}, rng, -1.0f, 1.0f);
  const float first = sum_forward(x);
  const double first_norm = squared_norm(x.span());
  for (int repeat = 0; repeat < 5; ++repeat) {
    EXPECT_EQ(std::bit_cast<std::uint32_t>(sum_forward(x)), std::bit_cast<std::uint32_t>(first));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(squared_norm(x.span())), std::bit_cast<std::uint64_t>(first_norm));
  }
}

TEST(Reduce, SumIsIndependentOfThreadCount) {
  Rng rng(42);
  const Tensor x = random_uniform({(1 << 20) + 5}, rng, -1.0f, 1.0f);
  float single = 0.0f;
  double single_norm = 0.0;
  {
    ScopedThreads one(1);
    single = sum_forward(x);
    single_norm = squared_norm(x.span());
  }
  for (int threads : {2, 3, 4}) {
    ScopedThreads many(threads);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(sum_forward(x)), std::bit_cast<std::uint32_t>(single)) << threads;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(squared_norm(x.span())), std::bit_cast<std::uint64_t>(single_norm))
        << threads;
  }
}

TEST(Reduce, SumAndMeanBackward) {
  Tensor din = Tensor::full({3, 4}, -7.0f);
  sum_backward(2.5f, din);
  expect_tensor_near(din, Tensor::full({3, 4}, 2.5f));
  mean_backward(3.0f, din);
  expect_tensor_near(din, Tensor::full({3, 4}, 0.25f));
}

TEST(Reduce, MeanOfEmptyThrows) {
  Tensor empty = Tensor::zeros({0, 3});
  EXPECT_THROW(mean_forward(empty), CheckError);
  EXPECT_THROW(mean_backward(1.0f, empty), CheckError);
}

TEST(Reduce, SumOverRowsMatchesReference) {
  Rng rng(43);
  // 1s, widths around the 64-column band, tall single columns, and 300 * 131 elements.
  const std::vector<Shape> shapes = {{1, 1}, {7, 1}, {1, 65}, {5, 64}, {5, 130}, {40000, 1}, {300, 131}};
  for (const Shape& shape : shapes) {
    for (bool accumulate : {false, true}) {
      SCOPED_TRACE(shape.to_string() + (accumulate ? " accumulate" : ""));
      const Tensor x = random_uniform(shape, rng, -1.0f, 1.0f);
      Tensor out = random_uniform({shape[1]}, rng, -1.0f, 1.0f);
      Tensor expected = out.clone();
      sum_over_rows(x, out, accumulate);
      reference::sum_over_rows(x, expected, accumulate);
      // Float column sums over up to 40000 rows against double.
      const double atol = 1e-6 * static_cast<double>(shape[0]) + 1e-6;
      expect_tensor_near(out, expected, {.rtol = 1e-5, .atol = atol});
    }
  }
}

TEST(Reduce, SumOverRowsHandComputedAndChecks) {
  const Tensor x = Tensor::from({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor out = Tensor::from({2}, {100, 200});
  sum_over_rows(x, out, /*accumulate=*/false);
  expect_tensor_near(out, Tensor::from({2}, {9, 12}));
  sum_over_rows(x, out, /*accumulate=*/true);
  expect_tensor_near(out, Tensor::from({2}, {18, 24}));

  Tensor wrong = Tensor::zeros({3});
  EXPECT_THROW(sum_over_rows(x, wrong, false), CheckError);
  Tensor out3 = Tensor::zeros({2});
  EXPECT_THROW(sum_over_rows(Tensor::zeros({3, 1, 2}), out3, false), CheckError);
}

TEST(Reduce, RowMaxForwardHandComputed) {
  // Row 1 has a tie: the first maximum wins.
  const Tensor x = Tensor::from({3, 4}, {1, 5, 2, 0, 7, -1, 7, 3, -4, -3, -2, -9});
  Tensor values = Tensor::empty({3});
  std::vector<std::int64_t> argmax;
  row_max_forward(x, values, argmax);
  expect_tensor_near(values, Tensor::from({3}, {5, 7, -2}));
  EXPECT_EQ(argmax, (std::vector<std::int64_t>{1, 0, 2}));
}

TEST(Reduce, RowMaxForwardMatchesLoopOnRank3) {
  Rng rng(44);
  const Tensor x = random_uniform({4, 5, 9}, rng, -3.0f, 3.0f);
  Tensor values = Tensor::empty({4, 5});
  std::vector<std::int64_t> argmax;
  row_max_forward(x, values, argmax);
  ASSERT_EQ(argmax.size(), 20u);
  for (std::int64_t r = 0; r < 20; ++r) {
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < 9; ++c) {
      if (x.at(r * 9 + c) > x.at(r * 9 + best)) best = c;
    }
    EXPECT_EQ(argmax[static_cast<std::size_t>(r)], best) << r;
    EXPECT_EQ(values.at(r), x.at(r * 9 + best)) << r;
  }
}

TEST(Reduce, RowMaxBackwardRoutesToArgmax) {
  const Tensor x = Tensor::from({2, 3}, {1, 9, 2, 8, 3, 8});
  Tensor values = Tensor::empty({2});
  std::vector<std::int64_t> argmax;
  row_max_forward(x, values, argmax);
  const Tensor dvalues = Tensor::from({2}, {0.5f, -2.0f});
  Tensor din = Tensor::full({2, 3}, 99.0f);  // written, not accumulated
  row_max_backward(dvalues, argmax, din);
  expect_tensor_near(din, Tensor::from({2, 3}, {0, 0.5f, 0, -2.0f, 0, 0}));
}

TEST(Reduce, RowMaxChecks) {
  const Tensor x = Tensor::zeros({2, 3});
  Tensor wrong_values = Tensor::zeros({3});
  std::vector<std::int64_t> argmax;
  EXPECT_THROW(row_max_forward(x, wrong_values, argmax), CheckError);
  Tensor values = Tensor::zeros({2});
  EXPECT_THROW(row_max_forward(Tensor::zeros({2, 0}), values, argmax), CheckError);

  Tensor din = Tensor::zeros({2, 3});
  const std::vector<std::int64_t> out_of_range{0, 3};
  EXPECT_THROW(row_max_backward(values, out_of_range, din), CheckError);
  const std::vector<std::int64_t> too_short{0};
  EXPECT_THROW(row_max_backward(values, too_short, din), CheckError);
}

}  // namespace
}  // namespace courier
