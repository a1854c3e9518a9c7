// Layer: access to bound parameters.
#include "courier/nn/layer.h"

#include "courier/core/check.h"

namespace courier {

Tensor Layer::value(ParamSlot slot) const {
  COURIER_CHECK(parameters_ != nullptr, "{} used before bind()", describe());
  return parameters_->value(slot);
}

Tensor Layer::grad(ParamSlot slot) const {
  COURIER_CHECK(parameters_ != nullptr, "{} used before bind()", describe());
  return parameters_->grad(slot);
}

}  // namespace courier
