// Checkpoints: one directory a step, <root>/step-00000123/, holding model.safetensors (every
// parameter and optimizer state tensor) and manifest.json (what the trainer needs to resume,
// plus a size and XXH3-64 checksum of every file). <root>/latest names the newest complete
// one. Layout, manifest fields and the crash-safe write protocol: docs/checkpoint-format.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "courier/core/status.h"
#include "courier/train/checkpoint/safetensors.h"

namespace courier {

inline constexpr int kCheckpointVersion = 1;

struct Checkpoint {
  // Free-form fields from the trainer: config (TOML text), step, epoch, rng, data position,
  // world size, optimizer step count... On write, courier sets "format", "version", "step" and
  // "files"; on read they are there as written.
  nlohmann::json manifest;
  // Parameters as the model names them ("0.weight"); optimizer state as
  // "optimizer.<state>.<parameter>" ("optimizer.exp_avg.0.weight"). Any order; names unique.
  std::vector<OwnedTensor> tensors;
};

// "step-00000123": the directory name of a step (at least 8 digits).
std::string checkpoint_directory_name(std::int64_t step);

// The points of the write protocol, in order (docs/checkpoint-format.md, "The write protocol").
enum class CheckpointWriteStage {
  kTemporaryCreated,  // <root>/step-<step>.tmp/ exists, empty
  kTensorsWritten,    // ... holds model.safetensors, fsynced
  kManifestWritten,   // ... holds manifest.json, fsynced
  kPublished,         // renamed (or exchanged) into place as step-<step>/; `latest` not yet moved
  kCommitted,         // `latest` names the new checkpoint
  kOldMovedAside,     // pruning: one old step directory renamed to step-<n>.deleting/, not yet deleted
};

struct CheckpointWriteOptions {
  int keep = 3;  // step directories kept, the new one included; at least 1
  // Called after each stage (kOldMovedAside once a pruned directory). For fault tests: a forked
  // child that _exit()s here leaves on disk exactly what a crash at that point leaves.
  std::function<void(CheckpointWriteStage)> after_stage;
};

// Writes <root>/step-<step>/ so that a crash at any point leaves the previous checkpoint and
// <root>/latest intact: files go into <root>/step-<step>.tmp/, each fsynced; the directory is
// renamed into place (atomically exchanged with an existing one of the same step); then
// <root>/latest is replaced atomically. Then all but the newest `keep` step directories are
// deleted (by step number; the one just written is always kept). Temporaries a crashed write
// left in root are deleted first. Creates root if needed.
// INVALID_ARGUMENT for a negative step, keep < 1, a manifest that is not an object or whose
// "step" differs from `step`, or bad tensors; otherwise the I/O error, naming the path.
// Blocking. One writer per root at a time (e.g. rank 0); readers may run concurrently.
Status write_checkpoint(const std::filesystem::path& root, std::int64_t step, const Checkpoint& checkpoint,
                        const CheckpointWriteOptions& options);
Status write_checkpoint(const std::filesystem::path& root, std::int64_t step, const Checkpoint& checkpoint,
                        int keep = 3);

// `path` is a root (the checkpoint its `latest` names is read) or a step directory. Verifies
// the manifest's format and version, every listed file's size and checksum, and the
// safetensors file. A damaged or missing checkpoint is refused (DATA_LOSS, NOT_FOUND, ...)
// with a message naming the file and what is wrong; given a root, the message also lists the
// other checkpoints there so the user can pass one of them instead. Blocking; thread-safe.
Result<Checkpoint> read_checkpoint(const std::filesystem::path& path);

// The step directories under root, oldest (lowest step) first. Temporaries and other files
// are not listed. Empty when root does not exist or cannot be read.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& root);

}  // namespace courier
