// Activation kernels (sigmoid, tanh, relu, gelu tanh/exact): known values, forward and
// backward against the naive references over several shapes (including above the OpenMP
// threshold), in-place use, and the shape checks.
#include "courier/tensor/activation.h"

#include <functional>
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


// 1, odd sizes, rank 3, and 257 * 129 = 33153 elements for the OpenMP path.
const std::vector<Shape> kShapes = {{1}, {7}, {3, 5}, {2, 3, 5}, {257, 129}};

using Forward = std::function<void(const Tensor&, Tensor&)>;
// (dout, saved, din): saved is the forward's output or input, as each kernel documents.
using Backward = std::function<void(const Tensor&, const Tensor&, Tensor&)>;

struct Kernel {
  std::string name;
  Forward forward, reference_forward;
  Backward backward, reference_backward;
  bool backward_uses_output;  // sigmoid and tanh differentiate from y, the others from x
};

std::vector<Kernel> kernels() {
  using GA = GeluApproximation;
  auto gelu_fwd = [](GA g) { return [g](const Tensor& x, Tensor& y) { gelu_forward(x, y, g); }; };
  auto gelu_bwd = [](GA g) {
    return [g](const Tensor& d, const Tensor& x, Tensor& dx) { gelu_backward(d, x, dx, g); };
  };
  auto ref_gelu_fwd = [](GA g) { return [g](const Tensor& x, Tensor& y) { reference::gelu_forward(x, y, g); }; };
  auto ref_gelu_bwd = [](GA g) {
    return [g](const Tensor& d, const Tensor& x, Tensor& dx) { reference::gelu_backward(d, x, dx, g); };
  };
  return {
      {"sigmoid", sigmoid_forward, reference::sigmoid_forward, sigmoid_backward, reference::sigmoid_backward, true},
      {"tanh", tanh_forward, reference::tanh_forward, tanh_backward, reference::tanh_backward, true},
      {"relu", relu_forward, reference::relu_forward, relu_backward, reference::relu_backward, false},
      {"gelu_tanh", gelu_fwd(GA::kTanh), ref_gelu_fwd(GA::kTanh), gelu_bwd(GA::kTanh), ref_gelu_bwd(GA::kTanh), false},
      {"gelu_exact", gelu_fwd(GA::kExact), ref_gelu_fwd(GA::kExact), gelu_bwd(GA::kExact), ref_gelu_bwd(GA::kExact),
       false},
  };
}

// fp32 kernels against double references.
constexpr Tolerance kForwardTolerance{.rtol = 2e-6, .atol = 1e-6};
constexpr Tolerance kBackwardTolerance{.rtol = 1e-5, .atol = 2e-6};

TEST(Activation, KnownValues) {
  const Tensor x = Tensor::from({5}, {-2, -1, 0, 1, 2});
  Tensor y = Tensor::empty({5});

  sigmoid_forward(x, y);
  expect_tensor_near(y, Tensor::from({5}, {0.11920292f, 0.26894142f, 0.5f, 0.73105858f, 0.88079708f}));
  tanh_forward(x, y);
  expect_tensor_near(y, Tensor::from({5}, {-0.96402758f, -0.76159416f, 0.0f, 0.76159416f, 0.96402758f}));
  relu_forward(x, y);
  expect_tensor_near(y, Tensor::from({5}, {0, 0, 0, 1, 2}));
  gelu_forward(x, y, GeluApproximation::kTanh);
  expect_tensor_near(y, Tensor::from({5}, {-0.04540231f, -0.15880801f, 0.0f, 0.84119199f, 1.95459769f}));
  gelu_forward(x, y, GeluApproximation::kExact);
  expect_tensor_near(y, Tensor::from({5}, {-0.04550026f, -0.15865525f, 0.0f, 0.84134475f, 1.95449974f}));
}

TEST(Activation, GeluKnownValuesAtOne) {
  const Tensor one = Tensor::from({1}, {1.0f});
  Tensor y = Tensor::empty({1});
  gelu_forward(one, y, GeluApproximation::kTanh);
  EXPECT_NEAR(y.at(0), 0.8411920f, 1e-6f);
  gelu_forward(one, y, GeluApproximation::kExact);
  EXPECT_NEAR(y.at(0), 0.8413447f, 1e-6f);
  EXPECT_EQ(gelu_approximation_name(GeluApproximation::kTanh), "tanh");
  EXPECT_EQ(gelu_approximation_name(GeluApproximation::kExact), "exact");
}

TEST(Activation, KnownDerivatives) {
  const Tensor x = Tensor::from({3}, {-1, 0, 1});
  const Tensor ones = Tensor::full({3}, 1.0f);
  Tensor y = Tensor::empty({3});
  Tensor dx = Tensor::empty({3});

  sigmoid_forward(x, y);
  sigmoid_backward(ones, y, dx);
  expect_tensor_near(dx, Tensor::from({3}, {0.19661193f, 0.25f, 0.19661193f}));
  tanh_forward(x, y);
  tanh_backward(ones, y, dx);
  expect_tensor_near(dx, Tensor::from({3}, {0.41997434f, 1.0f, 0.41997434f}));
  relu_backward(ones, x, dx);
  expect_tensor_near(dx, Tensor::from({3}, {0, 0, 1}));  // relu'(0) is taken as 0
  // gelu'(x) = Phi(x) + x phi(x): 0.5 at 0, 1.0833155 at 1, -0.0833155 at -1.
  gelu_backward(ones, x, dx, GeluApproximation::kExact);
  expect_tensor_near(dx, Tensor::from({3}, {-0.08331547f, 0.5f, 1.08331547f}));
  gelu_backward(ones, x, dx, GeluApproximation::kTanh);
  expect_tensor_near(dx, Tensor::from({3}, {-0.08296408f, 0.5f, 1.08296408f}), {.rtol = 1e-5, .atol = 1e-6});

  // dout scales the derivative.
  const Tensor twos = Tensor::full({3}, 2.0f);
  sigmoid_forward(x, y);
  sigmoid_backward(twos, y, dx);
  EXPECT_NEAR(dx.at(1), 0.5f, 1e-7f);
}

TEST(Activation, ForwardMatchesReference) {
  Rng rng(21);
  for (const Kernel& k : kernels()) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE(k.name + " " + shape.to_string());
      const Tensor x = random_tensor(shape, rng, 3.0f);
      Tensor y = Tensor::empty(shape);
      Tensor expected = Tensor::empty(shape);
      k.forward(x, y);
      k.reference_forward(x, expected);
      expect_tensor_near(y, expected, kForwardTolerance);
    }
  }
}

TEST(Activation, BackwardMatchesReference) {
  Rng rng(22);
  for (const Kernel& k : kernels()) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE(k.name + " " + shape.to_string());
      const Tensor x = random_tensor(shape, rng, 3.0f);
      const Tensor dout = random_tensor(shape, rng, 1.0f);
      Tensor y = Tensor::empty(shape);
      k.reference_forward(x, y);
      const Tensor& saved = k.backward_uses_output ? y : x;
      Tensor din = Tensor::full(shape, 1e6f);  // written, not accumulated
      Tensor expected = Tensor::empty(shape);
      k.backward(dout, saved, din);
      k.reference_backward(dout, saved, expected);
      expect_tensor_near(din, expected, kBackwardTolerance);
    }
  }
}

TEST(Activation, InPlaceForwardAndBackward) {
  Rng rng(23);
  const Shape shape{257, 129};
  for (const Kernel& k : kernels()) {
    SCOPED_TRACE(k.name);
    const Tensor x = random_tensor(shape, rng, 3.0f);
    const Tensor dout = random_tensor(shape, rng, 1.0f);
    Tensor y = Tensor::empty(shape);
    k.forward(x, y);
    const Tensor& saved = k.backward_uses_output ? y : x;
    Tensor din = Tensor::empty(shape);
    k.backward(dout, saved, din);

    Tensor y_inplace = x.clone();
    k.forward(y_inplace, y_inplace);
    expect_tensor_near(y_inplace, y, {.rtol = 0, .atol = 0});
    Tensor din_inplace = dout.clone();
    k.backward(din_inplace, saved, din_inplace);
    expect_tensor_near(din_inplace, din, {.rtol = 0, .atol = 0});
  }
}

TEST(Activation, ShapeMismatchThrowsNamingShapes) {
  const Tensor x = Tensor::zeros({2, 3});
  Tensor out = Tensor::zeros({3, 2});
  for (const Kernel& k : kernels()) {
    SCOPED_TRACE(k.name);
    try {
      k.forward(x, out);
      FAIL() << "expected CheckError";
    } catch (const CheckError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
      EXPECT_NE(what.find("[3, 2]"), std::string::npos) << what;
    }
    Tensor din = Tensor::zeros({2, 3});
    EXPECT_THROW(k.backward(x, out, din), CheckError);
    EXPECT_THROW(k.backward(x, x, out), CheckError);
  }
}

}  // namespace
}  // namespace courier
