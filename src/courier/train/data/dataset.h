// Dataset: the interface the trainer reads examples through. Implementations live next to
// it: IDX images (idx.h), byte-level text (text.h). Which examples a node reads each step
// is the sampler's business (sampler.h), not the dataset's.
#pragma once

#include <cstdint>
#include <span>

#include "courier/tensor/shape.h"
#include "courier/tensor/tensor.h"

namespace courier {

// Examples addressed by index 0..size()-1, immutable once built.
// Thread safety: every method is const and safe to call concurrently (the nodes of an
// in-process run share one dataset).
class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual std::int64_t size() const = 0;
  // Per-example input shape, e.g. {784} or {1, 28, 28}.
  virtual Shape sample_shape() const = 0;
  // Number of label values (10 for Fashion-MNIST, the vocabulary size for text).
  virtual std::int64_t classes() const = 0;
  // 1 for classification; the context length T for a language-model window.
  virtual std::int64_t labels_per_example() const = 0;

  // Copies the examples `indices` into a batch, in that order.
  // inputs (indices.size(), sample_shape...) fp32; labels indices.size() * labels_per_example()
  // values in [0, classes()), example-major.
  // REQUIRES (COURIER_CHECK): every index in [0, size()); inputs already has that shape;
  // labels has exactly that many elements.
  virtual void fill(std::span<const std::int64_t> indices, Tensor& inputs, std::span<std::int32_t> labels) const = 0;
};

}  // namespace courier
