// Model builders.
#include "courier/nn/models.h"

#include <cmath>

#include "courier/nn/causal_self_attention.h"
#include "courier/core/rng.h"
#include "courier/nn/conv2d.h"
#include "courier/nn/dropout.h"
#include "courier/nn/embedding.h"
#include "courier/nn/gelu.h"
#include "courier/nn/layer_norm.h"
#include "courier/nn/lm_head.h"
#include "courier/nn/residual.h"
#include "courier/nn/flatten.h"
#include "courier/nn/linear.h"
#include "courier/nn/max_pool2d.h"
#include "courier/nn/relu.h"

namespace courier {

Sequential make_mlp(std::int64_t inputs, const std::vector<std::int64_t>& hidden, std::int64_t outputs) {
  Sequential model;
  std::int64_t width = inputs;
  for (std::int64_t next : hidden) {
    model.add<Linear>(width, next);
    model.add<Relu>();
    width = next;
  }
  model.add<Linear>(width, outputs);
  return model;
}

Shape fashion_cnn_input() { return {1, 28, 28}; }

// Valid convolutions: 28 -> 26 -> 13 -> 11 -> 5, so Flatten gives 64 * 5 * 5 = 1600.
Sequential make_fashion_cnn() {
  Sequential model;
  model.add<Conv2d>(1, 32, 3);
  model.add<Relu>();
  model.add<MaxPool2d>(2);
  model.add<Conv2d>(32, 64, 3);
  model.add<Relu>();
  model.add<MaxPool2d>(2);
  model.add<Flatten>();
  model.add<Linear>(64 * 5 * 5, 128);
  model.add<Relu>();
  model.add<Linear>(128, 10);
  return model;
}

Sequential make_gpt(const GptOptions& o) {
  const Init weights = Init::normal(0.0f, 0.02f);
  const Init projections = Init::normal(0.0f, 0.02f / std::sqrt(2.0f * static_cast<float>(o.layers)));
  const std::int64_t C = o.channels;
  Sequential model;
  const auto& embedding = model.add<TokenPositionEmbedding>(o.vocabulary, o.context, C, weights);
  for (std::int64_t l = 0; l < o.layers; ++l) {
    auto& attention = model.add<Residual>();
    attention.add<LayerNorm>(C);
    attention.add<CausalSelfAttention>(C, o.heads, AttentionOptions{.qkv_init = weights, .proj_init = projections});
    if (o.dropout > 0) attention.add<Dropout>(o.dropout, Rng(o.dropout_seed).fork(2 * l).next_u64());
    auto& mlp = model.add<Residual>();
    mlp.add<LayerNorm>(C);
    mlp.add<Linear>(C, 4 * C, LinearOptions{.bias = false, .weight_init = weights});
    mlp.add<Gelu>(GeluApproximation::kExact);
    mlp.add<Linear>(4 * C, C, LinearOptions{.bias = false, .weight_init = projections});
    if (o.dropout > 0) mlp.add<Dropout>(o.dropout, Rng(o.dropout_seed).fork(2 * l + 1).next_u64());
  }
  model.add<LayerNorm>(C);
  model.add<TiedLmHead>(embedding);
  return model;
}

}  // namespace courier
