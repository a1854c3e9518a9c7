// Causal multi-head scaled dot-product attention over a fused q|k|v tensor, as a
// forward/backward pair. Softmax in fp32; the probabilities are saved for the backward.
#pragma once

#include <cstdint>

#include "courier/tensor/tensor.h"

namespace courier {

// qkv (B, T, 3C): q, k, v side by side in the last dimension, each split into `heads`
// heads of C / heads channels. For every batch row b and head h:
//   probs[b, h] (T, T) = causal_softmax(q_bh k_bh^T / sqrt(C / heads)),  zero above the diagonal
//   out[b, :, h-th slice] (T, C / heads) = probs[b, h] v_bh
// out (B, T, C), probs (B, heads, T, T). REQUIRES: heads divides C; no aliasing.
void attention_forward(const Tensor& qkv, std::int64_t heads, Tensor& out, Tensor& probs);

// dout (B, T, C) with the forward's qkv and probs -> dqkv (B, T, 3C), written (not
// accumulated). scratch is (T, T) working memory, so nothing is allocated per call.
void attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& probs, std::int64_t heads, Tensor& dqkv,
                        Tensor& scratch);

}  // namespace courier
