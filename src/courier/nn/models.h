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

}  // namespace courier
