// Naive reference kernels: serial loops in double precision, written for obviousness, not
// speed. Every optimised kernel in this module is tested against its reference here, and
// benchmarks time the reference beside the optimised kernel. Same signatures as the real
// kernels, in namespace courier::reference.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "courier/tensor/activation.h"
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

}  // namespace courier::reference
