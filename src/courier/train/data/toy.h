// The seed example's data: every batch fresh inputs and targets drawn uniformly from [0, 1).
// There is nothing to learn in it beyond the mean, which is the point of the classic demo:
// the loss settles at the variance of a uniform target, 1/12 = 0.0833.
#pragma once

#include <cstdint>

#include "courier/core/rng.h"
#include "courier/tensor/tensor.h"

namespace courier {

struct ToyBatch {
  Tensor inputs;   // (batch, input_features)
  Tensor targets;  // (batch, output_features)
};

class ToyRegression {
 public:
  // REQUIRES: positive sizes.
  ToyRegression(std::int64_t input_features, std::int64_t output_features, Rng rng);

  // Inputs first, then targets, row-major, from the generator's stream.
  ToyBatch next(std::int64_t batch);
  // Only inputs (for a test set).
  Tensor next_inputs(std::int64_t batch);

 private:
  std::int64_t input_features_;
  std::int64_t output_features_;
  Rng rng_;
};

}  // namespace courier
