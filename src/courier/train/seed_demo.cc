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

namespace courier {

SeedDemoResult run_seed_demo(const SeedDemoOptions& options,
                             const std::function<void(std::int64_t step, float loss)>& on_step) {
  COURIER_CHECK_GE(options.steps, 1, "seed demo steps");
  COURIER_CHECK_GT(options.lr, 0.0f, "seed demo learning rate");
  const Rng root(options.seed);
  Rng init_rng = root.fork(0);
  ToyRegression data(options.inputs, options.outputs, root.fork(1));

  const LinearOptions uniform01{.bias = true, .weight_init = Init::uniform(0.0f, 1.0f),
                                .bias_init = Init::uniform(0.0f, 1.0f)};
  Sequential model;
  model.add<Linear>(options.inputs, options.hidden, uniform01);
  model.add<Sigmoid>();
  model.add<Linear>(options.hidden, options.outputs, uniform01);
  model.add<Sigmoid>();
  model.setup({options.inputs}, init_rng);

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

}  // namespace courier
