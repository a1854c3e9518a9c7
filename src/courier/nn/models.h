// Ready-made models, built layer by layer and not yet set up: the caller calls
// setup(input shape, rng), so the initial weights come from the caller's seed.
#pragma once

#include <cstdint>
#include <vector>

#include "courier/nn/sequential.h"

namespace courier {

// Linear(inputs -> hidden[0]), Relu, Linear(hidden[0] -> hidden[1]), Relu, ...,
// Linear(hidden.back() -> outputs): no activation after the last layer (the loss applies
// its own). Per-sample input {inputs}. REQUIRES: every size > 0; hidden may be empty.
Sequential make_mlp(std::int64_t inputs, const std::vector<std::int64_t>& hidden, std::int64_t outputs);

// The Fashion-MNIST CNN of the PyTorch peer (peers/fmnist_cnn.py), layer for layer:
// Conv2d(1 -> 32, 3x3), Relu, MaxPool2d(2x2), Conv2d(32 -> 64, 3x3), Relu, MaxPool2d(2x2),
// Flatten, Linear(1600 -> 128), Relu, Linear(128 -> 10). Per-sample input fashion_cnn_input().
Sequential make_fashion_cnn();
Shape fashion_cnn_input();  // {1, 28, 28}

struct GptOptions {
  std::int64_t vocabulary = 256;
  std::int64_t context = 64;    // T, the longest input
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t channels = 128;  // the embedding width C
  float dropout = 0.0f;         // > 0: a Dropout at the end of every residual branch
  std::uint64_t dropout_seed = 0;
};

// nanoGPT's GPT without biases or dropout (peers/char_gpt.py), as layers:
//   0            TokenPositionEmbedding  (T) ids -> (T, C)
//   1 + 2l       Residual(LayerNorm, CausalSelfAttention)               for block l
//   2 + 2l       Residual(LayerNorm, Linear(C -> 4C), Gelu(exact), Linear(4C -> C))
//   1 + 2L       LayerNorm (final)
//   2 + 2L       TiedLmHead              (T, C) -> (T, vocabulary) logits
// Initialisation N(0, 0.02), residual output projections N(0, 0.02 / sqrt(2 L)), LayerNorm
// gains 1. With dropout > 0 each branch ends in a Dropout (nanoGPT's resid_dropout and MLP
// dropout; none on the embeddings or the attention probabilities), which adds no parameters,
// so parameter names do not depend on it. Per-sample input {T} for any T <= context (token
// ids as fp32).
Sequential make_gpt(const GptOptions& options);

}  // namespace courier
