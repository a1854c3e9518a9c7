// Tensor storage, views and element access.
#include "courier/tensor/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "courier/core/check.h"

namespace courier {
namespace {

constexpr std::size_t kAlignment = 64;

std::shared_ptr<float> allocate(std::int64_t numel) {
  // At least one cache line, so that even an empty tensor has a non-null pointer.
  std::size_t bytes = std::max<std::size_t>(static_cast<std::size_t>(numel) * sizeof(float), kAlignment);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* memory = std::aligned_alloc(kAlignment, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  return std::shared_ptr<float>(static_cast<float*>(memory), [](float* p) { std::free(p); });
}

}  // namespace

Tensor Tensor::empty(const Shape& shape) { return Tensor(allocate(shape.numel()), shape); }

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill(value);
  return t;
}

Tensor Tensor::from(const Shape& shape, std::span<const float> values) {
  COURIER_CHECK_EQ(static_cast<std::int64_t>(values.size()), shape.numel(), "values for a tensor of shape {}", shape);
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::from(const Shape& shape, std::initializer_list<float> values) {
  return from(shape, std::span<const float>(values.begin(), values.size()));
}

Tensor Tensor::wrap(float* data, const Shape& shape) {
  COURIER_CHECK(data != nullptr, "wrap of a null pointer as {}", shape);
  return Tensor(std::shared_ptr<float>(data, [](float*) {}), shape);
}

float& Tensor::at(std::int64_t flat_index) {
  COURIER_CHECK(flat_index >= 0 && flat_index < numel(), "index {} of a tensor of shape {}", flat_index, shape_);
  return data()[flat_index];
}

float Tensor::at(std::int64_t flat_index) const { return const_cast<Tensor*>(this)->at(flat_index); }

float& Tensor::at(std::initializer_list<std::int64_t> index) { return data()[flat_index(index)]; }

float Tensor::at(std::initializer_list<std::int64_t> index) const { return data()[flat_index(index)]; }

std::int64_t Tensor::flat_index(std::initializer_list<std::int64_t> index) const {
  COURIER_CHECK_EQ(static_cast<int>(index.size()), rank(), "index rank for a tensor of shape {}", shape_);
  std::int64_t flat = 0;
  int d = 0;
  for (std::int64_t i : index) {
    COURIER_CHECK(i >= 0 && i < shape_[d], "index {} in dimension {} of a tensor of shape {}", i, d, shape_);
    flat = flat * shape_[d] + i;
    ++d;
  }
  return flat;
}

Tensor Tensor::view(const Shape& shape) const {
  COURIER_CHECK(defined(), "view of an undefined tensor");
  COURIER_CHECK_EQ(shape.numel(), numel(), "view {} of a tensor of shape {}", shape, shape_);
  return Tensor(data_, shape);
}

Tensor Tensor::as_matrix() const {
  const std::int64_t cols = rank() == 0 ? 1 : shape_[-1];
  return view({shape_.leading_numel(), cols});
}

Tensor Tensor::rows(std::int64_t begin, std::int64_t end) const {
  COURIER_CHECK_GE(rank(), 1, "rows of a scalar tensor");
  COURIER_CHECK(0 <= begin && begin <= end && end <= shape_[0], "rows [{}, {}) of a tensor of shape {}", begin, end,
                shape_);
  const std::int64_t row_numel = rank() == 1 ? 1 : shape_.drop_front().numel();
  std::array<std::int64_t, Shape::kMaxRank> dims{};
  std::copy(shape_.dims().begin(), shape_.dims().end(), dims.begin());
  dims[0] = end - begin;
  Shape shape(std::span<const std::int64_t>(dims.data(), static_cast<std::size_t>(rank())));
  return Tensor(std::shared_ptr<float>(data_, data_.get() + begin * row_numel), shape);
}

bool Tensor::overlaps(const Tensor& other) const {
  if (!defined() || !other.defined() || numel() == 0 || other.numel() == 0) return false;
  return data() < other.data() + other.numel() && other.data() < data() + numel();
}

Tensor Tensor::clone() const {
  COURIER_CHECK(defined(), "clone of an undefined tensor");
  Tensor copy = empty(shape_);
  std::copy(data(), data() + numel(), copy.data());
  return copy;
}

void Tensor::fill(float value) {
  COURIER_CHECK(defined(), "fill of an undefined tensor");
  std::fill(data(), data() + numel(), value);
}

void Tensor::copy_from(const Tensor& source) {
  COURIER_CHECK_EQ(source.shape(), shape_, "copy between tensors of different shapes");
  std::copy(source.data(), source.data() + numel(), data());
}

}  // namespace courier
