// Residual connection around a chain of layers.
#include "courier/nn/residual.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/tensor/elementwise.h"

namespace courier {

Layer& Residual::add(std::unique_ptr<Layer> layer) {
  COURIER_CHECK(shapes_.empty(), "Residual: layers cannot be added after setup()");
  COURIER_CHECK(layer != nullptr);
  branch_.push_back(std::move(layer));
  return *branch_.back();
}

std::string Residual::describe() const {
  std::string text = "Residual(";
  for (std::size_t j = 0; j < branch_.size(); ++j) text += (j ? ", " : "") + branch_[j]->describe();
  return text + ")";
}

Shape Residual::setup(const Shape& input, ParameterLayout& layout) {
  COURIER_CHECK(!branch_.empty(), "Residual without layers");
  const std::string outer = layout.prefix();
  Shape shape = input;
  for (std::size_t j = 0; j < branch_.size(); ++j) {
    layout.set_prefix(fmt::format("{}{}.", outer, j));
    shape = branch_[j]->setup(shape, layout);
    shapes_.push_back(shape);
  }
  layout.set_prefix(outer);
  COURIER_CHECK_EQ(shape, input, "{}: the branch must keep the shape", describe());
  return input;
}

void Residual::bind(Parameters& parameters) {
  Layer::bind(parameters);
  for (auto& layer : branch_) layer->bind(parameters);
}

void Residual::set_training(bool training) {
  for (auto& layer : branch_) layer->set_training(training);
}

std::vector<ParamSlot> Residual::borrowed_parameters() const {
  std::vector<ParamSlot> slots;
  for (const auto& layer : branch_) {
    for (ParamSlot slot : layer->borrowed_parameters()) slots.push_back(slot);
  }
  return slots;
}

// saved[j] = output of branch layer j (B, shapes_[j]); saved[n + j] = its gradient
void Residual::forward(const Tensor& in, Tensor& out, LayerCache& cache) {
  const std::size_t n = branch_.size();
  const std::int64_t batch = in.dim(0);
  cache.children.resize(n);
  Tensor x = in;
  for (std::size_t j = 0; j < n; ++j) {
    Tensor y = cache_tensor(cache, j, shapes_[j].prepend(batch));
    branch_[j]->forward(x, y, cache.children[j]);
    x = y;
  }
  courier::add(in, x, out);
}

void Residual::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache& cache, Tensor* din) {
  const std::size_t n = branch_.size();
  COURIER_CHECK_EQ(cache.children.size(), n, "{} backward() before forward()", describe());
  Tensor upstream = dout;  // the branch output's gradient is the block output's
  for (std::size_t j = n; j-- > 0;) {
    const Tensor x = j > 0 ? cache.saved[j - 1] : in;
    Tensor dx;
    if (j > 0 || din != nullptr) dx = cache_tensor(cache, n + j, x.shape());
    const Tensor y = cache.saved[j];
    branch_[j]->backward(x, y, upstream, cache.children[j], dx.defined() ? &dx : nullptr);
    upstream = dx;
  }
  if (din != nullptr) courier::add(dout, upstream, *din);
}

}  // namespace courier
