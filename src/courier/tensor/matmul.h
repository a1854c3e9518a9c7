// Matrix multiply through OpenBLAS (cblas_sgemm), as a forward/backward pair.
#pragma once

#include "courier/tensor/tensor.h"

namespace courier {

struct MatmulOptions {
  bool transpose_a = false;  // use a^T: a is stored (K, M)
  bool transpose_b = false;  // use b^T: b is stored (N, K)
  float alpha = 1.0f;
  bool accumulate = false;   // out += ... instead of out = ...
};

// out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N)  [+ out when accumulate]
// REQUIRES: rank-2 tensors; inner dimensions agree; out is (M, N) and does not alias a or b.
void matmul(const Tensor& a, const Tensor& b, Tensor& out, const MatmulOptions& options = {});

// The gradients of matmul(a, b, out, options) given dout (M, N):
//   da += dL/da, db += dL/db (always accumulated; either may be null).
// The transposes are honoured: da has a's shape and db has b's shape.
void matmul_backward(const Tensor& dout, const Tensor& a, const Tensor& b, Tensor* da, Tensor* db,
                     const MatmulOptions& options = {});

}  // namespace courier

namespace courier {

// Threads OpenBLAS uses for every GEMM in this process (process-wide). 0 leaves it alone.
void set_blas_threads(int threads);
int blas_threads();

}  // namespace courier
