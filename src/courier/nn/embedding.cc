// Token and position embedding layer over the embedding kernels.
#include "courier/nn/embedding.h"

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/tensor/embedding.h"

namespace courier {

TokenPositionEmbedding::TokenPositionEmbedding(std::int64_t vocabulary, std::int64_t context, std::int64_t channels,
                                               Init init)
    : vocabulary_(vocabulary), context_(context), channels_(channels), init_(init) {
  COURIER_CHECK_GT(vocabulary_, 0, "TokenPositionEmbedding vocabulary");
  COURIER_CHECK_GT(context_, 0, "TokenPositionEmbedding context");
  COURIER_CHECK_GT(channels_, 0, "TokenPositionEmbedding channels");
}

std::string TokenPositionEmbedding::describe() const {
  return fmt::format("TokenPositionEmbedding({} tokens, {} positions -> {})", vocabulary_, context_, channels_);
}

Shape TokenPositionEmbedding::setup(const Shape& input, ParameterLayout& layout) {
  COURIER_CHECK(input.rank() == 1 && input[0] >= 1 && input[0] <= context_,
                "{} needs per-sample input (T) with 1 <= T <= {}, got {}", describe(), context_, input);
  wte_ = layout.add("wte", {vocabulary_, channels_}, init_, /*weight_decay=*/true);
  wpe_ = layout.add("wpe", {context_, channels_}, init_, /*weight_decay=*/true);
  return {input[0], channels_};
}

// in (B, T) -> out (B, T, C)
void TokenPositionEmbedding::forward(const Tensor& in, Tensor& out, LayerCache&) {
  embedding_forward(in, value(wte_), value(wpe_), out);
}

void TokenPositionEmbedding::backward(const Tensor& in, const Tensor&, const Tensor& dout, LayerCache&, Tensor* din) {
  Tensor dwte = grad(wte_);
  Tensor dwpe = grad(wpe_);
  embedding_backward(dout, in, dwte, dwpe);
  if (din != nullptr) din->zero();
}

}  // namespace courier
