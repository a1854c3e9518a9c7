// `courier simulate --replay`: a recorded trace on a modelled cluster, at its own size message by
// message, at other sizes as the training steps it shows.
#include "simulate_replay.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "commands.h"
#include "courier/comm/trace.h"
#include "courier/sim/replay.h"
#include "courier/sim/workloads.h"
#include "progress.h"

namespace courier::app {
namespace {

int fail(const Status& status) {
  fmt::print(stderr, "courier: simulate --replay: {}\n", status.message());
  return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

std::string link_text(const sim::LinkSpec& link) {
  return fmt::format("{:g}Gbps,{}", link.bits_per_second / 1e9, sim::format_time(link.latency));
}

// Each node's sends and receives, in the order it did them.
sim::RecordedRun recorded_run(const Trace& trace) {
  const std::vector<TraceRecord> records = trace.records();  // sorted by time
  std::uint32_t nodes = 0;
  for (const TraceRecord& r : records) nodes = std::max({nodes, r.source + 1, r.destination + 1});
  sim::RecordedRun run;
  run.nodes.resize(nodes);
  for (const TraceRecord& r : records) {
    const bool send = r.event == TraceEvent::kSend;
    const std::uint32_t node = send ? r.source : r.destination;
    run.nodes[node].push_back({send, static_cast<int>(send ? r.destination : r.source), r.tag, r.seq, r.step, r.bytes,
                               static_cast<sim::Time>(r.time_ns) * 1000});
  }
  return run;
}

struct Recording {
  std::map<std::string, std::string> metadata;
  sim::RecordedRun run;
  sim::LinkSpec fitted;
  sim::ReplayProgram program;
  std::size_t messages = 0;
  int workers = 0;

  std::string get(const std::string& key, const std::string& otherwise = "?") const {
    const auto it = metadata.find(key);
    return it == metadata.end() ? otherwise : it->second;
  }
};

Result<Recording> load(const std::string& path) {
  Result<Trace> trace = read_chrome_trace(path);
  if (!trace.is_ok()) return trace.status();
  Recording r;
  r.metadata = trace->metadata();
  if (r.get("dist.strategy") == "pipeline") {
    return Status::invalid_argument(fmt::format(
        "'{}' records a pipeline run: its stages' activation messages are not replayed yet; record a data-parallel "
        "run (allreduce, ps, local-sgd, gossip)",
        path));
  }
  bool steps = false;
  for (const TraceRecord& record : trace->records()) steps = steps || record.step > 0;
  if (!steps || r.get("steps", "1") == "0") {
    return Status::invalid_argument(fmt::format(
        "'{}' holds no training step (only the start's messages): record a run of a few steps with courier train "
        "--trace",
        path));
  }
  r.messages = trace->size() / 2;
  r.run = recorded_run(*trace);
  r.fitted = sim::fit_link(r.run);
  Result<sim::ReplayProgram> program = sim::make_replay_program(r.run, r.fitted);
  if (!program.is_ok()) return Status::data_loss(fmt::format("'{}': {}", path, program.status().message()));
  r.program = std::move(*program);
  r.workers = std::atoi(r.get("train.workers", "0").c_str());
  if (r.workers < 1 || r.workers > static_cast<int>(r.run.nodes.size())) r.workers = static_cast<int>(r.run.nodes.size());
  return r;
}

// (a) Message by message, at the recorded size.
int replay_messages(const Recording& rec, const ReplayRequest& request) {
  const sim::NodeStats total = [&] {
    sim::NodeStats t;
    for (const sim::NodeStats& s : rec.program.recorded_stats) {
      t.compute += s.compute;
      t.communicate += s.communicate;
      t.wait += s.wait;
    }
    return t;
  }();
  const double all = static_cast<double>(total.compute + total.communicate + total.wait);
  fmt::print("# recorded: {} from the first message to the last; compute {:.1f}%, comm {:.1f}%, wait {:.1f}% (the "
             "replay's rule, docs/simulator.md); median step {} ms\n",
             sim::format_time(rec.program.recorded), all > 0 ? 100 * total.compute / all : 0.0,
             all > 0 ? 100 * total.communicate / all : 0.0, all > 0 ? 100 * total.wait / all : 0.0,
             rec.get("median_step_s") == "?" ? "?" : fmt::format("{:.2f}", 1e3 * std::atof(rec.get("median_step_s").c_str())));
  fmt::print("{:>6} {:>26} {:>11} {:>11} {:>7} {:>8} {:>8} {:>8} {:>13} {:>8}\n", "nodes", "link", "recorded",
             "replayed", "ratio", "compute", "comm", "wait", "busiest_link", "wall_s");
  std::vector<std::pair<std::string, sim::LinkSpec>> links = {{"fitted " + link_text(rec.fitted), rec.fitted}};
  for (const sim::LinkSpec& l : request.links) links.emplace_back(link_text(l), l);
  for (const auto& [name, link] : links) {
    sim::ClusterSpec cluster;
    cluster.nodes = static_cast<int>(rec.run.nodes.size());
    cluster.link = link;
    if (Status s = sim::parse_fabric(request.cluster, cluster); !s.is_ok()) return fail(s);
    const auto wall = std::chrono::steady_clock::now();
    Result<sim::ReplayReport> r = sim::replay(rec.program, cluster, request.faults, request.seed);
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
    if (!r.is_ok()) return fail(r.status());
    fmt::print("{:>6} {:>26} {:>11} {:>11} {:>7.3f} {:>7.1f}% {:>7.1f}% {:>7.1f}% {:>13} {:>8.2f}\n", cluster.nodes,
               name, sim::format_time(r->recorded), sim::format_time(r->replayed),
               r->recorded > 0 ? static_cast<double>(r->replayed) / static_cast<double>(r->recorded) : 1.0,
               100 * r->compute_share, 100 * r->communicate_share, 100 * r->wait_share,
               format_bytes(static_cast<double>(r->busiest_link_bytes)), wall_s);
  }
  return kExitOk;
}

// The strategy, the codec's bytes and a worker's compute a step, as the recording shows them.
Result<sim::TrainingPlan> infer_plan(const Recording& rec) {
  const std::string strategy = rec.get("dist.strategy");
  if (strategy == "?") {
    return Status::invalid_argument(
        "the trace has no run metadata (dist.strategy, train.workers): record it again with this version's courier "
        "train --trace to simulate other worker counts");
  }
  Result<sim::StepProfile> profile = sim::profile_steps(rec.program, rec.workers);
  if (!profile.is_ok()) return profile.status();
  sim::TrainingPlan plan;
  const std::string codec = rec.get("dist.codec", "identity");
  plan.sparse = codec.starts_with("topk") || codec.starts_with("randomk");
  const double n = rec.workers, bytes = static_cast<double>(profile->worker_bytes);
  double encoded = 0;  // what one worker's payload is, from what all workers sent in a step
  if (strategy == "allreduce" || strategy == "local-sgd") {
    plan.strategy = strategy == "allreduce" ? sim::StrategyKind::kAllreduce : sim::StrategyKind::kLocalSgd;
    // Ring, halving-doubling and tree all send 2 (n-1) S in total; an allgather n (n-1) S.
    encoded = plan.sparse ? bytes / (n * (n - 1)) : bytes / (2 * (n - 1));
  } else if (strategy == "ps") {
    plan.strategy = sim::StrategyKind::kParameterServer;
    encoded = bytes / n;  // every worker pushes its encoded gradient once
    const std::string sync = rec.get("dist.sync", "bsp");
    plan.staleness = sync == "bsp" ? 0 : sync == "asp" ? -1 : std::atoi(rec.get("dist.staleness", "0").c_str());
    plan.servers = std::max(1, std::atoi(rec.get("dist.servers", "1").c_str()));
  } else if (strategy == "gossip") {
    plan.strategy = sim::StrategyKind::kGossip;
    encoded = bytes / (n * std::min(2.0, n - 1));
  } else {
    return Status::invalid_argument(fmt::format("dist.strategy = \"{}\" is not simulated", strategy));
  }
  if (rec.workers < 2) return Status::invalid_argument("a one-worker run sends no gradients to learn the bytes from");
  const std::string algo = rec.get("dist.algo", "ring");
  plan.algorithm = sim::parse_algorithm(algo).value_or(sim::Algorithm::kRing);
  plan.local_steps = std::max(1, std::atoi(rec.get("dist.local_steps", "8").c_str()));
  plan.encoded_bytes = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(encoded + 0.5));
  plan.gradient_bytes = std::strtoull(rec.get("gradient_bytes", "0").c_str(), nullptr, 10);
  if (plan.gradient_bytes == 0) plan.gradient_bytes = plan.encoded_bytes;
  // A local-SGD step with messages holds the compute of the local steps since the last one.
  plan.compute = profile->compute / (plan.strategy == sim::StrategyKind::kLocalSgd ? plan.local_steps : 1);
  return plan;
}

// (b) Other worker counts: training steps of the inferred plan.
int simulate_sizes(const Recording& rec, const ReplayRequest& request, const std::vector<int>& sizes) {
  Result<sim::TrainingPlan> inferred = infer_plan(rec);
  if (!inferred.is_ok()) return fail(inferred.status());
  sim::TrainingPlan plan = *inferred;
  plan.steps = static_cast<int>(request.steps);
  fmt::print("# {} ({}), codec {}: a worker computes {:.2f} ms a step (recorded), sends {} of gradients ({} encoded{})\n",
             rec.get("dist.strategy"),
             plan.strategy == sim::StrategyKind::kParameterServer ? rec.get("dist.sync") : sim::algorithm_name(plan.algorithm),
             rec.get("dist.codec", "identity"), 1e3 * sim::to_seconds(plan.compute),
             format_bytes(double(plan.gradient_bytes)), format_bytes(double(plan.encoded_bytes)),
             plan.sparse ? ", allgathered" : "");
  fmt::print("{:>7} {:>8} {:>26} {:>11} {:>8} {:>8} {:>8} {:>10} {:>12} {:>12} {:>8}\n", "workers", "servers", "link",
             "step", "compute", "comm", "wait", "efficiency", "busiest/step", "mean/step", "wall_s");
  std::vector<std::pair<std::string, sim::LinkSpec>> links;
  if (request.links.empty()) links.emplace_back("fitted " + link_text(rec.fitted), rec.fitted);
  for (const sim::LinkSpec& l : request.links) links.emplace_back(link_text(l), l);
  for (const auto& [name, link] : links) {
    for (const int n : sizes) {
      plan.workers = n;
      sim::ClusterSpec cluster;
      cluster.nodes = sim::nodes_needed(plan);
      cluster.link = link;
      if (Status s = sim::parse_fabric(request.cluster, cluster); !s.is_ok()) return fail(s);
      const auto wall = std::chrono::steady_clock::now();
      Result<sim::TrainingReport> r = sim::simulate_training(plan, cluster, request.faults, request.seed);
      const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
      if (!r.is_ok()) return fail(r.status());
      fmt::print("{:>7} {:>8} {:>26} {:>11} {:>7.1f}% {:>7.1f}% {:>7.1f}% {:>10.3f} {:>12} {:>12} {:>8.2f}\n", n,
                 plan.strategy == sim::StrategyKind::kParameterServer ? fmt::format("{}", plan.servers) : "-", name,
                 sim::format_time(r->step), 100 * r->compute_share, 100 * r->communicate_share, 100 * r->wait_share,
                 r->efficiency, format_bytes(double(r->link_bytes_max)), format_bytes(double(r->link_bytes_mean)),
                 wall_s);
    }
  }
  return kExitOk;
}

}  // namespace

int run_replay(const ReplayRequest& request) {
  Result<Recording> loaded = load(request.trace_path);
  if (!loaded.is_ok()) return fail(loaded.status());
  const Recording& rec = *loaded;
  fmt::print("# replaying {}: {} nodes ({} workers), {} messages; {} ({}), codec {}, recorded on {}\n",
             request.trace_path, rec.run.nodes.size(), rec.workers, rec.messages, rec.get("dist.strategy"),
             rec.get("dist.strategy") == "ps" ? rec.get("dist.sync") : rec.get("dist.algo"), rec.get("dist.codec"),
             rec.get("dist.transport"));
  fmt::print("# the recording's transport fitted as {} (the receives the nodes waited for)\n", link_text(rec.fitted));
  std::vector<int> others;
  bool recorded_size = request.workers.empty();
  for (const int n : request.workers) {
    if (n == rec.workers) {
      recorded_size = true;
    } else {
      others.push_back(n);
    }
  }
  if (recorded_size) {
    if (int code = replay_messages(rec, request); code != kExitOk) return code;
  }
  if (!others.empty()) return simulate_sizes(rec, request, others);
  return kExitOk;
}

}  // namespace courier::app
