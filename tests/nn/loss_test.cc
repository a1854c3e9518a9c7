// Losses (MseLoss, SoftmaxCrossEntropy): hand-computed values, gradient checks through
// testing::gradcheck, stability on large logits, and the input checks.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "courier/nn/mse_loss.h"
#include "courier/nn/softmax_cross_entropy.h"
#include "courier/tensor/softmax.h"
#include "testutil/gradcheck.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::random_tensor;
using testing::expect_tensor_near;
using testing::gradcheck;


TEST(MseLoss, HandComputed) {
  const MseLoss loss;
  const Tensor pred = Tensor::from({3}, {1, 2, 3});
  const Tensor target = Tensor::from({3}, {1, 0, 0});
  EXPECT_FLOAT_EQ(loss.forward(pred, target), 13.0f / 3.0f);  // (0 + 4 + 9) / 3
  Tensor dpred = Tensor::full({3}, 99.0f);                     // written, not accumulated
  loss.backward(pred, target, dpred);
  expect_tensor_near(dpred, Tensor::from({3}, {0.0f, 4.0f / 3.0f, 2.0f}));  // 2 (pred - target) / 3

  EXPECT_EQ(loss.forward(target, target), 0.0f);
}

TEST(MseLoss, MeanOverEveryElement) {
  const MseLoss loss;
  const Tensor pred = Tensor::from({2, 2}, {1, 1, 1, 1});
  const Tensor target = Tensor::from({2, 2}, {0, 0, 0, 3});
  EXPECT_FLOAT_EQ(loss.forward(pred, target), 7.0f / 4.0f);  // (1 + 1 + 1 + 4) / 4
}

TEST(MseLoss, Gradcheck) {
  const MseLoss loss;
  Rng rng(70);
  Tensor pred = random_tensor({4, 5}, rng, 1.0f);
  const Tensor target = random_tensor({4, 5}, rng, 1.0f);
  Tensor dpred = Tensor::empty(pred.shape());
  loss.backward(pred, target, dpred);
  EXPECT_TRUE(gradcheck([&] { return static_cast<double>(loss.forward(pred, target)); }, pred.span(),
                        dpred.span(), {.eps = 1e-2, .rtol = 1e-2, .atol = 1e-4}));
}

TEST(MseLoss, Checks) {
  const MseLoss loss;
  const Tensor pred = Tensor::zeros({2, 3});
  try {
    static_cast<void>(loss.forward(pred, Tensor::zeros({3, 2})));
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
    EXPECT_NE(what.find("[3, 2]"), std::string::npos) << what;
  }
  EXPECT_THROW(static_cast<void>(loss.forward(Tensor::zeros({0}), Tensor::zeros({0}))), CheckError);
  Tensor wrong = Tensor::zeros({6});
  EXPECT_THROW(loss.backward(pred, pred, wrong), CheckError);
}

TEST(SoftmaxCrossEntropy, UniformLogitsGiveLogClasses) {
  const SoftmaxCrossEntropy loss;
  for (std::int64_t classes : {1, 2, 7, 1000}) {
    SCOPED_TRACE(classes);
    const Tensor logits = Tensor::full({3, classes}, 0.7f);
    const std::vector<std::int32_t> labels{0, static_cast<std::int32_t>(classes - 1), 0};
    EXPECT_NEAR(loss.forward(logits, labels), std::log(static_cast<double>(classes)), 1e-6);

    // dlogits = (1/C - onehot) / N
    Tensor dlogits = Tensor::empty(logits.shape());
    loss.backward(logits, labels, dlogits);
    Tensor expected = Tensor::full(logits.shape(), static_cast<float>(1.0 / classes / 3.0));
    for (std::int64_t r = 0; r < 3; ++r) expected.at({r, labels[static_cast<std::size_t>(r)]}) -= 1.0f / 3.0f;
    expect_tensor_near(dlogits, expected, {.rtol = 1e-5, .atol = 1e-7});
  }
}

TEST(SoftmaxCrossEntropy, HandComputed) {
  const SoftmaxCrossEntropy loss;
  // softmax([1, 2, 3]) = [0.09003057, 0.24472847, 0.66524096]
  const Tensor logits = Tensor::from({2, 3}, {1, 2, 3, 1, 2, 3});
  const std::vector<std::int32_t> labels{2, 0};
  // mean of -log(0.66524096) = 0.40760596 and -log(0.09003057) = 2.40760596
  EXPECT_NEAR(loss.forward(logits, labels), 1.40760596, 1e-6);
  Tensor dlogits = Tensor::empty(logits.shape());
  loss.backward(logits, labels, dlogits);
  expect_tensor_near(dlogits, Tensor::from({2, 3}, {0.09003057f / 2, 0.24472847f / 2, (0.66524096f - 1) / 2,
                                                    (0.09003057f - 1) / 2, 0.24472847f / 2, 0.66524096f / 2}));
}

TEST(SoftmaxCrossEntropy, LargeLogitsAreStable) {
  const SoftmaxCrossEntropy loss;
  const Tensor logits = Tensor::from({1, 3}, {1001, 1002, 1003});
  const std::vector<std::int32_t> labels{2};
  EXPECT_NEAR(loss.forward(logits, labels), 0.40760596, 1e-6);
  Tensor dlogits = Tensor::empty(logits.shape());
  loss.backward(logits, labels, dlogits);
  expect_tensor_near(dlogits, Tensor::from({1, 3}, {0.09003057f, 0.24472847f, 0.66524096f - 1}));
  for (float v : dlogits.span()) EXPECT_TRUE(std::isfinite(v));
}

TEST(SoftmaxCrossEntropy, BackwardIsSoftmaxMinusOneHotOnRank3) {
  const SoftmaxCrossEntropy loss;
  Rng rng(71);
  const Tensor logits = random_tensor({2, 3, 5}, rng, 2.0f);  // 6 rows of 5 classes
  const std::vector<std::int32_t> labels{0, 4, 2, 2, 1, 3};
  Tensor dlogits = Tensor::empty(logits.shape());
  loss.backward(logits, labels, dlogits);
  Tensor expected = Tensor::empty(logits.shape());
  softmax_forward(logits, expected);
  for (std::int64_t r = 0; r < 6; ++r) expected.at(r * 5 + labels[static_cast<std::size_t>(r)]) -= 1.0f;
  for (float& v : expected.span()) v /= 6.0f;
  expect_tensor_near(dlogits, expected, {.rtol = 1e-5, .atol = 1e-7});
}

TEST(SoftmaxCrossEntropy, Gradcheck) {
  const SoftmaxCrossEntropy loss;
  Rng rng(72);
  Tensor logits = random_tensor({4, 6}, rng, 2.0f);
  const std::vector<std::int32_t> labels{5, 0, 3, 3};
  Tensor dlogits = Tensor::empty(logits.shape());
  loss.backward(logits, labels, dlogits);
  EXPECT_TRUE(gradcheck([&] { return static_cast<double>(loss.forward(logits, labels)); }, logits.span(),
                        dlogits.span(), {.eps = 1e-2, .rtol = 2e-2, .atol = 1e-4}));
}

TEST(SoftmaxCrossEntropy, LabelOutOfRangeThrows) {
  const SoftmaxCrossEntropy loss;
  const Tensor logits = Tensor::zeros({2, 3});
  Tensor dlogits = Tensor::zeros({2, 3});
  for (std::int32_t bad : {3, -1, 100}) {
    SCOPED_TRACE(bad);
    const std::vector<std::int32_t> labels{0, bad};
    try {
      static_cast<void>(loss.forward(logits, labels));
      FAIL() << "expected CheckError";
    } catch (const CheckError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("label " + std::to_string(bad)), std::string::npos) << what;
    }
    EXPECT_THROW(loss.backward(logits, labels, dlogits), CheckError);
  }
}

TEST(SoftmaxCrossEntropy, OtherChecks) {
  const SoftmaxCrossEntropy loss;
  const Tensor logits = Tensor::zeros({2, 3});
  const std::vector<std::int32_t> one_label{0};
  EXPECT_THROW(static_cast<void>(loss.forward(logits, one_label)), CheckError);
  const std::vector<std::int32_t> labels{0, 1};
  Tensor wrong = Tensor::zeros({3, 2});
  EXPECT_THROW(loss.backward(logits, labels, wrong), CheckError);
  EXPECT_THROW(static_cast<void>(loss.forward(Tensor::zeros({0, 3}), {})), CheckError);
}

}  // namespace
}  // namespace courier
