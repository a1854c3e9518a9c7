// TiedLmHead: a language model's output layer, logits = x wte^T, sharing the token table
// of the model's TokenPositionEmbedding (weight tying, as GPT-2 and nanoGPT do).
#pragma once

#include "courier/nn/embedding.h"
#include "courier/nn/layer.h"

namespace courier {

class TiedLmHead final : public Layer {
 public:
  // `embedding` must outlive this layer and be set up before it (it comes first in the model).
  explicit TiedLmHead(const TokenPositionEmbedding& embedding) : embedding_(embedding) {}

  std::string describe() const override;
  // input (..., C) -> (..., vocabulary). Declares no parameters of its own: its gradient is
  // added into the embedding's "wte", whose layer reports it ready last in backward.
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;
  // The embedding's token table.
  std::vector<ParamSlot> borrowed_parameters() const override { return {embedding_.token_table()}; }

 private:
  const TokenPositionEmbedding& embedding_;
};

}  // namespace courier
