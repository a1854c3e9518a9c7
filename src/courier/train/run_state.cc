// Training state <-> checkpoint tensors and manifest.
#include "courier/train/run_state.h"

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>

namespace courier {
namespace {

std::vector<std::int64_t> dims_of(const Shape& shape) { return {shape.dims().begin(), shape.dims().end()}; }

const OwnedTensor* find_tensor(const Checkpoint& checkpoint, const std::string& name) {
  for (const OwnedTensor& t : checkpoint.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Status copy_into(const OwnedTensor& tensor, const ParamSpec& spec, std::span<float> destination) {
  if (tensor.shape != dims_of(spec.shape) || tensor.values.size() != destination.size()) {
    return Status::failed_precondition(fmt::format(
        "checkpoint tensor '{}' has shape [{}] but the model's parameter '{}' is {}: the checkpoint is of another "
        "model; check model.* against the run that wrote it",
        tensor.name, fmt::join(tensor.shape, ", "), spec.name, spec.shape));
  }
  std::copy(tensor.values.begin(), tensor.values.end(), destination.begin());
  return Status::ok();
}

}  // namespace

Checkpoint capture_run_state(const Config& config, std::int64_t steps_done, std::int64_t epoch,
                             const Parameters& params, Optimizer* optimizer, int workers) {
  Checkpoint checkpoint;
  for (const ParamSpec& spec : params.specs()) {
    const auto begin = params.values().span().begin() + spec.offset;
    checkpoint.tensors.push_back({spec.name, dims_of(spec.shape), {begin, begin + spec.shape.numel()}});
  }
  nlohmann::json optimizer_info = nullptr;
  if (optimizer != nullptr) {
    std::vector<std::string> states;
    for (const OptimizerState& state : optimizer->state()) {
      states.push_back(state.name);
      for (const ParamSpec& spec : params.specs()) {
        const auto begin = state.values.begin() + spec.offset;
        checkpoint.tensors.push_back({"optimizer." + state.name + "." + spec.name, dims_of(spec.shape),
                                      {begin, begin + spec.shape.numel()}});
      }
    }
    optimizer_info = {{"kind", config.train.optimizer}, {"steps", optimizer->step_count()}, {"states", states}};
  }
  checkpoint.manifest = {{"step", steps_done},        {"epoch", epoch},
                         {"workers", workers},        {"strategy", config.dist.strategy},
                         {"optimizer", optimizer_info}, {"config", to_toml(config)}};
  return checkpoint;
}

Status restore_run_state(const Checkpoint& checkpoint, Parameters& params, Optimizer* optimizer) {
  for (const ParamSpec& spec : params.specs()) {
    const OwnedTensor* tensor = find_tensor(checkpoint, spec.name);
    if (tensor == nullptr) {
      return Status::failed_precondition(fmt::format(
          "the checkpoint has no tensor '{}', which the model needs: it is of another model", spec.name));
    }
    std::span<float> values = params.values().span().subspan(static_cast<std::size_t>(spec.offset),
                                                             static_cast<std::size_t>(spec.shape.numel()));
    if (Status s = copy_into(*tensor, spec, values); !s.is_ok()) return s;
  }
  const nlohmann::json& info = checkpoint.manifest.contains("optimizer") ? checkpoint.manifest["optimizer"]
                                                                         : nlohmann::json(nullptr);
  if (optimizer == nullptr || info.is_null()) return Status::ok();
  for (const OptimizerState& state : optimizer->state()) {
    for (const ParamSpec& spec : params.specs()) {
      const std::string name = "optimizer." + state.name + "." + spec.name;
      const OwnedTensor* tensor = find_tensor(checkpoint, name);
      if (tensor == nullptr) {
        return Status::failed_precondition(fmt::format(
            "the checkpoint has no optimizer state '{}': it was written with another optimizer (train.optimizer)",
            name));
      }
      std::span<float> values = state.values.subspan(static_cast<std::size_t>(spec.offset),
                                                     static_cast<std::size_t>(spec.shape.numel()));
      if (Status s = copy_into(*tensor, spec, values); !s.is_ok()) return s;
    }
  }
  if (info.contains("steps") && info["steps"].is_number_integer()) optimizer->set_step_count(info["steps"].get<std::int64_t>());
  return Status::ok();
}

Result<std::int64_t> checkpoint_step(const Checkpoint& checkpoint) {
  if (!checkpoint.manifest.contains("step") || !checkpoint.manifest["step"].is_number_integer()) {
    return Status::data_loss("the checkpoint manifest has no integer 'step'");
  }
  return checkpoint.manifest["step"].get<std::int64_t>();
}

Result<Config> checkpoint_config(const Checkpoint& checkpoint) {
  if (!checkpoint.manifest.contains("config") || !checkpoint.manifest["config"].is_string()) {
    return Status::data_loss("the checkpoint manifest has no 'config'");
  }
  return parse_config(checkpoint.manifest["config"].get<std::string>(), "the checkpoint's config");
}

void set_checkpoint_vocabulary(Checkpoint& checkpoint, std::string_view symbols) {
  std::vector<int> bytes;
  for (char c : symbols) bytes.push_back(static_cast<unsigned char>(c));
  checkpoint.manifest["vocabulary"] = bytes;
}

Result<std::optional<std::string>> checkpoint_vocabulary(const Checkpoint& checkpoint) {
  const auto saved = checkpoint.manifest.find("vocabulary");
  if (saved == checkpoint.manifest.end()) return std::optional<std::string>();
  std::string symbols;
  if (saved->is_array()) {
    for (const auto& byte : *saved) {
      if (!byte.is_number_integer() || byte.get<int>() < 0 || byte.get<int>() > 255) break;
      symbols.push_back(static_cast<char>(byte.get<int>()));
    }
  }
  if (!saved->is_array() || symbols.size() != saved->size()) {
    return Status::data_loss("the checkpoint manifest's \"vocabulary\" is not a list of byte values");
  }
  return std::optional<std::string>(std::move(symbols));
}

}  // namespace courier
