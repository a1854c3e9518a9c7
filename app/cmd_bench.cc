// `courier bench allreduce` and `courier bench pingpong`: the runtime's own measurements,
// with the peer (MPI's allreduce, memcpy) run in the same invocation and the ratio printed.
//
// Protocol (as the peer scripts in bench/peers): per size, the result is verified first,
// then 2 warm-up calls, then --samples samples; a sample is a barrier and `iters`
// back-to-back calls, timed on every rank, the slowest rank counting. The median sample is
// reported. algbw = bytes / time; busbw = algbw * 2(n-1)/n (GB/s are 1e9 bytes a second).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "courier/comm/collectives/collectives.h"
#include "courier/comm/launch.h"
#include "flags.h"

namespace courier::app {
namespace {

struct BenchFlags {
  std::string transport = "inproc";
  int ranks = 2;
  std::string bytes = "4K:64M";
  int factor = 4;
  int samples = 5;
  std::string algorithm = "auto";
  std::vector<std::string> versus;
  std::size_t segment_bytes = std::size_t{1} << 20;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::size_t parse_size(const std::string& text) {
  std::size_t multiplier = 1;
  std::string digits = text;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K': case 'k': multiplier = std::size_t{1} << 10; break;
      case 'M': case 'm': multiplier = std::size_t{1} << 20; break;
      case 'G': case 'g': multiplier = std::size_t{1} << 30; break;
      default: break;
    }
    if (multiplier != 1) digits.pop_back();
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoull(digits) * multiplier;
}

// "4K:64M" with factor 4 -> 4K 16K ... 64M; "1M" -> 1M.
std::vector<std::size_t> parse_sizes(const std::string& text, int factor) {
  const std::size_t colon = text.find(':');
  const std::size_t first = parse_size(text.substr(0, colon));
  const std::size_t last = colon == std::string::npos ? first : parse_size(text.substr(colon + 1));
  std::vector<std::size_t> sizes;
  for (std::size_t s = first; s > 0 && s <= last; s *= static_cast<std::size_t>(factor)) sizes.push_back(s);
  return sizes;
}

int iterations_for(std::size_t bytes) {
  const std::size_t target = std::size_t{256} << 20;  // about 256 MiB moved a sample
  return static_cast<int>(std::clamp<std::size_t>(target / std::max<std::size_t>(bytes, 1), 4, 1000));
}

double now_seconds() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The slowest rank's time: every rank gets the maximum.
Result<double> slowest(Communicator& comm, double seconds) {
  CollectiveOptions options;
  options.algorithm = AllreduceAlgorithm::kHalvingDoubling;
  if (Status s = allreduce(comm, std::span<double>(&seconds, 1), ReduceOp::kMax, options); !s.is_ok()) return s;
  return seconds;
}

struct Timing {
  double seconds = 0;
};

// Verifies one allreduce of `count` floats with `algorithm`, then times it. REQUIRES: all ranks call.
Result<Timing> time_allreduce(Communicator& comm, std::vector<float>& buffer, std::size_t count,
                              AllreduceAlgorithm algorithm, const BenchFlags& flags) {
  CollectiveOptions options;
  options.algorithm = algorithm;
  options.segment_bytes = flags.segment_bytes;
  options.timeout = std::chrono::seconds(120);
  std::span<float> data(buffer.data(), count);
  std::fill(data.begin(), data.end(), static_cast<float>(comm.rank() + 1));
  if (Status s = allreduce(comm, data, ReduceOp::kSum, options); !s.is_ok()) return s;
  const float expected = static_cast<float>(comm.world_size() * (comm.world_size() + 1) / 2);
  for (std::size_t i = 0; i < count; ++i) {
    if (data[i] != expected) {
      return Status::internal(fmt::format("{} allreduce of {} bytes is wrong on rank {}: element {} is {}, expected {}",
                                          allreduce_algorithm_name(algorithm), count * 4, comm.rank(), i, data[i],
                                          expected));
    }
  }
  // Zeros: repeated in-place sums stay finite, so every iteration does the same work.
  std::fill(data.begin(), data.end(), 0.0f);
  const int iters = iterations_for(count * sizeof(float));
  for (int w = 0; w < 2; ++w) {
    if (Status s = allreduce(comm, data, ReduceOp::kSum, options); !s.is_ok()) return s;
  }
  std::vector<double> samples;
  for (int k = 0; k < flags.samples; ++k) {
    if (Status s = barrier(comm); !s.is_ok()) return s;
    const double start = now_seconds();
    for (int i = 0; i < iters; ++i) {
      if (Status s = allreduce(comm, data, ReduceOp::kSum, options); !s.is_ok()) return s;
    }
    Result<double> worst = slowest(comm, (now_seconds() - start) / iters);
    if (!worst.is_ok()) return worst.status();
    samples.push_back(*worst);
  }
  return Timing{median(samples)};
}

// Median single-core memcpy bandwidth for `bytes`, in GB/s (samples of `iters` copies, as above).
double memcpy_bandwidth(std::size_t bytes, int samples) {
  std::vector<char> source(bytes, 1), target(bytes, 2);
  const int iters = iterations_for(bytes);
  std::vector<double> rates;
  for (int k = 0; k < samples + 1; ++k) {  // the first sample warms up
    const double start = now_seconds();
    for (int i = 0; i < iters; ++i) {
      source[static_cast<std::size_t>(i) % bytes] = static_cast<char>(i);  // every copy observable
      std::memcpy(target.data(), source.data(), bytes);
    }
    const double seconds = (now_seconds() - start) / iters;
    if (k > 0) rates.push_back(static_cast<double>(bytes) / seconds / 1e9);
  }
  if (target[0] == 42) std::fputc(' ', stderr);
  return median(rates);
}

int run_allreduce_bench(const BenchFlags& flags) {
  const std::vector<std::size_t> sizes = parse_sizes(flags.bytes, flags.factor);
  if (sizes.empty()) {
    fmt::print(stderr, "courier: --bytes '{}' names no sizes; write SIZE or FROM:TO, e.g. 4K:64M\n", flags.bytes);
    return kExitUsage;
  }
  const AllreduceAlgorithm algorithm = *parse_allreduce_algorithm(flags.algorithm);
  const bool vs_mpi = std::count(flags.versus.begin(), flags.versus.end(), "mpi-native") > 0;
  const bool vs_memcpy = std::count(flags.versus.begin(), flags.versus.end(), "memcpy") > 0;
  LaunchOptions launch;
  launch.transport = *parse_transport_kind(flags.transport);
  launch.world_size = flags.ranks;
  if ((vs_mpi || algorithm == AllreduceAlgorithm::kMpiNative) && launch.transport != TransportKind::kMpi) {
    fmt::print(stderr, "courier: mpi-native needs --transport mpi (and mpirun -n {})\n", flags.ranks);
    return kExitUsage;
  }
  std::map<std::size_t, double> memcpy_rates;
  if (vs_memcpy) {
    for (std::size_t bytes : sizes) memcpy_rates[bytes] = memcpy_bandwidth(bytes, std::max(flags.samples, 5));
  }
  const double bus_factor = 2.0 * (flags.ranks - 1) / flags.ranks;
  Status status = run_nodes(launch, [&](Communicator& comm) -> Status {
    const bool printer = comm.rank() == 0;
    if (printer) {
      fmt::print("# courier allreduce: transport {}, {} ranks, algorithm {}, f32 sum in place, segments of {} bytes, "
                 "median of {} samples\n",
                 flags.transport, flags.ranks, flags.algorithm, flags.segment_bytes, flags.samples);
      fmt::print("{:>10} {:>6} {:>11} {:>11} {:>11}", "bytes", "iters", "time_us", "algbw_GB/s", "busbw_GB/s");
      if (vs_mpi) fmt::print(" {:>13} {:>13} {:>12}", "mpi_time_us", "mpi_busbw", "mpi/courier");
      if (vs_memcpy) fmt::print(" {:>12} {:>14}", "memcpy_GB/s", "busbw/memcpy");
      fmt::print("\n");
    }
    std::vector<float> buffer(sizes.back() / sizeof(float));
    for (std::size_t bytes : sizes) {
      const std::size_t count = bytes / sizeof(float);
      Result<Timing> ours = time_allreduce(comm, buffer, count, algorithm, flags);
      if (!ours.is_ok()) return ours.status();
      std::optional<Timing> theirs;
      if (vs_mpi) {
        Result<Timing> mpi = time_allreduce(comm, buffer, count, AllreduceAlgorithm::kMpiNative, flags);
        if (!mpi.is_ok()) return mpi.status();
        theirs = *mpi;
      }
      if (!printer) continue;
      const double algbw = static_cast<double>(bytes) / ours->seconds / 1e9;
      fmt::print("{:>10} {:>6} {:>11.1f} {:>11.3f} {:>11.3f}", bytes, iterations_for(bytes), ours->seconds * 1e6, algbw,
                 algbw * bus_factor);
      if (theirs) {
        const double mpi_bus = static_cast<double>(bytes) / theirs->seconds / 1e9 * bus_factor;
        fmt::print(" {:>13.1f} {:>13.3f} {:>12.2f}", theirs->seconds * 1e6, mpi_bus, theirs->seconds / ours->seconds);
      }
      if (vs_memcpy) fmt::print(" {:>12.2f} {:>14.2f}", memcpy_rates[bytes], algbw * bus_factor / memcpy_rates[bytes]);
      fmt::print("\n");
      std::fflush(stdout);
    }
    return Status::ok();
  });
  if (!status.is_ok()) {
    fmt::print(stderr, "courier: bench allreduce failed: {}\n", status.to_string());
    return kExitFailure;
  }
  return kExitOk;
}

int run_pingpong_bench(const BenchFlags& flags) {
  const std::vector<std::size_t> sizes = parse_sizes(flags.bytes, flags.factor);
  if (sizes.empty()) {
    fmt::print(stderr, "courier: --bytes '{}' names no sizes; write SIZE or FROM:TO, e.g. 8:4M\n", flags.bytes);
    return kExitUsage;
  }
  LaunchOptions launch;
  launch.transport = *parse_transport_kind(flags.transport);
  launch.world_size = 2;
  Status status = run_nodes(launch, [&](Communicator& comm) -> Status {
    const int peer = 1 - comm.rank();
    const OpContext context{"pingpong", 0};
    std::vector<std::byte> buffer(sizes.back()), received(sizes.back());
    // Each side copies what arrives into its own buffer, as a receiver that uses the data must.
    auto take = [&](Result<Message>& message) {
      std::memcpy(received.data(), message->payload().data(), message->payload().size());
    };
    if (comm.rank() == 0) {
      fmt::print("# courier ping-pong: transport {}, one-way time = round trip / 2 (the receiver copies the payload "
                 "out), median of {} samples\n",
                 flags.transport, flags.samples);
      fmt::print("{:>10} {:>6} {:>12} {:>12}\n", "bytes", "iters", "latency_us", "GB/s");
    }
    for (std::size_t bytes : sizes) {
      const int iters = std::clamp(static_cast<int>((std::size_t{64} << 20) / bytes), 10, 2000);
      std::vector<double> samples;
      for (int k = 0; k < flags.samples + 1; ++k) {  // the first sample warms up
        if (Status s = barrier(comm); !s.is_ok()) return s;
        const double start = now_seconds();
        for (int i = 0; i < iters; ++i) {
          const Deadline deadline = Deadline::after(real_clock(), std::chrono::seconds(60));
          if (comm.rank() == 1) {
            Result<Message> ping = comm.receive(peer, 1, deadline, context);
            if (!ping.is_ok()) return ping.status();
            take(ping);
          }
          SendHandle sent = comm.send(peer, 1, ByteSpan(buffer.data(), bytes));
          if (comm.rank() == 0) {
            Result<Message> pong = comm.receive(peer, 1, deadline, context);
            if (!pong.is_ok()) return pong.status();
            take(pong);
          }
          if (Status s = comm.wait(sent, deadline, context, peer); !s.is_ok()) return s;
        }
        if (k > 0) samples.push_back((now_seconds() - start) / iters / 2);
      }
      if (comm.rank() == 0) {
        const double one_way = median(samples);
        fmt::print("{:>10} {:>6} {:>12.2f} {:>12.3f}\n", bytes, iters, one_way * 1e6,
                   static_cast<double>(bytes) / one_way / 1e9);
        std::fflush(stdout);
      }
    }
    return Status::ok();
  });
  if (!status.is_ok()) {
    fmt::print(stderr, "courier: bench pingpong failed: {}\n", status.to_string());
    return kExitFailure;
  }
  return kExitOk;
}

void add_common_flags(CLI::App& command, BenchFlags& flags) {
  command.add_option("--transport", flags.transport, "inproc (threads in this process) or mpi (under mpirun)")
      ->check(CLI::IsMember({"inproc", "mpi"}))
      ->capture_default_str();
  command.add_option("--factor", flags.factor, "Step between sizes of a FROM:TO range (>= 2)")
      ->check(CLI::Range(2, 1024))
      ->capture_default_str();
  command.add_option("--samples", flags.samples, "Timed samples a size; the median is reported (>= 5)")
      ->check(CLI::Range(5, 1000))
      ->capture_default_str();
}

}  // namespace

void add_bench_command(CLI::App& root, Action& action) {
  CLI::App* bench = root.add_subcommand("bench", "Measure the message-passing runtime against its peers");
  bench->require_subcommand(1);

  auto all = std::make_shared<BenchFlags>();
  CLI::App* allreduce_cmd = bench->add_subcommand(
      "allreduce",
      "Allreduce time, algbw and busbw per message size. --vs mpi-native runs MPI_Allreduce in the same\n"
      "invocation (needs --transport mpi under mpirun) and prints mpi_time / courier_time; --vs memcpy\n"
      "prints busbw as a fraction of single-core memcpy bandwidth.");
  add_common_flags(*allreduce_cmd, *all);
  allreduce_cmd->add_option("--ranks", all->ranks, "Ranks (inproc threads; under mpirun, its -n)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  allreduce_cmd->add_option("--bytes", all->bytes, "SIZE or FROM:TO with K/M/G suffixes")->capture_default_str();
  allreduce_cmd->add_option("--algo", all->algorithm, "auto, ring, halving-doubling, tree or mpi-native")
      ->check(CLI::IsMember({"auto", "ring", "halving-doubling", "tree", "mpi-native"}))
      ->capture_default_str();
  allreduce_cmd->add_option("--vs", all->versus, "Peers to run in the same invocation: mpi-native, memcpy")
      ->check(CLI::IsMember({"mpi-native", "memcpy"}));
  allreduce_cmd->add_option("--segment-bytes", all->segment_bytes, "Pipelining segment of ring and tree")
      ->check(positive_number())
      ->capture_default_str();
  allreduce_cmd->callback([all, &action] { action = [all] { return run_allreduce_bench(*all); }; });

  auto ping = std::make_shared<BenchFlags>();
  ping->bytes = "8:4M";
  ping->factor = 8;
  CLI::App* pingpong_cmd = bench->add_subcommand(
      "pingpong", "One-way latency and bandwidth between two ranks (inproc threads, or mpirun -n 2)");
  add_common_flags(*pingpong_cmd, *ping);
  pingpong_cmd->add_option("--bytes", ping->bytes, "SIZE or FROM:TO with K/M/G suffixes")->capture_default_str();
  pingpong_cmd->callback([ping, &action] { action = [ping] { return run_pingpong_bench(*ping); }; });
}

}  // namespace courier::app
