// bias_add_forward / bias_add_backward: hand values, the naive reference over several
// shapes (rank 1..3, odd sizes, above the OpenMP threshold), in-place use, accumulation and
// the shape checks.
#include "courier/tensor/bias.h"

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


// 1s, odd sizes, rank 3, and 257 * 131 = 33667 elements for the OpenMP path.
const std::vector<Shape> kBiasShapes = {{1}, {5}, {1, 1}, {3, 7}, {2, 3, 5}, {64, 1}, {257, 131}};

TEST(BiasAdd, HandComputed) {
  const Tensor x = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor bias = Tensor::from({3}, {10, 20, 30});
  Tensor out = Tensor::empty({2, 3});
  bias_add_forward(x, bias, out);
  expect_tensor_near(out, Tensor::from({2, 3}, {11, 22, 33, 14, 25, 36}));

  Tensor dbias = Tensor::from({3}, {1, 1, 1});
  bias_add_backward(x, dbias);
  expect_tensor_near(dbias, Tensor::from({3}, {6, 8, 10}));
}

TEST(BiasAdd, ForwardMatchesReference) {
  Rng rng(11);
  for (const Shape& shape : kBiasShapes) {
    SCOPED_TRACE(shape.to_string());
    const Tensor x = random_tensor(shape, rng);
    const Tensor bias = random_tensor({shape[-1]}, rng);
    Tensor out = Tensor::empty(shape);
    Tensor expected = Tensor::empty(shape);
    bias_add_forward(x, bias, out);
    reference::bias_add_forward(x, bias, expected);
    expect_tensor_near(out, expected);
  }
}

TEST(BiasAdd, ForwardInPlace) {
  Rng rng(12);
  const Tensor x = random_tensor({257, 131}, rng);
  const Tensor bias = random_tensor({131}, rng);
  Tensor expected = Tensor::empty(x.shape());
  reference::bias_add_forward(x, bias, expected);
  Tensor inplace = x.clone();
  bias_add_forward(inplace, bias, inplace);
  expect_tensor_near(inplace, expected);
}

TEST(BiasAdd, BackwardMatchesReferenceAndAccumulates) {
  Rng rng(13);
  for (const Shape& shape : kBiasShapes) {
    SCOPED_TRACE(shape.to_string());
    const Tensor dout = random_tensor(shape, rng);
    Tensor dbias = random_tensor({shape[-1]}, rng);
    Tensor expected = dbias.clone();
    bias_add_backward(dout, dbias);
    reference::bias_add_backward(dout, expected);
    // Column sums of up to 257 float rows against double.
    expect_tensor_near(dbias, expected, {.rtol = 1e-5, .atol = 2e-5});
  }
}

TEST(BiasAdd, BackwardTwiceIsTwiceTheColumnSums) {
  Rng rng(14);
  const Tensor dout = random_tensor({9, 4}, rng);
  Tensor once = Tensor::zeros({4});
  bias_add_backward(dout, once);
  Tensor twice = Tensor::zeros({4});
  bias_add_backward(dout, twice);
  bias_add_backward(dout, twice);
  for (std::int64_t c = 0; c < 4; ++c) EXPECT_NEAR(twice.at(c), 2.0f * once.at(c), 1e-5f) << c;
}

TEST(BiasAdd, ShapeMismatchThrowsNamingShapes) {
  const Tensor x = Tensor::zeros({2, 3});
  Tensor out = Tensor::zeros({2, 3});
  try {
    bias_add_forward(x, Tensor::zeros({4}), out);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[4]"), std::string::npos) << what;
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
  }
  EXPECT_THROW(bias_add_forward(x, Tensor::zeros({1, 3}), out), CheckError);
  Tensor wrong_out = Tensor::zeros({3, 2});
  EXPECT_THROW(bias_add_forward(x, Tensor::zeros({3}), wrong_out), CheckError);
  Tensor dbias = Tensor::zeros({2});
  EXPECT_THROW(bias_add_backward(x, dbias), CheckError);
}

}  // namespace
}  // namespace courier
