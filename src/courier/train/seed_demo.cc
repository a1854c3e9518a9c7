// The seed example, written as the training loop every courier model follows:
// forward, loss, zero grads, backward, update.
#include "courier/train/seed_demo.h"

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "courier/nn/linear.h"
#include "courier/nn/mse_loss.h"
#include "courier/nn/sequential.h"
#include "courier/nn/sigmoid.h"
#include "courier/train/data/toy.h"
#include "courier/train/optim/sgd.h"
#include "courier/train/tensor_messages.h"

namespace courier {

namespace {

// The example's layers, in order: input -> hidden (Linear + Sigmoid) -> output (Linear + Sigmoid).
void add_hidden_layer(Sequential& model, const SeedDemoOptions& options) {
  const LinearOptions uniform01{.weight_init = Init::uniform(0.0f, 1.0f), .bias_init = Init::uniform(0.0f, 1.0f)};
  model.add<Linear>(options.inputs, options.hidden, uniform01);
  model.add<Sigmoid>();
}

void add_output_layer(Sequential& model, const SeedDemoOptions& options) {
  const LinearOptions uniform01{.weight_init = Init::uniform(0.0f, 1.0f), .bias_init = Init::uniform(0.0f, 1.0f)};
  model.add<Linear>(options.hidden, options.outputs, uniform01);
  model.add<Sigmoid>();
}

// The whole network with its initial weights drawn from the seed.
Sequential make_network(const SeedDemoOptions& options) {
  Rng init_rng = Rng(options.seed).fork(0);
  Sequential model;
  add_hidden_layer(model, options);
  add_output_layer(model, options);
  model.setup({options.inputs}, init_rng);
  return model;
}

ToyRegression make_data(const SeedDemoOptions& options) {
  return ToyRegression(options.inputs, options.outputs, Rng(options.seed).fork(1));
}

void check_options(const SeedDemoOptions& options) {
  COURIER_CHECK_GE(options.steps, 1, "seed demo steps");
  COURIER_CHECK_GT(options.lr, 0.0f, "seed demo learning rate");
}

}  // namespace

SeedDemoResult run_seed_demo(const SeedDemoOptions& options,
                             const std::function<void(std::int64_t step, float loss)>& on_step) {
  check_options(options);
  Sequential model = make_network(options);
  ToyRegression data = make_data(options);

  Parameters& params = model.parameters();
  Sgd optimizer(params.numel(), SgdOptions{});
  MseLoss loss_fn;
  Tensor dout = Tensor::empty({options.batch, options.outputs});
  SeedDemoResult result;

  for (std::int64_t step = 0; step < options.steps; ++step) {
    ToyBatch batch = data.next(options.batch);
    const Tensor& prediction = model.forward(batch.inputs);
    const float loss = loss_fn.forward(prediction, batch.targets);
    params.zero_grads();
    loss_fn.backward(prediction, batch.targets, dout);
    model.backward(dout);
    optimizer.step(params.values().span(), params.grads().span(), options.lr);
    if (on_step) on_step(step, loss);
    result.final_loss = loss;
  }

  result.test_inputs = data.next_inputs(options.test_inputs);
  result.test_outputs = model.forward(result.test_inputs).clone();
  return result;
}

namespace {

// Message tags of the three-node seed example.
constexpr std::uint64_t kTagInputs = 1;       // node 0 -> 1, (batch, inputs)
constexpr std::uint64_t kTagTargets = 2;      // node 0 -> 2, (batch, outputs)
constexpr std::uint64_t kTagActivations = 3;  // node 1 -> 2, (batch, hidden)
constexpr std::uint64_t kTagGradients = 4;    // node 2 -> 1, (batch, hidden)
constexpr std::uint64_t kTagParameters = 5;   // node 0 -> 1 and 2, the layer's flat parameters
constexpr auto kReceiveTimeout = std::chrono::seconds(60);

enum Node { kInputNode = 0, kHiddenNode = 1, kOutputNode = 2 };

Deadline receive_deadline() { return Deadline::after(real_clock(), kReceiveTimeout); }

// Node 0: initialise the network, hand each layer node its parameters, then feed batches.
Status run_input_node(Communicator& comm, const SeedDemoOptions& options) {
  Sequential network = make_network(options);
  const GradsReady hidden = network.parameter_range(0);
  const GradsReady output = network.parameter_range(2);
  const Tensor& values = network.parameters().values();
  SendHandle to_hidden = send_tensor(comm, kHiddenNode, kTagParameters, values.rows(hidden.offset, hidden.offset + hidden.count), 0);
  SendHandle to_output = send_tensor(comm, kOutputNode, kTagParameters, values.rows(output.offset, output.offset + output.count), 0);
  const OpContext context{"seed demo: sending data", 0};
  if (Status s = comm.wait(to_hidden, receive_deadline(), context, kHiddenNode); !s.is_ok()) return s;
  if (Status s = comm.wait(to_output, receive_deadline(), context, kOutputNode); !s.is_ok()) return s;

  ToyRegression data = make_data(options);
  for (std::int64_t step = 0; step < options.steps; ++step) {
    ToyBatch batch = data.next(options.batch);
    // Owned copies would do as well; lending and waiting keeps the batch alive just long enough.
    SendHandle inputs = send_tensor(comm, kHiddenNode, kTagInputs, batch.inputs, static_cast<std::uint64_t>(step));
    SendHandle targets = send_tensor(comm, kOutputNode, kTagTargets, batch.targets, static_cast<std::uint64_t>(step));
    const OpContext step_context{"seed demo: sending data", static_cast<std::uint64_t>(step)};
    if (Status s = comm.wait(inputs, receive_deadline(), step_context, kHiddenNode); !s.is_ok()) return s;
    if (Status s = comm.wait(targets, receive_deadline(), step_context, kOutputNode); !s.is_ok()) return s;
  }
  Tensor test_inputs = data.next_inputs(options.test_inputs);
  SendHandle test = send_tensor(comm, kHiddenNode, kTagInputs, test_inputs, static_cast<std::uint64_t>(options.steps));
  return comm.wait(test, receive_deadline(), context, kHiddenNode);
}

// A layer node's model, with the parameters node 0 sends it.
Status receive_layer(Communicator& comm, Sequential& layer, const Shape& input) {
  Rng unused(0);  // the initial values come from node 0
  layer.setup(input, unused);
  return receive_tensor(comm, kInputNode, kTagParameters, layer.parameters().values(), receive_deadline(),
                        {"seed demo: receiving parameters", 0});
}

// Node 1: forward the inputs, backward the gradients node 2 sends, update.
Status run_hidden_node(Communicator& comm, const SeedDemoOptions& options) {
  Sequential layer;
  add_hidden_layer(layer, options);
  if (Status s = receive_layer(comm, layer, {options.inputs}); !s.is_ok()) return s;
  Sgd optimizer(layer.parameters().numel(), SgdOptions{});
  Tensor inputs = Tensor::empty({options.batch, options.inputs});
  Tensor dhidden = Tensor::empty({options.batch, options.hidden});
  for (std::int64_t step = 0; step < options.steps; ++step) {
    const OpContext context{"seed demo: hidden layer", static_cast<std::uint64_t>(step)};
    if (Status s = receive_tensor(comm, kInputNode, kTagInputs, inputs, receive_deadline(), context); !s.is_ok()) return s;
    const Tensor& hidden = layer.forward(inputs);
    SendHandle forward = send_tensor(comm, kOutputNode, kTagActivations, hidden, static_cast<std::uint64_t>(step));
    if (Status s = receive_tensor(comm, kOutputNode, kTagGradients, dhidden, receive_deadline(), context); !s.is_ok()) return s;
    if (Status s = comm.wait(forward, receive_deadline(), context, kOutputNode); !s.is_ok()) return s;
    layer.parameters().zero_grads();
    layer.backward(dhidden);
    optimizer.step(layer.parameters().values().span(), layer.parameters().grads().span(), options.lr);
  }
  Tensor test_inputs = Tensor::empty({options.test_inputs, options.inputs});
  const OpContext context{"seed demo: test inputs", static_cast<std::uint64_t>(options.steps)};
  if (Status s = receive_tensor(comm, kInputNode, kTagInputs, test_inputs, receive_deadline(), context); !s.is_ok()) return s;
  SendHandle forward = send_tensor(comm, kOutputNode, kTagActivations, layer.forward(test_inputs),
                                   static_cast<std::uint64_t>(options.steps));
  return comm.wait(forward, receive_deadline(), context, kOutputNode);
}

// Node 2: forward, loss, backward, send the hidden layer its gradient, update.
Status run_output_node(Communicator& comm, const SeedDemoOptions& options,
                       const std::function<void(std::int64_t, float)>& on_step, SeedDemoResult* result) {
  Sequential layer;
  add_output_layer(layer, options);
  if (Status s = receive_layer(comm, layer, {options.hidden}); !s.is_ok()) return s;
  Sgd optimizer(layer.parameters().numel(), SgdOptions{});
  MseLoss loss_fn;
  Tensor hidden = Tensor::empty({options.batch, options.hidden});
  Tensor targets = Tensor::empty({options.batch, options.outputs});
  Tensor dout = Tensor::empty({options.batch, options.outputs});
  Tensor dhidden = Tensor::empty({options.batch, options.hidden});
  for (std::int64_t step = 0; step < options.steps; ++step) {
    const OpContext context{"seed demo: output layer", static_cast<std::uint64_t>(step)};
    if (Status s = receive_tensor(comm, kHiddenNode, kTagActivations, hidden, receive_deadline(), context); !s.is_ok()) return s;
    if (Status s = receive_tensor(comm, kInputNode, kTagTargets, targets, receive_deadline(), context); !s.is_ok()) return s;
    const Tensor& prediction = layer.forward(hidden);
    const float loss = loss_fn.forward(prediction, targets);
    layer.parameters().zero_grads();
    loss_fn.backward(prediction, targets, dout);
    layer.backward(dout, {}, &dhidden);
    SendHandle backward = send_tensor(comm, kHiddenNode, kTagGradients, dhidden, static_cast<std::uint64_t>(step));
    optimizer.step(layer.parameters().values().span(), layer.parameters().grads().span(), options.lr);
    if (on_step) on_step(step, loss);
    if (result != nullptr) result->final_loss = loss;
    if (Status s = comm.wait(backward, receive_deadline(), context, kHiddenNode); !s.is_ok()) return s;
  }
  Tensor test_hidden = Tensor::empty({options.test_inputs, options.hidden});
  const OpContext context{"seed demo: test outputs", static_cast<std::uint64_t>(options.steps)};
  if (Status s = receive_tensor(comm, kHiddenNode, kTagActivations, test_hidden, receive_deadline(), context); !s.is_ok()) return s;
  if (result != nullptr) result->test_outputs = layer.forward(test_hidden).clone();
  return Status::ok();
}

}  // namespace

Status run_seed_demo_node(Communicator& comm, const SeedDemoOptions& options,
                          const std::function<void(std::int64_t step, float loss)>& on_step,
                          SeedDemoResult* result) {
  check_options(options);
  COURIER_CHECK_EQ(comm.world_size(), 3, "the seed example as nodes runs on exactly 3 nodes");
  switch (comm.rank()) {
    case kInputNode: return run_input_node(comm, options);
    case kHiddenNode: return run_hidden_node(comm, options);
    default: return run_output_node(comm, options, on_step, result);
  }
}

}  // namespace courier
