// Sequential model: setup, forward, backward with the grads-ready hook.
#include "courier/nn/sequential.h"

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
  caches_.resize(layers_.size());
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

void Sequential::ensure_buffers(std::int64_t batch) {
  if (batch == batch_) return;
  activations_.assign(shapes_.size(), Tensor());
  input_grads_.assign(shapes_.size(), Tensor());
  for (std::size_t i = 1; i < shapes_.size(); ++i) {
    activations_[i] = Tensor::empty(shapes_[i].prepend(batch));
    input_grads_[i] = Tensor::empty(shapes_[i].prepend(batch));
  }
  batch_ = batch;
}

const Tensor& Sequential::forward(const Tensor& input) {
  COURIER_CHECK(is_setup(), "forward() before setup()");
  COURIER_CHECK_GE(input.rank(), 1, "model input needs a batch dimension");
  COURIER_CHECK_EQ(input.shape().drop_front(), shapes_.front(), "model input {} for per-sample shape {}",
                   input.shape(), shapes_.front());
  ensure_buffers(input.dim(0));
  activations_[0] = input;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(activations_[i], activations_[i + 1], caches_[i]);
  }
  return activations_.back();
}

void Sequential::backward(const Tensor& dout, const GradsReadyHook& on_grads_ready, Tensor* din) {
  COURIER_CHECK(activations_.size() == shapes_.size() && activations_[0].defined(), "backward() before forward()");
  COURIER_CHECK_EQ(dout.shape(), activations_.back().shape(), "model output gradient");
  if (din != nullptr) COURIER_CHECK_EQ(din->shape(), activations_[0].shape(), "model input gradient");
  const Tensor* upstream = &dout;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    Tensor* layer_din = i > 0 ? &input_grads_[i] : din;
    layers_[i]->backward(activations_[i], activations_[i + 1], *upstream, caches_[i], layer_din);
    if (on_grads_ready) on_grads_ready(parameter_range(i));
    upstream = &input_grads_[i];
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
