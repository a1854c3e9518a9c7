// Dropout: while training, each element is zeroed with probability p and the survivors are
// scaled by 1 / (1 - p); in evaluation mode the layer passes its input through.
#pragma once

#include <cstdint>

#include "courier/nn/elementwise_layer.h"

namespace courier {

class Dropout final : public ElementwiseLayer {
 public:
  // REQUIRES: 0 <= p < 1. Training forward number k draws its mask from Rng(seed).fork(k), so
  // a run is reproducible from its seed (a resumed run draws new masks: the count restarts).
  Dropout(float p, std::uint64_t seed);

  std::string describe() const override;
  void set_training(bool training) override { training_ = training; }
  // cache.saved[0]: the mask (0 or 1 / (1 - p) an element), undefined when the forward passed through.
  void forward(const Tensor& in, Tensor& out, LayerCache& cache) override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& dout, LayerCache& cache, Tensor* din) override;

 private:
  float p_;
  std::uint64_t seed_;
  std::uint64_t forwards_ = 0;  // training forwards so far
  bool training_ = true;
};

}  // namespace courier
