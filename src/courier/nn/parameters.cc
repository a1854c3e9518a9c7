// The flat parameter and gradient buffers and their views.
#include "courier/nn/parameters.h"

#include "courier/core/check.h"

namespace courier {

ParamSlot ParameterLayout::add(std::string_view name, const Shape& shape, const Init& init, bool weight_decay) {
  std::string full = prefix_ + std::string(name);
  for (const auto& spec : specs_) COURIER_CHECK(spec.name != full, "parameter '{}' declared twice", full);
  specs_.push_back({std::move(full), shape, init, weight_decay, numel_});
  numel_ += shape.numel();
  return ParamSlot{specs_.size() - 1};
}

Parameters::Parameters(ParameterLayout layout)
    : layout_(std::move(layout)), values_(Tensor::empty({layout_.numel()})), grads_(Tensor::zeros({layout_.numel()})) {
  for (const auto& spec : layout_.specs()) {
    const std::int64_t end = spec.offset + spec.shape.numel();
    value_views_.push_back(values_.rows(spec.offset, end).view(spec.shape));
    grad_views_.push_back(grads_.rows(spec.offset, end).view(spec.shape));
  }
}

void Parameters::initialize(Rng& rng) {
  for (std::size_t i = 0; i < value_views_.size(); ++i) layout_.specs()[i].init.apply(value_views_[i], rng);
}

const Tensor& Parameters::value(ParamSlot slot) const {
  COURIER_CHECK_LT(slot.index, value_views_.size(), "parameter slot out of range");
  return value_views_[slot.index];
}

const Tensor& Parameters::grad(ParamSlot slot) const {
  COURIER_CHECK_LT(slot.index, grad_views_.size(), "parameter slot out of range");
  return grad_views_[slot.index];
}

std::optional<ParamSlot> Parameters::find(std::string_view name) const {
  for (std::size_t i = 0; i < layout_.specs().size(); ++i) {
    if (layout_.specs()[i].name == name) return ParamSlot{i};
  }
  return std::nullopt;
}

}  // namespace courier
