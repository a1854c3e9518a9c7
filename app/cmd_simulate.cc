// `courier simulate`: the same nodes in virtual time on a modelled cluster (src/courier/sim).
//
//   courier simulate --workers 1024 --algo ring --bytes 100M --link 25Gbps,5us --seed 1
//       one allreduce, against its closed form
//   courier simulate configs/gpt-kjv.toml --workers 8,64,1024 --link 10Gbps,5us --link 100Gbps,5us
//       training steps of the config's model and strategy: a worker's compute measured on the
//       real kernels (or --compute), its gradient bytes and the codec's from a short real run
//   courier simulate --replay run.trace.json [--workers 256 --link 10Gbps,5us]
//       a run recorded by courier train --trace, replayed (simulate_replay.h)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "courier/sim/cluster.h"
#include "courier/sim/faults.h"
#include "courier/sim/workloads.h"
#include "courier/train/trainer.h"
#include "progress.h"
#include "simulate_replay.h"

namespace courier::app {
namespace {

struct SimulateFlags {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string workers = "8";
  bool workers_given = false;
  std::string replay;     // a trace of courier train --trace
  std::vector<std::string> links;
  std::string cluster = "switch";
  std::string algorithm;  // empty: the config's dist.algo (ring for auto), or ring
  std::string bytes = "100M";
  std::string compute;    // empty: measured; else a duration ("95ms")
  std::string servers;    // ps: shards; "1/8" is one per 8 workers; empty: the config's dist.servers
  std::vector<std::string> faults;
  std::int64_t steps = 20;
  std::uint64_t seed = 1;
};

// "100M" (10^8), "64Mi" (2^26), "4K", "1G", "12345".
Result<std::uint64_t> parse_bytes(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  if (unit.ends_with("B")) unit.remove_suffix(1);
  double scale = 0;
  if (unit.empty()) scale = 1;
  else if (unit == "K" || unit == "k") scale = 1e3;
  else if (unit == "M") scale = 1e6;
  else if (unit == "G") scale = 1e9;
  else if (unit == "Ki") scale = 1024.0;
  else if (unit == "Mi") scale = 1024.0 * 1024;
  else if (unit == "Gi") scale = 1024.0 * 1024 * 1024;
  if (ec != std::errc() || scale == 0 || !(value > 0) || value * scale > 1e13) {
    return Status::invalid_argument(
        fmt::format("--bytes '{}' is not a size: write a number with K, M, G (powers of 10) or Ki, Mi, Gi, e.g. 100M",
                    text));
  }
  return static_cast<std::uint64_t>(std::llround(value * scale));
}

Result<std::vector<int>> parse_workers(const std::string& text) {
  std::vector<int> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    int n = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (ec != std::errc() || ptr != item.data() + item.size() || n < 1 || n > 16384) {
      return Status::invalid_argument(fmt::format(
          "--workers '{}': '{}' is not a worker count from 1 to 16384; write N or a list, e.g. 8,64,1024", text, item));
    }
    out.push_back(n);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.empty()) return Status::invalid_argument("--workers names no count; write N or a list, e.g. 8,64,1024");
  return out;
}

Result<std::vector<sim::LinkSpec>> parse_links(const std::vector<std::string>& texts) {
  std::vector<sim::LinkSpec> links;
  for (const std::string& t : texts.empty() ? std::vector<std::string>{"25Gbps,5us"} : texts) {
    Result<sim::LinkSpec> link = sim::parse_link(t);
    if (!link.is_ok()) return Status::invalid_argument(fmt::format("--link: {}", link.status().message()));
    links.push_back(*link);
  }
  return links;
}

Result<std::vector<sim::Fault>> parse_faults(const std::vector<std::string>& texts) {
  std::vector<sim::Fault> faults;
  for (const std::string& t : texts) {
    Result<sim::Fault> f = sim::parse_fault(t);
    if (!f.is_ok()) return Status::invalid_argument(fmt::format("--fault: {}", f.status().message()));
    faults.push_back(*f);
  }
  return faults;
}

std::string gbps(double bytes, sim::Time t) {
  return t > 0 ? fmt::format("{:.2f}", bytes * 8 / sim::to_seconds(t) / 1e9) : "-";
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

int report_simulation_failure(const Status& status) {
  fmt::print(stderr, "courier: simulate: {}\n", status.message());
  return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

// One collective, no config.
int run_collective(const SimulateFlags& flags) {
  const std::string algo_name = flags.algorithm.empty() ? "ring" : flags.algorithm;
  const std::optional<sim::Algorithm> algorithm = sim::parse_algorithm(algo_name);
  if (!algorithm) {
    return report_simulation_failure(Status::invalid_argument(
        fmt::format("--algo '{}' is not simulated; write ring, halving-doubling or tree", algo_name)));
  }
  Result<std::uint64_t> bytes = parse_bytes(flags.bytes);
  Result<std::vector<int>> workers = parse_workers(flags.workers);
  Result<std::vector<sim::LinkSpec>> links = parse_links(flags.links);
  Result<std::vector<sim::Fault>> faults = parse_faults(flags.faults);
  for (const Status& s : {bytes.status(), workers.status(), links.status(), faults.status()}) {
    if (!s.is_ok()) return report_simulation_failure(s);
  }
  fmt::print("# simulated allreduce ({}) of {} bytes, seed {}; closed form: {}\n", algo_name, *bytes, flags.seed,
             *algorithm == sim::Algorithm::kHalvingDoubling
                 ? "2 log2(n) a + 2 (n-1)/n S b (n a power of two)"
             : *algorithm == sim::Algorithm::kRing ? "2 (n-1) a + 2 (n-1)/n S b"
                                                   : "2 ceil(log2 n) (a + S b)");
  fmt::print("{:>6} {:>18} {:>12} {:>12} {:>8} {:>9} {:>13} {:>10} {:>9} {:>8} {:>9}\n", "nodes", "link", "time",
             "closed_form", "ratio", "busbw_Gbps", "busiest_link", "messages", "events", "wall_s", "rss_MiB");
  std::uint64_t digest = 0;
  for (const sim::LinkSpec& link : *links) {
    for (const int n : *workers) {
      sim::ClusterSpec cluster;
      cluster.nodes = n;
      cluster.link = link;
      if (Status s = sim::parse_fabric(flags.cluster, cluster); !s.is_ok()) return report_simulation_failure(s);
      const auto wall = std::chrono::steady_clock::now();
      Result<sim::RunTotals> r = sim::simulate_allreduce(cluster, *algorithm, *bytes, *faults, flags.seed);
      const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
      if (!r.is_ok()) return report_simulation_failure(r.status());
      // Halving-doubling's closed form holds for powers of two only.
      const bool has_form = *algorithm != sim::Algorithm::kHalvingDoubling || (n & (n - 1)) == 0;
      const sim::Time cf = has_form ? sim::closed_form(*algorithm, n, *bytes, link) : 0;
      // Bus bandwidth, as nccl-tests: the algorithm bandwidth times 2 (n-1)/n.
      const double bus = static_cast<double>(*bytes) * 2.0 * (n - 1) / n;
      fmt::print("{:>6} {:>18} {:>12} {:>12} {:>8.4f} {:>9} {:>13} {:>10} {:>9} {:>8.2f} {:>9.0f}\n", n,
                 fmt::format("{:g}Gbps,{}", link.bits_per_second / 1e9, sim::format_time(link.latency)),
                 sim::format_time(r->time), cf > 0 ? sim::format_time(cf) : "-",
                 cf > 0 ? static_cast<double>(r->time) / static_cast<double>(cf) : 1.0, gbps(bus, r->time),
                 format_bytes(static_cast<double>(r->busiest_link_bytes)), r->network.messages, r->events, wall_s,
                 peak_rss_mib());
      if (r->network.lost > 0) fmt::print("       {} copies lost and re-sent\n", r->network.lost);
      digest = r->digest;
    }
  }
  fmt::print("# trace digest of the last run: {:016x} (the same seed gives the same digest)\n", digest);
  return kExitOk;
}

// --servers: N shards, or "1/K", one per K workers (at least one).
struct ServerCount {
  int count = 1;
  int per_workers = 0;  // > 0: count = workers / per_workers
};

Result<ServerCount> parse_servers(const std::string& text, int config_servers) {
  if (text.empty()) return ServerCount{config_servers, 0};
  const bool ratio = text.starts_with("1/");
  const std::string_view number = ratio ? std::string_view(text).substr(2) : std::string_view(text);
  int value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || ptr != number.data() + number.size() || value < 1) {
    return Status::invalid_argument(
        fmt::format("--servers '{}' is neither a shard count N >= 1 nor 1/K (one shard per K workers)", text));
  }
  return ratio ? ServerCount{1, value} : ServerCount{value, 0};
}

// What one worker's step costs, from short real runs of the config.
struct Measured {
  double compute_s = 0;
  std::uint64_t gradient_bytes = 0;
  std::uint64_t encoded_bytes = 0;
  bool sparse = false;
  std::vector<double> step_samples;  // measured steps after warm-up, seconds
};

Result<Config> resolve(const SimulateFlags& flags) {
  Result<Config> config = load_config(flags.config_path);
  if (!config.is_ok()) return config.status();
  for (const std::string& assignment : flags.overrides) {
    if (Status s = apply_override(*config, assignment); !s.is_ok()) return s;
  }
  if (Status s = validate(*config); !s.is_ok()) return s;
  return config;
}

// A short, quiet real run of `config` changed by `overrides`, in a scratch directory.
Result<TrainResult> short_run(Config config, const std::vector<std::string>& overrides) {
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / fmt::format("courier-simulate-{}", getpid());
  for (const std::string& o : overrides) {
    if (Status s = apply_override(config, o); !s.is_ok()) return s;
  }
  if (Status s = apply_override(config, "train.out=" + scratch.string()); !s.is_ok()) return s;
  Result<TrainResult> result = train(config);
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return result;
}

// "50GFLOPS", "1.5TFLOPS", "800MFLOP/s": a node's speed for the cost model.
Result<double> parse_flops(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  const std::pair<std::string_view, double> units[] = {{"MFLOPS", 1e6}, {"GFLOPS", 1e9}, {"TFLOPS", 1e12},
                                                       {"MFLOP/s", 1e6}, {"GFLOP/s", 1e9}, {"TFLOP/s", 1e12}};
  for (const auto& [name, scale] : units) {
    if (ec == std::errc() && unit == name && value > 0 && std::isfinite(value)) return value * scale;
  }
  return Status::invalid_argument("not a speed");
}

// Times a worker's step (when `timed`) and finds the gradient's and the codec's bytes.
Result<Measured> measure(const Config& config, bool timed) {
  Measured m;
  const std::int64_t workers = config.train.workers;
  const std::int64_t per_worker = std::max<std::int64_t>(1, config.train.batch / workers);
  const std::vector<std::string> quiet = {"train.eval_every=1000000", "train.eval_examples=1",
                                          "train.final_eval_examples=1", "checkpoint.every=0", "checkpoint.keep=1",
                                          "dist.transport=inproc", "dist.codec_warmup=0", "dist.faults=\"\"",
                                          "dist.recovery=stop"};
  // The config's own workers, each on its share of the batch and of the cores, as in its real
  // run, but exchanging nothing (local SGD that never averages): a step is all compute, with
  // the contention of the real run. The first 10 steps are warm-up.
  std::vector<std::string> alone = quiet;
  alone.insert(alone.end(), {"dist.strategy=local-sgd", "dist.sync=bsp", "dist.local_steps=1000000",
                             "dist.codec=identity", "dist.faults=\"\"", "dist.recovery=stop",
                             fmt::format("train.iters={}", timed ? 60 : 1)});
  Result<TrainResult> run = short_run(config, alone);
  if (!run.is_ok()) return run.status();
  m.gradient_bytes = run->parameters.size() * sizeof(float);
  m.compute_s = run->median_step_s;
  if (run->step_seconds.size() > 10) m.step_samples.assign(run->step_seconds.begin() + 10, run->step_seconds.end());
  m.encoded_bytes = m.gradient_bytes;
  if (config.dist.codec != "identity") {
    // Two workers exchange one encoded copy each way a step: its size is the codec's.
    std::vector<std::string> two = quiet;
    two.insert(two.end(), {"dist.strategy=allreduce", "train.workers=2", fmt::format("train.batch={}", 2 * per_worker),
                           "train.iters=3"});
    Result<TrainResult> pair = short_run(config, two);
    if (!pair.is_ok()) return pair.status();
    if (pair->raw_bytes_per_step > 0) {
      m.encoded_bytes = static_cast<std::uint64_t>(static_cast<double>(m.gradient_bytes) * pair->bytes_per_step /
                                                    pair->raw_bytes_per_step);
    }
    m.sparse = config.dist.codec.starts_with("topk") || config.dist.codec.starts_with("randomk");
  }
  return m;
}

int run_training(const SimulateFlags& flags) {
  Result<Config> config = resolve(flags);
  if (!config.is_ok()) return report_simulation_failure(config.status());
  Result<std::vector<int>> workers = parse_workers(flags.workers);
  Result<std::vector<sim::LinkSpec>> links = parse_links(flags.links);
  Result<std::vector<sim::Fault>> faults = parse_faults(flags.faults);
  for (const Status& s : {workers.status(), links.status(), faults.status()}) {
    if (!s.is_ok()) return report_simulation_failure(s);
  }
  const DistConfig& dist = config->dist;
  Result<ServerCount> servers = parse_servers(flags.servers, static_cast<int>(dist.servers));
  if (!servers.is_ok()) return report_simulation_failure(servers.status());
  sim::TrainingPlan plan;
  if (dist.strategy == "allreduce") {
    plan.strategy = sim::StrategyKind::kAllreduce;
  } else if (dist.strategy == "ps") {
    plan.strategy = sim::StrategyKind::kParameterServer;
    plan.staleness = dist.sync == "bsp" ? 0 : dist.sync == "asp" ? -1 : static_cast<int>(dist.staleness);
  } else if (dist.strategy == "gossip") {
    plan.strategy = sim::StrategyKind::kGossip;
  } else if (dist.strategy == "local-sgd") {
    plan.strategy = sim::StrategyKind::kLocalSgd;
    plan.local_steps = static_cast<int>(dist.local_steps);
  } else {
    return report_simulation_failure(Status::invalid_argument(fmt::format(
        "dist.strategy = \"{}\" is not simulated yet; simulate allreduce, ps, gossip or local-sgd", dist.strategy)));
  }
  const std::string algo = !flags.algorithm.empty() ? flags.algorithm
                           : dist.algo == "auto" || dist.algo == "mpi-native" ? "ring"
                                                                               : dist.algo;
  const std::optional<sim::Algorithm> algorithm = sim::parse_algorithm(algo);
  if (!algorithm) {
    return report_simulation_failure(Status::invalid_argument(
        fmt::format("--algo '{}' is not simulated; write ring, halving-doubling or tree", algo)));
  }
  plan.algorithm = *algorithm;
  plan.steps = static_cast<int>(flags.steps);

  // --compute: a duration, or a node speed for the cost model, or nothing (measure).
  std::string how = "measured";
  double given_s = 0, flops_per_s = 0;
  if (!flags.compute.empty()) {
    sim::Time t = 0;
    if (sim::parse_duration(flags.compute, t) && t > 0) {
      given_s = sim::to_seconds(t);
      how = "given";
    } else if (Result<double> rate = parse_flops(flags.compute); rate.is_ok()) {
      flops_per_s = *rate;
    } else {
      return report_simulation_failure(Status::invalid_argument(fmt::format(
          "--compute '{}' is neither a duration (95ms) nor a node speed (50GFLOPS); leave it out to measure",
          flags.compute)));
    }
  }
  fmt::print("# measuring a worker's step of {} on this machine's kernels...\n", flags.config_path);
  std::fflush(stdout);
  Result<Measured> measured = measure(*config, flags.compute.empty());
  if (!measured.is_ok()) return report_simulation_failure(measured.status());
  Measured m = *measured;
  if (given_s > 0) m.compute_s = given_s;
  if (flops_per_s > 0) {
    // The cost model: 6 FLOPs per parameter per sample (forward 2, backward 4), per token for a
    // GPT plus attention's 12 x layers x context x width (Kaplan et al. 2020). Convolutions
    // reuse their weights across positions, so for a CNN it undercounts.
    const double params = static_cast<double>(m.gradient_bytes) / sizeof(float);
    const double samples = static_cast<double>(std::max<std::int64_t>(1, config->train.batch / config->train.workers));
    const ModelConfig& model = config->model;
    const double per_sample =
        model.kind == "gpt" ? static_cast<double>(model.context) *
                                  (6 * params + 12.0 * static_cast<double>(model.layers * model.context * model.embedding))
                            : 6 * params;
    m.compute_s = samples * per_sample / flops_per_s;
    how = fmt::format("cost model: {:.3g} GFLOP at {:g} GFLOPS", samples * per_sample / 1e9, flops_per_s / 1e9);
  }
  plan.compute = sim::from_seconds(m.compute_s);
  if (how == "measured" && !m.step_samples.empty()) {
    // Every worker's every step draws from the measured steps: their jitter is what makes
    // synchronous workers wait for one another. The mean is the one-worker step.
    double sum = 0;
    for (double s : m.step_samples) {
      plan.compute_samples.push_back(sim::from_seconds(s));
      sum += s;
    }
    m.compute_s = sum / static_cast<double>(m.step_samples.size());
    plan.compute = sim::from_seconds(m.compute_s);
    how = fmt::format("measured: mean of {} steps of {} concurrent workers, median {:.2f} ms", m.step_samples.size(),
                      config->train.workers, measured->compute_s * 1e3);
  }
  plan.gradient_bytes = m.gradient_bytes;
  plan.encoded_bytes = std::max<std::uint64_t>(1, m.encoded_bytes);
  plan.sparse = m.sparse;

  fmt::print("# {} ({}), codec {}: a worker computes {:.2f} ms a step ({}), sends {} of gradients ({} encoded{})\n",
             dist.strategy, plan.strategy == sim::StrategyKind::kParameterServer ? dist.sync : algo, dist.codec,
             m.compute_s * 1e3, how, format_bytes(double(m.gradient_bytes)),
             format_bytes(double(plan.encoded_bytes)), plan.sparse ? ", allgathered" : "");
  fmt::print("{:>7} {:>8} {:>16} {:>11} {:>8} {:>8} {:>8} {:>10} {:>12} {:>12} {:>8}\n", "workers", "servers", "link",
             "step", "compute", "comm", "wait", "efficiency", "busiest/step", "mean/step", "wall_s");
  for (const sim::LinkSpec& link : *links) {
    for (const int n : *workers) {
      plan.workers = n;
      plan.servers = servers->per_workers > 0 ? std::max(1, n / servers->per_workers) : servers->count;
      sim::ClusterSpec cluster;
      cluster.nodes = sim::nodes_needed(plan);
      cluster.link = link;
      if (Status s = sim::parse_fabric(flags.cluster, cluster); !s.is_ok()) return report_simulation_failure(s);
      const auto wall = std::chrono::steady_clock::now();
      Result<sim::TrainingReport> r = sim::simulate_training(plan, cluster, *faults, flags.seed);
      const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
      if (!r.is_ok()) return report_simulation_failure(r.status());
      fmt::print("{:>7} {:>8} {:>16} {:>11} {:>7.1f}% {:>7.1f}% {:>7.1f}% {:>10.3f} {:>12} {:>12} {:>8.2f}\n", n,
                 plan.strategy == sim::StrategyKind::kParameterServer ? fmt::format("{}", plan.servers) : "-",
                 fmt::format("{:g}Gbps,{}", link.bits_per_second / 1e9, sim::format_time(link.latency)),
                 sim::format_time(r->step), 100 * r->compute_share, 100 * r->communicate_share, 100 * r->wait_share,
                 r->efficiency, format_bytes(double(r->link_bytes_max)), format_bytes(double(r->link_bytes_mean)),
                 wall_s);
    }
  }
  return kExitOk;
}

int run_replay_flags(const SimulateFlags& flags) {
  if (!flags.config_path.empty()) {
    return report_simulation_failure(
        Status::invalid_argument("--replay takes the run from its trace: leave out the config"));
  }
  ReplayRequest request;
  request.trace_path = flags.replay;
  request.cluster = flags.cluster;
  request.steps = flags.steps;
  request.seed = flags.seed;
  if (flags.workers_given) {
    Result<std::vector<int>> workers = parse_workers(flags.workers);
    if (!workers.is_ok()) return report_simulation_failure(workers.status());
    request.workers = *workers;
  }
  if (!flags.links.empty()) {
    Result<std::vector<sim::LinkSpec>> links = parse_links(flags.links);
    if (!links.is_ok()) return report_simulation_failure(links.status());
    request.links = *links;
  }
  Result<std::vector<sim::Fault>> faults = parse_faults(flags.faults);
  if (!faults.is_ok()) return report_simulation_failure(faults.status());
  request.faults = *faults;
  return run_replay(request);
}

int run_simulate(const SimulateFlags& flags) {
  if (flags.steps < 1) return report_simulation_failure(Status::invalid_argument("--steps must be at least 1"));
  if (!flags.replay.empty()) return run_replay_flags(flags);
  return flags.config_path.empty() ? run_collective(flags) : run_training(flags);
}

}  // namespace

void add_simulate_command(CLI::App& root, Action& action) {
  auto flags = std::make_shared<SimulateFlags>();
  CLI::App* cmd = root.add_subcommand(
      "simulate",
      "Run nodes in virtual time on a modelled cluster (docs/simulator.md). Without a config: one\n"
      "allreduce of --bytes among --workers nodes, with its closed form. With a config: training\n"
      "steps of its model and strategy at each --workers count, a worker's compute measured on this\n"
      "machine (or --compute), printing step time, compute/communication/waiting shares, scaling\n"
      "efficiency against one worker, and bytes per link. With --replay TRACE: a run recorded by\n"
      "courier train --trace, message by message at its own size, as training steps at other --workers.");
  cmd->add_option("config", flags->config_path, "A training config (configs/*.toml); omit for one collective")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", flags->overrides, "Override a config key (repeatable)");
  cmd->add_option("--replay", flags->replay, "A trace written by courier train --trace: replay that run");
  cmd->add_option("--workers", flags->workers, "Workers: N or a list 8,64,1024")->capture_default_str();
  cmd->add_option("--link", flags->links, "BANDWIDTH,LATENCY[,loss=P], e.g. 25Gbps,5us (repeatable; default 25Gbps,5us)");
  cmd->add_option("--cluster", flags->cluster, "switch, ring, fattree:K or fattree:K:O")->capture_default_str();
  cmd->add_option("--algo", flags->algorithm, "ring, halving-doubling or tree (default: the config's, else ring)");
  cmd->add_option("--bytes", flags->bytes, "Allreduce size without a config: 100M, 64Mi, 4K")->capture_default_str();
  cmd->add_option("--compute", flags->compute,
                  "A worker's compute a step instead of measuring it: a duration (95ms) or, for the cost model "
                  "of 6 FLOPs a parameter a sample, a node speed (50GFLOPS)");
  cmd->add_option("--servers", flags->servers, "ps: server shards, N or 1/K (one per K workers)");
  cmd->add_option("--fault", flags->faults, "crash:N@T, slow:N:F[@T], slownic:N:F[@T], partition:A-B@T1-T2, loss:P (repeatable)");
  cmd->add_option("--steps", flags->steps, "Training steps to simulate")->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Seeds loss and every random choice")->capture_default_str();
  cmd->callback([flags, cmd, &action] {
    flags->workers_given = cmd->count("--workers") > 0;
    action = [flags] { return run_simulate(*flags); };
  });
}

}  // namespace courier::app
