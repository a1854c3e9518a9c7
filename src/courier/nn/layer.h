// The layer contract. A layer is an explicit forward/backward pair over tensors whose first
// dimension is the batch; there is no autograd tape. Parameters are views into the model's
// flat buffers (parameters.h).
//
// Life cycle:
//   1. setup(input) once, with the per-sample input shape (no batch dimension). The layer
//      declares its parameters in the layout and returns its per-sample output shape.
//   2. bind(parameters) once the model has allocated the flat buffers.
//   3. forward(in, out, cache) / backward(in, out, dout, cache, din), any number of times.
//
// forward: in is (B, input...), out is (B, output...), allocated by the caller. The layer
//   may keep what backward needs in `cache`, one cache per in-flight batch, so a pipeline
//   stage can run several micro-batches forward before their backwards.
// backward: given the in/out/cache of the matching forward and dout (B, output...), the
//   layer ADDS its parameter gradients into the flat gradient buffer (so gradients of
//   micro-batches accumulate) and, when din is not null, WRITES the input gradient into
//   it (din has in's shape).
//
// Thread safety: a layer object may be used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "courier/nn/parameters.h"
#include "courier/tensor/tensor.h"

namespace courier {

// What a layer saves between its forward and backward for one batch. Layers may also keep
// scratch here (a convolution's column buffer), so that nothing is allocated per call.
struct LayerCache {
  std::vector<Tensor> saved;
  std::vector<std::int32_t> indices;  // integer state, such as max-pool's argmax
  std::vector<LayerCache> children;   // the caches of a container's sublayers (Residual)
};

// cache.saved[index], (re)allocated (uninitialised) when it does not have `shape` yet: for
// tensors a layer keeps from forward to backward, and for its scratch. Returns a handle
// (sharing the storage), which stays valid when later calls grow cache.saved.
Tensor cache_tensor(LayerCache& cache, std::size_t index, const Shape& shape);

class Layer {
 public:
  virtual ~Layer() = default;

  // A short description for people: "Linear(2 -> 3)".
  virtual std::string describe() const = 0;

  virtual Shape setup(const Shape& input, ParameterLayout& layout) = 0;
  virtual void forward(const Tensor& in, Tensor& out, LayerCache& cache) = 0;
  virtual void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) = 0;

  // Training (the default) or evaluation mode: layers that behave differently (Dropout)
  // override it; containers pass it on.
  virtual void set_training(bool) {}

  // Containers (Residual) override it to bind their sublayers too.
  virtual void bind(Parameters& parameters) { parameters_ = &parameters; }

  // Parameters declared by another layer that this one reads and adds gradients into (weight
  // tying: a language-model head reading the embedding's token table). A pipeline stage that
  // runs this layer but not the owner keeps a copy and sums the two gradients with the owner's
  // stage. Containers list their sublayers'.
  virtual std::vector<ParamSlot> borrowed_parameters() const { return {}; }

 protected:
  // The bound value and gradient views of a slot this layer declared.
  Tensor value(ParamSlot slot) const;
  Tensor grad(ParamSlot slot) const;

 private:
  Parameters* parameters_ = nullptr;
};

}  // namespace courier
