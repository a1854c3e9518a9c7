// Elementwise arithmetic (add, axpy, scale): hand values, explicit loops over several sizes
// (including above the OpenMP threshold), aliasing outputs, and shape errors naming both shapes.
#include "courier/tensor/elementwise.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::random_tensor;
using testing::expect_tensor_near;


const std::vector<Shape> kElementwiseShapes = {{1}, {7}, {3, 5}, {2, 3, 5}, {257, 129}};

TEST(Elementwise, HandComputed) {
  const Tensor a = Tensor::from({2, 2}, {1, 2, 3, 4});
  const Tensor b = Tensor::from({2, 2}, {10, 20, 30, 40});
  Tensor out = Tensor::empty({2, 2});
  add(a, b, out);
  expect_tensor_near(out, Tensor::from({2, 2}, {11, 22, 33, 44}));

  Tensor y = b.clone();
  axpy(-2.0f, a, y);
  expect_tensor_near(y, Tensor::from({2, 2}, {8, 16, 24, 32}));

  scale(y, 0.5f);
  expect_tensor_near(y, Tensor::from({2, 2}, {4, 8, 12, 16}));
}

TEST(Elementwise, MatchesLoopsOverShapes) {
  Rng rng(50);
  for (const Shape& shape : kElementwiseShapes) {
    SCOPED_TRACE(shape.to_string());
    const Tensor a = random_tensor(shape, rng);
    const Tensor b = random_tensor(shape, rng);
    Tensor sum = Tensor::empty(shape);
    add(a, b, sum);
    Tensor y = b.clone();
    axpy(0.3f, a, y);
    Tensor scaled = a.clone();
    scale(scaled, -1.7f);
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_EQ(sum.at(i), a.at(i) + b.at(i)) << i;
      ASSERT_NEAR(y.at(i), b.at(i) + 0.3f * a.at(i), 1e-6f) << i;
      ASSERT_EQ(scaled.at(i), a.at(i) * -1.7f) << i;
    }
  }
}

TEST(Elementwise, OutputsMayAliasInputs) {
  Rng rng(51);
  const Tensor a = random_tensor({257, 129}, rng);
  const Tensor b = random_tensor(a.shape(), rng);
  Tensor expected = Tensor::empty(a.shape());
  add(a, b, expected);

  Tensor inplace = a.clone();
  add(inplace, b, inplace);
  expect_tensor_near(inplace, expected, {.rtol = 0, .atol = 0});

  Tensor doubled = a.clone();
  add(doubled, doubled, doubled);
  Tensor twice = a.clone();
  scale(twice, 2.0f);
  expect_tensor_near(doubled, twice, {.rtol = 0, .atol = 0});

  Tensor self = a.clone();
  axpy(1.0f, self, self);
  expect_tensor_near(self, twice, {.rtol = 0, .atol = 0});
}

TEST(Elementwise, ShapeMismatchNamesBothShapes) {
  const Tensor a = Tensor::zeros({2, 3});
  const Tensor b = Tensor::zeros({3, 2});
  Tensor out = Tensor::zeros({2, 3});
  try {
    add(a, b, out);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
    EXPECT_NE(what.find("[3, 2]"), std::string::npos) << what;
  }
  Tensor wrong_out = Tensor::zeros({6});
  try {
    add(a, a, wrong_out);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
    EXPECT_NE(what.find("[6]"), std::string::npos) << what;
  }
  Tensor y = Tensor::zeros({3, 2});
  EXPECT_THROW(axpy(1.0f, a, y), CheckError);
}

}  // namespace
}  // namespace courier
