// Elementwise arithmetic on whole tensors of one shape. Outputs may alias inputs.
#pragma once

#include "courier/tensor/tensor.h"

namespace courier {

// out = a + b
void add(const Tensor& a, const Tensor& b, Tensor& out);
// y += alpha * x
void axpy(float alpha, const Tensor& x, Tensor& y);
// x *= alpha
void scale(Tensor& x, float alpha);

}  // namespace courier
