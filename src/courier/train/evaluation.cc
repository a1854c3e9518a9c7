// Loading a run's data, and evaluation.
#include "courier/train/evaluation.h"

#include <algorithm>
#include <numbers>

#include <fmt/format.h>

#include "courier/nn/softmax_cross_entropy.h"
#include "courier/tensor/reduce.h"
#include "courier/train/data/idx.h"
#include "courier/train/run_state.h"

namespace courier {

Result<RunData> load_run_data(const Config& config) {
  if (config.data.kind == "text") {
    const TextOptions options{.context = config.model.context,
                              .validation_fraction = config.data.validation_fraction,
                              .vocabulary = config.model.vocabulary};
    Result<TextCorpus> corpus = load_text(config.data.path, options);
    if (!corpus.is_ok()) return corpus.status();
    return RunData{std::move(corpus->train), std::move(corpus->validation), std::move(corpus->vocabulary)};
  }
  if (config.data.kind != "fashion-mnist") {
    return Status::invalid_argument(fmt::format(
        "data.kind = \"{}\" cannot be trained by `courier train`; use fashion-mnist or text", config.data.kind));
  }
  Result<FashionMnist> loaded = load_fashion_mnist(config.data.path, config.model.kind != "cnn");
  if (!loaded.is_ok()) return loaded.status();
  return RunData{std::move(loaded->train), std::move(loaded->test), std::nullopt};
}

Status check_vocabulary(const Checkpoint& checkpoint, const RunData& data, const Config& config) {
  if (!data.vocabulary) return Status::ok();
  Result<std::optional<std::string>> saved = checkpoint_vocabulary(checkpoint);
  if (!saved.is_ok()) return saved.status();
  if (!*saved || **saved == data.vocabulary->symbols()) return Status::ok();  // none: not a text run's
  return Status::failed_precondition(fmt::format(
      "the checkpoint's vocabulary ({} tokens) differs from the {} tokens of data.path = \"{}\" "
      "(model.vocabulary = \"{}\"); use the text the model was trained on, or one made of the same characters",
      (*saved)->size(), data.vocabulary->size(), config.data.path, config.model.vocabulary));
}

std::vector<std::int64_t> evenly_spaced(std::int64_t size, std::int64_t count) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(count));
  if (count == 1) return {0};
  const float end = static_cast<float>(size - 1);
  const float step = end / static_cast<float>(count - 1);
  const std::int64_t halfway = count / 2;
  for (std::int64_t i = 0; i < count; ++i) {
    const float at = i < halfway ? step * static_cast<float>(i) : end - step * static_cast<float>(count - i - 1);
    out[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(at);
  }
  return out;
}

EvalReport evaluate(Sequential& model, const Dataset& data, std::int64_t examples) {
  const std::int64_t count = examples > 0 ? std::min(examples, data.size()) : data.size();
  const std::int64_t per_example = data.labels_per_example();
  const std::int64_t batch = per_example > 1 ? 120 : 1000;  // 120 windows: char_gpt.py's chunk
  const std::vector<std::int64_t> chosen = evenly_spaced(data.size(), count);
  SoftmaxCrossEntropy loss_fn;
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  std::vector<std::int32_t> labels;
  std::vector<std::int64_t> argmax;
  model.set_training(false);
  for (std::int64_t begin = 0; begin < count; begin += batch) {
    const std::int64_t n = std::min(batch, count - begin);
    const std::span<const std::int64_t> indices(chosen.data() + begin, static_cast<std::size_t>(n));
    Tensor inputs = Tensor::empty(data.sample_shape().prepend(n));
    labels.resize(static_cast<std::size_t>(n * per_example));
    data.fill(indices, inputs, labels);
    const Tensor& logits = model.forward(inputs);
    loss_sum += static_cast<double>(loss_fn.forward(logits, labels)) * static_cast<double>(n);
    Tensor best = Tensor::empty({n * per_example});
    row_max_forward(logits.as_matrix(), best, argmax);
    for (std::size_t i = 0; i < labels.size(); ++i) correct += argmax[i] == labels[i];
  }
  model.set_training(true);
  EvalReport report;
  report.examples = count;
  report.loss = loss_sum / static_cast<double>(std::max<std::int64_t>(1, count));
  report.accuracy = static_cast<double>(correct) / static_cast<double>(std::max<std::int64_t>(1, count * per_example));
  // A text token is one byte (model.vocabulary bytes or chars), so nats a token / ln 2 is bits a byte.
  if (per_example > 1) report.bits_per_byte = report.loss / std::numbers::ln2;
  return report;
}

}  // namespace courier
