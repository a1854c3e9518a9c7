// Layer: access to bound parameters, and cache tensors.
#include "courier/nn/layer.h"

#include "courier/core/check.h"

namespace courier {

Tensor cache_tensor(LayerCache& cache, std::size_t index, const Shape& shape) {
  if (cache.saved.size() <= index) cache.saved.resize(index + 1);
  Tensor& t = cache.saved[index];
  if (!t.defined() || t.shape() != shape) t = Tensor::empty(shape);
  return t;
}

Tensor Layer::value(ParamSlot slot) const {
  COURIER_CHECK(parameters_ != nullptr, "{} used before bind()", describe());
  return parameters_->value(slot);
}

Tensor Layer::grad(ParamSlot slot) const {
  COURIER_CHECK(parameters_ != nullptr, "{} used before bind()", describe());
  return parameters_->grad(slot);
}

}  // namespace courier
