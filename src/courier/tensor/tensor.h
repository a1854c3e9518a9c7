// Tensor: a handle to contiguous fp32 storage with a shape. Copying a Tensor copies the
// handle, not the numbers (as in PyTorch); clone() copies the numbers. Views (view, rows,
// as_matrix) share the storage of the tensor they came from and keep it alive.
//
// Thread safety: like a raw array. Concurrent reads are fine; writes need the caller's
// synchronisation.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

#include "courier/tensor/shape.h"

namespace courier {

class Tensor {
 public:
  // An undefined tensor: no storage, shape [0]. defined() is false.
  Tensor() = default;

  // Uninitialised storage, 64-byte aligned.
  static Tensor empty(const Shape& shape);
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  // A tensor holding `values`. REQUIRES: values.size() == shape.numel().
  static Tensor from(const Shape& shape, std::span<const float> values);
  static Tensor from(const Shape& shape, std::initializer_list<float> values);
  // A view of memory owned elsewhere. The caller keeps `data` alive while any view lives.
  static Tensor wrap(float* data, const Shape& shape);

  bool defined() const { return data_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t numel() const { return shape_.numel(); }
  // Dimension i of the shape; negative counts from the back.
  std::int64_t dim(int i) const { return shape_[i]; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::span<float> span() { return {data(), static_cast<std::size_t>(numel())}; }
  std::span<const float> span() const { return {data(), static_cast<std::size_t>(numel())}; }

  // Bounds-checked access by flat index or by one index a dimension.
  float& at(std::int64_t flat_index);
  float at(std::int64_t flat_index) const;
  float& at(std::initializer_list<std::int64_t> index);
  float at(std::initializer_list<std::int64_t> index) const;

  // The same storage with another shape. REQUIRES: shape.numel() == numel().
  Tensor view(const Shape& shape) const;
  // The same storage as a matrix (leading dims folded into rows, last dim as columns).
  Tensor as_matrix() const;
  // Rows [begin, end) of the first dimension, sharing storage.
  Tensor rows(std::int64_t begin, std::int64_t end) const;

  // A new tensor with its own copy of the numbers.
  Tensor clone() const;
  void fill(float value);
  void zero() { fill(0.0f); }
  // Copies the numbers of `source`. REQUIRES: same shape.
  void copy_from(const Tensor& source);

  // True when both handles see the same first element (one is a view of the other).
  bool same_storage(const Tensor& other) const { return data_ == other.data_; }
  // True when the two tensors' elements share any memory (a view overlapping another).
  bool overlaps(const Tensor& other) const;

 private:
  Tensor(std::shared_ptr<float> data, const Shape& shape) : data_(std::move(data)), shape_(shape) {}
  std::int64_t flat_index(std::initializer_list<std::int64_t> index) const;

  std::shared_ptr<float> data_;
  Shape shape_{0};
};

}  // namespace courier
