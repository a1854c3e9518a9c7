// softmax_forward / softmax_backward / log_softmax_forward: known values, stability on large
// logits, the naive references over several shapes (width 1, odd, rank 3, above the OpenMP
// threshold), in-place use and the shape checks.
#include "courier/tensor/softmax.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "courier/tensor/reference.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::random_tensor;
using testing::expect_tensor_near;
using testing::Tolerance;


// Width 1, single rows, odd widths, rank 3, wide rows, and 300 * 129 = 38700 elements.
const std::vector<Shape> kShapes = {{1}, {1, 1}, {6, 1}, {1, 7}, {5, 3}, {2, 3, 5}, {3, 4097}, {300, 129}};

constexpr Tolerance kTolerance{.rtol = 1e-5, .atol = 1e-7};

TEST(Softmax, KnownValues) {
  const Tensor x = Tensor::from({1, 3}, {1, 2, 3});
  Tensor y = Tensor::empty({1, 3});
  softmax_forward(x, y);
  expect_tensor_near(y, Tensor::from({1, 3}, {0.09003057f, 0.24472847f, 0.66524096f}));

  log_softmax_forward(x, y);
  expect_tensor_near(y, Tensor::from({1, 3}, {-2.40760596f, -1.40760596f, -0.40760596f}));

  const Tensor uniform = Tensor::full({2, 4}, 3.0f);
  Tensor u = Tensor::empty({2, 4});
  softmax_forward(uniform, u);
  expect_tensor_near(u, Tensor::full({2, 4}, 0.25f));
}

TEST(Softmax, LargeLogitsAreStable) {
  const Tensor big = Tensor::from({2, 3}, {1000, 1001, 1002, -1000, -1001, -1002});
  Tensor y = Tensor::empty({2, 3});
  softmax_forward(big, y);
  expect_tensor_near(y, Tensor::from({2, 3}, {0.09003057f, 0.24472847f, 0.66524096f, 0.66524096f, 0.24472847f,
                                              0.09003057f}));
  log_softmax_forward(big, y);
  expect_tensor_near(y, Tensor::from({2, 3}, {-2.40760596f, -1.40760596f, -0.40760596f, -0.40760596f, -1.40760596f,
                                              -2.40760596f}));
}

TEST(Softmax, RowsSumToOne) {
  Rng rng(30);
  const Tensor x = random_tensor({17, 33}, rng, 4.0f);
  Tensor y = Tensor::empty(x.shape());
  softmax_forward(x, y);
  for (std::int64_t r = 0; r < 17; ++r) {
    double total = 0.0;
    for (std::int64_t c = 0; c < 33; ++c) {
      EXPECT_GE(y.at({r, c}), 0.0f);
      total += y.at({r, c});
    }
    EXPECT_NEAR(total, 1.0, 1e-6) << "row " << r;
  }
}

TEST(Softmax, ForwardMatchesReference) {
  Rng rng(31);
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.to_string());
    const Tensor x = random_tensor(shape, rng, 3.0f);
    Tensor y = Tensor::empty(shape);
    Tensor expected = Tensor::empty(shape);
    softmax_forward(x, y);
    reference::softmax_forward(x, expected);
    expect_tensor_near(y, expected, kTolerance);
  }
}

TEST(Softmax, LogSoftmaxMatchesReference) {
  Rng rng(32);
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.to_string());
    const Tensor x = random_tensor(shape, rng, 3.0f);
    Tensor y = Tensor::empty(shape);
    Tensor expected = Tensor::empty(shape);
    log_softmax_forward(x, y);
    reference::log_softmax_forward(x, expected);
    // The reference logs a float softmax: an absolute error of a few 1e-7.
    expect_tensor_near(y, expected, {.rtol = 1e-6, .atol = 1e-6});
  }
}

TEST(Softmax, LogSoftmaxIsLogOfSoftmax) {
  Rng rng(33);
  const Tensor x = random_tensor({9, 11}, rng, 2.0f);
  Tensor log_y = Tensor::empty(x.shape());
  Tensor y = Tensor::empty(x.shape());
  log_softmax_forward(x, log_y);
  softmax_forward(x, y);
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(std::exp(log_y.at(i)), y.at(i), 1e-6f) << i;
}

TEST(Softmax, BackwardMatchesReference) {
  Rng rng(34);
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.to_string());
    const Tensor x = random_tensor(shape, rng, 3.0f);
    const Tensor dout = random_tensor(shape, rng, 1.0f);
    Tensor y = Tensor::empty(shape);
    reference::softmax_forward(x, y);
    Tensor din = Tensor::full(shape, 1e6f);  // written, not accumulated
    Tensor expected = Tensor::empty(shape);
    softmax_backward(dout, y, din);
    reference::softmax_backward(dout, y, expected);
    expect_tensor_near(din, expected, {.rtol = 1e-4, .atol = 1e-6});
  }
}

TEST(Softmax, BackwardOfConstantUpstreamIsZero) {
  // Adding a constant to every logit leaves softmax unchanged, so dout = 1 has no effect.
  Rng rng(35);
  const Tensor x = random_tensor({4, 6}, rng, 2.0f);
  Tensor y = Tensor::empty(x.shape());
  softmax_forward(x, y);
  Tensor din = Tensor::empty(x.shape());
  softmax_backward(Tensor::full(x.shape(), 1.0f), y, din);
  expect_tensor_near(din, Tensor::zeros(x.shape()), {.rtol = 0, .atol = 1e-7});
}

TEST(Softmax, InPlace) {
  Rng rng(36);
  const Tensor x = random_tensor({300, 129}, rng, 3.0f);
  const Tensor dout = random_tensor(x.shape(), rng, 1.0f);
  Tensor y = Tensor::empty(x.shape());
  softmax_forward(x, y);
  Tensor din = Tensor::empty(x.shape());
  softmax_backward(dout, y, din);
  Tensor log_y = Tensor::empty(x.shape());
  log_softmax_forward(x, log_y);

  Tensor y_inplace = x.clone();
  softmax_forward(y_inplace, y_inplace);
  expect_tensor_near(y_inplace, y, {.rtol = 0, .atol = 0});
  Tensor din_inplace = dout.clone();
  softmax_backward(din_inplace, y, din_inplace);
  expect_tensor_near(din_inplace, din, {.rtol = 0, .atol = 0});
  Tensor log_inplace = x.clone();
  log_softmax_forward(log_inplace, log_inplace);
  expect_tensor_near(log_inplace, log_y, {.rtol = 0, .atol = 0});
}

TEST(Softmax, ShapeMismatchThrows) {
  const Tensor x = Tensor::zeros({2, 3});
  Tensor wrong = Tensor::zeros({2, 4});
  try {
    softmax_forward(x, wrong);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
    EXPECT_NE(what.find("[2, 4]"), std::string::npos) << what;
  }
  EXPECT_THROW(log_softmax_forward(x, wrong), CheckError);
  Tensor din = Tensor::zeros({2, 3});
  EXPECT_THROW(softmax_backward(x, wrong, din), CheckError);
  EXPECT_THROW(softmax_backward(x, x, wrong), CheckError);
  Tensor scalar = Tensor::zeros(Shape());
  EXPECT_THROW(softmax_forward(scalar, scalar), CheckError);
}

}  // namespace
}  // namespace courier
