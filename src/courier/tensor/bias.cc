// Bias add kernels.
#include "courier/tensor/bias.h"

#include "courier/core/check.h"
#include "courier/tensor/parallel.h"
#include "courier/tensor/reduce.h"

namespace courier {

void bias_add_forward(const Tensor& x, const Tensor& bias, Tensor& out) {
  COURIER_CHECK_EQ(x.shape(), out.shape(), "bias_add_forward output");
  COURIER_CHECK_EQ(bias.rank(), 1, "bias must be a vector, got {}", bias.shape());
  COURIER_CHECK_EQ(bias.dim(0), x.dim(-1), "bias {} for input {}", bias.shape(), x.shape());
  const std::int64_t rows = x.shape().leading_numel();
  const std::int64_t cols = bias.dim(0);
  const float* in = x.data();
  const float* b = bias.data();
  float* o = out.data();
#pragma omp parallel for if (rows * cols >= kParallelMinElements) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row_in = in + r * cols;
    float* row_out = o + r * cols;
#pragma omp simd
    for (std::int64_t c = 0; c < cols; ++c) row_out[c] = row_in[c] + b[c];
  }
}

void bias_add_backward(const Tensor& dout, Tensor& dbias) {
  COURIER_CHECK_EQ(dbias.rank(), 1, "dbias must be a vector, got {}", dbias.shape());
  COURIER_CHECK_EQ(dbias.dim(0), dout.dim(-1), "dbias {} for dout {}", dbias.shape(), dout.shape());
  sum_over_rows(dout.as_matrix(), dbias, /*accumulate=*/true);
}

}  // namespace courier
