// Token and position embedding lookup, as a forward/backward pair.
#pragma once

#include "courier/tensor/tensor.h"

namespace courier {

// ids (B, T): fp32 holding token ids, each an integer in [0, V); wte (V, C); wpe (P, C), P >= T
// -> out (B, T, C) = wte[ids[b, t]] + wpe[t].
// REQUIRES (COURIER_CHECK): the shapes agree and every id is an integer in [0, V).
void embedding_forward(const Tensor& ids, const Tensor& wte, const Tensor& wpe, Tensor& out);

// dout (B, T, C) -> dwte[ids[b, t]] += dout[b, t]; dwpe[t] += dout[b, t] (accumulated).
void embedding_backward(const Tensor& dout, const Tensor& ids, Tensor& dwte, Tensor& dwpe);

}  // namespace courier
