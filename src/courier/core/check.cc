// CheckError construction and the out-of-line failure paths of COURIER_CHECK*.
#include "courier/core/check.h"

namespace courier {
namespace {

std::string describe(const char* file, int line, const std::string& expression, const std::string& lhs,
                     const std::string& rhs, const std::string& message) {
  std::string text = "check failed: " + expression;
  if (!lhs.empty() || !rhs.empty()) text += " (" + lhs + " vs " + rhs + ")";
  if (!message.empty()) text += ": " + message;
  text += " [" + std::string(file) + ":" + std::to_string(line) + "]";
  return text;
}

}  // namespace

CheckError::CheckError(const char* file, int line, std::string expression, std::string lhs, std::string rhs,
                       std::string message)
    : std::logic_error(describe(file, line, expression, lhs, rhs, message)),
      expression_(std::move(expression)),
      lhs_(std::move(lhs)),
      rhs_(std::move(rhs)),
      message_(std::move(message)),
      file_(file),
      line_(line) {}

namespace detail {

void check_failed(const char* file, int line, const char* expression, std::string message) {
  throw CheckError(file, line, expression, {}, {}, std::move(message));
}

void check_op_failed(const char* file, int line, const char* expression, std::string lhs, std::string rhs,
                     std::string message) {
  throw CheckError(file, line, expression, std::move(lhs), std::move(rhs), std::move(message));
}

}  // namespace detail
}  // namespace courier
