// Uniform toy data.
#include "courier/train/data/toy.h"

#include "courier/core/check.h"

namespace courier {

ToyRegression::ToyRegression(std::int64_t input_features, std::int64_t output_features, Rng rng)
    : input_features_(input_features), output_features_(output_features), rng_(rng) {
  COURIER_CHECK_GT(input_features_, 0, "toy input features");
  COURIER_CHECK_GT(output_features_, 0, "toy output features");
}

ToyBatch ToyRegression::next(std::int64_t batch) {
  Tensor inputs = next_inputs(batch);
  Tensor targets = Tensor::empty({batch, output_features_});
  rng_.fill_uniform(targets.span(), 0.0f, 1.0f);
  return {inputs, targets};
}

Tensor ToyRegression::next_inputs(std::int64_t batch) {
  COURIER_CHECK_GT(batch, 0, "toy batch size");
  Tensor inputs = Tensor::empty({batch, input_features_});
  rng_.fill_uniform(inputs.span(), 0.0f, 1.0f);
  return inputs;
}

}  // namespace courier
