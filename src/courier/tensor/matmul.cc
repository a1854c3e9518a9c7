// matmul: shape checks, then one cblas_sgemm. Row-major throughout.
#include "courier/tensor/matmul.h"

#include <cblas.h>

#include "courier/core/check.h"

namespace courier {
namespace {

struct Dims {
  std::int64_t m, n, k;
};

Dims check_dims(const Tensor& a, const Tensor& b, const MatmulOptions& options) {
  COURIER_CHECK_EQ(a.rank(), 2, "matmul operand a must be a matrix, got shape {}", a.shape());
  COURIER_CHECK_EQ(b.rank(), 2, "matmul operand b must be a matrix, got shape {}", b.shape());
  const std::int64_t m = options.transpose_a ? a.dim(1) : a.dim(0);
  const std::int64_t ka = options.transpose_a ? a.dim(0) : a.dim(1);
  const std::int64_t kb = options.transpose_b ? b.dim(1) : b.dim(0);
  const std::int64_t n = options.transpose_b ? b.dim(0) : b.dim(1);
  COURIER_CHECK_EQ(ka, kb, "matmul inner dimensions differ: a {} b {} (transpose_a={}, transpose_b={})", a.shape(),
                   b.shape(), options.transpose_a, options.transpose_b);
  return {m, n, ka};
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, Tensor& out, const MatmulOptions& options) {
  const Dims d = check_dims(a, b, options);
  COURIER_CHECK_EQ(out.shape(), Shape({d.m, d.n}), "matmul output of {} @ {}", a.shape(), b.shape());
  COURIER_CHECK(!out.overlaps(a) && !out.overlaps(b), "matmul output overlaps an input");
  if (d.m == 0 || d.n == 0) return;
  if (d.k == 0) {
    if (!options.accumulate) out.zero();
    return;
  }
  cblas_sgemm(CblasRowMajor, options.transpose_a ? CblasTrans : CblasNoTrans,
              options.transpose_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(d.m), static_cast<blasint>(d.n),
              static_cast<blasint>(d.k), options.alpha, a.data(), static_cast<blasint>(a.dim(1)), b.data(),
              static_cast<blasint>(b.dim(1)), options.accumulate ? 1.0f : 0.0f, out.data(),
              static_cast<blasint>(d.n));
}

// With A = op(a), B = op(b) and out = alpha A B:
//   dA = alpha dout B^T   and   dB = alpha A^T dout,
// and da is dA or dA^T, db is dB or dB^T, as the transposes say. Each case is one
// matmul with the transposes chosen so no matrix is ever materialised transposed.
void matmul_backward(const Tensor& dout, const Tensor& a, const Tensor& b, Tensor* da, Tensor* db,
                     const MatmulOptions& options) {
  const Dims d = check_dims(a, b, options);
  COURIER_CHECK_EQ(dout.shape(), Shape({d.m, d.n}), "matmul_backward dout for {} @ {}", a.shape(), b.shape());
  const bool ta = options.transpose_a;
  const bool tb = options.transpose_b;
  if (da != nullptr) {
    COURIER_CHECK_EQ(da->shape(), a.shape(), "matmul_backward da");
    if (!ta) {
      matmul(dout, b, *da, {.transpose_a = false, .transpose_b = !tb, .alpha = options.alpha, .accumulate = true});
    } else {
      matmul(b, dout, *da, {.transpose_a = tb, .transpose_b = true, .alpha = options.alpha, .accumulate = true});
    }
  }
  if (db != nullptr) {
    COURIER_CHECK_EQ(db->shape(), b.shape(), "matmul_backward db");
    if (!tb) {
      matmul(a, dout, *db, {.transpose_a = !ta, .transpose_b = false, .alpha = options.alpha, .accumulate = true});
    } else {
      matmul(dout, a, *db, {.transpose_a = true, .transpose_b = ta, .alpha = options.alpha, .accumulate = true});
    }
  }
}

}  // namespace courier

namespace courier {

void set_blas_threads(int threads) {
  if (threads > 0) openblas_set_num_threads(threads);
}

int blas_threads() { return openblas_get_num_threads(); }

}  // namespace courier
