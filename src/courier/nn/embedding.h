// TokenPositionEmbedding: a GPT's input layer, token ids to the sum of a token embedding
// and a position embedding.
#pragma once

#include <cstdint>

#include "courier/nn/init.h"
#include "courier/nn/layer.h"

namespace courier {

class TokenPositionEmbedding final : public Layer {
 public:
  // `context` is the longest sequence; each table is initialised with `init` (GPT-2: N(0, 0.02)).
  TokenPositionEmbedding(std::int64_t vocabulary, std::int64_t context, std::int64_t channels,
                         Init init = Init::normal(0.0f, 0.02f));

  std::string describe() const override;
  // input (T) token ids held as fp32, T <= context -> (T, channels). Parameters: "wte"
  // (vocabulary, channels) and "wpe" (context, channels); both decay, as nanoGPT decays
  // every parameter of rank 2.
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  // The token ids have no gradient: din, when given, is zeroed.
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

  // The token table, for a head tied to it (TiedLmHead). Valid after setup.
  ParamSlot token_table() const { return wte_; }
  std::int64_t vocabulary() const { return vocabulary_; }

 private:
  std::int64_t vocabulary_, context_, channels_;
  Init init_;
  ParamSlot wte_, wpe_;
};

}  // namespace courier
