// Naive reference kernels: serial loops in double precision, written for obviousness, not
// speed. Every optimised kernel in this module is tested against its reference here, and
// benchmarks time the reference beside the optimised kernel. Same signatures as the real
// kernels, in namespace courier::reference.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "courier/tensor/activation.h"
#include "courier/tensor/conv2d.h"
#include "courier/tensor/matmul.h"
#include "courier/tensor/tensor.h"

namespace courier::reference {

void matmul(const Tensor& a, const Tensor& b, Tensor& out, const MatmulOptions& options = {});

void bias_add_forward(const Tensor& x, const Tensor& bias, Tensor& out);
void bias_add_backward(const Tensor& dout, Tensor& dbias);

void sigmoid_forward(const Tensor& x, Tensor& out);
void sigmoid_backward(const Tensor& dout, const Tensor& out, Tensor& din);
void tanh_forward(const Tensor& x, Tensor& out);
void tanh_backward(const Tensor& dout, const Tensor& out, Tensor& din);
void relu_forward(const Tensor& x, Tensor& out);
void relu_backward(const Tensor& dout, const Tensor& x, Tensor& din);
void gelu_forward(const Tensor& x, Tensor& out, GeluApproximation approximation);
void gelu_backward(const Tensor& dout, const Tensor& x, Tensor& din, GeluApproximation approximation);

void softmax_forward(const Tensor& x, Tensor& out);
void softmax_backward(const Tensor& dout, const Tensor& out, Tensor& din);
void log_softmax_forward(const Tensor& x, Tensor& out);

float sum_forward(const Tensor& x);
double squared_norm(std::span<const float> x);
void sum_over_rows(const Tensor& x, Tensor& out, bool accumulate);

// Direct convolution: one multiply-add a (output, kernel tap). No workspace.
void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out,
                    const Conv2dGeometry& geometry);
void conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& weight, Tensor& dweight, Tensor* dbias,
                     Tensor* dx, const Conv2dGeometry& geometry);

void maxpool2d_forward(const Tensor& x, Tensor& out, std::vector<std::int32_t>& argmax, std::int64_t kernel,
                       std::int64_t stride);
void maxpool2d_backward(const Tensor& dout, std::span<const std::int32_t> argmax, Tensor& dx);

// LayerNorm by its definition, row by row (no saved statistics; bias may be undefined).
void layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out);
// Causal attention by its definition: out[b, t, head h] = sum over s <= t of
// softmax_s(q_t . k_s / sqrt(HS)) v_s, from qkv (B, T, 3C) to out (B, T, C).
void attention_forward(const Tensor& qkv, std::int64_t heads, Tensor& out);

}  // namespace courier::reference
