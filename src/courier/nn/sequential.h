// Sequential: layers applied one after another, their parameters in one flat buffer (in
// layer order), with a hook that says "the gradients of layer i are ready" during backward,
// so gradient exchange can start before backward ends.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "courier/core/rng.h"
#include "courier/nn/layer.h"
#include "courier/nn/parameters.h"

namespace courier {

// Layer `layer` has finished its backward: flat gradient elements [offset, offset + count)
// hold their final values for this batch. Layers without parameters report count 0.
struct GradsReady {
  std::size_t layer;
  std::int64_t offset;
  std::int64_t count;
};
using GradsReadyHook = std::function<void(const GradsReady&)>;

// A parameter that layer `owner` declares and layer `reader` reads too (weight tying), at
// flat elements [offset, offset + count).
struct TiedParameter {
  std::size_t owner;
  std::size_t reader;
  std::int64_t offset;
  std::int64_t count;
};

// Not thread-safe: one thread drives a model at a time.
class Sequential {
 public:
  Sequential() = default;
  Sequential(Sequential&&) = default;
  Sequential& operator=(Sequential&&) = default;

  // Appends a layer. REQUIRES: before setup().
  Layer& add(std::unique_ptr<Layer> layer);
  template <typename L, typename... Args>
  L& add(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }

  // Sets every layer up for the per-sample input shape, then allocates the parameters and
  // initialises them from `rng`. Parameter names are "<layer index>.<name>" ("0.weight").
  // REQUIRES: called once, with at least one layer.
  void setup(const Shape& input, Rng& rng);
  bool is_setup() const { return parameters_ != nullptr; }

  // What one batch in flight keeps between its forward and its backward: the layers' inputs,
  // caches and input gradients, indexed by layer. The model owns one for forward(input) and
  // backward(dout); a pipeline stage keeps one a micro-batch and runs its layers against it.
  struct Activations {
    std::vector<LayerCache> caches;   // caches[i]: layer i's
    std::vector<Tensor> activations;  // activations[i]: the input of layer i (the last: the output)
    std::vector<Tensor> input_grads;  // input_grads[i]: the gradient of activations[i]
    std::int64_t batch = -1;          // the buffers' batch and layer range
    std::size_t first = 0, last = 0;

    // Bytes of every tensor held, the input handed to forward included (views counted once
    // each, as they are separate handles): what this batch in flight costs in memory.
    std::int64_t bytes() const;
  };

  // input (B, input...) -> (B, output...). The result is owned by the model and valid until
  // the next forward. The model keeps a handle to `input` and every activation for backward,
  // so the caller must not modify `input` until backward has run.
  const Tensor& forward(const Tensor& input);

  // dout (B, output...), the loss gradient for the last forward. Adds every parameter
  // gradient into parameters().grads() (zero them first for a fresh step), calling
  // on_grads_ready after each layer, last layer first. Writes the input gradient into din
  // when din is not null.
  void backward(const Tensor& dout, const GradsReadyHook& on_grads_ready = {}, Tensor* din = nullptr);

  // The same for layers [first, last) only, against `state` (a pipeline stage's micro-batch):
  // input (B, input_shape(first)...) -> (B, input_shape(last)...), the result owned by
  // `state`; dout has the result's shape and din, when not null, the input's. Several
  // states may be in flight at once; backward of a state needs its forward first.
  // REQUIRES: first < last <= layer_count().
  const Tensor& forward(Activations& state, const Tensor& input, std::size_t first, std::size_t last);
  void backward(Activations& state, const Tensor& dout, std::size_t first, std::size_t last,
                const GradsReadyHook& on_grads_ready = {}, Tensor* din = nullptr);

  // Training (the default) or evaluation mode, for every layer (Dropout passes through when evaluating).
  void set_training(bool training);

  Parameters& parameters();
  const Parameters& parameters() const;
  std::size_t layer_count() const { return layers_.size(); }
  Layer& layer(std::size_t i) { return *layers_.at(i); }
  // Per-sample shapes: input_shape(i) is what layer i consumes; output_shape() what the model returns.
  const Shape& input_shape(std::size_t i) const { return shapes_.at(i); }
  const Shape& output_shape() const { return shapes_.back(); }
  // The flat parameter range of layer i.
  GradsReady parameter_range(std::size_t i) const;
  // Every parameter a layer reads from another (Layer::borrowed_parameters), in layer order.
  std::vector<TiedParameter> tied_parameters() const;

  // One line a layer: index, description, output shape, parameter count; then the total.
  std::string describe() const;

 private:
  void ensure_buffers(Activations& state, std::int64_t batch, std::size_t first, std::size_t last) const;

  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> shapes_;                 // shapes_[i] = input of layer i; shapes_.back() = output
  std::vector<std::int64_t> param_offsets_;   // layer i owns [param_offsets_[i], param_offsets_[i + 1])
  std::unique_ptr<Parameters> parameters_;    // heap: layers hold its address across moves of the model
  Activations own_;                           // forward(input) and backward(dout)'s
};

}  // namespace courier
