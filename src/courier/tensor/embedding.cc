// Embedding lookups: a row gather forward, a row scatter-add backward.
#include "courier/tensor/embedding.h"

#include "courier/core/check.h"

namespace courier {
namespace {

struct Dims {
  std::int64_t B, T, C, V;
};

Dims check_dims(const Tensor& ids, const Tensor& wte, const Tensor& wpe, const Tensor& x, const char* op) {
  COURIER_CHECK_EQ(ids.rank(), 2, "{} ids must be (B, T), got {}", op, ids.shape());
  COURIER_CHECK_EQ(wte.rank(), 2, "{} token table must be (V, C), got {}", op, wte.shape());
  const Dims d{ids.dim(0), ids.dim(1), wte.dim(1), wte.dim(0)};
  COURIER_CHECK(wpe.rank() == 2 && wpe.dim(1) == d.C && wpe.dim(0) >= d.T,
                "{} position table {} for {} positions of {} channels", op, wpe.shape(), d.T, d.C);
  COURIER_CHECK_EQ(x.shape(), Shape({d.B, d.T, d.C}), "{} embeddings for ids {}", op, ids.shape());
  return d;
}

// The token id at flat position i, checked.
std::int64_t token(const Tensor& ids, std::int64_t i, std::int64_t vocab) {
  const float id = ids.data()[i];
  const auto t = static_cast<std::int64_t>(id);
  COURIER_CHECK(static_cast<float>(t) == id && t >= 0 && t < vocab, "token id {} at position {} outside [0, {})", id,
                i, vocab);
  return t;
}

}  // namespace

// ids (B, T), wte (V, C), wpe (P, C) -> out (B, T, C)
void embedding_forward(const Tensor& ids, const Tensor& wte, const Tensor& wpe, Tensor& out) {
  const Dims d = check_dims(ids, wte, wpe, out, "embedding_forward");
  for (std::int64_t bt = 0; bt < d.B * d.T; ++bt) {
    const float* tok = wte.data() + token(ids, bt, d.V) * d.C;
    const float* pos = wpe.data() + (bt % d.T) * d.C;
    float* o = out.data() + bt * d.C;
#pragma omp simd
    for (std::int64_t c = 0; c < d.C; ++c) o[c] = tok[c] + pos[c];
  }
}

// dout (B, T, C) -> dwte (V, C) +=, dwpe (P, C) +=
void embedding_backward(const Tensor& dout, const Tensor& ids, Tensor& dwte, Tensor& dwpe) {
  const Dims d = check_dims(ids, dwte, dwpe, dout, "embedding_backward");
  for (std::int64_t bt = 0; bt < d.B * d.T; ++bt) {
    float* dtok = dwte.data() + token(ids, bt, d.V) * d.C;
    float* dpos = dwpe.data() + (bt % d.T) * d.C;
    const float* g = dout.data() + bt * d.C;
#pragma omp simd
    for (std::int64_t c = 0; c < d.C; ++c) {
      dtok[c] += g[c];
      dpos[c] += g[c];
    }
  }
}

}  // namespace courier
