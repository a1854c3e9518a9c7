// Matmul throughput: courier::matmul against a direct cblas_sgemm call (the ceiling: courier
// adds only shape checks) and the naive reference loop, in GFLOP/s, in one run. Each
// variant's result is verified against cblas before it is timed. Prints the median of the
// repetitions and the courier/cblas ratio per shape.
//
//   bench_matmul [--benchmark_repetitions=N] [--benchmark_filter=REGEX] [--naive-max=512]
// Repetitions are interleaved at random across variants (median of 9 by default).
#include <cblas.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "courier/core/rng.h"
#include "courier/tensor/matmul.h"
#include "courier/tensor/reference.h"

namespace {

using courier::Tensor;

struct Problem {
  std::int64_t m, n, k;
  std::string label() const { return fmt::format("{}x{}x{}", m, n, k); }
  double flops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k); }
};

struct Operands {
  Tensor a, b, out, expected;
};

Operands make_operands(const Problem& p) {
  courier::Rng rng(1234);
  Operands ops{Tensor::empty({p.m, p.k}), Tensor::empty({p.k, p.n}), Tensor::zeros({p.m, p.n}),
               Tensor::zeros({p.m, p.n})};
  rng.fill_uniform(ops.a.span(), -1.0f, 1.0f);
  rng.fill_uniform(ops.b.span(), -1.0f, 1.0f);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
              static_cast<int>(p.k), 1.0f, ops.a.data(), static_cast<int>(p.k), ops.b.data(), static_cast<int>(p.n),
              0.0f, ops.expected.data(), static_cast<int>(p.n));
  return ops;
}

// Largest |x - y| relative to the largest |y|: sgemm and the reference differ only by rounding.
double max_relative_error(const Tensor& x, const Tensor& y) {
  double worst = 0.0, scale = 1e-30;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(x.data()[i]) - y.data()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(y.data()[i])));
  }
  return worst / scale;
}

enum class Variant { kCourier, kCblas, kNaive };
const char* variant_name(Variant v) { return v == Variant::kCourier ? "courier" : v == Variant::kCblas ? "cblas" : "naive"; }

void run(benchmark::State& state, Problem p, Variant variant) {
  Operands ops = make_operands(p);
  auto once = [&] {
    switch (variant) {
      case Variant::kCourier: courier::matmul(ops.a, ops.b, ops.out); break;
      case Variant::kCblas:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
                    static_cast<int>(p.k), 1.0f, ops.a.data(), static_cast<int>(p.k), ops.b.data(),
                    static_cast<int>(p.n), 0.0f, ops.out.data(), static_cast<int>(p.n));
        break;
      case Variant::kNaive: courier::reference::matmul(ops.a, ops.b, ops.out); break;
    }
  };
  once();
  const double error = max_relative_error(ops.out, ops.expected);
  if (error > 1e-4) {
    state.SkipWithError(fmt::format("result differs from cblas_sgemm: max relative error {:.3g}", error).c_str());
    return;
  }
  for (auto _ : state) {
    once();
    benchmark::DoNotOptimize(ops.out.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] = benchmark::Counter(p.flops(), benchmark::Counter::kIsIterationInvariantRate);
}

// Keeps the median FLOP/s of each benchmark for the summary table.
class MedianCollector : public benchmark::ConsoleReporter {
 public:
  explicit MedianCollector(OutputOptions options) : ConsoleReporter(options) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
      auto it = run.counters.find("FLOP/s");
      if ((median || single) && it != run.counters.end()) medians[run.run_name.function_name] = it->second.value;
    }
  }
  std::map<std::string, double> medians;
};

}  // namespace

int main(int argc, char** argv) {
  std::int64_t naive_max = 512;  // the naive loop at 1024^3 takes seconds an iteration
  std::vector<char*> args;
  bool has_repetitions = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--naive-max=", 0) == 0) {
      naive_max = std::stoll(arg.substr(12));
      continue;
    }
    if (arg.rfind("--benchmark_repetitions", 0) == 0) has_repetitions = true;
    args.push_back(argv[i]);
  }
  static char repetitions[] = "--benchmark_repetitions=9";
  static char aggregates[] = "--benchmark_report_aggregates_only=true";
  // Repetitions of every variant interleave in random order, so a slow spell of the shared
  // machine hits courier and cblas alike instead of whichever ran during it.
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (!has_repetitions) args.push_back(repetitions);
  args.push_back(aggregates);
  args.push_back(interleave);
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());

  const std::vector<Problem> problems = {{128, 128, 128}, {512, 512, 512}, {1024, 1024, 1024}, {768, 512, 128}};
  for (const Problem& p : problems) {
    for (Variant v : {Variant::kCourier, Variant::kCblas, Variant::kNaive}) {
      if (v == Variant::kNaive && std::max({p.m, p.n, p.k}) > naive_max) continue;
      auto* b = benchmark::RegisterBenchmark(fmt::format("matmul/{}/{}", variant_name(v), p.label()).c_str(), run, p, v);
      b->Unit(benchmark::kMillisecond)->UseRealTime();
      if (v == Variant::kNaive) b->Iterations(1);
    }
  }

  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  fmt::print("OpenBLAS {} threads, core {}, OPENBLAS_CORETYPE={}\n", openblas_get_num_threads(),
             openblas_get_corename(), coretype ? coretype : "(unset)");
  MedianCollector reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                 : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  fmt::print("\n{:<16} {:>14} {:>14} {:>14} {:>16}\n", "M x N x K", "courier GF/s", "cblas GF/s", "naive GF/s",
             "courier/cblas");
  for (const Problem& p : problems) {
    auto get = [&](Variant v) {
      auto it = reporter.medians.find(fmt::format("matmul/{}/{}", variant_name(v), p.label()));
      return it == reporter.medians.end() ? NAN : it->second / 1e9;
    };
    const double c = get(Variant::kCourier), b = get(Variant::kCblas), n = get(Variant::kNaive);
    fmt::print("{:<16} {:>14.1f} {:>14.1f} {:>14} {:>16.3f}\n", p.label(), c, b,
               std::isnan(n) ? std::string("-") : fmt::format("{:.2f}", n), c / b);
  }
  return 0;
}
