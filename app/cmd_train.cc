// `courier train CONFIG.toml [--set key=value ...]` and `courier eval CHECKPOINT`.
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "courier/comm/trace.h"
#include "courier/train/delivery.h"
#include "courier/train/trainer.h"
#include "progress.h"

namespace courier::app {
namespace {

struct TrainFlags {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string resume;
  std::string trace_path;
  bool print_config = false;
};

// The config file with the --set overrides applied, checked.
Result<Config> resolve_config(const std::string& path, const std::vector<std::string>& overrides) {
  Result<Config> config = load_config(path);
  if (!config.is_ok()) return config.status();
  for (const std::string& assignment : overrides) {
    if (Status s = apply_override(*config, assignment); !s.is_ok()) return s;  // it names the --set
  }
  if (Status s = validate(*config); !s.is_ok()) return s;
  return config;
}

// What `courier simulate --replay` needs to know of the run besides its messages.
void record_run(const Config& config, const TrainResult& result, Trace& trace) {
  const DistConfig& d = config.dist;
  for (const auto& [key, value] : std::initializer_list<std::pair<const char*, std::string>>{
           {"dist.strategy", d.strategy},
           {"dist.algo", d.algo},
           {"dist.codec", d.codec},
           {"dist.sync", d.sync},
           {"dist.staleness", std::to_string(d.staleness)},
           {"dist.servers", std::to_string(d.servers)},
           {"dist.local_steps", std::to_string(d.local_steps)},
           {"dist.stages", std::to_string(d.stages)},
           {"dist.transport", d.transport},
           {"train.workers", std::to_string(config.train.workers)},
           {"train.batch", std::to_string(config.train.batch)},
           {"model.kind", config.model.kind},
           {"gradient_bytes", std::to_string(result.parameters.size() * sizeof(float))},
           {"median_step_s", fmt::format("{:.9g}", result.median_step_s)},
           {"steps", std::to_string(result.steps)}}) {
    trace.set_metadata(key, value);
  }
}

int run_train(const TrainFlags& flags) {
  Result<Config> config = resolve_config(flags.config_path, flags.overrides);
  if (!config.is_ok()) {
    fmt::print(stderr, "courier: {}\n", config.status().message());
    return kExitUsage;
  }
  if (flags.print_config) {
    fmt::print("{}", to_toml(*config));
    return kExitOk;
  }
  Progress progress(isatty(STDERR_FILENO) != 0, config->train.log_every);
  TrainEvents events;
  events.on_step = [&](const StepReport& r) { progress.step(r); };
  events.on_eval = [&](const EvalReport& r) { progress.eval(r); };
  events.on_note = [&](const std::string& text) { progress.note(text); };
  Trace trace;
  TrainOptions options;
  options.resume = flags.resume;
  if (!flags.trace_path.empty()) options.trace = &trace;
  Result<TrainResult> result = train(*config, options, events);
  progress.done();
  if (!result.is_ok()) {
    fmt::print(stderr, "courier: training failed: {}\n", result.status().to_string());
    return kExitFailure;
  }
  if (!result->is_reporting_rank) return kExitOk;
  if (result->last_eval) {
    const std::string rate =
        result->tokens_per_s > 0
            ? fmt::format("{:.0f} tokens/s, median step {:.2f} ms = {:.0f} tokens/s", result->tokens_per_s,
                          result->median_step_s * 1e3, result->median_tokens_per_s)
            : fmt::format("{:.0f} samples/s, median step {:.2f} ms", result->samples_per_s, result->median_step_s * 1e3);
    std::string sent;
    if (result->bytes_per_step > 0) {
      sent = fmt::format(", worker 0 sent {}/step", format_bytes(result->bytes_per_step));
      if (result->raw_bytes_per_step != result->bytes_per_step) {
        sent += fmt::format(" ({} uncompressed, {:.1f}x)", format_bytes(result->raw_bytes_per_step),
                            result->raw_bytes_per_step / result->bytes_per_step);
      }
    }
    fmt::print("done: {} steps, {}, {}{}; run directory {}\n", result->steps, format_eval(*result->last_eval), rate,
               sent, config->train.out);
  }
  if (result->simulated_steps) {
    fmt::print("{}; the whole run {}\n", describe_simulation(*result->simulated_steps, result->steps),
               sim::format_time(result->simulation->end));
  }
  if (result->network) fmt::print("{}\n", describe_network(*result->network, config->dist.delivery));
  if (!flags.trace_path.empty()) {
    record_run(*config, *result, trace);
    if (Status s = trace.write(flags.trace_path); !s.is_ok()) {
      fmt::print(stderr, "courier: {}\n", s.to_string());
      return kExitFailure;
    }
  }
  return kExitOk;
}

struct EvalFlags {
  std::string checkpoint;
  std::vector<std::string> overrides;
};

int run_eval(const EvalFlags& flags) {
  Result<EvalReport> report = evaluate_checkpoint(flags.checkpoint, flags.overrides);
  // A bad --set is a usage error; a missing or damaged checkpoint or data a failure.
  if (!report.is_ok()) return report_failure(report.status());
  fmt::print("checkpoint {} (step {}): {}\n", flags.checkpoint, report->step, format_eval(*report));
  return kExitOk;
}

}  // namespace

void add_train_command(CLI::App& root, Action& action) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* train_cmd = root.add_subcommand(
      "train",
      "Train the model a TOML config describes (configs/*.toml; every key in docs/config.md), with its\n"
      "data-parallel workers as in-process threads (dist.transport = inproc) or MPI ranks (mpirun -n N\n"
      "... --set dist.transport=mpi). Prints progress, evaluations, and writes metrics.jsonl and\n"
      "checkpoints under train.out.");
  train_cmd->add_option("config", flags->config_path, "The TOML config")->required()->check(CLI::ExistingFile);
  train_cmd->add_option("--set", flags->overrides, "Override a key: --set train.lr=3e-4 (repeatable)");
  train_cmd->add_option("--resume", flags->resume, "Continue from a checkpoint (a run's checkpoints/ or a step directory)");
  train_cmd->add_option("--trace", flags->trace_path, "Write every message to FILE as Chrome trace JSON");
  train_cmd->add_flag("--print-config", flags->print_config, "Print the resolved config (all keys) and exit");
  train_cmd->callback([flags, &action] { action = [flags] { return run_train(*flags); }; });

  auto eval_flags = std::make_shared<EvalFlags>();
  CLI::App* eval_cmd = root.add_subcommand(
      "eval", "Test loss and accuracy of a checkpoint; for a language model, validation loss and bits per byte");
  eval_cmd->add_option("checkpoint", eval_flags->checkpoint, "A run's checkpoints/ directory or one step directory")
      ->required();
  eval_cmd->add_option("--set", eval_flags->overrides, "Override a key of the checkpoint's config (e.g. data.path)");
  eval_cmd->callback([eval_flags, &action] { action = [eval_flags] { return run_eval(*eval_flags); }; });
}

}  // namespace courier::app
