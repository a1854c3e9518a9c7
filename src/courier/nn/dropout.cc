// Dropout masks from a seeded stream.
#include "courier/nn/dropout.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier {

Dropout::Dropout(float p, std::uint64_t seed) : p_(p), seed_(seed) {
  COURIER_CHECK(p_ >= 0.0f && p_ < 1.0f, "Dropout probability must be in [0, 1), got {}", p_);
}

std::string Dropout::describe() const { return fmt::format("Dropout({})", p_); }

void Dropout::forward(const Tensor& in, Tensor& out, LayerCache& cache) {
  if (cache.saved.empty()) cache.saved.resize(1);
  if (!training_ || p_ == 0.0f) {
    cache.saved[0] = Tensor();
    if (!out.same_storage(in)) out.copy_from(in);
    return;
  }
  Tensor mask = cache_tensor(cache, 0, in.shape());
  Rng rng = Rng(seed_).fork(forwards_++);
  const float scale = 1.0f / (1.0f - p_);
  float* m = mask.data();
  for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = rng.uniform() < p_ ? 0.0f : scale;
  const float* x = in.data();
  float* y = out.data();
#pragma omp simd
  for (std::int64_t i = 0; i < in.numel(); ++i) y[i] = x[i] * m[i];
}

void Dropout::backward(const Tensor&, const Tensor&, const Tensor& dout, LayerCache& cache, Tensor* din) {
  if (din == nullptr) return;
  COURIER_CHECK(!cache.saved.empty(), "{} backward() before forward()", describe());
  const Tensor& mask = cache.saved[0];
  if (!mask.defined()) {
    if (!din->same_storage(dout)) din->copy_from(dout);
    return;
  }
  const float* g = dout.data();
  const float* m = mask.data();
  float* d = din->data();
#pragma omp simd
  for (std::int64_t i = 0; i < dout.numel(); ++i) d[i] = g[i] * m[i];
}

}  // namespace courier
