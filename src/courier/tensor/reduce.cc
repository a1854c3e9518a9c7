// Reduction kernels.
#include "courier/tensor/reduce.h"

#include <algorithm>

#include "courier/core/check.h"
#include "courier/tensor/parallel.h"

namespace courier {
namespace {

constexpr std::int64_t kBlock = 4096;

// Sums f(x[i]) in double: blocks in parallel, block sums combined in index order.
template <typename F>
double blocked_sum(const float* x, std::int64_t n, F f) {
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
#pragma omp parallel for if (n >= kParallelMinElements) schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    double acc = 0.0;
    const std::int64_t end = std::min(n, (b + 1) * kBlock);
    for (std::int64_t i = b * kBlock; i < end; ++i) acc += f(static_cast<double>(x[i]));
    partial[static_cast<std::size_t>(b)] = acc;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

float sum_forward(const Tensor& x) {
  return static_cast<float>(blocked_sum(x.data(), x.numel(), [](double v) { return v; }));
}

void sum_backward(float dsum, Tensor& din) { din.fill(dsum); }

float mean_forward(const Tensor& x) {
  COURIER_CHECK_GT(x.numel(), 0, "mean of an empty tensor");
  return static_cast<float>(blocked_sum(x.data(), x.numel(), [](double v) { return v; }) /
                            static_cast<double>(x.numel()));
}

void mean_backward(float dmean, Tensor& din) {
  COURIER_CHECK_GT(din.numel(), 0, "mean_backward of an empty tensor");
  din.fill(dmean / static_cast<float>(din.numel()));
}

double squared_norm(std::span<const float> x) {
  return blocked_sum(x.data(), static_cast<std::int64_t>(x.size()), [](double v) { return v * v; });
}

void sum_over_rows(const Tensor& x, Tensor& out, bool accumulate) {
  COURIER_CHECK_EQ(x.rank(), 2, "sum_over_rows of {}", x.shape());
  COURIER_CHECK_EQ(out.shape(), Shape({x.dim(1)}), "sum_over_rows output for {}", x.shape());
  const std::int64_t rows = x.dim(0);
  const std::int64_t cols = x.dim(1);
  const float* in = x.data();
  float* o = out.data();
  if (!accumulate) out.zero();
  // Each thread owns a band of columns and walks the rows in order: deterministic sums,
  // contiguous reads within a row.
  constexpr std::int64_t kBand = 64;
  const std::int64_t bands = (cols + kBand - 1) / kBand;
#pragma omp parallel for if (rows * cols >= kParallelMinElements) schedule(static)
  for (std::int64_t band = 0; band < bands; ++band) {
    const std::int64_t c0 = band * kBand;
    const std::int64_t c1 = std::min(cols, c0 + kBand);
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* row = in + r * cols;
#pragma omp simd
      for (std::int64_t c = c0; c < c1; ++c) o[c] += row[c];
    }
  }
}

void row_max_forward(const Tensor& x, Tensor& values, std::vector<std::int64_t>& argmax) {
  COURIER_CHECK_GE(x.rank(), 1, "row_max_forward of a scalar");
  COURIER_CHECK_GT(x.dim(-1), 0, "row_max_forward of empty rows {}", x.shape());
  const std::int64_t rows = x.shape().leading_numel();
  const std::int64_t cols = x.dim(-1);
  COURIER_CHECK_EQ(values.numel(), rows, "row_max_forward values for {}", x.shape());
  argmax.resize(static_cast<std::size_t>(rows));
  const float* in = x.data();
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = in + r * cols;
    const std::int64_t best = std::max_element(row, row + cols) - row;
    argmax[static_cast<std::size_t>(r)] = best;
    values.data()[r] = row[best];
  }
}

void row_max_backward(const Tensor& dvalues, std::span<const std::int64_t> argmax, Tensor& din) {
  const std::int64_t rows = din.shape().leading_numel();
  const std::int64_t cols = din.dim(-1);
  COURIER_CHECK_EQ(dvalues.numel(), rows, "row_max_backward dvalues for {}", din.shape());
  COURIER_CHECK_EQ(static_cast<std::int64_t>(argmax.size()), rows, "row_max_backward argmax for {}", din.shape());
  din.zero();
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t c = argmax[static_cast<std::size_t>(r)];
    COURIER_CHECK(c >= 0 && c < cols, "argmax {} out of range for {}", c, din.shape());
    din.data()[r * cols + c] = dvalues.data()[r];
  }
}

}  // namespace courier
