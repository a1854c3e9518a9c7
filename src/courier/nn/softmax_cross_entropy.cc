// Softmax cross-entropy, computed row by row with the log-sum-exp trick.
#include "courier/nn/softmax_cross_entropy.h"

#include <algorithm>
#include <cmath>

#include "courier/core/check.h"

namespace courier {
namespace {

struct Rows {
  std::int64_t count, classes;
};

Rows check_inputs(const Tensor& logits, std::span<const std::int32_t> labels) {
  COURIER_CHECK_GE(logits.rank(), 1, "SoftmaxCrossEntropy logits {}", logits.shape());
  const Rows rows{logits.shape().leading_numel(), logits.dim(-1)};
  COURIER_CHECK_EQ(static_cast<std::int64_t>(labels.size()), rows.count, "one label a row of logits {}",
                   logits.shape());
  COURIER_CHECK_GT(rows.count, 0, "SoftmaxCrossEntropy of an empty batch");
  for (std::int32_t label : labels) {
    COURIER_CHECK(label >= 0 && label < rows.classes, "label {} outside [0, {})", label, rows.classes);
  }
  return rows;
}

// max and log(sum(exp(x - max))) of one row
std::pair<float, double> log_sum_exp(const float* row, std::int64_t classes) {
  const float m = *std::max_element(row, row + classes);
  double total = 0.0;
  for (std::int64_t c = 0; c < classes; ++c) total += std::exp(static_cast<double>(row[c] - m));
  return {m, std::log(total)};
}

}  // namespace

float SoftmaxCrossEntropy::forward(const Tensor& logits, std::span<const std::int32_t> labels) const {
  const Rows rows = check_inputs(logits, labels);
  double loss = 0.0;
  for (std::int64_t r = 0; r < rows.count; ++r) {
    const float* row = logits.data() + r * rows.classes;
    const auto [m, lse] = log_sum_exp(row, rows.classes);
    loss += lse - static_cast<double>(row[labels[static_cast<std::size_t>(r)]] - m);
  }
  return static_cast<float>(loss / static_cast<double>(rows.count));
}

void SoftmaxCrossEntropy::backward(const Tensor& logits, std::span<const std::int32_t> labels,
                                   Tensor& dlogits) const {
  forward_backward(logits, labels, dlogits);
}

float SoftmaxCrossEntropy::forward_backward(const Tensor& logits, std::span<const std::int32_t> labels,
                                            Tensor& dlogits) const {
  const Rows rows = check_inputs(logits, labels);
  COURIER_CHECK_EQ(dlogits.shape(), logits.shape(), "SoftmaxCrossEntropy gradient");
  const double inv_rows = 1.0 / static_cast<double>(rows.count);
  double loss = 0.0;
  for (std::int64_t r = 0; r < rows.count; ++r) {
    const float* row = logits.data() + r * rows.classes;
    float* drow = dlogits.data() + r * rows.classes;
    const auto [m, lse] = log_sum_exp(row, rows.classes);
    const std::int32_t label = labels[static_cast<std::size_t>(r)];
    loss += lse - static_cast<double>(row[label] - m);
    for (std::int64_t c = 0; c < rows.classes; ++c) {
      const double p = std::exp(static_cast<double>(row[c] - m) - lse);
      drow[c] = static_cast<float>(p * inv_rows);
    }
    drow[label] -= static_cast<float>(inv_rows);
  }
  return static_cast<float>(loss / static_cast<double>(rows.count));
}

}  // namespace courier
