// The training configuration: one plain struct per TOML table, every key with its default,
// read from TOML files and `--set section.key=value` overrides. docs/config.md is generated
// from the same key table (config_reference_markdown), so the reference cannot drift.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "courier/core/status.h"
#include "courier/sim/faults.h"

namespace courier {

// [model]
struct ModelConfig {
  std::string kind = "mlp";                  // mlp | cnn | gpt
  std::vector<std::int64_t> hidden = {256, 128};  // mlp: hidden layer widths (ReLU), each >= 1; [] is linear
  std::int64_t layers = 4;                   // gpt: transformer blocks, >= 1
  std::int64_t heads = 4;                    // gpt: attention heads per block, >= 1, divides embedding
  std::int64_t embedding = 128;              // gpt: embedding width (channels), >= 1
  std::int64_t context = 64;                 // gpt: context length in tokens, >= 1
  double dropout = 0.0;                      // gpt: dropout probability, in [0, 1)
  std::string vocabulary = "bytes";          // gpt: bytes (256 byte values) | chars (the corpus's distinct bytes)

  friend bool operator==(const ModelConfig&, const ModelConfig&) = default;
};

// [data]
struct DataConfig {
  std::string kind = "fashion-mnist";                      // fashion-mnist | text | toy
  std::string path = "/usr/share/datasets/fashion-mnist";  // directory (fashion-mnist) or file (text); unused by toy
  double validation_fraction = 0.1;                        // share of the training set held out, in [0, 1)

  friend bool operator==(const DataConfig&, const DataConfig&) = default;
};

// [train]
struct TrainConfig {
  std::int64_t workers = 1;         // data-parallel nodes, >= 1
  std::int64_t epochs = 1;          // passes over the training set, >= 0
  std::int64_t iters = 0;           // optimizer steps, >= 0; > 0 overrides epochs
  std::int64_t batch = 128;         // the GLOBAL batch in samples, split across the data-parallel nodes, >= 1
  std::string optimizer = "adam";   // sgd | adam | adamw
  double lr = 1e-3;                 // peak learning rate, > 0
  double momentum = 0.0;            // sgd momentum, in [0, 1)
  double weight_decay = 0.0;        // L2 (sgd, adam) or decoupled (adamw) weight decay, >= 0
  double beta1 = 0.9;               // adam/adamw first-moment decay, in [0, 1)
  double beta2 = 0.999;             // adam/adamw second-moment decay, in [0, 1)
  double eps = 1e-8;                // adam/adamw denominator term, > 0
  std::int64_t freeze_variance_at = 0;  // adam/adamw: the step after which the second moment stays fixed, >= 0; 0: never
  double clip = 0.0;                // global gradient-norm clip, >= 0; 0: off
  std::int64_t max_bad_steps = 3;   // consecutive steps with NaN/Inf gradients skipped before the run stops, >= 1
  std::string schedule = "constant";  // constant | cosine | step
  std::int64_t warmup = 0;          // cosine: linear warmup steps, >= 0
  double min_lr = 0.0;              // cosine: final learning rate, >= 0, <= lr
  std::int64_t decay_every = 0;     // step: steps between learning-rate decays, >= 0; 0: a third of the run
  double decay_factor = 0.1;        // step: factor applied at each decay, in (0, 1]
  std::uint64_t seed = 0;           // seeds initialisation, shuffling and dropout, 0 to 2^63-1
  std::string out = "runs/run";     // run directory: metrics, checkpoints, manifest; not empty
  std::int64_t log_every = 50;      // steps between metric records, >= 1
  std::int64_t eval_every = 0;      // steps between evaluations, >= 0; 0: every epoch
  std::int64_t eval_examples = 0;   // examples an evaluation reads, spaced evenly, >= 0; 0: all
  std::int64_t final_eval_examples = 0;  // the same after the last step (and courier eval); 0: as eval_examples
  std::int64_t threads = 0;         // BLAS threads per node, >= 0; 0: auto

  friend bool operator==(const TrainConfig&, const TrainConfig&) = default;
};

// [dist]
struct DistConfig {
  std::string transport = "inproc";   // inproc | mpi | sim
  std::string strategy = "allreduce";  // allreduce | ps | local-sgd | gossip | pipeline
  std::string sync = "bsp";           // ps: bsp | asp | ssp
  std::int64_t staleness = 3;         // ssp: steps a worker may run ahead of the slowest, >= 0
  std::int64_t servers = 1;           // ps: parameter-server shards, >= 1
  std::string algo = "auto";          // allreduce: auto | ring | halving-doubling | tree | mpi-native
  std::string codec = "identity";     // compression: identity | zstd | fp16 | bf16 | int8 | topk:F | randomk:F [+ef] | powersgd:R
  std::int64_t codec_warmup = 0;      // steps sent uncompressed before dist.codec starts, >= 0
  std::int64_t powersgd_min_elements = 0;  // powersgd: smaller matrices go uncompressed, >= 0
  std::string exchange = "gradients";  // allreduce: gradients | updates | preconditioned (each worker's adam/adamw change)
  double bucket_mb = 25.0;            // allreduce: gradient bucket size in MiB, > 0
  std::int64_t local_steps = 8;       // local-sgd: local steps H between averagings, >= 1
  double outer_lr = 1.0;              // local-sgd: outer learning rate, > 0 (DiLoCo: 0.7)
  double outer_momentum = 0.0;        // local-sgd: outer Nesterov momentum, in [0, 1) (DiLoCo: 0.9)
  std::string graph = "ring";         // gossip: ring | torus | random | exponential
  std::int64_t degree = 4;            // gossip random graph: neighbours per node, >= 1 (rounded down to even)
  double consensus_step = 1.0;        // gossip with a codec: CHOCO's step toward the neighbours, in (0, 1]
  std::int64_t stages = 1;            // pipeline: stages, >= 1
  std::int64_t microbatches = 1;      // pipeline: micro-batches per step, >= 1
  std::string schedule = "1f1b";      // pipeline: gpipe | 1f1b
  std::string sim_link = "25Gbps,5us";  // sim: bandwidth and latency of every link (sim::parse_link)
  std::string sim_cluster = "switch";   // sim: switch | fattree:K[:O] | ring
  double sim_compute_scale = 1.0;       // sim: virtual seconds a real second of compute costs, >= 0
  std::string sim_faults;               // sim: fault plan, space-separated (sim/faults.h); empty: none
  std::string faults;                   // inproc: fault plan, space-separated (train/faults.h); empty: none
  std::string delivery = "checked";     // checked (a lost or damaged message fails the step) | reliable (re-sent)
  std::string recovery = "stop";        // stop (a dead node ends the run) | elastic (the survivors go on)
  std::int64_t commit_every = 10;       // elastic: steps between in-memory commits of model and optimizer, >= 1
  double timeout_s = 60.0;              // the deadline of every blocking wait (collective, request, transfer), > 0
  std::int64_t heartbeat_ms = 1000;     // interval of the workers' heartbeats; 0: none (sim never beats)
  std::int64_t heartbeat_timeout_ms = 10000;  // a worker unheard this long is suspected, > heartbeat_ms
  std::string stragglers = "wait";      // ps ssp: wait (the bound holds everyone) | skip (a 2x-slow worker leaves it)

  friend bool operator==(const DistConfig&, const DistConfig&) = default;
};

// [checkpoint]
struct CheckpointConfig {
  std::int64_t every = 0;  // steps between checkpoints, >= 0; 0: only at the end
  std::int64_t keep = 3;   // newest checkpoints kept, >= 0; 0: keep all

  friend bool operator==(const CheckpointConfig&, const CheckpointConfig&) = default;
};

struct Config {
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  DistConfig dist;
  CheckpointConfig checkpoint;

  friend bool operator==(const Config&, const Config&) = default;
};

// Parses TOML text; `source` names it in messages (usually the file path). Every key is
// optional. Checks each key on its own (type, range, choices); cross-key checks are
// validate()'s, to run after the overrides. Errors are INVALID_ARGUMENT naming the source,
// the line and the key: malformed TOML (with toml++'s description and column), an unknown
// table or key (with the closest valid key: "did you mean train.lr?"), a wrong type, a value
// out of range or not among the choices (with the allowed range or the choices).
Result<Config> parse_config(std::string_view toml_text, std::string_view source);

// Reads and parses a file. A missing or unreadable file is NOT_FOUND naming it.
Result<Config> load_config(const std::filesystem::path& path);

// Applies one "section.key=value" override (from `--set`) with the same checks and
// suggestions as a file. The value is TOML (numbers, booleans, [256,128], "quoted"); for a
// string key a bare word works too: dist.strategy=ps and dist.strategy="ps" are the same.
// On error `config` is unchanged.
Status apply_override(Config& config, std::string_view assignment);

// The whole config as TOML, every key included (defaults too), each with a comment:
// for manifests and `courier train --print-config`. parse_config(to_toml(c)) == c.
std::string to_toml(const Config& config);

// Checks every key's range and choices, then the rules across keys (the global batch
// covers the workers, something to train for, ps sync modes only with ps, ...). Returns
// the first problem, naming the keys and what to change.
Status validate(const Config& config);

// dist.sim_faults: faults (sim/faults.h) separated by spaces, commas or semicolons, each
// written without spaces ("crash:1@10ms slow:0:2").
Result<std::vector<sim::Fault>> parse_sim_faults(std::string_view plan);

// Every key as "section.key", in table order (model, data, train, dist, checkpoint).
std::vector<std::string> config_key_names();

// The configuration reference, docs/config.md: every key with its type, default, range and
// meaning. A test keeps docs/config.md equal to it.
std::string config_reference_markdown();

}  // namespace courier
