// 2-D max pooling over NCHW tensors as a forward/backward pair. No padding; windows that do
// not fit are dropped (PyTorch's floor mode). The forward records where each maximum came
// from, so the backward is a scatter.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "courier/tensor/tensor.h"

namespace courier {

// out's shape (B, C, OH, OW) for x (B, C, H, W): OH = (H - kernel) / stride + 1, and so OW.
// REQUIRES: kernel >= 1, stride >= 1, H and W >= kernel; throws CheckError naming x otherwise.
Shape maxpool2d_output_shape(const Shape& x, std::int64_t kernel, std::int64_t stride);

// x (B,C,H,W), out (B,C,OH,OW), argmax (B C OH OW): resized to out.numel(); argmax[i] is the
// position h W + w within its (H, W) plane of the maximum behind out element i. The first
// maximum of a window wins a tie; a NaN in a window wins over numbers (it propagates).
void maxpool2d_forward(const Tensor& x, Tensor& out, std::vector<std::int32_t>& argmax, std::int64_t kernel,
                       std::int64_t stride);

// dout (B,C,OH,OW), argmax from the forward, dx (B,C,H,W): dx = 0, then dx[argmax] += dout
// (overlapping windows, stride < kernel, can send several gradients to one element).
void maxpool2d_backward(const Tensor& dout, std::span<const std::int32_t> argmax, Tensor& dx);

}  // namespace courier
