// LayerNorm kernels: one pass for the statistics, one for the output; backward in two
// passes a row (the two means, then the input gradient).
#include "courier/tensor/layernorm.h"

#include <cmath>

#include "courier/core/check.h"
#include "courier/core/simd.h"

namespace courier {
namespace {

struct Rows {
  std::int64_t count, channels;
};

Rows check_shapes(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& rstd,
                  const char* op) {
  COURIER_CHECK_EQ(x.rank(), 2, "{} x must be (N, C), got {}", op, x.shape());
  const Rows rows{x.dim(0), x.dim(1)};
  COURIER_CHECK_EQ(weight.shape(), Shape({rows.channels}), "{} weight for x {}", op, x.shape());
  if (bias.defined()) COURIER_CHECK_EQ(bias.shape(), Shape({rows.channels}), "{} bias for x {}", op, x.shape());
  COURIER_CHECK_EQ(mean.shape(), Shape({rows.count}), "{} mean for x {}", op, x.shape());
  COURIER_CHECK_EQ(rstd.shape(), Shape({rows.count}), "{} rstd for x {}", op, x.shape());
  return rows;
}

// y = (x - m) * r * w (+ b), one row
COURIER_VECTOR_CLONES
void normalize_row(const float* __restrict x, const float* __restrict w, const float* __restrict b,
                   float* __restrict y, std::int64_t n, float m, float r) {
  if (b != nullptr) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * r * w[i] + b[i];
  } else {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * r * w[i];
  }
}

// The backward of one row: dnorm = dy * w; dx = (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)) * r;
// dw += dy * xhat; db += dy.
COURIER_VECTOR_CLONES
void backward_row(const float* __restrict dy, const float* __restrict x, const float* __restrict w, float m, float r,
                  float* __restrict dx, float* __restrict dw, float* __restrict db, std::int64_t n) {
  float sum_dnorm = 0.0f, sum_dnorm_xhat = 0.0f;
#pragma omp simd reduction(+ : sum_dnorm, sum_dnorm_xhat)
  for (std::int64_t i = 0; i < n; ++i) {
    const float xhat = (x[i] - m) * r;
    const float dnorm = dy[i] * w[i];
    sum_dnorm += dnorm;
    sum_dnorm_xhat += dnorm * xhat;
  }
  const float mean_dnorm = sum_dnorm / static_cast<float>(n);
  const float mean_dnorm_xhat = sum_dnorm_xhat / static_cast<float>(n);
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float xhat = (x[i] - m) * r;
    dw[i] += dy[i] * xhat;
    if (dx != nullptr) dx[i] = (dy[i] * w[i] - mean_dnorm - xhat * mean_dnorm_xhat) * r;
  }
  if (db != nullptr) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) db[i] += dy[i];
  }
}

}  // namespace

// x (N, C) -> out (N, C), mean (N), rstd (N)
void layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out, Tensor& mean,
                       Tensor& rstd, float eps) {
  const Rows rows = check_shapes(x, weight, bias, mean, rstd, "layernorm_forward");
  COURIER_CHECK_EQ(out.shape(), x.shape(), "layernorm_forward out");
  COURIER_CHECK(!out.overlaps(x), "layernorm_forward out aliases x");
  const std::int64_t C = rows.channels;
  for (std::int64_t row = 0; row < rows.count; ++row) {
    const float* xr = x.data() + row * C;
    double sum = 0.0, sum_sq = 0.0;
    for (std::int64_t i = 0; i < C; ++i) sum += xr[i];
    const double mu = sum / static_cast<double>(C);
    for (std::int64_t i = 0; i < C; ++i) sum_sq += (xr[i] - mu) * (xr[i] - mu);
    const double var = sum_sq / static_cast<double>(C);
    const auto m = static_cast<float>(mu);
    const auto r = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    mean.data()[row] = m;
    rstd.data()[row] = r;
    normalize_row(xr, weight.data(), bias.defined() ? bias.data() : nullptr, out.data() + row * C, C, m, r);
  }
}

// dout (N, C) -> dx (N, C), dweight (C) +=, dbias (C) +=
void layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& weight, const Tensor& mean,
                        const Tensor& rstd, Tensor& dx, Tensor& dweight, Tensor& dbias) {
  const Rows rows = check_shapes(x, weight, dbias, mean, rstd, "layernorm_backward");
  COURIER_CHECK_EQ(dout.shape(), x.shape(), "layernorm_backward dout");
  COURIER_CHECK_EQ(dweight.shape(), weight.shape(), "layernorm_backward dweight");
  if (dx.defined()) {
    COURIER_CHECK_EQ(dx.shape(), x.shape(), "layernorm_backward dx");
    COURIER_CHECK(!dx.overlaps(dout), "layernorm_backward dx aliases dout");
  }
  const std::int64_t C = rows.channels;
  for (std::int64_t row = 0; row < rows.count; ++row) {
    backward_row(dout.data() + row * C, x.data() + row * C, weight.data(), mean.data()[row], rstd.data()[row],
                 dx.defined() ? dx.data() + row * C : nullptr, dweight.data(), dbias.defined() ? dbias.data() : nullptr,
                 C);
  }
}

}  // namespace courier
