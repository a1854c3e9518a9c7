// What a training run saves and restores: parameters and optimizer state as named tensors,
// and the manifest fields the trainer needs to continue (step, epoch, config, world size).
// Everything is per parameter and whole, so a checkpoint does not depend on the world size
// that wrote it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "courier/nn/parameters.h"
#include "courier/train/checkpoint/checkpoint.h"
#include "courier/train/config.h"
#include "courier/train/optim/optimizer.h"

namespace courier {

// Parameters as "<name>", optimizer state (when `optimizer` is not null) as
// "optimizer.<state>.<name>"; manifest: config (TOML), step (steps completed), epoch,
// optimizer kind and step count, workers.
Checkpoint capture_run_state(const Config& config, std::int64_t steps_done, std::int64_t epoch,
                             const Parameters& params, Optimizer* optimizer, int workers);

// Copies the checkpoint's parameters (and optimizer state, when `optimizer` is not null and
// the checkpoint has it) into place. FAILED_PRECONDITION naming the tensor when one is
// missing or has another shape (a checkpoint of another model).
Status restore_run_state(const Checkpoint& checkpoint, Parameters& params, Optimizer* optimizer);

// A text run's vocabulary in the manifest ("vocabulary": the byte of each token, in order).
void set_checkpoint_vocabulary(Checkpoint& checkpoint, std::string_view symbols);
// The saved symbols; nullopt when the checkpoint has none (not a text run); DATA_LOSS when the
// field is not a list of byte values.
Result<std::optional<std::string>> checkpoint_vocabulary(const Checkpoint& checkpoint);

// The manifest's step (steps completed), and the config it was trained with.
Result<std::int64_t> checkpoint_step(const Checkpoint& checkpoint);
Result<Config> checkpoint_config(const Checkpoint& checkpoint);

}  // namespace courier
