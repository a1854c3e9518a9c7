// Replay of a recorded run: the recorded link, each node's program, the replay, the step profile.
#include "courier/sim/replay.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier::sim {
namespace {

using Channel = std::tuple<int, int, std::uint64_t, std::uint64_t>;  // source, destination, tag, seq

Time origin_of(const RecordedRun& run) {
  Time origin = kNever;
  for (const auto& events : run.nodes) {
    if (!events.empty()) origin = std::min(origin, events.front().time);
  }
  return origin == kNever ? 0 : origin;
}

// The recorded time of every send, by its channel and position.
std::map<Channel, Time> send_times(const RecordedRun& run) {
  std::map<Channel, Time> sent;
  for (std::size_t node = 0; node < run.nodes.size(); ++node) {
    for (const RecordedEvent& e : run.nodes[node]) {
      if (e.send) sent[{static_cast<int>(node), e.peer, e.tag, e.seq}] = e.time;
    }
  }
  return sent;
}

Time delivery(const LinkSpec& link, std::uint64_t bytes) {
  return link.latency + static_cast<Time>(static_cast<double>(bytes) * 8.0 * static_cast<double>(kPicosPerSecond) /
                                          link.bits_per_second);
}

}  // namespace

LinkSpec fit_link(const RecordedRun& run) {
  const std::map<Channel, Time> sent = send_times(run);
  // (bytes, receive - send) of the receives taken after their sender sent them while the node
  // was free: the node was most likely blocked, so the gap is the delivery.
  std::vector<std::pair<double, double>> samples;
  for (std::size_t node = 0; node < run.nodes.size(); ++node) {
    Time previous = origin_of(run);
    for (const RecordedEvent& e : run.nodes[node]) {
      if (!e.send) {
        const auto it = sent.find({e.peer, static_cast<int>(node), e.tag, e.seq});
        if (it != sent.end() && it->second >= previous && e.time >= it->second) {
          samples.emplace_back(static_cast<double>(e.bytes), static_cast<double>(e.time - it->second));
        }
      }
      previous = e.time;
    }
  }
  LinkSpec link;
  link.bits_per_second = 1e12;
  link.latency = from_seconds(1e-6);
  if (samples.empty()) return link;
  // Robust to the receives a node took late while busy: sizes in powers of two, each bucket's
  // lower quartile (the fast deliveries), a line through the buckets weighted by their samples;
  // buckets of fewer than 4 samples (the start's broadcast) left out when others have more.
  std::map<int, std::vector<std::pair<double, double>>> buckets;
  for (const auto& s : samples) buckets[static_cast<int>(std::log2(s.first + 1))].push_back(s);
  constexpr std::size_t kFewest = 4;
  const bool enough = std::any_of(buckets.begin(), buckets.end(), [](const auto& b) { return b.second.size() >= kFewest; });
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (auto& [bucket, in] : buckets) {
    if (enough && in.size() < kFewest) continue;
    double bytes = 0;
    std::vector<double> gaps;
    for (const auto& [x, y] : in) {
      bytes += x;
      gaps.push_back(y);
    }
    std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 4), gaps.end());
    const double w = static_cast<double>(in.size()), x = bytes / w, y = gaps[gaps.size() / 4];
    n += w;
    sx += w * x;
    sy += w * y;
    sxx += w * x * x;
    sxy += w * x * y;
  }
  const double var = n * sxx - sx * sx;
  const double min_picos_per_byte = 8.0 * static_cast<double>(kPicosPerSecond) / 1e12;  // 1 Tbps
  const double picos_per_byte = std::max(var > 0 ? (n * sxy - sx * sy) / var : 0.0, min_picos_per_byte);
  const double latency = (sy - picos_per_byte * sx) / n;
  link.bits_per_second = 8.0 * static_cast<double>(kPicosPerSecond) / picos_per_byte;
  link.latency = std::max<Time>(from_seconds(1e-7), static_cast<Time>(latency));
  return link;
}

Result<ReplayProgram> make_replay_program(const RecordedRun& run, const LinkSpec& recorded_link) {
  const int n = static_cast<int>(run.nodes.size());
  const Time origin = origin_of(run);
  const std::map<Channel, Time> sent = send_times(run);
  ReplayProgram program;
  program.nodes.resize(run.nodes.size());
  program.recorded_stats.resize(run.nodes.size());
  Time last = origin;
  std::size_t events = 0;
  for (int node = 0; node < n; ++node) {
    Time previous = origin;
    NodeStats& stats = program.recorded_stats[static_cast<std::size_t>(node)];
    for (const RecordedEvent& e : run.nodes[static_cast<std::size_t>(node)]) {
      if (e.peer < 0 || e.peer >= n) {
        return Status::data_loss(fmt::format("node {} {} node {}, outside the run's {} nodes (tag {:#x}, seq {})", node,
                                             e.send ? "sends to" : "receives from", e.peer, n, e.tag, e.seq));
      }
      const Time gap = std::max<Time>(0, e.time - previous);
      ReplayOp op{e.send, e.peer, e.tag, e.bytes, e.step, gap, e.time - origin};
      if (e.send) {
        stats.compute += gap;
      } else {
        const auto it = sent.find({e.peer, node, e.tag, e.seq});
        if (it == sent.end()) {
          return Status::data_loss(fmt::format(
              "node {} received message {} of tag {:#x} from node {} (step {}), but the trace has no such send: a "
              "trace of part of a run?",
              node, e.seq, e.tag, e.peer, e.step));
        }
        const Time s = it->second, d = delivery(recorded_link, e.bytes);
        const bool busy = e.time > std::max(previous, s + d) + d;
        if (busy) {
          stats.compute += gap;
        } else {
          op.compute = 0;
          const Time waited = std::clamp(s - previous, Time{0}, gap);
          stats.wait += waited;
          stats.communicate += gap - waited;
        }
      }
      program.nodes[static_cast<std::size_t>(node)].push_back(op);
      previous = e.time;
      last = std::max(last, e.time);
      ++events;
    }
  }
  if (events == 0) return Status::invalid_argument("the recorded run has no messages to replay");
  program.recorded = last - origin;
  return program;
}

namespace {

Task replay_node(World& w, int node, const std::vector<ReplayOp>& ops, Time& finished) {
  for (const ReplayOp& op : ops) {
    if (op.compute > 0) co_await w.compute(node, op.compute);
    if (op.send) {
      w.send(node, op.peer, op.tag, op.bytes);
    } else {
      co_await w.recv(node, op.peer, op.tag);
    }
  }
  finished = w.now();
}

}  // namespace

Result<ReplayReport> replay(const ReplayProgram& program, const ClusterSpec& cluster, const std::vector<Fault>& faults,
                            std::uint64_t seed) {
  const int n = static_cast<int>(program.nodes.size());
  COURIER_CHECK_EQ(cluster.nodes, n);
  if (Status s = check_faults(faults, n); !s.is_ok()) return s;
  World world(cluster, faults, seed);
  std::vector<Time> finished(program.nodes.size(), 0);
  for (int i = 0; i < n; ++i) {
    const auto index = static_cast<std::size_t>(i);
    world.spawn(i, replay_node(world, i, program.nodes[index], finished[index]));
  }
  if (Status s = world.run(); !s.is_ok()) return s;
  ReplayReport report;
  report.recorded = program.recorded;
  report.replayed = *std::max_element(finished.begin(), finished.end());
  for (int i = 0; i < n; ++i) report.nodes.push_back(world.stats(i));
  const Shares shares = shares_of(world, finished);
  report.compute_share = shares.compute;
  report.communicate_share = shares.communicate;
  report.wait_share = shares.wait;
  report.network = world.network().stats();
  for (const LinkStats& l : world.network().links()) {
    report.busiest_link_bytes = std::max(report.busiest_link_bytes, l.bytes);
  }
  return report;
}

namespace {

template <typename T>
T median(std::vector<T> values) {
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
  return values[values.size() / 2];
}

}  // namespace

Result<StepProfile> profile_steps(const ReplayProgram& program, int workers) {
  COURIER_CHECK(workers >= 1 && workers <= static_cast<int>(program.nodes.size()), "workers outside the program");
  std::map<std::uint64_t, std::uint64_t> bytes;                    // by step: what all workers sent
  std::map<std::pair<int, std::uint64_t>, Time> compute;           // by worker and step
  std::map<std::uint64_t, std::pair<Time, Time>> worker0;          // by step: worker 0's first and last event
  for (int w = 0; w < workers; ++w) {
    for (const ReplayOp& op : program.nodes[static_cast<std::size_t>(w)]) {
      if (op.send) bytes[op.step] += op.bytes;
      compute[{w, op.step}] += op.compute;
      if (w == 0) {
        auto [it, fresh] = worker0.try_emplace(op.step, op.recorded_at, op.recorded_at);
        if (!fresh) it->second.second = op.recorded_at;
      }
    }
  }
  if (bytes.empty()) return Status::invalid_argument("no training step of the recording has a message from a worker");
  StepProfile profile;
  profile.steps = static_cast<int>(bytes.size());
  // The first step carries the start (the initial broadcast or pull); leave it out when there are others.
  const std::uint64_t first = bytes.begin()->first;
  const bool skip_first = bytes.size() > 1;
  std::vector<std::uint64_t> step_bytes;
  for (const auto& [step, b] : bytes) {
    if (!(skip_first && step == first)) step_bytes.push_back(b);
  }
  profile.worker_bytes = median(step_bytes);
  std::vector<Time> computes;
  for (const auto& [key, c] : compute) {
    if (!(skip_first && key.second == first)) computes.push_back(c);
  }
  profile.compute = computes.empty() ? 0 : median(computes);
  // A step's time: from one step's first event of worker 0 to the next one's.
  std::vector<Time> periods;
  for (auto it = worker0.begin(); it != worker0.end() && std::next(it) != worker0.end(); ++it) {
    if (skip_first && it->first == first) continue;
    periods.push_back(std::next(it)->second.first - it->second.first);
  }
  profile.step = periods.empty() ? 0 : median(periods);
  return profile;
}

}  // namespace courier::sim
