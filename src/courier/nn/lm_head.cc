// Tied language-model head: one GEMM forward, two backward.
#include "courier/nn/lm_head.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/tensor/matmul.h"

namespace courier {

std::string TiedLmHead::describe() const {
  return fmt::format("TiedLmHead(-> {} tokens)", embedding_.vocabulary());
}

Shape TiedLmHead::setup(const Shape& input, ParameterLayout&) {
  COURIER_CHECK_GE(input.rank(), 1, "{} needs a channel dimension", describe());
  std::vector<std::int64_t> dims(input.dims().begin(), input.dims().end());
  dims.back() = embedding_.vocabulary();
  return Shape(dims);
}

// in (N, C) -> out (N, V) = in wte^T
void TiedLmHead::forward(const Tensor& in, Tensor& out, LayerCache&) {
  Tensor logits = out.as_matrix();
  matmul(in.as_matrix(), value(embedding_.token_table()), logits, {.transpose_b = true});
}

// dwte += dout^T in; din = dout wte
void TiedLmHead::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache&, Tensor* din) {
  const Tensor dlogits = dout.as_matrix();
  Tensor dwte = grad(embedding_.token_table());
  matmul(dlogits, in.as_matrix(), dwte, {.transpose_a = true, .accumulate = true});
  if (din != nullptr) {
    Tensor dx = din->as_matrix();
    matmul(dlogits, value(embedding_.token_table()), dx);
  }
}

}  // namespace courier
