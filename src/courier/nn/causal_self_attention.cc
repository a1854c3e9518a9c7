// Causal self-attention: qkv = x Wqkv^T; heads attend (attention kernels); y = heads Wproj^T.
#include "courier/nn/causal_self_attention.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/tensor/attention.h"
#include "courier/tensor/matmul.h"

namespace courier {
namespace {

// cache.saved slots
enum Saved : std::size_t { kQkv, kProbs, kHeads, kDheads, kDqkv, kScratch };

}  // namespace

CausalSelfAttention::CausalSelfAttention(std::int64_t channels, std::int64_t heads, AttentionOptions options)
    : channels_(channels), heads_(heads), options_(options) {
  COURIER_CHECK_GT(channels_, 0, "CausalSelfAttention channels");
  COURIER_CHECK(heads_ > 0 && channels_ % heads_ == 0, "CausalSelfAttention: {} heads do not divide {} channels",
                heads_, channels_);
}

std::string CausalSelfAttention::describe() const {
  return fmt::format("CausalSelfAttention({}, {} heads)", channels_, heads_);
}

Shape CausalSelfAttention::setup(const Shape& input, ParameterLayout& layout) {
  COURIER_CHECK(input.rank() == 2 && input[1] == channels_, "{} needs per-sample input (T, {}), got {}", describe(),
                channels_, input);
  qkv_weight_ = layout.add("qkv_weight", {3 * channels_, channels_}, options_.qkv_init, /*weight_decay=*/true);
  proj_weight_ = layout.add("proj_weight", {channels_, channels_}, options_.proj_init, /*weight_decay=*/true);
  return input;
}

// in (B, T, C) -> out (B, T, C)
void CausalSelfAttention::forward(const Tensor& in, Tensor& out, LayerCache& cache) {
  const std::int64_t B = in.dim(0), T = in.dim(1), C = channels_;
  Tensor qkv = cache_tensor(cache, kQkv, {B, T, 3 * C});
  Tensor probs = cache_tensor(cache, kProbs, {B, heads_, T, T});
  Tensor heads = cache_tensor(cache, kHeads, {B, T, C});
  Tensor qkv_rows = qkv.as_matrix();
  matmul(in.as_matrix(), value(qkv_weight_), qkv_rows, {.transpose_b = true});
  attention_forward(qkv, heads_, heads, probs);
  Tensor y = out.as_matrix();
  matmul(heads.as_matrix(), value(proj_weight_), y, {.transpose_b = true});
}

void CausalSelfAttention::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache& cache,
                                   Tensor* din) {
  COURIER_CHECK_GE(cache.saved.size(), std::size_t{kHeads + 1}, "{} backward() before forward()", describe());
  const std::int64_t B = in.dim(0), T = in.dim(1), C = channels_;
  const Tensor qkv = cache.saved[kQkv];
  const Tensor heads = cache.saved[kHeads];
  const Tensor probs = cache.saved[kProbs];
  Tensor dheads = cache_tensor(cache, kDheads, {B, T, C});
  Tensor dqkv = cache_tensor(cache, kDqkv, {B, T, 3 * C});
  Tensor scratch = cache_tensor(cache, kScratch, {T, T});
  // y = heads Wproj^T: dWproj += dy^T heads; dheads = dy Wproj
  const Tensor dy = dout.as_matrix();
  Tensor dproj = grad(proj_weight_);
  matmul(dy, heads.as_matrix(), dproj, {.transpose_a = true, .accumulate = true});
  Tensor dheads_rows = dheads.as_matrix();
  matmul(dy, value(proj_weight_), dheads_rows);
  attention_backward(dheads, qkv, probs, heads_, dqkv, scratch);
  // qkv = x Wqkv^T: dWqkv += dqkv^T x; dx = dqkv Wqkv
  const Tensor dqkv_rows = dqkv.as_matrix();
  Tensor dqkv_weight = grad(qkv_weight_);
  matmul(dqkv_rows, in.as_matrix(), dqkv_weight, {.transpose_a = true, .accumulate = true});
  if (din != nullptr) {
    Tensor dx = din->as_matrix();
    matmul(dqkv_rows, value(qkv_weight_), dx);
  }
}

}  // namespace courier
