// Text generation from a language-model checkpoint: the prompt's tokens, then one sampled
// token at a time (temperature, top-k, a seed), each handed to the caller as it is produced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "courier/core/status.h"

namespace courier {

struct GenerateOptions {
  std::string prompt;         // empty: start from a newline (or token 0 when the vocabulary has none)
  std::int64_t tokens = 200;  // new tokens to produce, >= 0
  double temperature = 1.0;   // > 0 divides the logits; 0 is greedy (always the most likely token)
  std::int64_t top_k = 0;     // > 0: sample among the k most likely tokens only; 0: among all
  std::uint64_t seed = 0;     // the same seed, checkpoint and options give the same text
};

// Loads `checkpoint` (a run's checkpoints/ root or a step directory), then produces
// options.tokens tokens after the prompt, calling on_text with the prompt once the model is
// loaded, then with the text of each token as soon as it is sampled. The model sees the last
// model.context tokens. Errors: what read_checkpoint
// returns (NOT_FOUND, DATA_LOSS, ...); FAILED_PRECONDITION for a checkpoint that is not a
// language model's; INVALID_ARGUMENT for bad options or a prompt byte outside the vocabulary
// (naming it, its offset and the vocabulary). Blocking; single-threaded.
Status generate(const std::filesystem::path& checkpoint, const GenerateOptions& options,
                const std::function<void(std::string_view)>& on_text);

}  // namespace courier
