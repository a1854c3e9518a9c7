// Row-wise softmax kernels: rows in parallel, max-subtracted, sums accumulated in float
// per row in index order, so a row's result does not depend on the thread count.
#include "courier/tensor/softmax.h"

#include <algorithm>
#include <cmath>

#include "courier/core/check.h"
#include "courier/tensor/parallel.h"

namespace courier {
namespace {

struct Rows {
  std::int64_t count, width;
};

Rows check_rows(const Tensor& a, const Tensor& b, const char* what) {
  COURIER_CHECK_EQ(a.shape(), b.shape(), "{}: operands must have the same shape", what);
  COURIER_CHECK_GE(a.rank(), 1, "{} of a scalar", what);
  return {a.shape().leading_numel(), a.dim(-1)};
}

float row_max(const float* row, std::int64_t width) {
  float m = -INFINITY;
  for (std::int64_t c = 0; c < width; ++c) m = std::max(m, row[c]);
  return m;
}

}  // namespace

void softmax_forward(const Tensor& x, Tensor& out) {
  const Rows r = check_rows(x, out, "softmax_forward");
  const float* in = x.data();
  float* o = out.data();
#pragma omp parallel for if (r.count * r.width >= kParallelMinElements) schedule(static)
  for (std::int64_t i = 0; i < r.count; ++i) {
    const float* row = in + i * r.width;
    float* row_out = o + i * r.width;
    const float m = row_max(row, r.width);
    float total = 0.0f;
    for (std::int64_t c = 0; c < r.width; ++c) {
      row_out[c] = std::exp(row[c] - m);
      total += row_out[c];
    }
    const float inv = 1.0f / total;
    for (std::int64_t c = 0; c < r.width; ++c) row_out[c] *= inv;
  }
}

void softmax_backward(const Tensor& dout, const Tensor& out, Tensor& din) {
  const Rows r = check_rows(dout, out, "softmax_backward");
  check_rows(dout, din, "softmax_backward");
  const float* g = dout.data();
  const float* y = out.data();
  float* d = din.data();
#pragma omp parallel for if (r.count * r.width >= kParallelMinElements) schedule(static)
  for (std::int64_t i = 0; i < r.count; ++i) {
    const std::int64_t base = i * r.width;
    float dot = 0.0f;
    for (std::int64_t c = 0; c < r.width; ++c) dot += g[base + c] * y[base + c];
    for (std::int64_t c = 0; c < r.width; ++c) d[base + c] = y[base + c] * (g[base + c] - dot);
  }
}

void log_softmax_forward(const Tensor& x, Tensor& out) {
  const Rows r = check_rows(x, out, "log_softmax_forward");
  const float* in = x.data();
  float* o = out.data();
#pragma omp parallel for if (r.count * r.width >= kParallelMinElements) schedule(static)
  for (std::int64_t i = 0; i < r.count; ++i) {
    const float* row = in + i * r.width;
    float* row_out = o + i * r.width;
    const float m = row_max(row, r.width);
    float total = 0.0f;
    for (std::int64_t c = 0; c < r.width; ++c) total += std::exp(row[c] - m);
    // (x - max) - log(total), not x - (max + log(total)): rounding max + log(total) at the
    // magnitude of max would cost its last bits for large logits.
    const float log_total = std::log(total);
    for (std::int64_t c = 0; c < r.width; ++c) row_out[c] = (row[c] - m) - log_total;
  }
}

}  // namespace courier
