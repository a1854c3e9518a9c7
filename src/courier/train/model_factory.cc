// Models, optimizers and schedules from a config.
#include "courier/train/model_factory.h"

#include <fmt/format.h>

#include "courier/core/rng.h"
#include "courier/nn/models.h"
#include "courier/train/optim/adam.h"
#include "courier/train/optim/sgd.h"

namespace courier {
namespace {

// The parameter groups of [offset, offset + count): one a parameter, with its own decay.
std::vector<ParamGroup> groups_for(const std::vector<ParamSpec>& specs, float weight_decay, std::int64_t offset,
                                   std::int64_t count) {
  std::vector<ParamGroup> groups;
  for (const ParamSpec& spec : specs) {
    const std::int64_t begin = std::max(spec.offset, offset);
    const std::int64_t end = std::min(spec.offset + spec.shape.numel(), offset + count);
    if (begin >= end) continue;
    const float decay = spec.weight_decay ? weight_decay : 0.0f;
    if (!groups.empty() && groups.back().weight_decay == decay) {
      groups.back().count += end - begin;  // merge neighbours with the same decay
    } else {
      groups.push_back({begin - offset, end - begin, decay});
    }
  }
  if (groups.empty()) groups.push_back({0, count, 0.0f});
  return groups;
}

}  // namespace

Result<Sequential> build_model(const Config& config, const Shape& sample_shape, std::int64_t classes, int node) {
  Sequential model;
  const std::string& kind = config.model.kind;
  if (kind == "mlp") {
    if (sample_shape.rank() != 1) {
      return Status::invalid_argument(fmt::format("model.kind = \"mlp\" needs flat inputs, got examples of shape {}",
                                                  sample_shape));
    }
    model = make_mlp(sample_shape[0], config.model.hidden, classes);
  } else if (kind == "cnn") {
    if (!(sample_shape == Shape({1, 28, 28}))) {
      return Status::invalid_argument(fmt::format(
          "model.kind = \"cnn\" is the Fashion-MNIST CNN and needs 1x28x28 images, got examples of shape {}",
          sample_shape));
    }
    model = make_fashion_cnn();
  } else if (kind == "gpt") {
    if (sample_shape.rank() != 1 || sample_shape[0] > config.model.context) {
      return Status::invalid_argument(fmt::format(
          "model.kind = \"gpt\" needs token windows of at most model.context = {} tokens, got examples of shape {}",
          config.model.context, sample_shape));
    }
    model = make_gpt({.vocabulary = classes, .context = config.model.context, .layers = config.model.layers,
                      .heads = config.model.heads, .channels = config.model.embedding,
                      .dropout = static_cast<float>(config.model.dropout),
                      .dropout_seed = Rng(config.train.seed).fork(1000 + static_cast<std::uint64_t>(node)).next_u64()});
  } else {
    return Status::invalid_argument(fmt::format("model.kind = \"{}\" is not one courier knows; use mlp, cnn or gpt",
                                                kind));
  }
  Rng init = Rng(config.train.seed).fork(0);
  model.setup(sample_shape, init);
  return model;
}

std::unique_ptr<Optimizer> build_optimizer(const Config& config, const std::vector<ParamSpec>& specs,
                                           std::int64_t offset, std::int64_t count) {
  const TrainConfig& t = config.train;
  std::vector<ParamGroup> groups = groups_for(specs, static_cast<float>(t.weight_decay), offset, count);
  std::unique_ptr<Optimizer> optimizer;
  if (t.optimizer == "sgd") {
    optimizer = std::make_unique<Sgd>(count, SgdOptions{.momentum = static_cast<float>(t.momentum)}, std::move(groups));
  } else {
    AdamOptions adam{.beta1 = static_cast<float>(t.beta1), .beta2 = static_cast<float>(t.beta2),
                     .eps = static_cast<float>(t.eps), .decoupled_weight_decay = t.optimizer == "adamw",
                     .freeze_variance_at = t.freeze_variance_at};
    optimizer = std::make_unique<Adam>(count, adam, std::move(groups));
  }
  optimizer->set_clip_norm(static_cast<float>(t.clip));
  return optimizer;
}

LrSchedule build_schedule(const Config& config, std::int64_t total_steps) {
  const TrainConfig& t = config.train;
  const auto lr = static_cast<float>(t.lr);
  if (t.schedule == "cosine") {
    return LrSchedule::cosine(lr, std::min(t.warmup, total_steps), std::max(total_steps, t.warmup),
                              static_cast<float>(t.min_lr));
  }
  if (t.schedule == "step") {
    const std::int64_t every = t.decay_every > 0 ? t.decay_every : std::max<std::int64_t>(1, total_steps / 3);
    return LrSchedule::step_decay(lr, every, static_cast<float>(t.decay_factor));
  }
  return LrSchedule::constant(lr);
}

}  // namespace courier
