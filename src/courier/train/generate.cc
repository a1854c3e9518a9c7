// Sampling loop: encode the prompt, then forward the last `context` tokens, turn the last
// position's logits into a distribution (temperature, top-k) and draw from it.
#include "courier/train/generate.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "courier/core/rng.h"
#include "courier/train/checkpoint/checkpoint.h"
#include "courier/train/data/text.h"
#include "courier/train/model_factory.h"
#include "courier/train/run_state.h"

namespace courier {
namespace {

// The vocabulary the checkpoint's model was trained with (its manifest's "vocabulary").
Result<Vocabulary> vocabulary_of(const Checkpoint& checkpoint, const Config& config) {
  Result<std::optional<std::string>> saved = checkpoint_vocabulary(checkpoint);
  if (!saved.is_ok()) return saved.status();
  if (*saved) return Vocabulary::from_symbols(**saved);
  if (config.model.vocabulary == "bytes") return Vocabulary::bytes();
  return Status::data_loss("the checkpoint's manifest lacks its \"vocabulary\" table; it cannot be decoded");
}

// The symbols of a vocabulary as people read them: printable bytes as themselves, others escaped.
std::string printable(std::string_view symbols) {
  std::string out;
  for (unsigned char c : symbols) {
    out += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
  }
  return out;
}

Status check_options(const GenerateOptions& o) {
  if (o.tokens < 0) return Status::invalid_argument(fmt::format("--tokens must be >= 0, got {}", o.tokens));
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature)) {
    return Status::invalid_argument(fmt::format("--temperature must be >= 0 (0 is greedy), got {}", o.temperature));
  }
  if (o.top_k < 0) {
    return Status::invalid_argument(fmt::format("--top-k must be >= 0 (0: all tokens), got {}", o.top_k));
  }
  return Status::ok();
}

// The next token from one row of logits (V).
std::int32_t sample(std::span<const float> logits, const GenerateOptions& o, Rng& rng, std::vector<double>& weights) {
  const auto best = std::max_element(logits.begin(), logits.end());
  if (o.temperature == 0.0) return static_cast<std::int32_t>(best - logits.begin());
  float floor = -INFINITY;  // logits below it are out (top-k)
  if (o.top_k > 0 && o.top_k < static_cast<std::int64_t>(logits.size())) {
    std::vector<float> sorted(logits.begin(), logits.end());
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<>());
    floor = sorted[static_cast<std::size_t>(o.top_k - 1)];
  }
  weights.assign(logits.size(), 0.0);
  double total = 0.0;
  for (std::size_t v = 0; v < logits.size(); ++v) {
    if (logits[v] < floor) continue;
    weights[v] = std::exp((static_cast<double>(logits[v]) - *best) / o.temperature);
    total += weights[v];
  }
  double r = rng.uniform_double() * total;
  for (std::size_t v = 0; v < weights.size(); ++v) {
    if (weights[v] > 0 && (r -= weights[v]) < 0) return static_cast<std::int32_t>(v);
  }
  return static_cast<std::int32_t>(best - logits.begin());  // r rounded to the very top
}

}  // namespace

Status generate(const std::filesystem::path& path, const GenerateOptions& options,
                const std::function<void(std::string_view)>& on_text) {
  if (Status s = check_options(options); !s.is_ok()) return s;
  Result<Checkpoint> checkpoint = read_checkpoint(path);
  if (!checkpoint.is_ok()) return checkpoint.status();
  Result<Config> config = checkpoint_config(*checkpoint);
  if (!config.is_ok()) return config.status();
  if (config->model.kind != "gpt") {
    return Status::failed_precondition(fmt::format(
        "{} holds a model.kind = \"{}\" model; `courier generate` needs a language model (model.kind = \"gpt\")",
        path.string(), config->model.kind));
  }
  Result<Vocabulary> vocabulary = vocabulary_of(*checkpoint, *config);
  if (!vocabulary.is_ok()) return vocabulary.status();
  Result<std::vector<std::int32_t>> prompt = vocabulary->encode(options.prompt);
  if (!prompt.is_ok()) {
    return Status::invalid_argument(fmt::format("the prompt cannot be encoded: {}; this model knows only the {} "
                                                "characters \"{}\"",
                                                prompt.status().message(), vocabulary->size(),
                                                printable(vocabulary->symbols())));
  }
  const std::int64_t context = config->model.context;
  Result<Sequential> model = build_model(*config, {context}, vocabulary->size());
  if (!model.is_ok()) return model.status();
  if (Status s = restore_run_state(*checkpoint, model->parameters(), nullptr); !s.is_ok()) return s;
  model->set_training(false);

  on_text(options.prompt);
  std::vector<std::int32_t> tokens = std::move(*prompt);
  if (tokens.empty()) tokens.push_back(vocabulary->contains('\n') ? *vocabulary->encode("\n")->begin() : 0);
  Rng rng(options.seed);
  Tensor window = Tensor::zeros({1, context});  // positions after the last token stay 0: causal attention ignores them
  std::vector<double> weights;
  for (std::int64_t produced = 0; produced < options.tokens; ++produced) {
    const std::int64_t length = std::min<std::int64_t>(context, static_cast<std::int64_t>(tokens.size()));
    for (std::int64_t t = 0; t < length; ++t) {
      window.at(t) = static_cast<float>(tokens[tokens.size() - static_cast<std::size_t>(length - t)]);
    }
    const Tensor& logits = model->forward(window);
    const std::int64_t V = vocabulary->size();
    const std::int32_t next = sample({logits.data() + (length - 1) * V, static_cast<std::size_t>(V)}, options, rng,
                                     weights);
    tokens.push_back(next);
    on_text(vocabulary->decode({&next, 1}));
  }
  return Status::ok();
}

}  // namespace courier
