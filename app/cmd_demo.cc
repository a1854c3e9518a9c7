// `courier demo <name>`: small self-contained programs that show one idea each.
// `courier demo seed` is the classic TensorFlow example courier grew from; with
// `--nodes layers` its layers become nodes that pass activations and gradients as messages.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "courier/comm/launch.h"
#include "courier/comm/trace.h"
#include "courier/train/seed_demo.h"
#include "flags.h"

namespace courier::app {
namespace {

struct SeedFlags {
  SeedDemoOptions demo;
  std::int64_t print_every = 100;
  std::string nodes = "single";
  std::string transport = "inproc";
  std::string trace_path;
};

void print_outputs(const Tensor& out) {
  fmt::print("Test Output:\n");
  for (std::int64_t r = 0; r < out.dim(0); ++r) {
    std::string row;
    for (std::int64_t c = 0; c < out.dim(1); ++c) row += fmt::format("{}{:.4f}", c == 0 ? "" : " ", out.at({r, c}));
    fmt::print("[{}]\n", row);
  }
  std::fflush(stdout);
}

int run_seed(const SeedFlags& flags) {
  auto print_step = [&](std::int64_t step, float loss) {
    if (step % flags.print_every == 0) fmt::print("Step {}, Loss: {:.4f}\n", step, loss);
  };
  if (flags.nodes == "single") {
    print_outputs(run_seed_demo(flags.demo, print_step).test_outputs);
    return kExitOk;
  }
  LaunchOptions launch;
  launch.transport = *parse_transport_kind(flags.transport);
  launch.world_size = 3;
  Trace trace;
  if (!flags.trace_path.empty()) launch.communicator.trace = &trace;
  SeedDemoResult result;
  bool holds_trace = false;  // inproc: the one shared trace; mpi: rank 0, where the ranks' traces gather
  Status status = run_nodes(launch, [&](Communicator& comm) -> Status {
    Status node = run_seed_demo_node(comm, flags.demo, print_step, comm.rank() == 2 ? &result : nullptr);
    if (!node.is_ok() || flags.trace_path.empty()) return node;
    // Rank 0 alone sets it: under inproc the nodes are threads of this process, and it holds
    // the one shared trace as well as any; elsewhere the ranks' traces gather at rank 0.
    if (comm.rank() == 0) holds_trace = true;
    if (launch.transport == TransportKind::kInproc) return node;
    return gather_trace(comm, trace, 0, Deadline::after(real_clock(), std::chrono::seconds(60)));
  });
  if (!status.is_ok()) {
    fmt::print(stderr, "courier: demo seed failed: {}\n", status.to_string());
    return kExitFailure;
  }
  if (result.test_outputs.defined()) print_outputs(result.test_outputs);
  if (holds_trace) {
    if (Status written = trace.write(flags.trace_path); !written.is_ok()) {
      fmt::print(stderr, "courier: {}\n", written.to_string());
      return kExitFailure;
    }
    fmt::print(stderr, "courier: wrote {} message events to {} (open it in Perfetto)\n", trace.size(),
               flags.trace_path);
  }
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
      "same output byte for byte.\n"
      "With --nodes layers the network runs as three nodes (input, hidden layer, output layer) that\n"
      "send activations forward and gradients back as messages; its output is bit-identical.");
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
  seed->add_option("--nodes", flags->nodes,
                   "single: one process, one model; layers: input, hidden and output layer as 3 nodes")
      ->check(CLI::IsMember({"single", "layers"}))
      ->capture_default_str();
  seed->add_option("--transport", flags->transport,
                   "With --nodes layers: inproc (3 threads) or mpi (run under 'mpirun -n 3')")
      ->check(CLI::IsMember({"inproc", "mpi"}))
      ->capture_default_str();
  seed->add_option("--trace", flags->trace_path,
                   "With --nodes layers: write every message sent and received to FILE as Chrome trace JSON "
                   "(open it in Perfetto)");
  seed->callback([flags, &action] { action = [flags] { return run_seed(*flags); }; });
}

}  // namespace

void add_demo_command(CLI::App& root, Action& action) {
  CLI::App* demo = root.add_subcommand("demo", "Small self-contained examples");
  demo->require_subcommand(1);
  add_seed_command(*demo, action);
}

}  // namespace courier::app
