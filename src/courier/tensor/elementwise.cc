// Elementwise kernels.
#include "courier/tensor/elementwise.h"

#include "courier/core/check.h"
#include "courier/tensor/parallel.h"

namespace courier {

void add(const Tensor& a, const Tensor& b, Tensor& out) {
  COURIER_CHECK_EQ(a.shape(), b.shape(), "add operands");
  COURIER_CHECK_EQ(a.shape(), out.shape(), "add output");
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  const std::int64_t n = a.numel();
#pragma omp parallel for simd if (n >= kParallelMinElements) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i];
}

void axpy(float alpha, const Tensor& x, Tensor& y) {
  COURIER_CHECK_EQ(x.shape(), y.shape(), "axpy operands");
  const float* px = x.data();
  float* py = y.data();
  const std::int64_t n = x.numel();
#pragma omp parallel for simd if (n >= kParallelMinElements) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) py[i] += alpha * px[i];
}

void scale(Tensor& x, float alpha) {
  float* px = x.data();
  const std::int64_t n = x.numel();
#pragma omp parallel for simd if (n >= kParallelMinElements) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) px[i] *= alpha;
}

}  // namespace courier
