// 2-D convolution over NCHW tensors as a forward/backward pair: im2col, then one GEMM
// (courier::matmul, OpenBLAS) for a group of images, and col2im for the input gradient.
// Like PyTorch's conv2d it is a cross-correlation: the kernel is not flipped.
#pragma once

#include <cstdint>

#include "courier/tensor/tensor.h"

namespace courier {

struct Conv2dGeometry {
  std::int64_t stride = 1;   // the same in both spatial dimensions
  std::int64_t padding = 0;  // zeros added on every side
};

// One spatial output size: (input + 2 padding - kernel) / stride + 1, rounded down.
// REQUIRES: stride >= 1, padding >= 0, and the padded input holds at least one kernel.
std::int64_t conv2d_output_size(std::int64_t input, std::int64_t kernel, const Conv2dGeometry& geometry);

// out's shape (B, O, OH, OW) for x (B, C, H, W) and weight (O, C, KH, KW); throws CheckError
// naming both shapes when they do not fit together.
Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dGeometry& geometry);

// The scratch elements conv2d_forward/backward use for these shapes. The kernels grow a
// smaller workspace themselves, so passing an empty Tensor is fine; a caller that keeps the
// workspace between calls (a layer's LayerCache) allocates nothing in steady state.
std::int64_t conv2d_workspace_numel(const Shape& x, const Shape& weight, const Conv2dGeometry& geometry);

// x (B,C,H,W), weight (O,C,KH,KW), bias (O) or an undefined Tensor, out (B,O,OH,OW)
// out[b,o,i,j] = bias[o] + sum_{c,p,q} weight[o,c,p,q] x[b, c, i stride - padding + p, j stride - padding + q]
// with x read as zero outside its bounds. workspace: scratch (any shape; contents
// undefined before and after). REQUIRES: out does not overlap x, weight or bias.
void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out,
                    const Conv2dGeometry& geometry, Tensor& workspace);

// dout (B,O,OH,OW), x (B,C,H,W), weight (O,C,KH,KW) as in the forward
// dweight (O,C,KH,KW) += dL/dweight; dbias (O) += dL/dbias when not null;
// dx (B,C,H,W) = dL/dx (written) when not null. The forward's workspace contents are not
// needed: the columns are rebuilt from x.
void conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& weight, Tensor& dweight, Tensor* dbias,
                     Tensor* dx, const Conv2dGeometry& geometry, Tensor& workspace);

}  // namespace courier
