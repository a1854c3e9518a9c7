// Parameters live in one flat fp32 buffer and their gradients in a second one of the same
// layout, so that communication, optimizers and checkpoints see one contiguous array and
// layers see typed views into it. Building a model is two phases: layers declare what they
// need in a ParameterLayout (setup), then Parameters allocates both buffers at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "courier/core/rng.h"
#include "courier/nn/init.h"
#include "courier/tensor/tensor.h"

namespace courier {

// A handle to one declared parameter; cheap to copy, valid for the Parameters built from
// the layout that issued it.
struct ParamSlot {
  std::size_t index = 0;
};

struct ParamSpec {
  std::string name;     // "0.weight": the layer's prefix, then the layer's own name
  Shape shape;
  Init init;
  bool weight_decay;    // whether decoupled weight decay applies (matrices yes; biases, norms no)
  std::int64_t offset;  // first element in the flat buffers
};

class ParameterLayout {
 public:
  // Names declared from now on start with `prefix` ("3." for the fourth layer).
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  const std::string& prefix() const { return prefix_; }

  // Declares a parameter; its elements follow the previous declaration's in the flat buffer.
  ParamSlot add(std::string_view name, const Shape& shape, const Init& init, bool weight_decay);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  std::int64_t numel() const { return numel_; }

 private:
  std::string prefix_;
  std::vector<ParamSpec> specs_;
  std::int64_t numel_ = 0;
};

// Owns the flat value and gradient buffers. Not thread-safe; views are plain memory.
class Parameters {
 public:
  Parameters() = default;
  // Allocates values (uninitialised until initialize) and gradients (zero).
  explicit Parameters(ParameterLayout layout);
  // Move-only: a copy would share the buffers behind the views and surprise both owners.
  Parameters(Parameters&&) = default;
  Parameters& operator=(Parameters&&) = default;
  Parameters(const Parameters&) = delete;
  Parameters& operator=(const Parameters&) = delete;

  // Fills every parameter with its initialiser, in declaration order, from `rng`.
  void initialize(Rng& rng);

  Tensor& values() { return values_; }  // 1-D, numel() elements
  const Tensor& values() const { return values_; }
  Tensor& grads() { return grads_; }
  const Tensor& grads() const { return grads_; }
  void zero_grads() { grads_.zero(); }

  // Views of one parameter and its gradient, in the parameter's own shape.
  const Tensor& value(ParamSlot slot) const;
  const Tensor& grad(ParamSlot slot) const;

  const std::vector<ParamSpec>& specs() const { return layout_.specs(); }
  std::int64_t numel() const { return layout_.numel(); }
  std::optional<ParamSlot> find(std::string_view name) const;

 private:
  ParameterLayout layout_;
  Tensor values_;
  Tensor grads_;
  std::vector<Tensor> value_views_;
  std::vector<Tensor> grad_views_;
};

}  // namespace courier
