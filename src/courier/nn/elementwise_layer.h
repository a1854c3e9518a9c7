// ElementwiseLayer: the base of parameter-free layers whose output has the input's shape
// (activations). Subclasses implement forward and backward only.
#pragma once

#include "courier/nn/layer.h"

namespace courier {

class ElementwiseLayer : public Layer {
 public:
  Shape setup(const Shape& input, ParameterLayout&) override { return input; }
};

}  // namespace courier
