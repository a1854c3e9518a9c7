// Residual: out = in + branch(in), where the branch is a short chain of layers (a
// transformer block's "LayerNorm, attention" or "LayerNorm, Linear, GELU, Linear").
#pragma once

#include <memory>
#include <vector>

#include "courier/nn/layer.h"

namespace courier {

class Residual final : public Layer {
 public:
  // Appends a layer to the branch. REQUIRES: before setup().
  Layer& add(std::unique_ptr<Layer> layer);
  template <typename L, typename... Args>
  L& add(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }

  std::string describe() const override;
  // The branch's parameters are named "<prefix><j>.<name>" for branch layer j ("1.0.weight").
  // REQUIRES: the branch maps the input shape to itself.
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  void bind(Parameters& parameters) override;
  void set_training(bool training) override;
  std::vector<ParamSlot> borrowed_parameters() const override;
  // cache.saved holds the branch activations and input gradients; cache.children the
  // branch layers' own caches.
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  std::vector<std::unique_ptr<Layer>> branch_;
  std::vector<Shape> shapes_;  // shapes_[j] = per-sample output of branch layer j
};

}  // namespace courier
