// Elementwise activations as forward/backward pairs. Any shape; out may be the same tensor
// as x (in place), and din may be the same tensor as dout. Backward writes din (=), it does
// not accumulate.
#pragma once

#include <string_view>

#include "courier/tensor/tensor.h"

namespace courier {

// x (any), out (same): out = 1 / (1 + exp(-x))
void sigmoid_forward(const Tensor& x, Tensor& out);
// din = dout * out * (1 - out), from the forward's output
void sigmoid_backward(const Tensor& dout, const Tensor& out, Tensor& din);

// out = tanh(x); din = dout * (1 - out^2), from the forward's output
void tanh_forward(const Tensor& x, Tensor& out);
void tanh_backward(const Tensor& dout, const Tensor& out, Tensor& din);

// out = max(x, 0); din = dout where x > 0, else 0 (the derivative at 0 is taken as 0)
void relu_forward(const Tensor& x, Tensor& out);
void relu_backward(const Tensor& dout, const Tensor& x, Tensor& din);

enum class GeluApproximation {
  kTanh,   // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's choice
  kExact,  // 0.5 x (1 + erf(x / sqrt(2)))
};
std::string_view gelu_approximation_name(GeluApproximation approximation);

void gelu_forward(const Tensor& x, Tensor& out, GeluApproximation approximation);
// din = dout * gelu'(x), from the forward's input
void gelu_backward(const Tensor& dout, const Tensor& x, Tensor& din, GeluApproximation approximation);

}  // namespace courier
