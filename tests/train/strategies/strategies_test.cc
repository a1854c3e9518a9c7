// The strategies on the in-process transport with a small MLP and synthetic data: allreduce
// equals one big batch, buckets overlap backward, BSP equals allreduce, SSP never exceeds
// its bound with a 3x slower worker, local SGD and gossip end with one model.
#include <atomic>
#include <cmath>
#include <functional>
#include <mutex>
#include <tuple>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/comm/topology.h"
#include "courier/comm/trace.h"
#include "courier/nn/linear.h"
#include "courier/nn/relu.h"
#include "courier/nn/softmax_cross_entropy.h"
#include "courier/train/optim/adam.h"
#include "courier/train/optim/sgd.h"
#include "courier/train/strategies/allreduce.h"
#include "courier/train/strategies/gossip.h"
#include "courier/train/strategies/local_sgd.h"
#include "courier/train/strategies/parameter_server.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

constexpr std::int64_t kInputs = 12;
constexpr std::int64_t kClasses = 4;

Sequential small_mlp() {
  Sequential model;
  model.add<Linear>(kInputs, 16);
  model.add<Relu>();
  model.add<Linear>(16, 8);
  model.add<Relu>();
  model.add<Linear>(8, kClasses);
  Rng rng(7);
  model.setup({kInputs}, rng);
  return model;
}

// Example i of a fixed synthetic task: inputs from the seed, label from a fixed rule.
void example(std::int64_t i, float* inputs, std::int32_t& label) {
  Rng rng(1234, static_cast<std::uint64_t>(i) + 1);
  float sum = 0.0f;
  for (std::int64_t k = 0; k < kInputs; ++k) {
    inputs[k] = rng.uniform(-1.0f, 1.0f);
    sum += inputs[k] * static_cast<float>(k % 3);
  }
  label = static_cast<std::int32_t>(std::abs(static_cast<int>(sum * 2.0f)) % kClasses);
}

// One worker: `steps` steps of global batch `global`, this worker reading slice `rank` of
// `world` slices. Returns the losses of its slices.
std::vector<double> train_worker(Strategy& strategy, Sequential& model, int rank, int world, std::int64_t global,
                                 int steps, int extra_forwards = 0) {
  Adam optimizer(model.parameters().numel(), AdamOptions{});
  EXPECT_TRUE(strategy.start(model.parameters(), optimizer).is_ok());
  SoftmaxCrossEntropy loss_fn;
  const std::int64_t local = global / world;
  Tensor inputs = Tensor::empty({local, kInputs});
  Tensor dlogits = Tensor::empty({local, kClasses});
  std::vector<std::int32_t> labels(static_cast<std::size_t>(local));
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    for (std::int64_t j = 0; j < local; ++j) {
      example(step * global + rank * local + j, inputs.data() + j * kInputs, labels[static_cast<std::size_t>(j)]);
    }
    for (int k = 0; k < extra_forwards; ++k) model.forward(inputs);  // a slower worker
    model.parameters().zero_grads();
    strategy.begin_step(StepInfo{step, 1e-2f, local, global});
    const Tensor& logits = model.forward(inputs);
    losses.push_back(loss_fn.forward(logits, labels));
    loss_fn.backward(logits, labels, dlogits);
    model.backward(dlogits, [&](const GradsReady& ready) { strategy.on_grads_ready(ready); });
    Status status = strategy.finish_step(model.parameters(), optimizer);
    EXPECT_TRUE(status.is_ok()) << status.to_string();
    if (!status.is_ok()) break;
  }
  EXPECT_TRUE(strategy.finish(model.parameters(), optimizer).is_ok());
  return losses;
}

std::vector<GradsReady> layer_ranges(const Sequential& model) {
  std::vector<GradsReady> layers;
  for (std::size_t i = 0; i < model.layer_count(); ++i) layers.push_back(model.parameter_range(i));
  return layers;
}

std::vector<float> values_of(Sequential& model) {
  const auto span = model.parameters().values().span();
  return {span.begin(), span.end()};
}

TEST(AllreduceStrategy, NWorkersOfBatchBEqualOneWorkerOfBatchNB) {
  constexpr int kSteps = 30;
  constexpr std::int64_t kGlobal = 32;
  Sequential single = small_mlp();
  std::vector<double> reference;
  spawn_communicators(1, [&](Communicator& comm) {
    AllreduceStrategy strategy(comm, layer_ranges(single), AllreduceOptions{});
    reference = train_worker(strategy, single, 0, 1, kGlobal, kSteps);
  });
  const std::vector<float> expected = values_of(single);
  for (int n : {2, 4}) {
    std::vector<std::vector<float>> finals(static_cast<std::size_t>(n));
    spawn_communicators(n, [&](Communicator& comm) {
      Sequential model = small_mlp();
      AllreduceOptions options;
      options.bucket_bytes = 256;  // several buckets
      AllreduceStrategy strategy(comm, layer_ranges(model), options);
      train_worker(strategy, model, comm.rank(), n, kGlobal, kSteps);
      finals[static_cast<std::size_t>(comm.rank())] = values_of(model);
    });
    for (int r = 1; r < n; ++r) EXPECT_EQ(finals[static_cast<std::size_t>(r)], finals[0]) << "replicas diverged";
    for (std::size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(finals[0][i], expected[i], 1e-5 * std::max(1.0f, std::abs(expected[i]))) << n << " workers, param " << i;
    }
  }
}

// dist.exchange = updates: one worker's own Adam direction, applied as it is, is plain Adam;
// with several workers the replicas stay equal, and a lossless codec changes nothing.
TEST(AllreduceStrategy, ExchangingUpdatesAloneIsPlainAdamAndKeepsReplicasEqual) {
  constexpr int kSteps = 30;
  constexpr std::int64_t kGlobal = 32;
  auto run = [&](int n, bool updates, const std::string& spec) {
    std::vector<std::vector<float>> finals(static_cast<std::size_t>(n));
    spawn_communicators(n, [&](Communicator& comm) {
      Sequential model = small_mlp();
      AllreduceOptions options;
      options.bucket_bytes = 256;  // several buckets
      options.exchange_updates = updates;
      options.compression = CompressionOptions{.spec = spec, .matrices = {}, .seed = 5};
      AllreduceStrategy strategy(comm, layer_ranges(model), options);
      train_worker(strategy, model, comm.rank(), n, kGlobal, kSteps);
      finals[static_cast<std::size_t>(comm.rank())] = values_of(model);
    });
    for (int r = 1; r < n; ++r) EXPECT_EQ(finals[static_cast<std::size_t>(r)], finals[0]) << "replicas diverged";
    return finals[0];
  };
  const std::vector<float> plain = run(1, false, "identity");
  const std::vector<float> alone = run(1, true, "identity");
  for (std::size_t i = 0; i < plain.size(); ++i) {
    ASSERT_NEAR(alone[i], plain[i], 1e-6 * std::max(1.0f, std::abs(plain[i]))) << "param " << i;
  }
  const std::vector<float> four = run(4, true, "identity");
  const std::vector<float> lossless = run(4, true, "topk:1");
  for (std::size_t i = 0; i < four.size(); ++i) {
    ASSERT_NEAR(lossless[i], four[i], 1e-5 * std::max(1.0f, std::abs(four[i]))) << "param " << i;
  }
  // Four workers' directions are not the direction of their mean gradient.
  EXPECT_NE(four, plain);
}

// Top-k 10% of the Adam changes with error feedback, with momentum or without, moves the small
// MLP's parameters as far as plain allreduce moves them, within a factor of 2 (top-k without
// error feedback, or a lost exchange, would leave them near the start), sending over 3x fewer
// bytes. (Where they end is not compared: on this noisy task two runs wander apart.)
TEST(AllreduceStrategy, ExchangedUpdatesCompressedByTopKMoveAsFarAsPlainAllreduce) {
  constexpr int kWorkers = 4, kSteps = 100;
  constexpr std::int64_t kGlobal = 32;
  const std::vector<float> start = [] {
    Sequential model = small_mlp();
    return values_of(model);
  }();
  auto run = [&](bool updates, bool momentum, const std::string& spec, double& ratio) {
    std::vector<float> final_values;
    spawn_communicators(kWorkers, [&](Communicator& comm) {
      Sequential model = small_mlp();
      AllreduceOptions options;
      options.exchange_updates = updates;
      options.update_momentum = momentum;
      options.compression = CompressionOptions{.spec = spec, .matrices = {}, .seed = 5};
      AllreduceStrategy strategy(comm, layer_ranges(model), options);
      train_worker(strategy, model, comm.rank(), kWorkers, kGlobal, kSteps);
      if (comm.rank() == 0) {
        final_values = values_of(model);
        ratio = static_cast<double>(strategy.traffic().raw_bytes) / static_cast<double>(strategy.traffic().wire_bytes);
      }
    });
    return final_values;
  };
  auto distance = [](const std::vector<float>& a, const std::vector<float>& b) {
    double sum = 0;
    for (std::size_t i = 0; i < a.size(); ++i) sum += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
    return std::sqrt(sum);
  };
  double ratio = 0;
  const std::vector<float> plain = run(false, true, "identity", ratio);
  const double moved = distance(plain, start);
  ASSERT_GT(moved, 0.1);
  for (bool momentum : {true, false}) {
    const std::vector<float> compressed = run(true, momentum, "topk:0.1+ef", ratio);
    EXPECT_GT(ratio, 3.0);
    EXPECT_GT(distance(compressed, start), 0.5 * moved) << (momentum ? "updates" : "preconditioned");
  }
}

// Sends of allreduce buckets (the ring's tag; the start's broadcast uses another).
std::vector<TraceRecord> bucket_sends(const Trace& trace) {
  std::vector<TraceRecord> sends;
  for (const TraceRecord& r : trace.records()) {
    if (r.event == TraceEvent::kSend && (r.tag & ((std::uint64_t{1} << 48) - 1)) == kUserTagLimit + 3) sends.push_back(r);
  }
  return sends;
}

TEST(AllreduceStrategy, BucketsFollowReverseLayerOrderAndStartBeforeBackwardEnds) {
  AllreduceOptions options;
  options.bucket_bytes = 100;
  options.collective.algorithm = AllreduceAlgorithm::kRing;
  Trace trace;
  std::atomic<std::int64_t> first_layer_ready_ns{0};
  spawn_communicators(
      2,
      [&](Communicator& comm) {
        Sequential replica = small_mlp();
        AllreduceStrategy strategy(comm, layer_ranges(replica), options);
        // Bucket 0 holds the last layer; bucket ranges tile the buffer from the end.
        ASSERT_GE(strategy.buckets().size(), 3u);
        EXPECT_EQ(strategy.buckets().front().offset + strategy.buckets().front().count, replica.parameters().numel());
        EXPECT_EQ(strategy.buckets().back().offset, 0);
        Adam optimizer(replica.parameters().numel(), AdamOptions{});
        ASSERT_TRUE(strategy.start(replica.parameters(), optimizer).is_ok());
        Tensor inputs = Tensor::full({4, kInputs}, 0.5f);
        std::vector<std::int32_t> labels = {0, 1, 2, 3};
        SoftmaxCrossEntropy loss_fn;
        Tensor dlogits = Tensor::empty({4, kClasses});
        replica.parameters().zero_grads();
        strategy.begin_step(StepInfo{0, 1e-2f, 4, 8});
        const Tensor& logits = replica.forward(inputs);
        loss_fn.backward(logits, labels, dlogits);
        replica.backward(dlogits, [&](const GradsReady& ready) {
          if (ready.layer == 0 && comm.rank() == 0) {
            // Give the communication thread time to show it runs during backward: wait until
            // the last layer's bucket has been sent, bounded by a deadline.
            const Deadline deadline = Deadline::after(real_clock(), std::chrono::seconds(10));
            while (!deadline.expired(real_clock()) && bucket_sends(trace).empty()) std::this_thread::yield();
            first_layer_ready_ns = real_clock().now().count();
          }
          strategy.on_grads_ready(ready);
        });
        ASSERT_TRUE(strategy.finish_step(replica.parameters(), optimizer).is_ok());
      },
      CommunicatorOptions{.trace = &trace});
  // The last layer's bucket went out before layer 0 (the end of backward) reported ready.
  std::int64_t first_send = std::numeric_limits<std::int64_t>::max();
  for (const TraceRecord& r : bucket_sends(trace)) first_send = std::min(first_send, r.time_ns);
  EXPECT_LT(first_send, first_layer_ready_ns.load());
}

TEST(ParameterServer, BspEqualsAllreduce) {
  constexpr int kSteps = 20, kWorkers = 2;
  constexpr std::int64_t kGlobal = 16;
  std::vector<float> allreduce_result, ps_result;
  spawn_communicators(kWorkers, [&](Communicator& comm) {
    Sequential model = small_mlp();
    AllreduceStrategy strategy(comm, layer_ranges(model), AllreduceOptions{});
    train_worker(strategy, model, comm.rank(), kWorkers, kGlobal, kSteps);
    if (comm.rank() == 0) allreduce_result = values_of(model);
  });
  for (int servers : {1, 3}) {
    ParameterServerOptions options{.workers = kWorkers, .servers = servers, .sync = SyncMode::kBsp, .compression = {}};
    spawn_communicators(kWorkers + servers, [&](Communicator& comm) {
      Sequential model = small_mlp();
      if (comm.rank() >= kWorkers) {
        ASSERT_TRUE(run_parameter_server(
                        comm, model.parameters().values().span(),
                        [](std::int64_t, std::int64_t count) { return std::make_unique<Adam>(count, AdamOptions{}); },
                        options)
                        .is_ok());
        return;
      }
      ParameterServerWorker strategy(comm, model.parameters().numel(), options);
      train_worker(strategy, model, comm.rank(), kWorkers, kGlobal, kSteps);
      if (comm.rank() == 0) ps_result = values_of(model);
    });
    ASSERT_EQ(ps_result.size(), allreduce_result.size());
    for (std::size_t i = 0; i < ps_result.size(); ++i) {
      ASSERT_NEAR(ps_result[i], allreduce_result[i], 1e-5 * std::max(1.0f, std::abs(allreduce_result[i])))
          << servers << " servers, param " << i;
    }
  }
}

// Runs 3 workers (worker 2 three times slower) against 1 server and records, for every
// answered pull, the puller's clock and the slowest worker's clock at that moment.
struct PullLog {
  std::mutex mutex;
  std::vector<std::pair<std::int64_t, std::int64_t>> pulls;  // (clock, slowest)
};

void run_async(SyncMode mode, int staleness, PullLog& log) {
  constexpr int kWorkers = 3, kSteps = 40;
  ParameterServerOptions options{.workers = kWorkers, .servers = 1, .sync = mode, .staleness = staleness, .compression = {}};
  ServerObserver observer;
  observer.on_pull_answered = [&](int, std::int64_t clock, std::int64_t slowest) {
    std::lock_guard lock(log.mutex);
    log.pulls.emplace_back(clock, slowest);
  };
  spawn_communicators(kWorkers + 1, [&](Communicator& comm) {
    Sequential model = small_mlp();
    if (comm.rank() == kWorkers) {
      ASSERT_TRUE(run_parameter_server(
                      comm, model.parameters().values().span(),
                      [](std::int64_t, std::int64_t count) { return std::make_unique<Adam>(count, AdamOptions{}); },
                      options, observer)
                      .is_ok());
      return;
    }
    ParameterServerWorker strategy(comm, model.parameters().numel(), options);
    // Worker 2 does its forward pass three times more (and so 3x the step time, roughly).
    train_worker(strategy, model, comm.rank(), kWorkers, 3 * 64, kSteps, comm.rank() == 2 ? 200 : 0);
  });
}

TEST(ParameterServer, SspNeverExceedsItsBoundWithAThreeTimesSlowerWorker) {
  constexpr int kStaleness = 3;
  PullLog log;
  run_async(SyncMode::kSsp, kStaleness, log);
  ASSERT_FALSE(log.pulls.empty());
  std::int64_t largest_lead = 0;
  for (const auto& [clock, slowest] : log.pulls) {
    EXPECT_GE(slowest, clock - kStaleness) << "a worker at clock " << clock << " ran ahead of the slowest at " << slowest;
    largest_lead = std::max(largest_lead, clock - slowest);
  }
  EXPECT_GT(largest_lead, 0) << "the fast workers never ran ahead: the test did not exercise staleness";
}

TEST(ParameterServer, AspLetsFastWorkersRunFarAhead) {
  PullLog log;
  run_async(SyncMode::kAsp, 0, log);
  std::int64_t largest_lead = 0;
  for (const auto& [clock, slowest] : log.pulls) largest_lead = std::max(largest_lead, clock - slowest);
  EXPECT_GT(largest_lead, 3) << "ASP should not hold fast workers to any bound";
}

TEST(LocalSgd, AveragesEveryHStepsAndEndsWithOneModel) {
  constexpr int kWorkers = 3, kH = 4, kSteps = 10;
  std::vector<std::vector<float>> finals(kWorkers);
  std::vector<std::uint64_t> messages(kWorkers);
  spawn_communicators(kWorkers, [&](Communicator& comm) {
    Sequential model = small_mlp();
    LocalSgdOptions options{.local_steps = kH, .outer_lr = 0.7f, .outer_momentum = 0.9f, .collective = {}, .compression = {}};
    options.collective.algorithm = AllreduceAlgorithm::kRing;
    LocalSgdStrategy strategy(comm, options);
    train_worker(strategy, model, comm.rank(), kWorkers, 3 * 8, kSteps);
    finals[static_cast<std::size_t>(comm.rank())] = values_of(model);
    messages[static_cast<std::size_t>(comm.rank())] = comm.stats().messages_sent;
  });
  for (int r = 1; r < kWorkers; ++r) EXPECT_EQ(finals[static_cast<std::size_t>(r)], finals[0]);
  // Averages at steps 4 and 8 and a final one (10 % 4 != 0), each a ring allreduce:
  // 2 (n - 1) messages a worker (the model fits one segment), after the start's broadcast.
  const std::uint64_t per_average = 2 * (kWorkers - 1);
  EXPECT_GE(messages[1], 3 * per_average);
  EXPECT_LE(messages[1], 3 * per_average + 2);
}

TEST(Gossip, TalksOnlyToNeighboursAndConverges) {
  constexpr int kWorkers = 5, kSteps = 12;
  std::vector<std::vector<float>> finals(kWorkers);
  std::vector<std::uint64_t> messages(kWorkers);
  spawn_communicators(kWorkers, [&](Communicator& comm) {
    Sequential model = small_mlp();
    GossipStrategy strategy(comm, GossipOptions{.graph = GossipGraph::kRing, .collective = {}, .compression = {}});
    train_worker(strategy, model, comm.rank(), kWorkers, 5 * 4, kSteps);
    finals[static_cast<std::size_t>(comm.rank())] = values_of(model);
    messages[static_cast<std::size_t>(comm.rank())] = comm.stats().messages_sent;
  });
  for (int r = 1; r < kWorkers; ++r) EXPECT_EQ(finals[static_cast<std::size_t>(r)], finals[0]);
  // 2 neighbours a step on a ring, plus the start's broadcast and the final average.
  EXPECT_GE(messages[2], 2u * kSteps);
}

// ---- compression ------------------------------------------------------------------------

CompressionOptions compression(const std::string& spec, std::int64_t warmup = 0) {
  CompressionOptions options;
  options.spec = spec;
  options.seed = 5;
  options.warmup = warmup;
  return options;
}

// Every rank's final parameters and what each sent, for one strategy built per rank.
struct Finals {
  std::vector<std::vector<float>> values;
  std::vector<CodecTraffic> traffic;
};

Finals train_all(int workers, int servers, int steps,
                 const std::function<std::unique_ptr<Strategy>(Communicator&, Sequential&)>& make,
                 const ParameterServerOptions& ps = {}) {
  Finals finals{std::vector<std::vector<float>>(static_cast<std::size_t>(workers)),
                std::vector<CodecTraffic>(static_cast<std::size_t>(workers))};
  spawn_communicators(workers + servers, [&](Communicator& comm) {
    Sequential model = small_mlp();
    if (comm.rank() >= workers) {
      ASSERT_TRUE(run_parameter_server(
                      comm, model.parameters().values().span(),
                      [](std::int64_t, std::int64_t count) { return std::make_unique<Adam>(count, AdamOptions{}); }, ps)
                      .is_ok());
      return;
    }
    std::unique_ptr<Strategy> strategy = make(comm, model);
    train_worker(*strategy, model, comm.rank(), workers, 4 * 8, steps);
    const auto r = static_cast<std::size_t>(comm.rank());
    finals.values[r] = values_of(model);
    finals.traffic[r] = strategy->traffic();
  });
  return finals;
}

double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double{a[i]} - b[i]) / std::max(1.0, std::fabs(double{b[i]})));
  }
  return worst;
}

TEST(Compression, AllreduceWithACodecKeepsReplicasEqualAndCloseToUncompressed) {
  auto with = [&](const std::string& spec) {
    return train_all(4, 0, 20, [&](Communicator& comm, Sequential& model) -> std::unique_ptr<Strategy> {
      AllreduceOptions options;
      options.bucket_bytes = 256;
      options.compression = compression(spec);
      return std::make_unique<AllreduceStrategy>(comm, layer_ranges(model), options);
    });
  };
  const Finals plain = with("identity");
  // After 20 Adam steps of lr 1e-2 (at most 0.2 of movement a parameter; Adam's normalisation
  // turns int8's rounding of tiny gradients into whole steps).
  for (const auto& [spec, tolerance, ratio] : {std::tuple{"fp16", 2e-3, 2.0}, std::tuple{"int8", 0.1, 3.5}}) {
    const Finals compressed = with(spec);
    for (std::size_t r = 1; r < 4; ++r) EXPECT_EQ(compressed.values[r], compressed.values[0]) << spec;
    EXPECT_LT(max_relative_difference(compressed.values[0], plain.values[0]), tolerance) << spec;
    EXPECT_GT(max_relative_difference(compressed.values[0], plain.values[0]), 0.0) << spec << " changed nothing";
    const CodecTraffic t = compressed.traffic[0];
    EXPECT_GE(static_cast<double>(t.raw_bytes) / static_cast<double>(t.wire_bytes), ratio * 0.8) << spec;
  }
  EXPECT_EQ(plain.traffic[0].raw_bytes, plain.traffic[0].wire_bytes);
}

// Top-k keeping everything loses nothing: the compressed paths must then match the plain ones.
TEST(Compression, LosslessTopKReproducesEveryStrategy) {
  constexpr int kWorkers = 3, kSteps = 8;
  auto gossip = [&](const std::string& spec) {
    return train_all(kWorkers, 0, kSteps, [&](Communicator& comm, Sequential&) -> std::unique_ptr<Strategy> {
      return std::make_unique<GossipStrategy>(
          comm, GossipOptions{.graph = GossipGraph::kRing, .collective = {}, .compression = compression(spec)});
    });
  };
  auto local_sgd = [&](const std::string& spec) {
    return train_all(kWorkers, 0, kSteps, [&](Communicator& comm, Sequential&) -> std::unique_ptr<Strategy> {
      return std::make_unique<LocalSgdStrategy>(
          comm, LocalSgdOptions{.local_steps = 3, .collective = {}, .compression = compression(spec)});
    });
  };
  auto ps = [&](const std::string& spec) {
    const ParameterServerOptions options{.workers = kWorkers, .servers = 2, .compression = compression(spec)};
    return train_all(
        kWorkers, 2, kSteps,
        [&](Communicator& comm, Sequential& model) -> std::unique_ptr<Strategy> {
          return std::make_unique<ParameterServerWorker>(comm, model.parameters().numel(), options);
        },
        options);
  };
  for (const auto& [name, run] : {std::pair{"gossip", std::function<Finals(const std::string&)>(gossip)},
                                  std::pair{"local-sgd", std::function<Finals(const std::string&)>(local_sgd)},
                                  std::pair{"ps", std::function<Finals(const std::string&)>(ps)}}) {
    const Finals plain = run("identity");
    const Finals lossless = run("topk:1");
    for (std::size_t r = 0; r < kWorkers; ++r) {
      EXPECT_LT(max_relative_difference(lossless.values[r], plain.values[r]), 1e-5) << name << " worker " << r;
    }
    EXPECT_GT(lossless.traffic[0].wire_bytes, lossless.traffic[0].raw_bytes) << name << ": indices cost bytes too";
  }
}

// During dist.codec_warmup every strategy exchanges exactly what it would uncompressed; then
// the codec takes over (from public copies and held copies the warm-up kept current).
// dist.powersgd_min_elements: a matrix below it is summed as it is, exactly; one above it goes
// through rank 1, which cannot hold the sum of two ranks' unrelated matrices.
TEST(Compression, PowerSgdSumsMatricesBelowTheMinimumExactly) {
  constexpr std::size_t kSmall = 8 * 8, kLarge = 16 * 16;
  CompressionOptions options = compression("powersgd:1");
  options.matrices = {MatrixRange{0, 8, 8}, MatrixRange{kSmall, 16, 16}};
  options.powersgd_min_elements = 100;
  auto value = [](int rank, std::size_t i) {
    return std::sin(0.7f * static_cast<float>(i) * static_cast<float>(rank + 1));
  };
  spawn_communicators(2, [&](Communicator& comm) {
    std::unique_ptr<GradientCompressor> compressor = options.make(0, kSmall + kLarge, comm.rank());
    std::vector<float> data(kSmall + kLarge);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = value(comm.rank(), i);
    CodecTraffic traffic;
    ASSERT_TRUE(compressor->allreduce(comm, data, {}, traffic).is_ok());
    double worst[2] = {0, 0};  // the small matrix's largest error, the large one's
    for (std::size_t i = 0; i < data.size(); ++i) {
      double& w = worst[i < kSmall ? 0 : 1];
      w = std::max(w, std::fabs(double{data[i]} - (value(0, i) + value(1, i))));
    }
    EXPECT_LT(worst[0], 1e-6);
    EXPECT_GT(worst[1], 0.1);
  });
}

TEST(Compression, WarmupStepsAreExactlyUncompressed) {
  constexpr int kWorkers = 3, kSteps = 6;
  using Make = std::function<Finals(const std::string&, std::int64_t)>;
  const Make allreduce = [&](const std::string& spec, std::int64_t warmup) {
    return train_all(kWorkers, 0, kSteps, [&](Communicator& comm, Sequential& model) -> std::unique_ptr<Strategy> {
      AllreduceOptions options;
      options.compression = compression(spec, warmup);
      return std::make_unique<AllreduceStrategy>(comm, layer_ranges(model), options);
    });
  };
  const Make gossip = [&](const std::string& spec, std::int64_t warmup) {
    return train_all(kWorkers, 0, kSteps, [&](Communicator& comm, Sequential&) -> std::unique_ptr<Strategy> {
      return std::make_unique<GossipStrategy>(
          comm, GossipOptions{.graph = GossipGraph::kRing, .collective = {}, .compression = compression(spec, warmup)});
    });
  };
  const Make ps = [&](const std::string& spec, std::int64_t warmup) {
    const ParameterServerOptions options{.workers = kWorkers, .servers = 1, .compression = compression(spec, warmup)};
    return train_all(
        kWorkers, 1, kSteps,
        [&](Communicator& comm, Sequential& model) -> std::unique_ptr<Strategy> {
          return std::make_unique<ParameterServerWorker>(comm, model.parameters().numel(), options);
        },
        options);
  };
  for (const auto& [name, run] : {std::pair{"allreduce", allreduce}, std::pair{"gossip", gossip}, std::pair{"ps", ps}}) {
    const Finals plain = run("identity", 0);
    const Finals warm_throughout = run("int8+ef", kSteps);
    // (A server adds the pushes in arrival order, so runs agree to rounding, not bit for bit.)
    for (std::size_t r = 0; r < kWorkers; ++r) {
      EXPECT_LT(max_relative_difference(warm_throughout.values[r], plain.values[r]), 1e-6) << name;
    }
    EXPECT_EQ(warm_throughout.traffic[0].raw_bytes, warm_throughout.traffic[0].wire_bytes) << name;
    const Finals half = run("int8+ef", kSteps / 2);
    EXPECT_GT(max_relative_difference(half.values[0], plain.values[0]), 0.0) << name;
    EXPECT_GT(half.traffic[0].raw_bytes, half.traffic[0].wire_bytes) << name;
    EXPECT_LT(max_relative_difference(half.values[0], plain.values[0]), 0.05) << name;
  }
}

// CHOCO's consensus step: with a lossless codec and gamma = 1 a worker lands on its
// neighbourhood's mean (plain gossip); with gamma = 1/2 halfway there. One step of lr 0
// from different starting models shows it exactly.
TEST(Compression, ConsensusStepMovesThatFarTowardTheNeighbours) {
  constexpr int kWorkers = 3;
  for (const float gamma : {1.0f, 0.5f}) {
    std::vector<std::vector<float>> before(kWorkers), after(kWorkers);
    spawn_communicators(kWorkers, [&](Communicator& comm) {
      Sequential model = small_mlp();
      GossipStrategy strategy(comm, GossipOptions{.graph = GossipGraph::kRing, .collective = {},
                                                  .compression = compression("topk:1"), .consensus_step = gamma});
      Sgd optimizer(model.parameters().numel(), SgdOptions{});
      ASSERT_TRUE(strategy.start(model.parameters(), optimizer).is_ok());
      // After the start's broadcast, give each worker its own model (the public copies are
      // still the broadcast one, which the first exchange's change then carries away).
      for (float& v : model.parameters().values().span()) v += static_cast<float>(comm.rank());
      const auto r = static_cast<std::size_t>(comm.rank());
      before[r] = values_of(model);
      model.parameters().zero_grads();
      strategy.begin_step(StepInfo{0, 0.0f, 1, kWorkers});
      ASSERT_TRUE(strategy.finish_step(model.parameters(), optimizer).is_ok());
      after[r] = values_of(model);
    });
    for (std::size_t i = 0; i < before[0].size(); ++i) {
      const float mean = (before[0][i] + before[1][i] + before[2][i]) / 3.0f;  // a ring of 3: everyone
      for (std::size_t r = 0; r < kWorkers; ++r) {
        ASSERT_NEAR(after[r][i], before[r][i] + gamma * (mean - before[r][i]), 1e-5f) << "gamma " << gamma;
      }
    }
  }
}

TEST(Compression, LossyGossipAndParameterServerStillTrain) {
  constexpr int kWorkers = 3, kSteps = 30;
  const Finals gossip = train_all(kWorkers, 0, kSteps, [&](Communicator& comm, Sequential&) -> std::unique_ptr<Strategy> {
    return std::make_unique<GossipStrategy>(
        comm, GossipOptions{.graph = GossipGraph::kRing, .collective = {}, .compression = compression("topk:0.1")});
  });
  for (std::size_t r = 1; r < kWorkers; ++r) EXPECT_EQ(gossip.values[r], gossip.values[0]) << "the final average";
  EXPECT_GT(static_cast<double>(gossip.traffic[0].raw_bytes) / static_cast<double>(gossip.traffic[0].wire_bytes), 2.0);
  const ParameterServerOptions options{.workers = kWorkers, .servers = 1, .compression = compression("int8+ef")};
  const Finals ps = train_all(
      kWorkers, 1, kSteps,
      [&](Communicator& comm, Sequential& model) -> std::unique_ptr<Strategy> {
        return std::make_unique<ParameterServerWorker>(comm, model.parameters().numel(), options);
      },
      options);
  // Compressed pulls leave each worker a copy of the servers' model that differs by what the
  // last pull dropped; the last, whole pull in finish() ends every worker on the model itself.
  for (std::size_t r = 1; r < kWorkers; ++r) EXPECT_EQ(ps.values[r], ps.values[0]);
  EXPECT_GT(static_cast<double>(ps.traffic[0].raw_bytes) / static_cast<double>(ps.traffic[0].wire_bytes), 1.5);
}

TEST(Topology, GossipGraphs) {
  Neighbours ring = gossip_neighbours(GossipGraph::kRing, 5, 0);
  EXPECT_EQ(ring.receive_from, (std::vector<int>{1, 4}));
  Neighbours torus = gossip_neighbours(GossipGraph::kTorus, 9, 4);
  EXPECT_EQ(torus.receive_from, (std::vector<int>{1, 3, 5, 7}));
  Neighbours exponential = gossip_neighbours(GossipGraph::kExponential, 8, 0);
  EXPECT_EQ(exponential.send_to, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(exponential.receive_from, (std::vector<int>{4, 6, 7}));
  // A random k-regular graph is the same on every rank and symmetric.
  for (int r = 0; r < 10; ++r) {
    Neighbours n = gossip_neighbours(GossipGraph::kRandom, 10, r, 4, 99);
    EXPECT_EQ(n.receive_from.size(), 4u);
    for (int peer : n.receive_from) {
      std::vector<int> back = gossip_neighbours(GossipGraph::kRandom, 10, peer, 4, 99).receive_from;
      EXPECT_NE(std::find(back.begin(), back.end(), r), back.end()) << r << " <-> " << peer;
    }
  }
  EXPECT_TRUE(gossip_neighbours(GossipGraph::kRing, 1, 0).receive_from.empty());
  EXPECT_EQ(gossip_neighbours(GossipGraph::kRing, 2, 0).receive_from, (std::vector<int>{1}));
}

}  // namespace
}  // namespace courier::testing
