// Shape construction, checks and formatting.
#include "courier/tensor/shape.h"

#include <algorithm>

#include "courier/core/check.h"

namespace courier {

Shape::Shape(std::initializer_list<std::int64_t> dims) : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  COURIER_CHECK_LE(dims.size(), static_cast<std::size_t>(kMaxRank), "shape rank is limited");
  for (std::int64_t d : dims) COURIER_CHECK_GE(d, 0, "negative dimension in a shape");
  std::copy(dims.begin(), dims.end(), dims_.begin());
  rank_ = static_cast<int>(dims.size());
}

std::int64_t Shape::operator[](int i) const {
  COURIER_CHECK(i >= -rank_ && i < rank_, "dimension {} of a rank-{} shape {}", i, rank_, to_string());
  return dims_[static_cast<std::size_t>(i < 0 ? i + rank_ : i)];
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

Shape Shape::prepend(std::int64_t leading) const {
  COURIER_CHECK_LT(rank_, kMaxRank, "no room to prepend a dimension to {}", to_string());
  std::array<std::int64_t, kMaxRank> dims{};
  dims[0] = leading;
  std::copy(dims_.begin(), dims_.begin() + rank_, dims.begin() + 1);
  return Shape(std::span<const std::int64_t>(dims.data(), static_cast<std::size_t>(rank_ + 1)));
}

Shape Shape::drop_front() const {
  COURIER_CHECK_GE(rank_, 1, "drop_front of a scalar shape");
  return Shape(dims().subspan(1));
}

std::int64_t Shape::leading_numel() const {
  std::int64_t n = 1;
  for (int i = 0; i + 1 < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

std::string Shape::to_string() const { return fmt::format("[{}]", fmt::join(dims(), ", ")); }

bool operator==(const Shape& a, const Shape& b) {
  return a.rank_ == b.rank_ && std::equal(a.dims_.begin(), a.dims_.begin() + a.rank_, b.dims_.begin());
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape.to_string(); }

}  // namespace courier
