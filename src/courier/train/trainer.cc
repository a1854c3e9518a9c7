// The trainer: data, nodes, the worker loop, evaluation, metrics and checkpoints.
#include "courier/train/trainer.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "courier/comm/collectives/collectives.h"
#include "courier/comm/health/heartbeats.h"
#include "courier/comm/health/membership.h"
#include "courier/comm/launch.h"
#include "courier/core/check.h"
#include "courier/core/logging.h"
#include "courier/nn/softmax_cross_entropy.h"
#include "courier/tensor/matmul.h"
#include "courier/train/checkpoint/checkpoint.h"
#include "courier/train/evaluation.h"
#include "courier/train/faults.h"
#include "courier/train/data/sampler.h"
#include "courier/train/delivery.h"
#include "courier/train/metrics.h"
#include "courier/train/model_factory.h"
#include "courier/train/run_state.h"
#include "courier/train/strategies/allreduce.h"
#include "courier/train/strategies/gossip.h"
#include "courier/train/strategies/local_sgd.h"
#include "courier/train/strategies/parameter_server.h"
#include "courier/train/strategies/pipeline.h"

namespace courier {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool is_parameter_server(const Config& config) { return config.dist.strategy == "ps"; }
bool is_pipeline(const Config& config) { return config.dist.strategy == "pipeline"; }

// Strategies whose workers agree on every step, so the step's loss is worth reducing.
bool is_synchronous(const Config& config) {
  return config.dist.strategy == "allreduce" || is_pipeline(config) ||
         (is_parameter_server(config) && config.dist.sync == "bsp");
}

// The K x R grid of a pipeline run (dist.stages x train.workers); one stage of one replica otherwise.
PipelineGrid pipeline_grid(const Config& config) {
  return {is_pipeline(config) ? static_cast<int>(config.dist.stages) : 1, static_cast<int>(config.train.workers)};
}

std::chrono::nanoseconds wait_timeout(const Config& config) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(config.dist.timeout_s));
}

CollectiveOptions collective_options(const Config& config) {
  CollectiveOptions options;
  options.timeout = wait_timeout(config);
  if (std::optional<AllreduceAlgorithm> algorithm = parse_allreduce_algorithm(config.dist.algo)) {
    options.algorithm = *algorithm;
  }
  return options;
}

// dist.codec, with the model's matrices for PowerSGD (rows = the first dimension).
CompressionOptions compression_options(const Config& config, const std::vector<ParamSpec>& specs) {
  CompressionOptions options;
  options.spec = config.dist.codec;
  options.seed = config.train.seed;
  options.warmup = config.dist.codec_warmup;
  options.powersgd_min_elements = config.dist.powersgd_min_elements;
  for (const ParamSpec& spec : specs) {
    if (spec.shape.rank() < 2) continue;
    const auto rows = static_cast<std::size_t>(spec.shape[0]);
    options.matrices.push_back(MatrixRange{static_cast<std::size_t>(spec.offset), rows,
                                           static_cast<std::size_t>(spec.shape.numel()) / rows});
  }
  return options;
}

ParameterServerOptions ps_options(const Config& config, const std::vector<ParamSpec>& specs) {
  ParameterServerOptions options;
  options.workers = static_cast<int>(config.train.workers);
  options.servers = static_cast<int>(config.dist.servers);
  options.sync = parse_sync_mode(config.dist.sync).value_or(SyncMode::kBsp);
  options.staleness = static_cast<int>(config.dist.staleness);
  options.skip_stragglers = config.dist.stragglers == "skip";
  options.timeout = wait_timeout(config);
  // A silent worker is dropped after the heartbeat timeout (the servers' own watch), else the wait's.
  options.worker_timeout = config.dist.heartbeat_ms > 0
                               ? std::chrono::nanoseconds(std::chrono::milliseconds(config.dist.heartbeat_timeout_ms))
                               : wait_timeout(config);
  options.compression = compression_options(config, specs);
  // dist.commit_every counts steps: a BSP clock is one step of every worker, an SSP or ASP
  // update one step of one worker.
  options.elastic = config.dist.recovery == "elastic";
  options.replicate_every = config.dist.commit_every * (options.sync == SyncMode::kBsp ? 1 : options.workers);
  return options;
}

// Everything the nodes of one run share (in process: one object for all threads).
struct Run {
  Run(const Config& c, const TrainOptions& o, const TrainEvents& e, RunData d)
      : config(c), options(o), events(e), data(std::move(d)) {}

  const Config& config;
  const TrainOptions& options;
  const TrainEvents& events;
  RunData data;
  std::unique_ptr<BatchPlan> plan;
  std::int64_t total_steps = 0;
  std::int64_t start_step = 0;
  std::optional<Checkpoint> resume;
  std::unique_ptr<MetricsWriter> metrics;
  int threads_per_node = 1;  // OpenBLAS's pool (process-wide: the same for every node)
  TrainResult result;  // written by worker 0
  TrainFaults faults;  // dist.faults (in process only)
  int configured_nodes = 0;  // workers (or the pipeline grid) and servers; spares that join come after

  // Set when a configured worker leaves its loop: hung nodes and spares never invited stop waiting.
  void mark_over() {
    std::lock_guard lock(over_mutex);
    over = true;
    over_changed.notify_all();
  }
  // Waits up to `slice` for the run to end; whether it has.
  bool wait_over(std::chrono::milliseconds slice) {
    std::unique_lock lock(over_mutex);
    return over_changed.wait_for(lock, slice, [&] { return over; });
  }

 private:
  std::mutex over_mutex;
  std::condition_variable over_changed;
  bool over = false;
};

std::unique_ptr<Strategy> make_strategy(const Run& run, Communicator& world, Communicator& workers,
                                        Sequential& model) {
  const Config& config = run.config;
  const std::string& kind = config.dist.strategy;
  const std::vector<ParamSpec> specs = model.parameters().specs();
  if (kind == "ps") {
    return std::make_unique<ParameterServerWorker>(world, model.parameters().numel(), ps_options(config, specs));
  }
  if (kind == "local-sgd") {
    return std::make_unique<LocalSgdStrategy>(
        workers, LocalSgdOptions{.local_steps = static_cast<int>(config.dist.local_steps),
                                 .outer_lr = static_cast<float>(config.dist.outer_lr),
                                 .outer_momentum = static_cast<float>(config.dist.outer_momentum),
                                 .collective = collective_options(config),
                                 .compression = compression_options(config, specs)});
  }
  if (kind == "gossip") {
    return std::make_unique<GossipStrategy>(
        workers, GossipOptions{.graph = parse_gossip_graph(config.dist.graph).value_or(GossipGraph::kRing),
                               .degree = static_cast<int>(config.dist.degree),
                               .seed = config.train.seed,
                               .timeout = wait_timeout(config),
                               .collective = collective_options(config),
                               .compression = compression_options(config, specs),
                               .consensus_step = static_cast<float>(config.dist.consensus_step)});
  }
  std::vector<GradsReady> layers;
  for (std::size_t i = 0; i < model.layer_count(); ++i) layers.push_back(model.parameter_range(i));
  AllreduceOptions options;
  options.bucket_bytes = static_cast<std::size_t>(config.dist.bucket_mb * (1 << 20));
  options.collective = collective_options(config);
  options.compression = compression_options(config, specs);
  options.overlap = config.dist.transport != "sim";  // a sim node is one thread
  options.exchange_updates = config.dist.exchange != "gradients";
  options.update_momentum = config.dist.exchange != "preconditioned";
  return std::make_unique<AllreduceStrategy>(workers, std::move(layers), options);
}

// What happened in virtual time between two reports of one sim run.
SimReport simulated_since(const SimReport& now, const SimReport& before) {
  SimReport window = now;
  window.end = now.end - before.end;
  for (std::size_t i = 0; i < window.nodes.size() && i < before.nodes.size(); ++i) {
    window.nodes[i].compute -= before.nodes[i].compute;
    window.nodes[i].communicate -= before.nodes[i].communicate;
    window.nodes[i].wait -= before.nodes[i].wait;
    window.nodes[i].end = 0;
  }
  window.network.messages -= before.network.messages;
  window.network.bytes -= before.network.bytes;
  window.network.lost -= before.network.lost;
  window.network.undeliverable -= before.network.undeliverable;
  window.deliveries -= before.deliveries;
  window.trace.clear();
  return window;
}

// A copy of a worker's model and optimizer state after a step, kept in memory so an elastic
// run can roll back to it (dist.commit_every).
struct Commit {
  std::int64_t step = 0;  // steps done
  std::vector<float> values;
  std::vector<std::vector<float>> optimizer_state;
  std::int64_t optimizer_steps = 0;
};

// One worker's training loop.
class Worker {
 public:
  // `joining`: a spare that waits to be invited into the run (dist.faults join:N@S).
  Worker(Run& run, Communicator& world, Communicator& workers, bool joining = false)
      : run_(run), config_(run.config), world_(world), workers_(&workers), rank_(workers.rank()),
        joining_(joining) {
    for (int r = 0; r < workers.world_size(); ++r) members_.push_back(workers.world_rank_of(r));
  }

  Status run();
  bool dead() const { return dead_; }  // died by the fault plan

 private:
  Status prepare();
  Status train_from(std::int64_t first_step);
  Status step(std::int64_t step);
  Result<double> reported_loss(std::int64_t step, double local_loss, std::int64_t local_examples,
                               std::int64_t global_examples);
  Status check_finite(std::int64_t step);
  void after_step(std::int64_t step, double loss, float lr);
  Status maybe_evaluate_and_checkpoint(std::int64_t step);
  void evaluate_now(std::int64_t done, bool final);
  Status save_checkpoint(std::int64_t done);
  void log_stats(std::int64_t step, double loss, float lr, double rate, const CodecTraffic& traffic);
  // Every worker's compute and wait time to the first worker, which names the stragglers.
  Status report_node_times();
  Status make_pipeline();
  void report_pipeline_stages();
  // False once the strategy left workers out on its own (a parameter server drops a dead
  // worker without a membership change here): collectives over workers_ would wait for it.
  bool group_intact() const {
    const std::optional<DataShare> share = strategy_ ? strategy_->data_share() : std::nullopt;
    return !share || share->count == workers_->world_size();
  }
  bool reporting() const { return pipeline_ ? world_.rank() == 0 : workers_->rank() == 0; }
  // Text windows predict a token a position; images are not counted in tokens.
  std::int64_t tokens_per_sample() const { return run_.data.vocabulary ? run_.data.train->labels_per_example() : 0; }

  // Elastic runs (dist.recovery = elastic).
  bool elastic() const { return config_.dist.recovery == "elastic"; }
  void commit(std::int64_t done);
  void restore(const Commit& commit);
  // This node's death by the fault plan during `step`, if due: closes its endpoint (kill) or
  // goes silent until the run is over (hang). Returns true when the node died.
  bool die_if_planned(std::int64_t step);
  // After `failure`, or to admit `joiners` after step `done`: agrees on the workers with the
  // others, rolls back to the newest commit all of them hold, rebuilds the group and the
  // strategy, and returns the step to go on from.
  Result<std::int64_t> change_membership(const Status& failure, std::vector<int> joiners, std::uint64_t generation);
  // A spare: waits for the invitation, joins, and trains from the step it is given.
  Status join();
  Status admit_planned_joiners(std::int64_t done);
  std::vector<std::byte> commit_steps() const;
  // Heartbeats among the current workers; a suspect aborts their group, so every wait on it
  // fails at once naming it (and an elastic run recovers).
  void start_heartbeats();

  Run& run_;
  const Config& config_;
  Communicator& world_;
  Communicator* workers_;            // the group the strategy talks over (rebuilt by an elastic run)
  std::optional<Communicator> group_;  // the rebuilt group
  std::vector<int> members_;         // world ranks of the workers, in group order
  std::uint64_t generation_ = 0;     // membership generations agreed so far
  int rank_;
  bool joining_ = false;
  bool dead_ = false;
  std::deque<Commit> commits_;       // the newest two
  std::unique_ptr<Heartbeats> heartbeats_;  // among members_, when dist.heartbeat_ms > 0
  std::optional<Sequential> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Strategy> strategy_;
  PipelineStrategy* pipeline_ = nullptr;  // strategy_, when it is a pipeline stage
  std::optional<LrSchedule> schedule_;
  SoftmaxCrossEntropy loss_fn_;
  std::vector<std::int64_t> indices_;
  std::vector<std::int32_t> labels_;
  Tensor inputs_, dlogits_;
  double train_seconds_ = 0.0;
  double compute_seconds_ = 0.0;  // forward and backward (with dist.faults slow:N:F's slowdown)
  std::int64_t steps_done_ = 0;
  std::int64_t local_samples_ = 0;  // examples this worker trained on
  std::int64_t window_samples_ = 0;
  double window_seconds_ = 0.0;
  std::int64_t total_samples_ = 0;
  std::vector<double> step_seconds_;
  CodecTraffic traffic_at_start_;   // after the strategy's start
  CodecTraffic traffic_at_window_;  // at the last report
  std::int64_t window_steps_ = 0;
};

double per_step(std::uint64_t bytes, std::int64_t steps) {
  return steps > 0 ? static_cast<double>(bytes) / static_cast<double>(steps) : 0.0;
}

// The median of `seconds` after the first 10 (or of all when there are no more).
// Fault injection for recovery tests (docs/fault-tolerance.md): COURIER_FAULT_KILL_AT=RANK:STEP
// makes world rank RANK send itself SIGKILL after step STEP (from 0) of a run that started
// from scratch, as a crashed machine would vanish. A resumed run is never killed, so a
// supervisor's restart finishes.
void kill_if_asked(int rank, std::int64_t step, std::int64_t start_step) {
  static const std::optional<std::pair<int, std::int64_t>> target = []() -> std::optional<std::pair<int, std::int64_t>> {
    const char* text = std::getenv("COURIER_FAULT_KILL_AT");
    if (text == nullptr) return std::nullopt;
    int r = -1;
    long long s = -1;
    if (std::sscanf(text, "%d:%lld", &r, &s) != 2 || r < 0 || s < 0) {
      spdlog::warn("COURIER_FAULT_KILL_AT='{}' is not RANK:STEP; ignored", text);
      return std::nullopt;
    }
    return std::make_pair(r, static_cast<std::int64_t>(s));
  }();
  if (!target || start_step != 0 || target->first != rank || target->second != step) return;
  std::fflush(nullptr);
  std::raise(SIGKILL);
}

double median_after_warmup(std::vector<double> seconds) {
  if (seconds.empty()) return 0.0;
  const auto skip = seconds.size() > 10 ? std::ptrdiff_t{10} : std::ptrdiff_t{0};
  std::vector<double> steady(seconds.begin() + skip, seconds.end());
  std::nth_element(steady.begin(), steady.begin() + static_cast<std::ptrdiff_t>(steady.size() / 2), steady.end());
  return steady[steady.size() / 2];
}

Status Worker::prepare() {
  Result<Sequential> model =
      build_model(config_, run_.data.train->sample_shape(), run_.data.train->classes(), world_.rank());
  if (!model.is_ok()) return model.status();
  model_.emplace(std::move(*model));
  Parameters& params = model_->parameters();
  if (is_pipeline(config_)) {
    if (Status s = make_pipeline(); !s.is_ok()) return s;
  } else if (!joining_) {
    strategy_ = make_strategy(run_, world_, *workers_, *model_);
  }
  // A pipeline stage updates its own layers only; its optimizer state stays on it (not checkpointed).
  const GradsReady owned = pipeline_ ? pipeline_->owned_range() : GradsReady{0, 0, params.numel()};
  optimizer_ = build_optimizer(config_, params.specs(), owned.offset, owned.count);
  if (run_.resume) {
    if (Status s = restore_run_state(*run_.resume, params, pipeline_ ? nullptr : optimizer_.get()); !s.is_ok()) {
      return s;
    }
  }
  schedule_.emplace(build_schedule(config_, run_.total_steps));
  if (joining_) return Status::ok();  // the strategy comes with the invitation
  if (reporting() && run_.events.on_note) run_.events.on_note(strategy_->describe());
  if (Status s = strategy_->start(params, *optimizer_); !s.is_ok()) return s;
  traffic_at_start_ = traffic_at_window_ = strategy_->traffic();
  return Status::ok();
}

Status Worker::run() {
  // train.threads sizes OpenBLAS's pool; a node's own loops run on one OpenMP thread. An idle
  // OpenMP team spins on the cores OpenBLAS's threads need: with 2 + 2 threads on 2 cores a
  // GPT step took 2.4x as long, an MLP step 4.3x, a CNN step 1.7x as with 1 + 2 (PyTorch's
  // default split too).
  omp_set_num_threads(1);
  if (Status s = prepare(); !s.is_ok()) return s;
  if (joining_) return join();
  // Beating from here, where prepare()'s broadcast has lined the workers up: a peer's silence is
  // timed from each node's own start, so a start that waited for worker 0's first evaluation
  // below would have it suspected when the evaluation takes longer than the timeout.
  start_heartbeats();
  // With evaluations every N steps, one of the fresh model too, as nanoGPT and char_gpt.py do.
  if (reporting() && run_.start_step == 0 && config_.train.eval_every > 0) evaluate_now(0, /*final=*/false);
  if (elastic()) commit(run_.start_step);
  return train_from(run_.start_step);
}

void Worker::start_heartbeats() {
  heartbeats_.reset();
  // A parameter server's shards watch its workers themselves (parameter_server.h).
  if (config_.dist.heartbeat_ms <= 0 || members_.size() < 2 || pipeline_ || is_parameter_server(config_)) return;
  if (dynamic_cast<const SimTransport*>(&world_.transport()) != nullptr) return;  // one thread a node
  Communicator* group = workers_;
  heartbeats_ = std::make_unique<Heartbeats>(
      world_.transport(), members_,
      HeartbeatOptions{std::chrono::milliseconds(config_.dist.heartbeat_ms),
                       std::chrono::milliseconds(config_.dist.heartbeat_timeout_ms)},
      [group](int, const Status& why) { group->abort(why); });
}

Status Worker::train_from(std::int64_t first_step) {
  // Over sim, worker 0 reads the virtual clocks around the steps (evaluations and checkpoints
  // between them count; the start's broadcast and the final evaluation do not).
  const auto* sim = dynamic_cast<const SimTransport*>(&world_.transport());
  std::optional<SimReport> sim_before_steps;
  if (sim != nullptr && reporting()) sim_before_steps = sim->report();
  for (std::int64_t step = first_step; step < run_.total_steps; ++step) {
    const bool last = step + 1 == run_.total_steps;  // the last evaluation and checkpoint follow finish()
    Status status = this->step(step);
    if (status.is_ok() && !last) status = maybe_evaluate_and_checkpoint(step);
    if (status.is_ok() && !last && elastic()) {
      if ((step + 1) % config_.dist.commit_every == 0) commit(step + 1);
      status = admit_planned_joiners(step + 1);
    }
    if (dead_) return Status::ok();  // this node died by the fault plan; the others go on or fail
    if (!status.is_ok()) {
      // A parameter server recovers on its own (its shards drop dead workers and take over
      // dead slices); a worker whose step still fails has nothing to roll back to.
      if (!elastic() || is_parameter_server(config_)) return status;
      Result<std::int64_t> resume = change_membership(status, {}, generation_ + 1);
      if (!resume.is_ok()) return resume.status();
      if (reporting()) run_.result.steps_redone += step + 1 - *resume;
      step = *resume - 1;
      continue;
    }
    if (last) break;
    kill_if_asked(world_.transport().rank(), step, run_.start_step);
  }
  const CodecTraffic trained = strategy_->traffic();
  const std::int64_t steps_run = run_.total_steps - first_step;
  // The strategy's last word (a final average, the pipeline's stages gathered) changes the
  // model: evaluate and save what it left.
  if (Status s = strategy_->finish(model_->parameters(), *optimizer_); !s.is_ok()) return s;
  if (Status s = report_node_times(); !s.is_ok()) return s;
  heartbeats_.reset();  // the workers' last exchange is over; they may now leave in any order
  if (!reporting()) return Status::ok();
  if (sim_before_steps) run_.result.simulated_steps = simulated_since(sim->report(), *sim_before_steps);
  const std::optional<DataShare> share = strategy_->data_share();  // a parameter server's live workers
  run_.result.final_workers = share ? share->count : workers_->world_size();
  if (pipeline_) report_pipeline_stages();
  evaluate_now(run_.total_steps, /*final=*/true);
  if (Status s = save_checkpoint(run_.total_steps); !s.is_ok()) return s;
  const Tensor& values = model_->parameters().values();
  run_.result.parameters.assign(values.span().begin(), values.span().end());
  run_.result.samples_per_s = train_seconds_ > 0 ? static_cast<double>(total_samples_) / train_seconds_ : 0.0;
  run_.result.tokens_per_s = run_.result.samples_per_s * static_cast<double>(tokens_per_sample());
  run_.result.step_seconds = step_seconds_;
  run_.result.median_step_s = median_after_warmup(std::move(step_seconds_));
  run_.result.bytes_per_step = per_step(trained.wire_bytes - traffic_at_start_.wire_bytes, steps_run);
  run_.result.raw_bytes_per_step = per_step(trained.raw_bytes - traffic_at_start_.raw_bytes, steps_run);
  if (run_.result.median_step_s > 0) {
    run_.result.median_tokens_per_s = static_cast<double>(config_.train.batch * tokens_per_sample()) /
                                      run_.result.median_step_s;
  }
  return Status::ok();
}

Status Worker::step(std::int64_t step) {
  const auto started = Clock::now();
  const Dataset& data = *run_.data.train;
  const DataShare share =
      strategy_->data_share().value_or(DataShare{rank_, pipeline_ ? run_.plan->nodes() : workers_->world_size()});
  run_.plan->node_indices(step, share.index, share.count, indices_);
  const auto local = static_cast<std::int64_t>(indices_.size());
  const std::int64_t global = run_.plan->global_batch_size(step);
  const float lr = schedule_->at(step);
  Parameters& params = model_->parameters();
  params.zero_grads();
  strategy_->begin_step(StepInfo{step, lr, local, global});
  double local_loss = 0.0;
  // dist.faults slow:N:F: a machine F times slower, whose gradients are ready F times later.
  const double slowdown = pipeline_ ? 1.0 : run_.faults.slowdown_of(world_.transport().rank());
  std::vector<GradsReady> held;
  if (pipeline_) {
    if (Status s = pipeline_->forward_backward(data, indices_); !s.is_ok()) return s;
  } else if (local > 0) {
    if (!inputs_.defined() || inputs_.dim(0) != local) {
      inputs_ = Tensor::empty(data.sample_shape().prepend(local));
      dlogits_ = Tensor::empty(model_->output_shape().prepend(local));
    }
    labels_.resize(static_cast<std::size_t>(local * data.labels_per_example()));
    data.fill(indices_, inputs_, labels_);
    const Tensor& logits = model_->forward(inputs_);
    local_loss = loss_fn_.forward_backward(logits, labels_, dlogits_);
    model_->backward(dlogits_, [&](const GradsReady& ready) {
      if (slowdown > 1.0) {
        held.push_back(ready);  // announced once the slowed compute is over
      } else {
        strategy_->on_grads_ready(ready);
      }
    });
  } else {
    // No examples for this node this step (a batch smaller than the world): a zero gradient,
    // still announced layer by layer so the exchange proceeds.
    for (std::size_t i = model_->layer_count(); i-- > 0;) strategy_->on_grads_ready(model_->parameter_range(i));
  }
  double compute = seconds_since(started);
  if (slowdown > 1.0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(compute * (slowdown - 1.0)));
    compute *= slowdown;
    for (const GradsReady& ready : held) strategy_->on_grads_ready(ready);
  }
  compute_seconds_ += compute;
  ++steps_done_;
  local_samples_ += local;
  if (die_if_planned(step)) {
    return Status::aborted(fmt::format("node {} died in step {} (dist.faults)", world_.transport().rank(), step));
  }
  if (Status s = strategy_->finish_step(params, *optimizer_); !s.is_ok()) return s;
  if (pipeline_) local_loss = pipeline_->replica_loss();  // known on every stage after the step
  if (Status s = check_finite(step); !s.is_ok()) return s;
  Result<double> loss = reported_loss(step, local_loss, local, global);
  if (!loss.is_ok()) return loss.status();
  const double seconds = seconds_since(started);
  step_seconds_.push_back(seconds);
  train_seconds_ += seconds;
  window_seconds_ += seconds;
  window_samples_ += global;
  total_samples_ += global;
  after_step(step, *loss, lr);
  return Status::ok();
}

// A step whose gradient held NaN or Inf left the model alone (Optimizer::step); say so, and
// stop after train.max_bad_steps of them in a row. (A parameter server's shards skip such
// updates on their own; its workers do not see them.)
Status Worker::check_finite(std::int64_t step) {
  const int in_a_row = optimizer_->nonfinite_in_a_row();
  if (in_a_row == 0) return Status::ok();
  if (reporting() && run_.events.on_note) {
    run_.events.on_note(fmt::format("step {}: the gradient holds NaN or Inf; update skipped ({} in a row)", step + 1,
                                    in_a_row));
  }
  if (in_a_row < config_.train.max_bad_steps) return Status::ok();
  return Status::failed_precondition(fmt::format(
      "node {}: the gradient held NaN or Inf in {} steps in a row (steps {} to {}); the run stops, the model as of "
      "step {} unchanged since. Lower train.lr, set train.clip (e.g. 1.0), or check the data",
      world_.rank(), in_a_row, step + 2 - in_a_row, step + 1, step + 1 - in_a_row));
}

// The step's loss over the global batch (synchronous strategies) or this worker's own.
Result<double> Worker::reported_loss(std::int64_t step, double local_loss, std::int64_t local_examples,
                                     std::int64_t global_examples) {
  if (!is_synchronous(config_) || workers_->world_size() == 1 || !group_intact()) return local_loss;
  double weighted = local_loss * static_cast<double>(local_examples) / static_cast<double>(global_examples);
  CollectiveOptions options = collective_options(config_);
  options.algorithm = AllreduceAlgorithm::kHalvingDoubling;
  options.step = static_cast<std::uint64_t>(step);
  if (Status s = allreduce(*workers_, std::span<double>(&weighted, 1), ReduceOp::kSum, options); !s.is_ok()) return s;
  return weighted;
}

void Worker::after_step(std::int64_t step, double loss, float lr) {
  if (reporting()) run_.result.losses.push_back(loss);
  const bool log = (step + 1) % config_.train.log_every == 0 || step + 1 == run_.total_steps;
  const double rate = window_seconds_ > 0 ? static_cast<double>(window_samples_) / window_seconds_ : 0.0;
  ++window_steps_;
  const CodecTraffic traffic = strategy_->traffic();
  if (log) log_stats(step, loss, lr, rate, traffic);
  if (reporting() && run_.events.on_step) {
    run_.events.on_step(StepReport{step, run_.total_steps, run_.plan->epoch_of(step), loss, lr, rate,
                                   rate * static_cast<double>(tokens_per_sample()), train_seconds_,
                                   per_step(traffic.wire_bytes - traffic_at_window_.wire_bytes, window_steps_),
                                   per_step(traffic.raw_bytes - traffic_at_window_.raw_bytes, window_steps_)});
  }
  if (log) {
    window_samples_ = 0;
    window_seconds_ = 0.0;
    window_steps_ = 0;
    traffic_at_window_ = traffic;
  }
}

void Worker::log_stats(std::int64_t step, double loss, float lr, double rate, const CodecTraffic& traffic) {
  if (!run_.metrics) return;
  const CommunicatorStats stats = strategy_->stats();
  const double ratio = traffic.wire_bytes > 0
                           ? static_cast<double>(traffic.raw_bytes) / static_cast<double>(traffic.wire_bytes)
                           : 1.0;
  run_.metrics->write({{"kind", "step"},
                       {"node", world_.transport().rank()},
                       {"step", step},
                       {"epoch", run_.plan->epoch_of(step)},
                       {"loss", loss},
                       {"lr", lr},
                       {"samples_per_s", rate},
                       {"tokens_per_s", rate * static_cast<double>(tokens_per_sample())},
                       {"elapsed_s", train_seconds_},
                       {"bytes_sent", stats.bytes_sent},
                       {"bytes_received", stats.bytes_received},
                       {"bytes_uncompressed", traffic.raw_bytes},
                       {"compression_ratio", ratio},
                       {"messages_sent", stats.messages_sent},
                       {"messages_received", stats.messages_received},
                       {"compute_s", compute_seconds_},
                       {"wait_s", strategy_->wait_seconds()}});
}

// After `done` steps: test metrics to the result, the events and metrics.jsonl.
void Worker::evaluate_now(std::int64_t done, bool final) {
  const TrainConfig& t = config_.train;
  const std::int64_t examples = final && t.final_eval_examples > 0 ? t.final_eval_examples : t.eval_examples;
  EvalReport report = evaluate(*model_, *run_.data.test, examples);
  report.step = done;
  report.epoch = run_.plan->epoch_of(std::max<std::int64_t>(0, done - 1));
  run_.result.last_eval = report;
  if (run_.events.on_eval) run_.events.on_eval(report);
  if (run_.metrics) {
    nlohmann::json record = {{"kind", "eval"}, {"step", done}, {"epoch", report.epoch}, {"loss", report.loss},
                             {"accuracy", report.accuracy}, {"examples", report.examples}};
    if (report.bits_per_byte) record["bits_per_byte"] = *report.bits_per_byte;
    if (final) record["final"] = true;
    run_.metrics->write(record);
  }
}

Status Worker::save_checkpoint(std::int64_t done) {
  const std::filesystem::path root = std::filesystem::path(config_.train.out) / "checkpoints";
  // A server's state stays on the server, a pipeline stage's on the stage.
  const bool with_optimizer_state = !is_parameter_server(config_) && !is_pipeline(config_);
  Checkpoint checkpoint = capture_run_state(config_, done, run_.plan->epoch_of(std::max<std::int64_t>(0, done - 1)),
                                            model_->parameters(), with_optimizer_state ? optimizer_.get() : nullptr,
                                            static_cast<int>(config_.train.workers));
  if (run_.data.vocabulary) set_checkpoint_vocabulary(checkpoint, run_.data.vocabulary->symbols());
  if (Status s = write_checkpoint(root, done, checkpoint, static_cast<int>(config_.checkpoint.keep)); !s.is_ok()) {
    return s;
  }
  if (run_.events.on_note) run_.events.on_note(fmt::format("checkpoint of step {} written to {}", done, root.string()));
  return Status::ok();
}

Status Worker::maybe_evaluate_and_checkpoint(std::int64_t step) {
  const std::int64_t done = step + 1;
  const std::int64_t eval_every = config_.train.eval_every > 0 ? config_.train.eval_every : run_.plan->steps_per_epoch();
  const bool evaluate = done % eval_every == 0;
  const bool save = config_.checkpoint.every > 0 && done % config_.checkpoint.every == 0;
  if (!evaluate && !save) return Status::ok();
  if (Status s = strategy_->gather_model(model_->parameters()); !s.is_ok()) return s;  // every node takes part
  if (!reporting()) return Status::ok();
  if (evaluate) evaluate_now(done, /*final=*/false);
  if (save) return save_checkpoint(done);
  return Status::ok();
}

Status Worker::report_node_times() {
  if (pipeline_ || dynamic_cast<const SimTransport*>(&world_.transport()) != nullptr || !group_intact()) {
    return Status::ok();
  }
  struct Times {
    double node, compute_s, wait_s, steps, elapsed_s, samples;
  };
  const Times mine{static_cast<double>(world_.transport().rank()), compute_seconds_, strategy_->wait_seconds(),
                   static_cast<double>(steps_done_), train_seconds_, static_cast<double>(local_samples_)};
  std::vector<Times> all(static_cast<std::size_t>(workers_->world_size()));
  if (Status s = allgather(*workers_, std::as_bytes(std::span(&mine, 1)), std::as_writable_bytes(std::span(all)),
                           collective_options(config_));
      !s.is_ok()) {
    return s;
  }
  if (!reporting()) return Status::ok();
  std::vector<double> per_step;
  for (const Times& t : all) {
    run_.result.node_times.push_back(TrainResult::NodeTime{static_cast<int>(t.node), t.compute_s, t.wait_s,
                                                           static_cast<std::int64_t>(t.steps), t.elapsed_s,
                                                           static_cast<std::int64_t>(t.samples)});
    per_step.push_back(t.steps > 0 ? t.compute_s / t.steps : 0.0);
  }
  // The lower median, so that of two workers the slower is measured against the faster.
  std::vector<double> sorted = per_step;
  const auto middle = static_cast<std::ptrdiff_t>((sorted.size() - 1) / 2);
  std::nth_element(sorted.begin(), sorted.begin() + middle, sorted.end());
  const double median = sorted[static_cast<std::size_t>(middle)];
  double others_waited = 0.0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (median > 0 && per_step[i] > 1.5 * median) {
      run_.result.stragglers.push_back(static_cast<int>(all[i].node));
    } else {
      others_waited += all[i].wait_s;
    }
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    const bool slow = median > 0 && per_step[i] > 1.5 * median;
    if (slow && run_.events.on_note) {
      run_.events.on_note(fmt::format(
          "straggler: node {} computes {:.2f}x the median step ({:.1f} ms vs {:.1f} ms); the other workers waited "
          "{:.1f} s for messages in all",
          static_cast<int>(all[i].node), per_step[i] / median, 1e3 * per_step[i], 1e3 * median, others_waited));
    }
    if (run_.metrics) {
      run_.metrics->write({{"kind", "node_times"},
                           {"node", static_cast<int>(all[i].node)},
                           {"compute_s", all[i].compute_s},
                           {"wait_s", all[i].wait_s},
                           {"steps", static_cast<std::int64_t>(all[i].steps)},
                           {"elapsed_s", all[i].elapsed_s},
                           {"samples", static_cast<std::int64_t>(all[i].samples)},
                           {"samples_per_s", all[i].elapsed_s > 0 ? all[i].samples / all[i].elapsed_s : 0.0},
                           {"compute_per_step_s", per_step[i]},
                           {"straggler", slow}});
    }
  }
  return Status::ok();
}

// --- Elastic runs (docs/fault-tolerance.md) ---

// The tag a new group's first worker sends joiners their state on; above every strategy's.
constexpr std::uint64_t kTagJoinState = kUserTagLimit - 7;
// Context ids of the groups an elastic run rebuilds, one a generation (above the fixed ones).
constexpr std::uint16_t kElasticContextBase = 0x1000;

void Worker::commit(std::int64_t done) {
  if (!commits_.empty() && commits_.back().step == done) commits_.pop_back();
  Commit c;
  c.step = done;
  const std::span<const float> values = model_->parameters().values().span();
  c.values.assign(values.begin(), values.end());
  for (const OptimizerState& state : optimizer_->state()) c.optimizer_state.emplace_back(state.values.begin(), state.values.end());
  c.optimizer_steps = optimizer_->step_count();
  commits_.push_back(std::move(c));
  while (commits_.size() > 2) commits_.pop_front();
}

void Worker::restore(const Commit& c) {
  std::span<float> values = model_->parameters().values().span();
  std::copy(c.values.begin(), c.values.end(), values.begin());
  std::vector<OptimizerState> states = optimizer_->state();
  for (std::size_t i = 0; i < states.size() && i < c.optimizer_state.size(); ++i) {
    std::copy(c.optimizer_state[i].begin(), c.optimizer_state[i].end(), states[i].values.begin());
  }
  optimizer_->set_step_count(c.optimizer_steps);
}

// A commit as bytes: step, optimizer steps, then the values and each state buffer (sizes
// follow from the model and optimizer, the same on every worker).
std::vector<std::byte> serialize(const Commit& c) {
  std::size_t floats = c.values.size();
  for (const auto& s : c.optimizer_state) floats += s.size();
  std::vector<std::byte> bytes;
  bytes.reserve(16 + 4 * floats);
  const auto put = [&](const void* from, std::size_t size) {
    const auto* first = static_cast<const std::byte*>(from);
    bytes.insert(bytes.end(), first, first + size);
  };
  put(&c.step, 8);
  put(&c.optimizer_steps, 8);
  put(c.values.data(), 4 * c.values.size());
  for (const auto& s : c.optimizer_state) put(s.data(), 4 * s.size());
  return bytes;
}

// Reads what serialize() wrote into `c`, whose buffers already have their sizes.
Status deserialize(ByteSpan bytes, Commit& c) {
  std::size_t floats = c.values.size();
  for (const auto& s : c.optimizer_state) floats += s.size();
  if (bytes.size() != 16 + 4 * floats) {
    return Status::data_loss(fmt::format("a joining node's state has {} bytes, not the {} its model and optimizer "
                                         "need; every node must run the same config",
                                         bytes.size(), 16 + 4 * floats));
  }
  std::memcpy(&c.step, bytes.data(), 8);
  std::memcpy(&c.optimizer_steps, bytes.data() + 8, 8);
  std::size_t at = 16;
  const auto get = [&](std::vector<float>& v) {
    if (!v.empty()) std::memcpy(v.data(), bytes.data() + at, 4 * v.size());
    at += 4 * v.size();
  };
  get(c.values);
  for (auto& s : c.optimizer_state) get(s);
  return Status::ok();
}

std::vector<std::byte> Worker::commit_steps() const {
  std::vector<std::byte> bytes(8 * commits_.size());
  for (std::size_t i = 0; i < commits_.size(); ++i) std::memcpy(bytes.data() + 8 * i, &commits_[i].step, 8);
  return bytes;
}

bool Worker::die_if_planned(std::int64_t step) {
  const std::optional<NodeEvent> death = run_.faults.death_of(world_.transport().rank());
  if (!death || death->step != step) return false;
  dead_ = true;
  heartbeats_.reset();  // a dead or hung node beats no more
  if (death->kind == NodeEvent::Kind::kHang) {
    spdlog::info("node {} hangs in step {} (dist.faults)", world_.transport().rank(), step);
    while (!run_.wait_over(std::chrono::seconds(1))) {
    }
  } else {
    spdlog::info("node {} dies in step {} (dist.faults)", world_.transport().rank(), step);
  }
  strategy_.reset();  // its threads end before the endpoint closes
  world_.transport().close();
  return true;
}

Result<std::int64_t> Worker::change_membership(const Status& failure, std::vector<int> joiners,
                                               std::uint64_t generation) {
  const int me = world_.transport().rank();
  const bool after_failure = !failure.is_ok();
  if (after_failure) spdlog::info("node {}: {}; agreeing on the workers left", me, failure.message());
  strategy_.reset();
  heartbeats_.reset();
  std::vector<int> candidates = members_;
  candidates.insert(candidates.end(), joiners.begin(), joiners.end());
  // A silent candidate is left out after the heartbeat timeout when there are heartbeats.
  const std::chrono::nanoseconds round_timeout =
      config_.dist.heartbeat_ms > 0 ? std::chrono::nanoseconds(std::chrono::milliseconds(config_.dist.heartbeat_timeout_ms))
                                    : wait_timeout(config_);
  Result<Membership> membership = agree(world_.transport(), MembershipProposal{.candidates = candidates,
                                                                               .generation = generation,
                                                                               .info = commit_steps(),
                                                                               .timeout = round_timeout});
  if (!membership.is_ok()) return membership.status();
  generation_ = membership->generation;
  // The newest commit every member that has commits holds (a joiner has none).
  std::optional<std::vector<std::int64_t>> common;
  std::vector<int> newcomers;
  for (const auto& [rank, info] : membership->info) {
    if (!std::binary_search(membership->members.begin(), membership->members.end(), rank)) continue;
    if (info.empty()) {
      newcomers.push_back(rank);
      continue;
    }
    std::vector<std::int64_t> steps(info.size() / 8);
    std::memcpy(steps.data(), info.data(), 8 * steps.size());
    std::sort(steps.begin(), steps.end());
    if (!common) {
      common = steps;
    } else {
      std::vector<std::int64_t> both;
      std::set_intersection(common->begin(), common->end(), steps.begin(), steps.end(), std::back_inserter(both));
      common = std::move(both);
    }
  }
  if (!common || common->empty()) {
    return Status::failed_precondition(fmt::format(
        "node {}: the workers left ({}) hold no commit in common, so none can be restored; lower "
        "dist.commit_every or restart from a checkpoint",
        me, fmt::join(membership->members, ", ")));
  }
  const std::int64_t target = common->back();
  if (!joining_) {
    const auto held = std::find_if(commits_.begin(), commits_.end(), [&](const Commit& c) { return c.step == target; });
    restore(*held);
    commits_.erase(std::next(held), commits_.end());
  }
  members_ = membership->members;
  group_.reset();
  group_.emplace(world_.subgroup(members_, static_cast<std::uint16_t>(kElasticContextBase + generation_ % 0xe000)));
  workers_ = &*group_;
  rank_ = workers_->rank();
  // Joiners take the model and optimizer state from the group's first worker.
  const OpContext op{"join", static_cast<std::uint64_t>(target)};
  const Deadline deadline = Deadline::after(real_clock(), std::chrono::minutes(2));
  if (joining_) {
    Result<Message> state = workers_->receive(0, kTagJoinState, deadline, op);
    if (!state.is_ok()) return state.status();
    Commit c;
    c.values.resize(static_cast<std::size_t>(model_->parameters().numel()));
    for (const OptimizerState& st : optimizer_->state()) c.optimizer_state.emplace_back(st.values.size());
    if (Status s = deserialize(state->payload(), c); !s.is_ok()) return s;
    restore(c);
    commits_.assign(1, std::move(c));
    joining_ = false;
  } else if (rank_ == 0) {
    const std::vector<std::byte> state = serialize(commits_.back());
    for (int newcomer : newcomers) {
      const auto at = std::find(members_.begin(), members_.end(), newcomer) - members_.begin();
      SendHandle send = workers_->send(static_cast<int>(at), kTagJoinState, ByteSpan(state), SendInfo{.step = static_cast<std::uint64_t>(target)});
      if (Status s = workers_->wait(send, deadline, op, static_cast<int>(at)); !s.is_ok()) return s;
    }
  }
  strategy_ = make_strategy(run_, world_, *workers_, *model_);
  if (Status s = strategy_->start(model_->parameters(), *optimizer_); !s.is_ok()) return s;
  start_heartbeats();
  if (reporting()) {
    const std::size_t kept = static_cast<std::size_t>(std::max<std::int64_t>(0, target - run_.start_step));
    if (run_.result.losses.size() > kept) run_.result.losses.resize(kept);
    std::string text;
    if (after_failure) {
      ++run_.result.recoveries;
      text = fmt::format("{} worker(s) left out ({}); {} go on from the commit of step {}",
                         membership->left_out.size(), fmt::join(membership->left_out, ", "), members_.size(), target);
    } else {
      run_.result.joins += static_cast<int>(newcomers.size());
      text = fmt::format("node(s) {} joined after step {}; {} workers go on", fmt::join(newcomers, ", "), target,
                         members_.size());
    }
    if (run_.events.on_note) run_.events.on_note(text);
    if (run_.metrics) {
      run_.metrics->write({{"kind", after_failure ? "recovery" : "join"},
                           {"step", target},
                           {"generation", generation_},
                           {"workers", members_},
                           {"left_out", membership->left_out},
                           {"joined", newcomers},
                           {"reason", after_failure ? failure.message() : std::string()}});
    }
  }
  return target;
}

Status Worker::admit_planned_joiners(std::int64_t done) {
  std::vector<int> joiners;
  for (const NodeEvent& e : run_.faults.events) {
    if (e.kind != NodeEvent::Kind::kJoin || e.step + 1 != done) continue;
    if (std::find(members_.begin(), members_.end(), e.node) != members_.end()) continue;  // joined already
    joiners.push_back(e.node);
  }
  if (joiners.empty()) return Status::ok();
  commit(done);
  std::vector<int> candidates = members_;
  candidates.insert(candidates.end(), joiners.begin(), joiners.end());
  if (workers_->rank() == 0) {
    for (int joiner : joiners) invite(world_.transport(), joiner, generation_ + 1, candidates);
  }
  Result<std::int64_t> resume = change_membership(Status::ok(), joiners, generation_ + 1);
  if (!resume.is_ok()) return resume.status();
  return Status::ok();
}

Status Worker::join() {
  const int me = world_.transport().rank();
  members_.clear();
  Result<Invitation> invitation = Status::unavailable("not invited");
  for (;;) {
    invitation = await_invitation(world_.transport(), Deadline::after(real_clock(), std::chrono::milliseconds(200)));
    if (invitation.is_ok()) break;
    if (invitation.status().code() != StatusCode::kDeadlineExceeded) return invitation.status();
    if (run_.wait_over(std::chrono::milliseconds(0))) {
      spdlog::warn("node {}: the run ended before this spare was invited to join", me);
      return Status::ok();
    }
  }
  for (int c : invitation->candidates) {
    if (c != me) members_.push_back(c);
  }
  Result<std::int64_t> resume = change_membership(Status::ok(), {me}, invitation->generation);
  if (!resume.is_ok()) return resume.status();
  traffic_at_start_ = traffic_at_window_ = strategy_->traffic();
  return train_from(*resume);
}

// This node's stage of the pipeline grid; workers_ spans the stage's replicas.
Status Worker::make_pipeline() {
  const PipelineOptions options{
      .grid = pipeline_grid(config_),
      .schedule = parse_pipeline_schedule(config_.dist.schedule).value_or(PipelineScheduleKind::k1f1b),
      .microbatches = static_cast<int>(config_.dist.microbatches),
      .timeout = wait_timeout(config_)};
  const std::vector<ParamSpec> specs = model_->parameters().specs();
  auto make_optimizer = [this, specs](std::int64_t offset, std::int64_t count) {
    return build_optimizer(config_, specs, offset, count);
  };
  Result<std::unique_ptr<PipelineStrategy>> pipeline =
      PipelineStrategy::create(world_, *workers_, *model_, options, make_optimizer);
  if (!pipeline.is_ok()) return pipeline.status();
  pipeline_ = pipeline->get();
  strategy_ = std::move(*pipeline);
  return Status::ok();
}

// Rank 0 after the run: each stage's peak activation memory and measured bubble, next to the ideal one.
void Worker::report_pipeline_stages() {
  for (const PipelineStageReport& stage : pipeline_->stage_reports()) {
    run_.result.pipeline_stages.push_back(stage);
    if (run_.events.on_note) {
      run_.events.on_note(fmt::format(
          "pipeline stage {} (layers [{}, {}), {} parameters): peak activations {:.1f} KiB, bubble {:.1f}% "
          "(ideal {:.1f}%)",
          stage.stage, stage.layers.first, stage.layers.last, stage.parameters,
          static_cast<double>(stage.peak_activation_bytes) / 1024.0, 100.0 * stage.bubble_fraction,
          100.0 * stage.ideal_bubble_fraction));
    }
    if (run_.metrics) {
      run_.metrics->write({{"kind", "pipeline_stage"},
                           {"stage", stage.stage},
                           {"first_layer", stage.layers.first},
                           {"last_layer", stage.layers.last},
                           {"parameters", stage.parameters},
                           {"peak_activation_bytes", stage.peak_activation_bytes},
                           {"bubble_fraction", stage.bubble_fraction},
                           {"ideal_bubble_fraction", stage.ideal_bubble_fraction}});
    }
  }
}

// A parameter-server shard: initial parameters from the seed (or the checkpoint resumed).
Status run_server(Run& run, Communicator& world) {
  omp_set_num_threads(1);  // as a worker's (Worker::run): an idle OpenMP team spins on the cores the others need
  Result<Sequential> model = build_model(run.config, run.data.train->sample_shape(), run.data.train->classes());
  if (!model.is_ok()) return model.status();
  Parameters& params = model->parameters();
  if (run.resume) {
    if (Status s = restore_run_state(*run.resume, params, nullptr); !s.is_ok()) return s;
  }
  const std::vector<ParamSpec> specs = params.specs();
  ParameterServerOptions options = ps_options(run.config, specs);
  // dist.faults kill:N@S of this server: it dies after applying S updates to its slice.
  if (std::optional<NodeEvent> death = run.faults.death_of(world.rank()); death && death->kind == NodeEvent::Kind::kKill) {
    options.die_after_updates = death->step;
  }
  // Takeovers and lost updates to the notes and metrics.jsonl (called on this server's thread).
  ServerObserver observer;
  observer.on_takeover = [&run, &world](int slice, std::int64_t replica_updates) {
    if (run.events.on_note) {
      run.events.on_note(fmt::format("server rank {} took over slice {} from its replica of update {}", world.rank(),
                                     slice, replica_updates));
    }
    if (run.metrics) {
      run.metrics->write({{"kind", "ps_takeover"}, {"node", world.rank()}, {"slice", slice},
                          {"replica_updates", replica_updates}});
    }
  };
  observer.on_updates_lost = [&run, &world](int slice, std::int64_t lost) {
    if (run.events.on_note) {
      run.events.on_note(fmt::format("slice {}: {} update(s) since its replica are lost", slice, lost));
    }
    if (run.metrics) {
      run.metrics->write({{"kind", "ps_updates_lost"}, {"node", world.rank()}, {"slice", slice}, {"lost", lost}});
    }
  };
  observer.on_straggler = [&run, &world](int worker, bool straggling, double ratio) {
    if (run.events.on_note && world.rank() == run.config.train.workers) {  // the first server says it
      run.events.on_note(fmt::format("worker {} computes {:.2f}x the median step: {} SSP's bound (dist.stragglers = skip)",
                                     worker, ratio, straggling ? "left out of" : "back in"));
    }
    if (run.metrics) {
      run.metrics->write({{"kind", "ps_straggler"}, {"node", world.rank()}, {"worker", worker},
                          {"straggling", straggling}, {"ratio", ratio}});
    }
  };
  observer.on_worker_dropped = [&run, &world](int worker, std::int64_t clock) {
    if (run.metrics) {
      run.metrics->write({{"kind", "ps_worker_dropped"}, {"node", world.rank()}, {"worker", worker}, {"clock", clock}});
    }
  };
  // How far ahead of the slowest live worker (a straggler left out of the bound included) an
  // answered pull ran: within dist.staleness under SSP unless stragglers are skipped.
  std::int64_t lead = 0;
  observer.on_pull_answered = [&lead](int, std::int64_t clock, std::int64_t slowest) {
    lead = std::max(lead, clock - slowest);
  };
  Status status = run_parameter_server(
      world, params.values().span(),
      [&](std::int64_t offset, std::int64_t count) { return build_optimizer(run.config, specs, offset, count); },
      options, observer);
  if (status.is_ok() && options.sync == SyncMode::kSsp) {
    if (run.events.on_note && world.rank() == run.config.train.workers) {
      run.events.on_note(fmt::format("server rank {}: workers pulled up to {} clock(s) ahead of the slowest (dist.staleness = {})",
                                     world.rank(), lead, run.config.dist.staleness));
    }
    if (run.metrics) run.metrics->write({{"kind", "ps_lead"}, {"node", world.rank()}, {"lead", lead}});
  }
  return status;
}

Status run_worker(Run& run, Communicator& world, Communicator& workers, bool joining = false) {
  Worker worker(run, world, workers, joining);
  Status status = worker.run();
  if (!joining && !worker.dead()) run.mark_over();
  if (!status.is_ok() && run.metrics) {
    // Every failing node's own account (a stall names what it waited for and whom), so the
    // metrics hold the whole stall report, not just the error the run returns.
    run.metrics->write({{"kind", "failure"},
                        {"node", world.transport().rank()},
                        {"code", std::string(status_code_name(status.code()))},
                        {"error", status.message()}});
  }
  return status;
}

Status run_node(Run& run, Communicator& world) {
  const int workers = static_cast<int>(run.config.train.workers);
  if (world.rank() >= run.configured_nodes) return run_worker(run, world, world, /*joining=*/true);
  if (is_pipeline(run.config)) {
    const PipelineGrid grid = pipeline_grid(run.config);
    const int stage = grid.stage_of(world.rank());
    Communicator stage_group = world.subgroup(grid.stage_members(stage), grid.stage_context(stage));
    return run_worker(run, world, stage_group);
  }
  if (world.rank() >= workers) return run_server(run, world);
  if (world.world_size() == workers) return run_worker(run, world, world);
  std::vector<int> members(static_cast<std::size_t>(workers));
  for (int r = 0; r < workers; ++r) members[static_cast<std::size_t>(r)] = r;
  Communicator worker_group = world.subgroup(members, 1);
  return run_worker(run, world, worker_group);
}

// The sim transport's options from dist.sim_* (validate() has parsed them once already).
Status sim_options(const Config& config, SimTransportOptions& options) {
  Result<sim::LinkSpec> link = sim::parse_link(config.dist.sim_link);
  if (!link.is_ok()) return link.status();
  options.cluster.link = *link;
  if (Status s = sim::parse_fabric(config.dist.sim_cluster, options.cluster); !s.is_ok()) return s;
  options.compute_scale = config.dist.sim_compute_scale;
  Result<std::vector<sim::Fault>> faults = parse_sim_faults(config.dist.sim_faults);
  if (!faults.is_ok()) return faults.status();
  options.faults = std::move(*faults);
  options.seed = config.train.seed;
  return Status::ok();
}

}  // namespace

Result<TrainResult> train(const Config& config, const TrainOptions& options, const TrainEvents& events) {
  if (Status s = validate(config); !s.is_ok()) return s;
  Result<RunData> data = load_run_data(config);
  if (!data.is_ok()) return data.status();
  Run run{config, options, events, std::move(*data)};
  const int workers = static_cast<int>(config.train.workers);
  run.plan = std::make_unique<BatchPlan>(run.data.train->size(), config.train.batch, workers, config.train.seed);
  run.total_steps = config.train.iters > 0 ? config.train.iters : config.train.epochs * run.plan->steps_per_epoch();
  if (!options.resume.empty()) {
    Result<Checkpoint> checkpoint = read_checkpoint(options.resume);
    if (!checkpoint.is_ok()) return checkpoint.status();
    Result<std::int64_t> step = checkpoint_step(*checkpoint);
    if (!step.is_ok()) return step.status();
    if (Status s = check_vocabulary(*checkpoint, run.data, config); !s.is_ok()) return s;
    run.start_step = *step;
    run.resume = std::move(*checkpoint);
    if (events.on_note) {
      events.on_note(fmt::format("resumed from {} at step {} of {}", options.resume.string(), run.start_step,
                                 run.total_steps));
    }
  }

  if (Result<TrainFaults> faults = parse_train_faults(config.dist.faults); faults.is_ok()) {
    run.faults = std::move(*faults);  // validate() has checked it
  }
  LaunchOptions launch;
  launch.transport = parse_transport_kind(config.dist.transport).value_or(TransportKind::kInproc);
  run.configured_nodes = pipeline_grid(config).world_size() +
                         (is_parameter_server(config) ? static_cast<int>(config.dist.servers) : 0);
  launch.world_size = run.configured_nodes + run.faults.joins();
  launch.communicator.trace = options.trace;
  NetworkReport network;
  if (Status s = configure_delivery(config, launch, &network); !s.is_ok()) return s;
  SimReport sim_report;
  if (launch.transport == TransportKind::kSim) {
    if (Status s = sim_options(config, launch.sim); !s.is_ok()) return s;
    launch.sim_report = &sim_report;
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  run.threads_per_node = config.train.threads > 0 ? static_cast<int>(config.train.threads)
                                                  : std::max(1, cores / pipeline_grid(config).world_size());
  set_blas_threads(run.threads_per_node);

  // In process every node writes to one metrics file; on mpi each process to its own.
  const std::filesystem::path out(config.train.out);
  if (launch.transport != TransportKind::kMpi) {
    Result<std::unique_ptr<MetricsWriter>> metrics = MetricsWriter::open(out / "metrics.jsonl");
    if (!metrics.is_ok()) return metrics.status();
    run.metrics = std::move(*metrics);
  }
  bool reporting_here = false;
  Status status = run_nodes(launch, [&](Communicator& world) -> Status {
    if (world.rank() == 0) reporting_here = true;
    if (launch.transport == TransportKind::kMpi) {
      const std::string name = world.rank() == 0 ? "metrics.jsonl" : fmt::format("metrics.rank-{}.jsonl", world.rank());
      Result<std::unique_ptr<MetricsWriter>> metrics = MetricsWriter::open(out / name);
      if (!metrics.is_ok()) return metrics.status();
      run.metrics = std::move(*metrics);
    }
    return run_node(run, world);
  });
  if (launch.network_report != nullptr) {
    if (run.metrics) run.metrics->write(network_record(network, config.dist.delivery));
    run.result.network = network;
  }
  if (!status.is_ok()) return status;
  run.result.steps = run.total_steps - run.start_step;
  run.result.is_reporting_rank = reporting_here;
  if (launch.transport == TransportKind::kSim) run.result.simulation = std::move(sim_report);
  return std::move(run.result);
}

std::string describe_simulation(const SimReport& report, std::int64_t steps) {
  sim::Time compute = 0, communicate = 0, wait = 0;
  for (const SimNodeReport& node : report.nodes) {
    compute += node.compute;
    communicate += node.communicate;
    wait += node.wait;
  }
  const double total = std::max(1.0, static_cast<double>(compute + communicate + wait));
  const auto share = [&](sim::Time t) { return 100.0 * static_cast<double>(t) / total; };
  const sim::Time step = steps > 0 ? report.end / steps : 0;
  return fmt::format(
      "simulated: {} steps in {} of virtual time, step {} (compute {:.0f}%, communication {:.0f}%, waiting {:.0f}%); "
      "{} messages, {} bytes on the network",
      steps, sim::format_time(report.end), sim::format_time(step), share(compute), share(communicate), share(wait),
      report.network.messages, report.network.bytes);
}

Result<EvalReport> evaluate_checkpoint(const std::filesystem::path& path, std::span<const std::string> overrides) {
  Result<Checkpoint> checkpoint = read_checkpoint(path);
  if (!checkpoint.is_ok()) return checkpoint.status();
  Result<std::int64_t> step = checkpoint_step(*checkpoint);
  if (!step.is_ok()) return step.status();
  Result<Config> config = checkpoint_config(*checkpoint);
  if (!config.is_ok()) return config.status();
  for (const std::string& assignment : overrides) {
    if (Status s = apply_override(*config, assignment); !s.is_ok()) return s;
  }
  if (Status s = validate(*config); !s.is_ok()) return s;
  Result<RunData> data = load_run_data(*config);
  if (!data.is_ok()) return data.status();
  if (Status s = check_vocabulary(*checkpoint, *data, *config); !s.is_ok()) return s;
  Result<Sequential> model = build_model(*config, data->train->sample_shape(), data->train->classes());
  if (!model.is_ok()) return model.status();
  if (Status s = restore_run_state(*checkpoint, model->parameters(), nullptr); !s.is_ok()) return s;
  const TrainConfig& t = config->train;
  const std::int64_t examples = t.final_eval_examples > 0 ? t.final_eval_examples : t.eval_examples;
  EvalReport report = evaluate(*model, *data->test, examples);
  report.step = *step;
  return report;
}

}  // namespace courier
