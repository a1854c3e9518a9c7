// Tensor comparison for tests.
#include "testutil/tensor_near.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace courier::testing {
namespace {

std::string multi_index(const Shape& shape, std::int64_t flat) {
  std::vector<std::int64_t> index(static_cast<std::size_t>(shape.rank()));
  for (int d = shape.rank() - 1; d >= 0; --d) {
    index[static_cast<std::size_t>(d)] = flat % shape[d];
    flat /= shape[d];
  }
  return fmt::format("[{}]", fmt::join(index, ", "));
}

}  // namespace

::testing::AssertionResult tensors_near(const Tensor& actual, const Tensor& expected, Tolerance tolerance) {
  if (!(actual.shape() == expected.shape())) {
    return ::testing::AssertionFailure() << "shapes differ: actual " << actual.shape() << " vs expected "
                                         << expected.shape();
  }
  std::int64_t mismatches = 0;
  std::int64_t first = -1;
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual.data()[i];
    const double e = expected.data()[i];
    const bool same_nan = std::isnan(a) && std::isnan(e);
    if (!same_nan && !(std::fabs(a - e) <= tolerance.atol + tolerance.rtol * std::fabs(e))) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  const double a = actual.data()[first];
  const double e = expected.data()[first];
  return ::testing::AssertionFailure() << fmt::format(
             "{} of {} elements differ (rtol {}, atol {}); first at index {} (flat {}): actual {:.9g} vs expected "
             "{:.9g} (difference {:.3g})",
             mismatches, actual.numel(), tolerance.rtol, tolerance.atol, multi_index(actual.shape(), first), first, a,
             e, a - e);
}

void expect_tensor_near(const Tensor& actual, const Tensor& expected, Tolerance tolerance, const char* file, int line) {
  ::testing::AssertionResult result = tensors_near(actual, expected, tolerance);
  if (!result) ADD_FAILURE_AT(file, line) << result.message();
}

}  // namespace courier::testing
