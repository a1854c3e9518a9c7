// Softmax over the last dimension, as a forward/backward pair, plus log-softmax.
#pragma once

#include "courier/tensor/tensor.h"

namespace courier {

// x (..., C), out (..., C): each row exp(x - max) / sum. out may be x.
void softmax_forward(const Tensor& x, Tensor& out);
// dout (..., C), out (..., C) from forward, din (..., C): din = out * (dout - sum(dout * out)).
// din may be dout.
void softmax_backward(const Tensor& dout, const Tensor& out, Tensor& din);

// x (..., C), out (..., C): each row x - max - log(sum(exp(x - max))). out may be x.
void log_softmax_forward(const Tensor& x, Tensor& out);

}  // namespace courier
