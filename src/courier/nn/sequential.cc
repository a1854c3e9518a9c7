// Sequential model: setup, forward, backward with the grads-ready hook, over the whole model or
// a layer range against an explicit activation state.
#include "courier/nn/sequential.h"

#include <algorithm>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {

Layer& Sequential::add(std::unique_ptr<Layer> layer) {
  COURIER_CHECK(!is_setup(), "layers cannot be added after setup()");
  COURIER_CHECK(layer != nullptr);
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

void Sequential::setup(const Shape& input, Rng& rng) {
  COURIER_CHECK(!is_setup(), "setup() called twice");
  COURIER_CHECK(!layers_.empty(), "setup() of a model without layers");
  ParameterLayout layout;
  shapes_ = {input};
  param_offsets_ = {0};
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layout.set_prefix(std::to_string(i) + ".");
    shapes_.push_back(layers_[i]->setup(shapes_.back(), layout));
    param_offsets_.push_back(layout.numel());
  }
  parameters_ = std::make_unique<Parameters>(std::move(layout));
  parameters_->initialize(rng);
  for (auto& layer : layers_) layer->bind(*parameters_);
}

void Sequential::set_training(bool training) {
  for (auto& layer : layers_) layer->set_training(training);
}

Parameters& Sequential::parameters() {
  COURIER_CHECK(is_setup(), "parameters() before setup()");
  return *parameters_;
}

const Parameters& Sequential::parameters() const {
  COURIER_CHECK(is_setup(), "parameters() before setup()");
  return *parameters_;
}

GradsReady Sequential::parameter_range(std::size_t i) const {
  COURIER_CHECK_LT(i, layers_.size(), "layer index");
  return {i, param_offsets_[i], param_offsets_[i + 1] - param_offsets_[i]};
}

std::vector<TiedParameter> Sequential::tied_parameters() const {
  COURIER_CHECK(is_setup(), "tied_parameters() before setup()");
  std::vector<TiedParameter> tied;
  for (std::size_t reader = 0; reader < layers_.size(); ++reader) {
    for (ParamSlot slot : layers_[reader]->borrowed_parameters()) {
      const ParamSpec& spec = parameters_->specs().at(slot.index);
      const auto owner = static_cast<std::size_t>(
          std::upper_bound(param_offsets_.begin(), param_offsets_.end(), spec.offset) - param_offsets_.begin() - 1);
      tied.push_back({owner, reader, spec.offset, spec.shape.numel()});
    }
  }
  return tied;
}

namespace {

std::int64_t tensor_bytes(const Tensor& t) { return t.defined() ? t.numel() * std::int64_t{sizeof(float)} : 0; }

std::int64_t cache_bytes(const LayerCache& cache) {
  std::int64_t bytes = static_cast<std::int64_t>(cache.indices.size() * sizeof(std::int32_t));
  for (const Tensor& t : cache.saved) bytes += tensor_bytes(t);
  for (const LayerCache& child : cache.children) bytes += cache_bytes(child);
  return bytes;
}

}  // namespace

std::int64_t Sequential::Activations::bytes() const {
  std::int64_t total = 0;
  for (const Tensor& t : activations) total += tensor_bytes(t);
  for (const Tensor& t : input_grads) total += tensor_bytes(t);
  for (const LayerCache& cache : caches) total += cache_bytes(cache);
  return total;
}

// Layer i's output buffer for i in [first, last) and the gradient buffers between the range's
// layers; the range's input and input gradient are the caller's.
void Sequential::ensure_buffers(Activations& state, std::int64_t batch, std::size_t first, std::size_t last) const {
  if (batch == state.batch && first == state.first && last == state.last) return;
  state.caches.assign(layers_.size(), LayerCache());
  state.activations.assign(shapes_.size(), Tensor());
  state.input_grads.assign(shapes_.size(), Tensor());
  for (std::size_t i = first + 1; i <= last; ++i) {
    state.activations[i] = Tensor::empty(shapes_[i].prepend(batch));
    if (i < last) state.input_grads[i] = Tensor::empty(shapes_[i].prepend(batch));
  }
  state.batch = batch;
  state.first = first;
  state.last = last;
}

const Tensor& Sequential::forward(const Tensor& input) { return forward(own_, input, 0, layers_.size()); }

void Sequential::backward(const Tensor& dout, const GradsReadyHook& on_grads_ready, Tensor* din) {
  backward(own_, dout, 0, layers_.size(), on_grads_ready, din);
}

const Tensor& Sequential::forward(Activations& state, const Tensor& input, std::size_t first, std::size_t last) {
  COURIER_CHECK(is_setup(), "forward() before setup()");
  COURIER_CHECK(first < last && last <= layers_.size(), "layer range [{}, {}) of {} layers", first, last,
                layers_.size());
  COURIER_CHECK_GE(input.rank(), 1, "model input needs a batch dimension");
  COURIER_CHECK_EQ(input.shape().drop_front(), shapes_[first], "input {} of layer {} for per-sample shape {}",
                   input.shape(), first, shapes_[first]);
  ensure_buffers(state, input.dim(0), first, last);
  state.activations[first] = input;
  for (std::size_t i = first; i < last; ++i) {
    layers_[i]->forward(state.activations[i], state.activations[i + 1], state.caches[i]);
  }
  return state.activations[last];
}

void Sequential::backward(Activations& state, const Tensor& dout, std::size_t first, std::size_t last,
                          const GradsReadyHook& on_grads_ready, Tensor* din) {
  COURIER_CHECK(state.first == first && state.last == last && state.activations.size() == shapes_.size() &&
                    state.activations[first].defined(),
                "backward() of layers [{}, {}) before their forward()", first, last);
  COURIER_CHECK_EQ(dout.shape(), state.activations[last].shape(), "output gradient of layer {}", last - 1);
  if (din != nullptr) {
    COURIER_CHECK_EQ(din->shape(), state.activations[first].shape(), "input gradient of layer {}", first);
  }
  const Tensor* upstream = &dout;
  for (std::size_t i = last; i-- > first;) {
    Tensor* layer_din = i > first ? &state.input_grads[i] : din;
    layers_[i]->backward(state.activations[i], state.activations[i + 1], *upstream, state.caches[i], layer_din);
    if (on_grads_ready) on_grads_ready(parameter_range(i));
    upstream = &state.input_grads[i];
  }
}

std::string Sequential::describe() const {
  std::string text;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const std::int64_t params = i + 1 < param_offsets_.size() ? param_offsets_[i + 1] - param_offsets_[i] : 0;
    const std::string shape = i + 1 < shapes_.size() ? shapes_[i + 1].to_string() : "?";
    text += fmt::format("{:>3}  {:<28} -> {:<14} {:>10} parameters\n", i, layers_[i]->describe(), shape, params);
  }
  if (is_setup()) text += fmt::format("     total {} parameters\n", parameters_->numel());
  return text;
}

}  // namespace courier
