// setup_layer: a layer set up for one input shape with its own initialised parameters, for
// layer tests that call forward and backward directly; param / param_grad: one parameter's
// values or gradient by name.
#pragma once

#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

#include "courier/core/rng.h"
#include "courier/nn/layer.h"
#include "courier/nn/parameters.h"

namespace courier::testing {

// Sets `layer` up for `sample_input` with its own initialised parameters (heap-held, since
// the layer keeps their address). Writes the output shape to `output` when given.
inline std::unique_ptr<Parameters> setup_layer(Layer& layer, const Shape& sample_input, std::uint64_t seed,
                                               Shape* output = nullptr) {
  ParameterLayout layout;
  const Shape out = layer.setup(sample_input, layout);
  if (output != nullptr) *output = out;
  auto params = std::make_unique<Parameters>(std::move(layout));
  Rng rng(seed);
  params->initialize(rng);
  layer.bind(*params);
  return params;
}

// The values of the parameter `name` (a test failure, and an undefined tensor, if absent).
inline Tensor param(const Parameters& params, const char* name) {
  const auto slot = params.find(name);
  EXPECT_TRUE(slot.has_value()) << name;
  return slot ? params.value(*slot) : Tensor();
}

// The gradient of the parameter `name`, likewise.
inline Tensor param_grad(const Parameters& params, const char* name) {
  const auto slot = params.find(name);
  EXPECT_TRUE(slot.has_value()) << name;
  return slot ? params.grad(*slot) : Tensor();
}

}  // namespace courier::testing
