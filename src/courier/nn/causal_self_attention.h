// CausalSelfAttention: GPT's multi-head self-attention, with the q|k|v projection and the
// output projection inside the layer (no biases, as nanoGPT's bias=False).
#pragma once

#include <cstdint>

#include "courier/nn/init.h"
#include "courier/nn/layer.h"

namespace courier {

struct AttentionOptions {
  Init qkv_init = Init::normal(0.0f, 0.02f);
  Init proj_init = Init::normal(0.0f, 0.02f);  // GPT-2 scales it by 1 / sqrt(2 layers)
};

class CausalSelfAttention final : public Layer {
 public:
  CausalSelfAttention(std::int64_t channels, std::int64_t heads, AttentionOptions options = {});

  std::string describe() const override;
  // input (T, C) -> (T, C). Parameters: "qkv_weight" (3C, C), rows q then k then v, as
  // PyTorch's c_attn.weight; "proj_weight" (C, C), as c_proj.weight. Both decay.
  Shape setup(const Shape& input, ParameterLayout& layout) override;
  // cache: qkv (B, T, 3C), attention probabilities (B, heads, T, T), heads' output (B, T, C),
  // and backward scratch.
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  std::int64_t channels_, heads_;
  AttentionOptions options_;
  ParamSlot qkv_weight_, proj_weight_;
};

}  // namespace courier
