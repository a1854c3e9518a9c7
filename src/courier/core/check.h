// COURIER_CHECK*: invariants that only a bug can break (a shape mismatch inside a kernel,
// a value() of a failed Result). A failed check throws CheckError carrying the expression
// and both compared values, so a test can expect it and one thread's bug does not kill the
// process. Failures of the world are Status values instead (status.h).
//
//   COURIER_CHECK(ptr != nullptr);
//   COURIER_CHECK_EQ(a.shape(), b.shape(), "matmul inner dimensions of {}", name);
//
// The optional trailing arguments are a message: a plain string, or an fmt format string
// with its arguments. They are evaluated only when the check fails.
#pragma once

#include <concepts>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

namespace courier {

class CheckError : public std::logic_error {
 public:
  // lhs/rhs are empty for the one-argument COURIER_CHECK.
  CheckError(const char* file, int line, std::string expression, std::string lhs, std::string rhs,
             std::string message);

  const std::string& expression() const { return expression_; }
  const std::string& lhs() const { return lhs_; }
  const std::string& rhs() const { return rhs_; }
  const std::string& message() const { return message_; }
  const char* file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string expression_;
  std::string lhs_;
  std::string rhs_;
  std::string message_;
  const char* file_;
  int line_;
};

namespace detail {

// How a compared value appears in a CheckError: fmt if it can, then operator<<.
template <typename T>
std::string check_value_string(const T& value) {
  if constexpr (std::is_enum_v<T>) {
    return fmt::format("{}", static_cast<std::underlying_type_t<T>>(value));
  } else if constexpr (fmt::is_formattable<T>::value) {
    return fmt::format("{}", value);
  } else if constexpr (requires(std::ostream& os) { os << value; }) {
    std::ostringstream out;
    out << value;
    return out.str();
  } else {
    return "<unprintable>";
  }
}

inline std::string check_message() { return {}; }
inline std::string check_message(std::string_view message) { return std::string(message); }
template <typename Arg, typename... Args>
std::string check_message(fmt::format_string<Arg, Args...> format, Arg&& arg, Args&&... args) {
  return fmt::format(format, std::forward<Arg>(arg), std::forward<Args>(args)...);
}

[[noreturn]] void check_failed(const char* file, int line, const char* expression, std::string message);
[[noreturn]] void check_op_failed(const char* file, int line, const char* expression, std::string lhs,
                                  std::string rhs, std::string message);

// The types std::cmp_* accepts: integers, but not bool or the character types.
template <typename T>
concept cmp_integer = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> &&
                      !std::same_as<T, wchar_t> && !std::same_as<T, char8_t> && !std::same_as<T, char16_t> &&
                      !std::same_as<T, char32_t>;

// Integer comparisons are sign-safe (std::cmp_*): CHECK_EQ(size_t, int) means what it says.
template <typename A, typename B>
constexpr bool check_eq(const A& a, const B& b) {
  if constexpr (cmp_integer<A> && cmp_integer<B>) {
    return std::cmp_equal(a, b);
  } else {
    return a == b;
  }
}
template <typename A, typename B>
constexpr bool check_lt(const A& a, const B& b) {
  if constexpr (cmp_integer<A> && cmp_integer<B>) {
    return std::cmp_less(a, b);
  } else {
    return a < b;
  }
}
template <typename A, typename B>
constexpr bool check_ne(const A& a, const B& b) { return !check_eq(a, b); }
template <typename A, typename B>
constexpr bool check_le(const A& a, const B& b) { return !check_lt(b, a); }
template <typename A, typename B>
constexpr bool check_gt(const A& a, const B& b) { return check_lt(b, a); }
template <typename A, typename B>
constexpr bool check_ge(const A& a, const B& b) { return !check_lt(a, b); }

}  // namespace detail
}  // namespace courier

#define COURIER_CHECK(condition, ...)                                                    \
  do {                                                                                   \
    if (!(condition)) [[unlikely]] {                                                     \
      ::courier::detail::check_failed(__FILE__, __LINE__, #condition,                    \
                                      ::courier::detail::check_message(__VA_ARGS__));    \
    }                                                                                    \
  } while (false)

#define COURIER_CHECK_OP_(predicate, op, a, b, ...)                                          \
  do {                                                                                       \
    const auto& courier_check_lhs_ = (a);                                                    \
    const auto& courier_check_rhs_ = (b);                                                    \
    if (!::courier::detail::predicate(courier_check_lhs_, courier_check_rhs_)) [[unlikely]] { \
      ::courier::detail::check_op_failed(                                                    \
          __FILE__, __LINE__, #a " " #op " " #b,                                             \
          ::courier::detail::check_value_string(courier_check_lhs_),                         \
          ::courier::detail::check_value_string(courier_check_rhs_),                         \
          ::courier::detail::check_message(__VA_ARGS__));                                    \
    }                                                                                        \
  } while (false)

#define COURIER_CHECK_EQ(a, b, ...) COURIER_CHECK_OP_(check_eq, ==, a, b __VA_OPT__(, ) __VA_ARGS__)
#define COURIER_CHECK_NE(a, b, ...) COURIER_CHECK_OP_(check_ne, !=, a, b __VA_OPT__(, ) __VA_ARGS__)
#define COURIER_CHECK_LT(a, b, ...) COURIER_CHECK_OP_(check_lt, <, a, b __VA_OPT__(, ) __VA_ARGS__)
#define COURIER_CHECK_LE(a, b, ...) COURIER_CHECK_OP_(check_le, <=, a, b __VA_OPT__(, ) __VA_ARGS__)
#define COURIER_CHECK_GT(a, b, ...) COURIER_CHECK_OP_(check_gt, >, a, b __VA_OPT__(, ) __VA_ARGS__)
#define COURIER_CHECK_GE(a, b, ...) COURIER_CHECK_OP_(check_ge, >=, a, b __VA_OPT__(, ) __VA_ARGS__)
