// `courier demo <name>`: small self-contained programs that show one idea each.
// `courier demo seed` is the classic TensorFlow example courier grew from.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "flags.h"
#include "courier/train/seed_demo.h"

namespace courier::app {
namespace {

struct SeedFlags {
  SeedDemoOptions demo;
  std::int64_t print_every = 100;
};

int run_seed(const SeedFlags& flags) {
  SeedDemoResult result = run_seed_demo(flags.demo, [&](std::int64_t step, float loss) {
    if (step % flags.print_every == 0) fmt::print("Step {}, Loss: {:.4f}\n", step, loss);
  });
  fmt::print("Test Output:\n");
  const Tensor& out = result.test_outputs;
  for (std::int64_t r = 0; r < out.dim(0); ++r) {
    std::string row;
    for (std::int64_t c = 0; c < out.dim(1); ++c) row += fmt::format("{}{:.4f}", c == 0 ? "" : " ", out.at({r, c}));
    fmt::print("[{}]\n", row);
  }
  std::fflush(stdout);
  return kExitOk;
}

void add_seed_command(CLI::App& demo, Action& action) {
  auto flags = std::make_shared<SeedFlags>();
  CLI::App* seed = demo.add_subcommand(
      "seed",
      "The seed example: a 2-3-2 network with sigmoid on both layers, weights and biases from U[0, 1),\n"
      "mean squared error and plain gradient descent, a fresh batch of uniform random inputs and\n"
      "targets every step. Prints 'Step i, Loss: x' every --print-every steps, then 'Test Output:'\n"
      "and the predictions for 10 random test inputs, one row each. The targets are noise, so the\n"
      "loss settles near the variance of a uniform target, 1/12 = 0.083. The same --seed gives the\n"
      "same output byte for byte.");
  seed->add_option("--steps", flags->demo.steps, "Training steps")->check(positive_number())->capture_default_str();
  seed->add_option("--lr", flags->demo.lr, "Learning rate of gradient descent (> 0)")
      ->check(positive_number())
      ->capture_default_str();
  seed->add_option("--batch", flags->demo.batch, "Examples a step (> 0)")->check(positive_number())->capture_default_str();
  seed->add_option("--hidden", flags->demo.hidden, "Units in the hidden layer (> 0)")
      ->check(positive_number())
      ->capture_default_str();
  seed->add_option("--seed", flags->demo.seed, "Seed of every random draw (initial weights, data, test inputs)")
      ->check(non_negative_integer())
      ->capture_default_str();
  seed->add_option("--print-every", flags->print_every, "Print the loss every N steps (> 0)")
      ->check(positive_number())
      ->capture_default_str();
  seed->callback([flags, &action] { action = [flags] { return run_seed(*flags); }; });
}

}  // namespace

void add_demo_command(CLI::App& root, Action& action) {
  CLI::App* demo = root.add_subcommand("demo", "Small self-contained examples");
  demo->require_subcommand(1);
  add_seed_command(*demo, action);
}

}  // namespace courier::app
