// matmul and matmul_backward: hand-computed values, every transpose combination with alpha
// and accumulate against the naive reference over small, odd and large shapes, gradients
// against explicit reference matmuls and central differences, and the shape checks.
#include "courier/tensor/matmul.h"

#include <cmath>
#include <cstdint>
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


// The storage shapes of a and b for op(a) (m, k) and op(b) (k, n).
Shape a_shape(std::int64_t m, std::int64_t k, bool transpose) { return transpose ? Shape{k, m} : Shape{m, k}; }
Shape b_shape(std::int64_t k, std::int64_t n, bool transpose) { return transpose ? Shape{n, k} : Shape{k, n}; }

// fp32 GEMM against a double reference: errors grow with the inner dimension.
Tolerance gemm_tolerance(std::int64_t k) { return {.rtol = 1e-4, .atol = 2e-5 * static_cast<double>(k + 1)}; }

struct Dims {
  std::int64_t m, k, n;
};

// 1s, odd sizes, and outputs above kParallelMinElements (181 * 183 = 33123).
const std::vector<Dims> kDims = {{1, 1, 1}, {1, 7, 1}, {3, 1, 5}, {5, 3, 7}, {17, 33, 9}, {64, 31, 1}, {181, 67, 183}};

TEST(Matmul, HandComputed2x3By3x2) {
  const Tensor a = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = Tensor::from({3, 2}, {7, 8, 9, 10, 11, 12});
  Tensor out = Tensor::full({2, 2}, -99.0f);
  matmul(a, b, out);
  // [1 2 3; 4 5 6] @ [7 8; 9 10; 11 12] = [58 64; 139 154]
  expect_tensor_near(out, Tensor::from({2, 2}, {58, 64, 139, 154}));
}

TEST(Matmul, HandComputedTransposesAlphaAccumulate) {
  const Tensor a = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  // a^T (3, 2) @ a (2, 3) = [17 22 27; 22 29 36; 27 36 45]
  Tensor ata = Tensor::empty({3, 3});
  matmul(a, a, ata, {.transpose_a = true});
  expect_tensor_near(ata, Tensor::from({3, 3}, {17, 22, 27, 22, 29, 36, 27, 36, 45}));

  // a (2, 3) @ a^T (3, 2) = [14 32; 32 77]; with alpha 0.5 and accumulate onto ones
  Tensor aat = Tensor::full({2, 2}, 1.0f);
  matmul(a, a, aat, {.transpose_b = true, .alpha = 0.5f, .accumulate = true});
  expect_tensor_near(aat, Tensor::from({2, 2}, {8, 17, 17, 39.5}));

  // b^T (2, 3) @ a^T (3, 2) = (a b)^T = [58 139; 64 154]
  const Tensor b = Tensor::from({3, 2}, {7, 8, 9, 10, 11, 12});
  Tensor bt_at = Tensor::empty({2, 2});
  matmul(b, a, bt_at, {.transpose_a = true, .transpose_b = true});
  expect_tensor_near(bt_at, Tensor::from({2, 2}, {58, 139, 64, 154}));
}

TEST(Matmul, MatchesReferenceAllTransposes) {
  Rng rng(1234);
  for (const Dims& d : kDims) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "m=" << d.m << " k=" << d.k << " n=" << d.n << " ta=" << ta
                                        << " tb=" << tb);
        const MatmulOptions options{.transpose_a = ta, .transpose_b = tb};
        const Tensor a = random_tensor(a_shape(d.m, d.k, ta), rng);
        const Tensor b = random_tensor(b_shape(d.k, d.n, tb), rng);
        Tensor out = Tensor::full({d.m, d.n}, 1e6f);  // overwritten, not accumulated
        Tensor expected = Tensor::empty({d.m, d.n});
        matmul(a, b, out, options);
        reference::matmul(a, b, expected, options);
        expect_tensor_near(out, expected, gemm_tolerance(d.k));
      }
    }
  }
}

TEST(Matmul, AlphaAndAccumulateMatchReference) {
  Rng rng(99);
  for (const Dims& d : kDims) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "m=" << d.m << " k=" << d.k << " n=" << d.n << " ta=" << ta
                                        << " tb=" << tb);
        const MatmulOptions options{.transpose_a = ta, .transpose_b = tb, .alpha = -0.75f, .accumulate = true};
        const Tensor a = random_tensor(a_shape(d.m, d.k, ta), rng);
        const Tensor b = random_tensor(b_shape(d.k, d.n, tb), rng);
        Tensor out = random_tensor({d.m, d.n}, rng);
        Tensor expected = out.clone();
        matmul(a, b, out, options);
        reference::matmul(a, b, expected, options);
        expect_tensor_near(out, expected, gemm_tolerance(d.k));
      }
    }
  }
}

TEST(Matmul, AccumulateAddsToExistingOutput) {
  Rng rng(5);
  const Tensor a = random_tensor({4, 6}, rng);
  const Tensor b = random_tensor({6, 5}, rng);
  Tensor once = Tensor::empty({4, 5});
  matmul(a, b, once);
  Tensor twice = once.clone();
  matmul(a, b, twice, {.accumulate = true});
  Tensor doubled = once.clone();
  for (float& v : doubled.span()) v *= 2.0f;
  expect_tensor_near(twice, doubled, {.rtol = 1e-6, .atol = 1e-5});
}

TEST(Matmul, EmptyInnerDimensionZeroesOrKeepsOutput) {
  const Tensor a = Tensor::zeros({3, 0});
  const Tensor b = Tensor::zeros({0, 2});
  Tensor out = Tensor::full({3, 2}, 7.0f);
  matmul(a, b, out, {.accumulate = true});
  expect_tensor_near(out, Tensor::full({3, 2}, 7.0f));
  matmul(a, b, out);
  expect_tensor_near(out, Tensor::zeros({3, 2}));
}

TEST(Matmul, InnerDimensionMismatchNamesBothShapes) {
  const Tensor a = Tensor::zeros({2, 3});
  const Tensor b = Tensor::zeros({4, 5});
  Tensor out = Tensor::zeros({2, 5});
  try {
    matmul(a, b, out);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
    EXPECT_NE(what.find("[4, 5]"), std::string::npos) << what;
  }
}

TEST(Matmul, OtherShapeErrorsThrow) {
  const Tensor a = Tensor::zeros({2, 3});
  const Tensor b = Tensor::zeros({3, 4});
  Tensor wrong_out = Tensor::zeros({4, 2});
  try {
    matmul(a, b, wrong_out);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[4, 2]"), std::string::npos) << what;
    EXPECT_NE(what.find("[2, 4]"), std::string::npos) << what;
  }
  Tensor out = Tensor::zeros({2, 4});
  EXPECT_THROW(matmul(a, b, out, {.transpose_a = true}), CheckError);
  EXPECT_THROW(matmul(Tensor::zeros({2, 3, 1}), b, out), CheckError);
  EXPECT_THROW(matmul(a, Tensor::zeros({3}), out), CheckError);
  Tensor square = Tensor::zeros({3, 3});
  EXPECT_THROW(matmul(square, square, square), CheckError) << "output aliasing an input";
  // An output that overlaps an input without starting at the same element.
  Tensor big = Tensor::zeros({4, 2});
  Tensor lhs = big.rows(0, 2);
  Tensor shifted_out = big.rows(1, 3);
  EXPECT_THROW(matmul(lhs, Tensor::zeros({2, 2}), shifted_out), CheckError);
}

// matmul_backward against the formulas written as explicit reference matmuls:
// dA = alpha dout B^T, dB = alpha A^T dout, with A = op(a), B = op(b), then transposed back.
TEST(MatmulBackward, MatchesReferenceMatmulsAllTransposes) {
  Rng rng(42);
  for (const Dims& d : kDims) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "m=" << d.m << " k=" << d.k << " n=" << d.n << " ta=" << ta
                                        << " tb=" << tb);
        const MatmulOptions options{.transpose_a = ta, .transpose_b = tb, .alpha = 1.5f};
        const Tensor a = random_tensor(a_shape(d.m, d.k, ta), rng);
        const Tensor b = random_tensor(b_shape(d.k, d.n, tb), rng);
        const Tensor dout = random_tensor({d.m, d.n}, rng);

        // Start from nonzero gradients: backward accumulates.
        Tensor da = random_tensor(a.shape(), rng);
        Tensor db = random_tensor(b.shape(), rng);
        Tensor expected_da = da.clone();
        Tensor expected_db = db.clone();
        matmul_backward(dout, a, b, &da, &db, options);

        // da: (M, K) = dout (M, N) @ op(b)^T, stored transposed when ta.
        if (!ta) {
          reference::matmul(dout, b, expected_da, {.transpose_b = !tb, .alpha = 1.5f, .accumulate = true});
        } else {
          reference::matmul(b, dout, expected_da,
                            {.transpose_a = tb, .transpose_b = true, .alpha = 1.5f, .accumulate = true});
        }
        // db: (K, N) = op(a)^T @ dout, stored transposed when tb.
        if (!tb) {
          reference::matmul(a, dout, expected_db, {.transpose_a = !ta, .alpha = 1.5f, .accumulate = true});
        } else {
          reference::matmul(dout, a, expected_db,
                            {.transpose_a = true, .transpose_b = ta, .alpha = 1.5f, .accumulate = true});
        }
        expect_tensor_near(da, expected_da, gemm_tolerance(d.n));
        expect_tensor_near(db, expected_db, gemm_tolerance(d.m));
      }
    }
  }
}

// An independent check of the same thing: loss = sum(out * r) by central differences in
// double through the reference matmul, element by element of a and b.
TEST(MatmulBackward, MatchesFiniteDifferencesAllTransposes) {
  Rng rng(7);
  const std::int64_t m = 3, k = 4, n = 5;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "ta=" << ta << " tb=" << tb);
      const MatmulOptions options{.transpose_a = ta, .transpose_b = tb, .alpha = 0.5f};
      Tensor a = random_tensor(a_shape(m, k, ta), rng);
      Tensor b = random_tensor(b_shape(k, n, tb), rng);
      const Tensor r = random_tensor({m, n}, rng);
      Tensor out = Tensor::empty({m, n});
      auto loss = [&] {
        reference::matmul(a, b, out, options);
        double total = 0.0;
        for (std::int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.data()[i]) * r.data()[i];
        return total;
      };
      Tensor da = Tensor::zeros(a.shape());
      Tensor db = Tensor::zeros(b.shape());
      matmul_backward(r, a, b, &da, &db, options);

      // loss is bilinear, so the central difference is exact up to rounding.
      const float h = 0.25f;
      for (Tensor* x : {&a, &b}) {
        const Tensor& analytic = x == &a ? da : db;
        for (std::int64_t i = 0; i < x->numel(); ++i) {
          const float original = x->data()[i];
          x->data()[i] = original + h;
          const double plus = loss();
          x->data()[i] = original - h;
          const double minus = loss();
          x->data()[i] = original;
          const double numeric = (plus - minus) / (2.0 * h);
          EXPECT_NEAR(analytic.data()[i], numeric, 1e-4 + 1e-4 * std::abs(numeric))
              << (x == &a ? "da" : "db") << "[" << i << "]";
        }
      }
    }
  }
}

TEST(MatmulBackward, NullGradientsAreSkipped) {
  Rng rng(3);
  const Tensor a = random_tensor({3, 4}, rng);
  const Tensor b = random_tensor({4, 2}, rng);
  const Tensor dout = random_tensor({3, 2}, rng);
  Tensor da = Tensor::zeros(a.shape());
  Tensor db = Tensor::zeros(b.shape());
  matmul_backward(dout, a, b, &da, nullptr);
  matmul_backward(dout, a, b, nullptr, &db);
  Tensor expected_da = Tensor::zeros(a.shape());
  Tensor expected_db = Tensor::zeros(b.shape());
  matmul_backward(dout, a, b, &expected_da, &expected_db);
  expect_tensor_near(da, expected_da);
  expect_tensor_near(db, expected_db);
}

TEST(MatmulBackward, ShapeMismatchThrows) {
  const Tensor a = Tensor::zeros({2, 3});
  const Tensor b = Tensor::zeros({3, 4});
  Tensor da = Tensor::zeros({2, 3});
  Tensor db = Tensor::zeros({3, 4});
  Tensor wrong = Tensor::zeros({3, 2});
  EXPECT_THROW(matmul_backward(Tensor::zeros({2, 5}), a, b, &da, &db), CheckError);
  EXPECT_THROW(matmul_backward(Tensor::zeros({2, 4}), a, b, &wrong, &db), CheckError);
  EXPECT_THROW(matmul_backward(Tensor::zeros({2, 4}), a, b, &da, &wrong), CheckError);
}

}  // namespace
}  // namespace courier
