// Mean squared error.
#include "courier/nn/mse_loss.h"

#include "courier/core/check.h"

namespace courier {

float MseLoss::forward(const Tensor& pred, const Tensor& target) const {
  COURIER_CHECK_EQ(pred.shape(), target.shape(), "MseLoss prediction and target");
  COURIER_CHECK_GT(pred.numel(), 0, "MseLoss of an empty batch");
  double total = 0.0;
  for (std::int64_t i = 0; i < pred.numel(); ++i) {
    const double e = static_cast<double>(pred.data()[i]) - target.data()[i];
    total += e * e;
  }
  return static_cast<float>(total / static_cast<double>(pred.numel()));
}

void MseLoss::backward(const Tensor& pred, const Tensor& target, Tensor& dpred) const {
  COURIER_CHECK_EQ(pred.shape(), target.shape(), "MseLoss prediction and target");
  COURIER_CHECK_EQ(pred.shape(), dpred.shape(), "MseLoss gradient");
  const float scale = 2.0f / static_cast<float>(pred.numel());
  for (std::int64_t i = 0; i < pred.numel(); ++i) dpred.data()[i] = scale * (pred.data()[i] - target.data()[i]);
}

}  // namespace courier
