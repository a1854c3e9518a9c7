// `courier generate CHECKPOINT --prompt TEXT --tokens N --temperature T --top-k K --seed S`:
// text from a language-model checkpoint, printed as it is produced.
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "courier/train/generate.h"

namespace courier::app {
namespace {

struct GenerateFlags {
  std::string checkpoint;
  GenerateOptions options;
};

int run_generate(const GenerateFlags& flags) {
  const Status status = generate(flags.checkpoint, flags.options, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);  // stream: each token as soon as it is sampled
  });
  if (!status.is_ok()) return report_failure(status);
  fmt::print("\n");
  return kExitOk;
}

}  // namespace

void add_generate_command(CLI::App& root, Action& action) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = root.add_subcommand(
      "generate",
      "Continue a prompt with text sampled from a language-model checkpoint (model.kind = gpt),\n"
      "printing each token as it is produced. The same seed gives the same text.");
  cmd->add_option("checkpoint", flags->checkpoint, "A run's checkpoints/ directory or one step directory")->required();
  cmd->add_option("--prompt", flags->options.prompt, "Text to continue (default: a new line)");
  cmd->add_option("--tokens", flags->options.tokens, "Tokens (characters) to produce")->capture_default_str();
  cmd->add_option("--temperature", flags->options.temperature, "Divides the logits; 0 is greedy decoding")
      ->capture_default_str();
  cmd->add_option("--top-k", flags->options.top_k, "Sample among the k most likely tokens; 0: all")
      ->capture_default_str();
  cmd->add_option("--seed", flags->options.seed, "Seeds the sampling")->capture_default_str();
  cmd->callback([flags, &action] { action = [flags] { return run_generate(*flags); }; });
}

}  // namespace courier::app
