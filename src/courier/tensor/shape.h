// Shape: the dimensions of a tensor, row-major, at most kMaxRank of them, stored inline.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>

#include <fmt/format.h>

namespace courier {

class Shape {
 public:
  static constexpr int kMaxRank = 6;

  Shape() = default;  // rank 0: a scalar, one element
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::span<const std::int64_t> dims);

  int rank() const { return rank_; }
  // Dimension i; negative i counts from the back (-1 is the last). REQUIRES: -rank <= i < rank.
  std::int64_t operator[](int i) const;
  std::int64_t numel() const;
  std::span<const std::int64_t> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }

  // [leading, dims...]: a per-sample shape with the batch dimension in front.
  Shape prepend(std::int64_t leading) const;
  // The shape without its first dimension. REQUIRES: rank >= 1.
  Shape drop_front() const;
  // The product of all dimensions but the last (1 for rank <= 1): rows of the matrix view.
  std::int64_t leading_numel() const;

  std::string to_string() const;  // "[2, 3]"

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Shape& shape);

}  // namespace courier

template <>
struct fmt::formatter<courier::Shape> : fmt::formatter<std::string_view> {
  auto format(const courier::Shape& shape, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(shape.to_string(), ctx);
  }
};
