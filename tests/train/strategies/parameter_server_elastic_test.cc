// Elastic parameter servers on the in-process transport, with seeded (step-exact) faults: a
// worker that dies (its endpoint closes) or hangs leaves the BSP/SSP clocks and the others end
// with the model the math says; without elastic the run fails naming it; a dead server's
// slice is taken over from its replica on the next server, and the updates lost are counted.
#include <array>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include <gtest/gtest.h>

#include "courier/nn/linear.h"
#include "courier/train/optim/sgd.h"
#include "courier/train/strategies/parameter_server.h"
#include "testutil/spawn_ranks.h"

namespace courier::testing {
namespace {

constexpr std::int64_t kGlobal = 12;  // examples a step: 3 or 4 slices of it are whole
constexpr float kLr = 0.01f;

Sequential tiny_model() {
  Sequential model;
  model.add<Linear>(3, 2);  // 8 parameters: 4 a slice with 2 servers
  Rng rng(7);
  model.setup({3}, rng);
  return model;
}

// Example i's value; a BSP worker's gradient (every parameter) is the mean over its examples.
float example_value(std::int64_t i) { return static_cast<float>(i % 7) - 2.0f; }

// Slice `index` of `count` of step `step`'s examples: its mean value.
float slice_mean(std::int64_t step, std::int64_t index, std::int64_t count) {
  const std::int64_t size = kGlobal / count;
  float sum = 0.0f;
  for (std::int64_t j = index * size; j < (index + 1) * size; ++j) sum += example_value(step * kGlobal + j);
  return sum / static_cast<float>(size);
}

struct Fault {
  int worker = -1;     // the worker that dies or hangs at the start of step `step`
  std::int64_t step = 0;
  bool hang = false;   // silent, its endpoint open (else its endpoint closes)
  std::int64_t server_dies_after = -1;  // server index 1 dies after this many updates of its slice
};

struct RunSpec {
  int workers = 4, servers = 1, steps = 12;
  SyncMode sync = SyncMode::kBsp;
  int staleness = 0;
  bool elastic = true;
  std::int64_t replicate_every = 3;
  Fault fault;
  // Every parameter's gradient on worker `rank` at `step`, reading slice `share`.
  std::function<float(int rank, std::int64_t step, DataShare share)> gradient = {};
};

struct RunResult {
  std::vector<Status> workers, servers;
  std::vector<std::vector<float>> finals;  // per worker: its parameters at the end
  std::vector<DataShare> shares;           // per worker: its data share at the end
  std::vector<float> initial;
  std::mutex mutex;  // guards what the servers' observers record below
  std::vector<std::pair<int, std::int64_t>> dropped;          // (worker, clock), every server
  std::vector<std::array<std::int64_t, 3>> pulls;             // (worker, clock, slowest)
  std::vector<std::pair<int, std::int64_t>> takeovers;        // (slice, replica updates)
  std::int64_t lost = 0;
};

void run(const RunSpec& spec, RunResult& result) {
  ParameterServerOptions options{.workers = spec.workers, .servers = spec.servers, .sync = spec.sync,
                                 .staleness = spec.staleness, .timeout = std::chrono::seconds(60),
                                 .compression = {}, .elastic = spec.elastic,
                                 .replicate_every = spec.replicate_every,
                                 .worker_timeout = std::chrono::milliseconds(500)};
  result.workers.assign(static_cast<std::size_t>(spec.workers), Status::ok());
  result.servers.assign(static_cast<std::size_t>(spec.servers), Status::ok());
  result.finals.resize(static_cast<std::size_t>(spec.workers));
  result.shares.resize(static_cast<std::size_t>(spec.workers));
  result.initial = [] {
    Sequential model = tiny_model();
    const auto v = model.parameters().values().span();
    return std::vector<float>(v.begin(), v.end());
  }();
  ServerObserver observer;
  observer.on_pull_answered = [&](int worker, std::int64_t clock, std::int64_t slowest) {
    std::lock_guard lock(result.mutex);
    result.pulls.push_back({worker, clock, slowest});
  };
  observer.on_worker_dropped = [&](int worker, std::int64_t clock) {
    std::lock_guard lock(result.mutex);
    result.dropped.emplace_back(worker, clock);
  };
  observer.on_takeover = [&](int slice, std::int64_t updates) {
    std::lock_guard lock(result.mutex);
    result.takeovers.emplace_back(slice, updates);
  };
  observer.on_updates_lost = [&](int, std::int64_t lost) {
    std::lock_guard lock(result.mutex);
    result.lost += lost;
  };
  // A hung worker stays silent until the others are through, then leaves without a word.
  std::mutex finished_mutex;
  std::condition_variable finished_cv;
  int finished = 0;
  spawn_communicators(spec.workers + spec.servers, [&](Communicator& comm) {
    Sequential model = tiny_model();
    Parameters& params = model.parameters();
    if (comm.rank() >= spec.workers) {
      const int index = comm.rank() - spec.workers;
      ParameterServerOptions server_options = options;
      if (index == 1) server_options.die_after_updates = spec.fault.server_dies_after;
      result.servers[static_cast<std::size_t>(index)] = run_parameter_server(
          comm, params.values().span(),
          [](std::int64_t, std::int64_t count) { return std::make_unique<Sgd>(count, SgdOptions{}); },
          server_options, observer);
      return;
    }
    const int rank = comm.rank();
    Sgd optimizer(params.numel(), SgdOptions{});
    ParameterServerWorker strategy(comm, params.numel(), options);
    Status status = strategy.start(params, optimizer);
    for (std::int64_t step = 0; status.is_ok() && step < spec.steps; ++step) {
      const DataShare share = strategy.data_share().value();
      strategy.begin_step(StepInfo{step, kLr, kGlobal / share.count, kGlobal});
      if (rank == spec.fault.worker && step == spec.fault.step) {
        if (spec.fault.hang) {
          std::unique_lock lock(finished_mutex);
          finished_cv.wait_for(lock, std::chrono::seconds(60), [&] { return finished == spec.workers - 1; });
        } else {
          comm.transport().close();
        }
        return;
      }
      const float g = spec.gradient(rank, step, share);
      for (float& v : params.grads().span()) v = g;
      status = strategy.finish_step(params, optimizer);
    }
    if (status.is_ok()) status = strategy.finish(params, optimizer);
    result.workers[static_cast<std::size_t>(rank)] = status;
    const auto v = params.values().span();
    result.finals[static_cast<std::size_t>(rank)].assign(v.begin(), v.end());
    result.shares[static_cast<std::size_t>(rank)] = strategy.data_share().value();
    std::lock_guard lock(finished_mutex);
    ++finished;
    finished_cv.notify_all();
  });
}

// Every parameter of `values` is initial - lr * `moved` (slice by slice: `moved` per slice).
void expect_moved(const std::vector<float>& values, const std::vector<float>& initial, int servers,
                  const std::vector<double>& moved, const std::string& who) {
  ASSERT_EQ(values.size(), initial.size()) << who;
  for (int s = 0; s < servers; ++s) {
    const Slice slice = server_slice(static_cast<std::int64_t>(initial.size()), servers, s);
    for (std::int64_t i = slice.offset; i < slice.offset + slice.count; ++i) {
      const auto k = static_cast<std::size_t>(i);
      EXPECT_NEAR(values[k], initial[k] - kLr * moved[static_cast<std::size_t>(s)], 1e-5)
          << who << ", parameter " << i << " (slice " << s << ")";
    }
  }
}

// BSP, 4 workers, worker 1 dies at step 5: the server drops it, applies clock 5 from the
// other three (reweighted: the mean over their 9 examples), and from clock 6 on the three
// read thirds of the batch, so every later clock is the mean of the whole batch again.
TEST(ParameterServerElastic, BspWorkerDeathLeavesTheClockAndTheOthersReshard) {
  constexpr int kVictim = 1;
  constexpr std::int64_t kDeath = 5;
  for (int servers : {1, 2}) {
    SCOPED_TRACE(::testing::Message() << servers << " server(s)");
    RunSpec spec{.servers = servers, .sync = SyncMode::kBsp, .fault = {.worker = kVictim, .step = kDeath}};
    spec.gradient = [](int, std::int64_t step, DataShare share) { return slice_mean(step, share.index, share.count); };
    RunResult result;
    run(spec, result);
    double moved = 0.0;
    for (std::int64_t step = 0; step < spec.steps; ++step) {
      if (step != kDeath) {
        moved += slice_mean(step, 0, 1);
        continue;
      }
      double survivors = 0.0;
      for (int w = 0; w < 4; ++w) {
        if (w != kVictim) survivors += slice_mean(step, w, 4) / 3.0;
      }
      moved += survivors;
    }
    for (int w = 0; w < 4; ++w) {
      if (w == kVictim) continue;
      EXPECT_TRUE(result.workers[static_cast<std::size_t>(w)].is_ok()) << result.workers[static_cast<std::size_t>(w)].to_string();
      expect_moved(result.finals[static_cast<std::size_t>(w)], result.initial, servers,
                   std::vector<double>(static_cast<std::size_t>(servers), moved), "worker " + std::to_string(w));
      const DataShare share = result.shares[static_cast<std::size_t>(w)];
      EXPECT_EQ(share.count, 3);
      EXPECT_EQ(share.index, w < kVictim ? w : w - 1);
    }
    for (const Status& s : result.servers) EXPECT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_EQ(result.dropped.size(), static_cast<std::size_t>(servers)) << "every server drops the dead worker once";
    for (const auto& [worker, clock] : result.dropped) {
      EXPECT_EQ(worker, kVictim);
      EXPECT_EQ(clock, kDeath) << "it had pushed clocks 0.." << kDeath - 1;
    }
  }
}

// SSP: the slowest live worker bounds the others; once the dead one is dropped the others
// run past its clock + s. Pushes apply alone, so the final model is the sum of all pushes:
// the survivors' 12 each and the victim's 5 (exact with s = 0, where the last pull waits
// for every push).
TEST(ParameterServerElastic, SspWorkerDeathNoLongerHoldsTheOthersBack) {
  constexpr int kVictim = 2;
  constexpr std::int64_t kDeath = 5;
  for (int staleness : {0, 2}) {
    for (int servers : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "staleness " << staleness << ", " << servers << " server(s)");
      RunSpec spec{.servers = servers, .sync = SyncMode::kSsp, .staleness = staleness,
                   .fault = {.worker = kVictim, .step = kDeath}};
      spec.gradient = [](int rank, std::int64_t, DataShare) { return 0.1f * static_cast<float>(rank + 1); };
      RunResult result;
      run(spec, result);
      for (int w = 0; w < 4; ++w) {
        if (w != kVictim) {
          EXPECT_TRUE(result.workers[static_cast<std::size_t>(w)].is_ok()) << w;
        }
      }
      ASSERT_EQ(result.dropped.size(), static_cast<std::size_t>(servers));
      EXPECT_EQ(result.dropped.front(), std::make_pair(kVictim, kDeath));
      std::int64_t furthest = 0;
      for (const auto& [worker, clock, slowest] : result.pulls) {
        EXPECT_GE(slowest, clock - staleness) << "worker " << worker << " at clock " << clock;
        furthest = std::max(furthest, clock);
      }
      EXPECT_GT(furthest, kDeath + staleness) << "the others never passed the dead worker's clock + s";
      if (staleness == 0) {
        double moved = 0.0;
        for (int w = 0; w < 4; ++w) moved += 0.1 * (w + 1) * static_cast<double>(w == kVictim ? kDeath : spec.steps);
        expect_moved(result.finals[0], result.initial, servers,
                     std::vector<double>(static_cast<std::size_t>(servers), moved), "worker 0");
      }
    }
  }
}

TEST(ParameterServerElastic, SilentWorkerIsDroppedAfterTheWorkerTimeout) {
  RunSpec spec{.servers = 2, .sync = SyncMode::kBsp, .fault = {.worker = 3, .step = 4, .hang = true}};
  spec.gradient = [](int, std::int64_t, DataShare) { return 1.0f; };
  RunResult result;
  run(spec, result);
  for (int w = 0; w < 3; ++w) {
    EXPECT_TRUE(result.workers[static_cast<std::size_t>(w)].is_ok()) << result.workers[static_cast<std::size_t>(w)].to_string();
  }
  for (const auto& [worker, clock] : result.dropped) EXPECT_EQ(worker, 3) << "dropped at clock " << clock;
  ASSERT_EQ(result.dropped.size(), 2u);
  EXPECT_EQ(result.dropped.front(), std::make_pair(3, std::int64_t{4}));
  // Every clock's weights reach one (reweighted at clock 4): 12 steps of gradient 1.
  expect_moved(result.finals[0], result.initial, 2, {12.0, 12.0}, "worker 0");
}

TEST(ParameterServerElastic, WithoutElasticADeadWorkerEndsTheRunNamingIt) {
  RunSpec spec{.servers = 2, .sync = SyncMode::kBsp, .elastic = false, .fault = {.worker = 1, .step = 3}};
  spec.gradient = [](int, std::int64_t, DataShare) { return 1.0f; };
  RunResult result;
  run(spec, result);
  for (int w : {0, 2, 3}) {
    const Status& s = result.workers[static_cast<std::size_t>(w)];
    EXPECT_FALSE(s.is_ok()) << "worker " << w;
    EXPECT_NE(s.message().find("worker rank 1 is gone"), std::string::npos) << s.to_string();
  }
}

// Server index 1 dies right after its slice's 8th update (before replicating or answering
// it); server 0 holds the replica of update 6 (or 3, if the dying server's last replica was
// still on its way: a closed endpoint's messages vanish). The workers find the server gone
// on their pull, send that step's push and pull to server 0, which serves the slice from the
// replica: the updates between the replica and the death are lost, and the final slice is
// short of exactly those.
TEST(ParameterServerElastic, DeadServersSliceIsServedFromItsReplica) {
  for (SyncMode sync : {SyncMode::kBsp, SyncMode::kSsp}) {
    SCOPED_TRACE(std::string(sync_mode_name(sync)));
    // BSP: an update is a clock (all four workers); SSP: one worker's push.
    const std::int64_t dies_after = sync == SyncMode::kBsp ? 8 : 23;
    const std::int64_t every = sync == SyncMode::kBsp ? 3 : 6;
    RunSpec spec{.servers = 2, .sync = sync, .staleness = 0, .replicate_every = every,
                 .fault = {.server_dies_after = dies_after}};
    spec.gradient = [](int, std::int64_t, DataShare) { return 1.0f; };
    RunResult result;
    run(spec, result);
    for (const Status& s : result.workers) EXPECT_TRUE(s.is_ok()) << s.to_string();
    for (const Status& s : result.servers) EXPECT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_EQ(result.takeovers.size(), 1u);
    const auto [slice, replica] = result.takeovers.front();
    EXPECT_EQ(slice, 1);
    EXPECT_EQ(replica % every, 0);
    EXPECT_LT(replica, dies_after);
    EXPECT_GT(result.lost, 0);
    // A BSP clock moves every parameter by 1 (weights sum to one), an SSP push by 1.
    const double per_step = sync == SyncMode::kBsp ? 1.0 : 4.0;
    const double full = per_step * static_cast<double>(spec.steps);
    if (sync == SyncMode::kBsp) {
      EXPECT_EQ(result.lost, dies_after - 1 - replica) << "clock 7 is pushed again";
    }
    for (int w = 0; w < 4; ++w) {
      expect_moved(result.finals[static_cast<std::size_t>(w)], result.initial, 2,
                   {full, full - static_cast<double>(result.lost)}, "worker " + std::to_string(w));
    }
    std::printf("[ps-elastic] %s: server 1 died after %lld updates; replica of update %lld taken over; %lld lost\n",
                std::string(sync_mode_name(sync)).c_str(), static_cast<long long>(dies_after),
                static_cast<long long>(replica), static_cast<long long>(result.lost));
  }
}

}  // namespace
}  // namespace courier::testing
