// The transformer kernels (layernorm, attention, embedding) against the naive double-precision
// references (reference.h), forward, and against finite differences of them, backward.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/rng.h"
#include "courier/tensor/attention.h"
#include "courier/tensor/embedding.h"
#include "courier/tensor/layernorm.h"
#include "courier/tensor/reference.h"
#include "testutil/check_error.h"
#include "testutil/gradcheck.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::expect_check_error_naming;
using testing::expect_tensor_near;
using testing::gradcheck;
using testing::random_tensor;

constexpr testing::Tolerance kFp32{.rtol = 1e-4, .atol = 1e-5};

// sum(y * r) in double: the scalar whose gradient with respect to y is r.
double dot(const Tensor& y, const Tensor& r) {
  double total = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.at(i)) * r.at(i);
  return total;
}

// The references, as fresh tensors.
Tensor naive_layernorm(const Tensor& x, const Tensor& w) {
  Tensor out = Tensor::empty(x.shape());
  reference::layernorm_forward(x, w, Tensor(), out);
  return out;
}

Tensor naive_attention(const Tensor& qkv, std::int64_t heads) {
  Tensor out = Tensor::empty({qkv.dim(0), qkv.dim(1), qkv.dim(2) / 3});
  reference::attention_forward(qkv, heads, out);
  return out;
}

TEST(LayerNormKernel, ForwardMatchesDefinition) {
  Rng rng(1);
  const Tensor x = random_tensor({5, 7}, rng, 3.0f);
  const Tensor w = random_tensor({7}, rng);
  const Tensor b = random_tensor({7}, rng);
  Tensor out = Tensor::empty({5, 7}), mean = Tensor::empty({5}), rstd = Tensor::empty({5});
  layernorm_forward(x, w, Tensor(), out, mean, rstd);
  expect_tensor_near(out, naive_layernorm(x, w), kFp32);
  // With a bias: the same plus b.
  Tensor with_bias = Tensor::empty({5, 7});
  layernorm_forward(x, w, b, with_bias, mean, rstd);
  for (std::int64_t i = 0; i < 35; ++i) EXPECT_NEAR(with_bias.at(i), out.at(i) + b.at(i % 7), 1e-5);
}

TEST(LayerNormKernel, BackwardMatchesFiniteDifferencesOfTheDefinition) {
  Rng rng(2);
  Tensor x = random_tensor({3, 6}, rng);
  Tensor w = random_tensor({6}, rng);
  const Tensor dout = random_tensor({3, 6}, rng);
  Tensor out = Tensor::empty({3, 6}), mean = Tensor::empty({3}), rstd = Tensor::empty({3});
  layernorm_forward(x, w, Tensor(), out, mean, rstd);
  Tensor dx = Tensor::full({3, 6}, 7.0f);  // written, not accumulated
  Tensor dw = Tensor::full({6}, 1.0f);     // accumulated
  Tensor no_bias;
  layernorm_backward(dout, x, w, mean, rstd, dx, dw, no_bias);
  // L = sum(naive(x, w) * dout), differentiated numerically.
  auto loss = [&] { return dot(naive_layernorm(x, w), dout); };
  EXPECT_TRUE(gradcheck(loss, x.span(), dx.span()));
  Tensor dw_added = dw.clone();
  for (float& v : dw_added.span()) v -= 1.0f;  // what backward added to the 1s
  EXPECT_TRUE(gradcheck(loss, w.span(), dw_added.span()));
}

TEST(LayerNormKernel, RejectsMismatchedShapes) {
  Tensor x = Tensor::zeros({2, 4}), out = Tensor::zeros({2, 4}), mean = Tensor::zeros({2}), rstd = Tensor::zeros({2});
  expect_check_error_naming([&] { layernorm_forward(x, Tensor::zeros({3}), Tensor(), out, mean, rstd); }, {"weight"});
  expect_check_error_naming([&] { layernorm_forward(x, Tensor::zeros({4}), Tensor(), x, mean, rstd); }, {"aliases"});
}

TEST(AttentionKernel, ForwardMatchesDefinitionAndIsCausal) {
  Rng rng(3);
  const std::int64_t B = 2, T = 5, C = 6, NH = 2;
  Tensor qkv = random_tensor({B, T, 3 * C}, rng);
  Tensor out = Tensor::empty({B, T, C}), probs = Tensor::empty({B, NH, T, T});
  attention_forward(qkv, NH, out, probs);
  expect_tensor_near(out, naive_attention(qkv, NH), kFp32);
  for (std::int64_t bh = 0; bh < B * NH; ++bh) {
    for (std::int64_t t = 0; t < T; ++t) {
      double row = 0;
      for (std::int64_t s = 0; s < T; ++s) {
        const float p = probs.at(bh * T * T + t * T + s);
        if (s > t) {
          EXPECT_EQ(p, 0.0f) << "probability above the diagonal";
        }
        row += p;
      }
      EXPECT_NEAR(row, 1.0, 1e-6);
    }
  }
  // Changing the last position's k and v leaves every earlier output alone.
  Tensor changed = qkv.clone();
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t i = C; i < 3 * C; ++i) changed.at({b, T - 1, i}) += 5.0f;
  }
  Tensor out2 = Tensor::empty({B, T, C});
  attention_forward(changed, NH, out2, probs);
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t t = 0; t + 1 < T; ++t) {
      for (std::int64_t c = 0; c < C; ++c) EXPECT_EQ(out2.at({b, t, c}), out.at({b, t, c}));
    }
  }
}

TEST(AttentionKernel, BackwardMatchesFiniteDifferences) {
  Rng rng(4);
  const std::int64_t B = 2, T = 4, C = 4, NH = 2;
  Tensor qkv = random_tensor({B, T, 3 * C}, rng);
  const Tensor dout = random_tensor({B, T, C}, rng);
  Tensor out = Tensor::empty({B, T, C}), probs = Tensor::empty({B, NH, T, T});
  attention_forward(qkv, NH, out, probs);
  Tensor dqkv = Tensor::full(qkv.shape(), 9.0f), scratch = Tensor::empty({T, T});
  attention_backward(dout, qkv, probs, NH, dqkv, scratch);
  EXPECT_TRUE(gradcheck([&] { return dot(naive_attention(qkv, NH), dout); }, qkv.span(), dqkv.span()));
}

TEST(AttentionKernel, RejectsHeadsThatDoNotDivideChannels) {
  Tensor qkv = Tensor::zeros({1, 2, 9}), out = Tensor::zeros({1, 2, 3}), probs = Tensor::zeros({1, 2, 2, 2});
  expect_check_error_naming([&] { attention_forward(qkv, 2, out, probs); }, {"2 heads do not divide 3 channels"});
}

TEST(EmbeddingKernel, LooksUpAndScattersRows) {
  const Tensor wte = Tensor::from({3, 2}, {1, 2, 3, 4, 5, 6});
  const Tensor wpe = Tensor::from({4, 2}, {10, 20, 30, 40, 50, 60, 70, 80});
  const Tensor ids = Tensor::from({2, 2}, {2, 0, 2, 2});
  Tensor out = Tensor::empty({2, 2, 2});
  embedding_forward(ids, wte, wpe, out);
  expect_tensor_near(out, Tensor::from({2, 2, 2}, {15, 26, 31, 42, 15, 26, 35, 46}));
  Tensor dwte = Tensor::zeros({3, 2}), dwpe = Tensor::zeros({4, 2});
  const Tensor dout = Tensor::from({2, 2, 2}, {1, 1, 2, 2, 3, 3, 4, 4});
  embedding_backward(dout, ids, dwte, dwpe);
  expect_tensor_near(dwte, Tensor::from({3, 2}, {2, 2, 0, 0, 8, 8}));  // token 2 at three places: 1 + 3 + 4
  expect_tensor_near(dwpe, Tensor::from({4, 2}, {4, 4, 6, 6, 0, 0, 0, 0}));
}

TEST(EmbeddingKernel, RejectsIdsOutsideTheVocabulary) {
  const Tensor wte = Tensor::zeros({3, 2}), wpe = Tensor::zeros({2, 2});
  Tensor out = Tensor::empty({1, 2, 2});
  expect_check_error_naming([&] { embedding_forward(Tensor::from({1, 2}, {0, 3}), wte, wpe, out); },
                            {"token id 3 at position 1"});
  expect_check_error_naming([&] { embedding_forward(Tensor::from({1, 2}, {0.5f, 1}), wte, wpe, out); },
                            {"token id 0.5"});
  expect_check_error_naming([&] { embedding_forward(Tensor::from({1, 2}, {-1, 1}), wte, wpe, out); },
                            {"outside [0, 3)"});
}

}  // namespace
}  // namespace courier
