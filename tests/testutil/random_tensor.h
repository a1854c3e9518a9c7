// Random tensors for tests, drawn from a courier::Rng so every run sees the same numbers.
#pragma once

#include "courier/core/rng.h"
#include "courier/tensor/tensor.h"

namespace courier::testing {

// N(0, stddev^2) elements.
inline Tensor random_tensor(const Shape& shape, Rng& rng, float stddev = 1.0f) {
  Tensor t = Tensor::empty(shape);
  rng.fill_normal(t.span(), 0.0f, stddev);
  return t;
}

// U[lo, hi) elements.
inline Tensor random_uniform(const Shape& shape, Rng& rng, float lo, float hi) {
  Tensor t = Tensor::empty(shape);
  rng.fill_uniform(t.span(), lo, hi);
  return t;
}

}  // namespace courier::testing
