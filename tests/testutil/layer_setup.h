// setup_layer: a layer set up for one input shape with its own initialised parameters, for
// layer tests that call forward and backward directly.
#pragma once

#include <cstdint>
#include <memory>

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

}  // namespace courier::testing
