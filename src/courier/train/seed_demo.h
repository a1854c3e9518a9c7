// The seed example: the classic TensorFlow program courier grew from. A 2-3-2 network with
// sigmoid on both layers, weights and biases drawn from U[0, 1), mean squared error, plain
// gradient descent, a fresh batch of uniform inputs and targets every step.
#pragma once

#include <cstdint>
#include <functional>

#include "courier/comm/communicator.h"
#include "courier/core/status.h"
#include "courier/tensor/tensor.h"

namespace courier {

struct SeedDemoOptions {
  std::int64_t steps = 1000;
  float lr = 0.1f;
  std::int64_t batch = 100;
  std::int64_t inputs = 2;
  std::int64_t hidden = 3;
  std::int64_t outputs = 2;
  std::uint64_t seed = 0;
  std::int64_t test_inputs = 10;
};

struct SeedDemoResult {
  float final_loss = 0.0f;  // loss of the last step's batch, before its update
  Tensor test_inputs;       // (test_inputs, inputs)
  Tensor test_outputs;      // (test_inputs, outputs)
};

// Trains and evaluates. on_step(step, loss) is called every step with the loss of that
// step's batch before the update. Deterministic for a given options.seed.
// REQUIRES: positive sizes and steps >= 1, lr > 0 (the app validates user input first).
SeedDemoResult run_seed_demo(const SeedDemoOptions& options,
                             const std::function<void(std::int64_t step, float loss)>& on_step);

// The seed example with its layers as nodes that exchange messages. Call it on every node
// of a 3-node world:
//   node 0, input:  draws the data; sends inputs to node 1 and targets to node 2.
//   node 1, hidden: Linear + Sigmoid; activations forward to node 2, gradients back from it.
//   node 2, output: Linear + Sigmoid + loss; sends the hidden layer its gradient.
// Each node updates its own weights. Node 0 initialises the whole network and sends each
// layer node its parameters, so the run is bit-identical to run_seed_demo with the same
// options. on_step is called, and *result filled, on node 2 only.
// REQUIRES: comm.world_size() == 3 (the app checks user input first).
Status run_seed_demo_node(Communicator& comm, const SeedDemoOptions& options,
                          const std::function<void(std::int64_t step, float loss)>& on_step,
                          SeedDemoResult* result);

}  // namespace courier
