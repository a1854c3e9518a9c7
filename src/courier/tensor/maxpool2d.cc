// Max-pool kernels: one (H, W) plane per OpenMP iteration, so no two threads write the same
// element in either direction.
#include "courier/tensor/maxpool2d.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "courier/core/check.h"
#include "courier/tensor/parallel.h"

namespace courier {
namespace {

// One output row (OW maxima and their positions) of one (H, W) plane, for windows starting
// at input row ih0. The loops go tap by tap with the output column innermost and select
// instead of branch: on random data a branch on the comparison mispredicts half the time,
// which made a window-by-window loop several times slower than the memory it reads.
// kStride > 0 fixes the stride at compile time, so that the strided loads vectorise;
// kStride == 0 reads it from `stride`.
template <std::int64_t kStride>
void pool_row(const float* plane, std::int64_t W, std::int64_t ih0, std::int64_t kernel, std::int64_t runtime_stride,
              std::int64_t OW, float* out, std::int32_t* index) {
  const std::int64_t stride = kStride > 0 ? kStride : runtime_stride;
  for (std::int64_t ow = 0; ow < OW; ++ow) {
    out[ow] = plane[ih0 * W + ow * stride];
    index[ow] = static_cast<std::int32_t>(ih0 * W + ow * stride);
  }
  for (std::int64_t kh = 0; kh < kernel; ++kh) {
    for (std::int64_t kw = 0; kw < kernel; ++kw) {
      const std::int64_t offset = (ih0 + kh) * W + kw;
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        const float v = plane[offset + ow * stride];
        const float best = out[ow];
        // Strictly greater keeps the first maximum; a NaN replaces a number (v != v is isnan).
        const bool take = (v > best) | ((v != v) & (best == best));
        out[ow] = take ? v : best;
        index[ow] = take ? static_cast<std::int32_t>(offset + ow * stride) : index[ow];
      }
    }
  }
}

}  // namespace

Shape maxpool2d_output_shape(const Shape& x, std::int64_t kernel, std::int64_t stride) {
  COURIER_CHECK_EQ(x.rank(), 4, "maxpool2d input must be (B, C, H, W), got {}", x);
  COURIER_CHECK_GE(kernel, 1, "maxpool2d kernel size");
  COURIER_CHECK_GE(stride, 1, "maxpool2d stride");
  COURIER_CHECK(x[2] >= kernel && x[3] >= kernel, "maxpool2d kernel {} larger than the input {}", kernel, x);
  COURIER_CHECK_LE(x[2] * x[3], std::numeric_limits<std::int32_t>::max(), "maxpool2d plane of {} too large", x);
  return {x[0], x[1], (x[2] - kernel) / stride + 1, (x[3] - kernel) / stride + 1};
}

// x (B,C,H,W), out (B,C,OH,OW), argmax (B C OH OW)
void maxpool2d_forward(const Tensor& x, Tensor& out, std::vector<std::int32_t>& argmax, std::int64_t kernel,
                       std::int64_t stride) {
  COURIER_CHECK_EQ(out.shape(), maxpool2d_output_shape(x.shape(), kernel, stride),
                   "maxpool2d output for input {} (kernel {}, stride {})", x.shape(), kernel, stride);
  argmax.resize(static_cast<std::size_t>(out.numel()));
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t H = x.dim(2), W = x.dim(3), OH = out.dim(2), OW = out.dim(3);
  const float* px = x.data();
  float* po = out.data();
  std::int32_t* pi = argmax.data();
#pragma omp parallel for if (x.numel() >= kParallelMinElements) schedule(static)
  for (std::int64_t p = 0; p < planes; ++p) {
    for (std::int64_t oh = 0; oh < OH; ++oh) {
      auto* row = stride == 2 ? &pool_row<2> : stride == 1 ? &pool_row<1> : &pool_row<0>;
      row(px + p * H * W, W, oh * stride, kernel, stride, OW, po + (p * OH + oh) * OW, pi + (p * OH + oh) * OW);
    }
  }
}

// dout (B,C,OH,OW), argmax (B C OH OW), dx (B,C,H,W)
void maxpool2d_backward(const Tensor& dout, std::span<const std::int32_t> argmax, Tensor& dx) {
  COURIER_CHECK_EQ(dout.rank(), 4, "maxpool2d_backward dout must be (B, C, OH, OW), got {}", dout.shape());
  COURIER_CHECK_EQ(dx.rank(), 4, "maxpool2d_backward dx must be (B, C, H, W), got {}", dx.shape());
  COURIER_CHECK(dout.dim(0) == dx.dim(0) && dout.dim(1) == dx.dim(1), "maxpool2d_backward dout {} for dx {}",
                dout.shape(), dx.shape());
  COURIER_CHECK_EQ(static_cast<std::int64_t>(argmax.size()), dout.numel(), "maxpool2d_backward argmax for dout {}",
                   dout.shape());
  const std::int64_t planes = dx.dim(0) * dx.dim(1);
  const std::int64_t plane_in = dx.dim(2) * dx.dim(3);
  const std::int64_t plane_out = dout.dim(2) * dout.dim(3);
  const float* pd = dout.data();
  const std::int32_t* pi = argmax.data();
  float* pdx = dx.data();
  std::int64_t out_of_range = 0;
#pragma omp parallel for if (dx.numel() >= kParallelMinElements) schedule(static) reduction(+ : out_of_range)
  for (std::int64_t p = 0; p < planes; ++p) {
    float* plane = pdx + p * plane_in;
    std::fill(plane, plane + plane_in, 0.0f);
    for (std::int64_t i = p * plane_out; i < (p + 1) * plane_out; ++i) {
      if (pi[i] < 0 || pi[i] >= plane_in) {
        ++out_of_range;
        continue;
      }
      plane[pi[i]] += pd[i];
    }
  }
  COURIER_CHECK_EQ(out_of_range, 0, "maxpool2d_backward argmax entries outside the planes of dx {}", dx.shape());
}

}  // namespace courier
