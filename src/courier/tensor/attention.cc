// Attention kernels: per (batch row, head), two GEMMs forward and four backward through
// OpenBLAS on strided views of q|k|v, with the causal softmax and its backward in between.
// Cost per head: forward 2 T^2 HS multiply-adds, backward 4 T^2 HS (the masked half of
// each T x T product is computed and discarded: simpler and, at T = 64, cheaper than
// triangular calls).
#include "courier/tensor/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "courier/core/check.h"
#include "courier/core/simd.h"

namespace courier {
namespace {

struct Dims {
  std::int64_t B, T, C, NH, HS;
};

Dims check_dims(const Tensor& qkv, std::int64_t heads, const Tensor& probs, const char* op) {
  COURIER_CHECK_EQ(qkv.rank(), 3, "{} qkv must be (B, T, 3C), got {}", op, qkv.shape());
  COURIER_CHECK_EQ(qkv.dim(2) % 3, 0, "{} qkv last dimension must be 3C, got {}", op, qkv.shape());
  const std::int64_t C = qkv.dim(2) / 3;
  COURIER_CHECK(heads > 0 && C % heads == 0, "{}: {} heads do not divide {} channels", op, heads, C);
  const Dims d{qkv.dim(0), qkv.dim(1), C, heads, C / heads};
  COURIER_CHECK_EQ(probs.shape(), Shape({d.B, d.NH, d.T, d.T}), "{} probs for qkv {}", op, qkv.shape());
  return d;
}

blasint to_blas(std::int64_t n) { return static_cast<blasint>(n); }

// row[0, n) <- softmax(row[0, n)); row[n, width) <- 0
COURIER_VECTOR_CLONES
void causal_softmax_row(float* __restrict row, std::int64_t n, std::int64_t width) {
  float max = row[0];
  for (std::int64_t i = 1; i < n; ++i) max = std::max(max, row[i]);
  float sum = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    row[i] = std::exp(row[i] - max);
    sum += row[i];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) row[i] *= inv;
  for (std::int64_t i = n; i < width; ++i) row[i] = 0.0f;
}

// dp <- p * (dp - sum(p * dp)) * scale over one row (p is zero above the diagonal, so is the result)
COURIER_VECTOR_CLONES
void softmax_backward_row(const float* __restrict p, float* __restrict dp, std::int64_t n, float scale) {
  float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
  for (std::int64_t i = 0; i < n; ++i) dot += p[i] * dp[i];
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) dp[i] = p[i] * (dp[i] - dot) * scale;
}

}  // namespace

// qkv (B, T, 3C) -> out (B, T, C), probs (B, NH, T, T)
void attention_forward(const Tensor& qkv, std::int64_t heads, Tensor& out, Tensor& probs) {
  const Dims d = check_dims(qkv, heads, probs, "attention_forward");
  COURIER_CHECK_EQ(out.shape(), Shape({d.B, d.T, d.C}), "attention_forward out for qkv {}", qkv.shape());
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.HS));
  const std::int64_t ld = 3 * d.C;
  for (std::int64_t b = 0; b < d.B; ++b) {
    for (std::int64_t h = 0; h < d.NH; ++h) {
      const float* q = qkv.data() + b * d.T * ld + h * d.HS;
      const float* k = q + d.C;
      const float* v = q + 2 * d.C;
      float* p = probs.data() + (b * d.NH + h) * d.T * d.T;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, to_blas(d.T), to_blas(d.T), to_blas(d.HS), scale, q,
                  to_blas(ld), k, to_blas(ld), 0.0f, p, to_blas(d.T));
      for (std::int64_t t = 0; t < d.T; ++t) causal_softmax_row(p + t * d.T, t + 1, d.T);
      float* o = out.data() + b * d.T * d.C + h * d.HS;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, to_blas(d.T), to_blas(d.HS), to_blas(d.T), 1.0f, p,
                  to_blas(d.T), v, to_blas(ld), 0.0f, o, to_blas(d.C));
    }
  }
}

// dP = dO V^T; dV = P^T dO; dS = P (dP - rowsum(P dP)) scale; dQ = dS K; dK = dS^T Q
void attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& probs, std::int64_t heads, Tensor& dqkv,
                        Tensor& scratch) {
  const Dims d = check_dims(qkv, heads, probs, "attention_backward");
  COURIER_CHECK_EQ(dout.shape(), Shape({d.B, d.T, d.C}), "attention_backward dout for qkv {}", qkv.shape());
  COURIER_CHECK_EQ(dqkv.shape(), qkv.shape(), "attention_backward dqkv");
  COURIER_CHECK_EQ(scratch.shape(), Shape({d.T, d.T}), "attention_backward scratch");
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.HS));
  const std::int64_t ld = 3 * d.C;
  const blasint T = to_blas(d.T), HS = to_blas(d.HS);
  float* ds = scratch.data();
  for (std::int64_t b = 0; b < d.B; ++b) {
    for (std::int64_t h = 0; h < d.NH; ++h) {
      const std::int64_t at = b * d.T * ld + h * d.HS;
      const float* q = qkv.data() + at;
      const float* k = q + d.C;
      const float* v = q + 2 * d.C;
      float* dq = dqkv.data() + at;
      float* dk = dq + d.C;
      float* dv = dq + 2 * d.C;
      const float* p = probs.data() + (b * d.NH + h) * d.T * d.T;
      const float* dO = dout.data() + b * d.T * d.C + h * d.HS;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, 1.0f, dO, to_blas(d.C), v, to_blas(ld), 0.0f,
                  ds, T);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1.0f, p, T, dO, to_blas(d.C), 0.0f, dv,
                  to_blas(ld));
      for (std::int64_t t = 0; t < d.T; ++t) softmax_backward_row(p + t * d.T, ds + t * d.T, d.T, scale);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1.0f, ds, T, k, to_blas(ld), 0.0f, dq,
                  to_blas(ld));
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1.0f, ds, T, q, to_blas(ld), 0.0f, dk,
                  to_blas(ld));
    }
  }
}

}  // namespace courier
