// The key table of the training configuration, and what each entry knows about itself:
// its value as TOML, its range in words, its check, and the suggestions for near misses.
#include "courier/train/config_keys.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <tuple>

#include <fmt/format.h>

namespace courier::config_keys {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

constexpr Range at_least(double min) { return {min, kInf, false, false}; }
constexpr Range above(double min) { return {min, kInf, true, false}; }
constexpr Range fraction() { return {0.0, 1.0, false, true}; }  // [0, 1)

using C = Config;
using M = ModelConfig;
using D = DataConfig;
using T = TrainConfig;
using X = DistConfig;
using K = CheckpointConfig;

constexpr std::array kSections = {
    SectionSpec{"model", "The network"},
    SectionSpec{"data", "The data set"},
    SectionSpec{"train", "The training loop, optimizer and learning-rate schedule"},
    SectionSpec{"dist", "How the nodes share the work and talk to each other"},
    SectionSpec{"checkpoint", "Saved training state"},
};

// One entry a key. Keep each section's entries together and in the order of its struct.
const std::vector<KeySpec>& key_table() {
  static const std::vector<KeySpec> kTable = {
      {.section = "model", .name = "kind", .field = &member<&C::model, &M::kind>, .choices = {"mlp", "cnn", "gpt"},
       .doc = "the architecture: multi-layer perceptron, convolutional net or GPT-style transformer",
       .aliases = {"model", "type", "arch", "architecture"}},
      {.section = "model", .name = "hidden", .field = &member<&C::model, &M::hidden>, .range = at_least(1),
       .doc = "mlp: widths of the hidden layers (ReLU), input to output; [] is a linear model",
       .aliases = {"hidden_sizes", "hidden_layers", "widths", "layer_sizes"}},
      {.section = "model", .name = "layers", .field = &member<&C::model, &M::layers>, .range = at_least(1),
       .doc = "gpt: transformer blocks", .aliases = {"n_layer", "num_layers", "depth"}},
      {.section = "model", .name = "heads", .field = &member<&C::model, &M::heads>, .range = at_least(1),
       .doc = "gpt: attention heads per block; must divide model.embedding", .aliases = {"n_head", "num_heads"}},
      {.section = "model", .name = "embedding", .field = &member<&C::model, &M::embedding>, .range = at_least(1),
       .doc = "gpt: embedding width (channels)", .aliases = {"n_embd", "embed_dim", "d_model", "embedding_dim"}},
      {.section = "model", .name = "context", .field = &member<&C::model, &M::context>, .range = at_least(1),
       .doc = "gpt: context length in tokens", .aliases = {"block_size", "context_length", "seq_len", "n_ctx"}},
      {.section = "model", .name = "dropout", .field = &member<&C::model, &M::dropout>, .range = fraction(),
       .doc = "gpt: dropout probability at the end of every residual branch (as nanoGPT's resid_dropout); 0: none", .aliases = {"dropout_rate", "pdrop"}},
      {.section = "model", .name = "vocabulary", .field = &member<&C::model, &M::vocabulary>,
       .choices = {"bytes", "chars"},
       .doc = "gpt: tokens; bytes: one a byte value (256); chars: one a distinct byte of the corpus (nanoGPT's "
              "character models)",
       .aliases = {"vocab", "tokenizer"}},

      {.section = "data", .name = "kind", .field = &member<&C::data, &D::kind>,
       .choices = {"fashion-mnist", "text", "toy"},
       .doc = "Fashion-MNIST images (IDX files), a text file for a language model, or the seed demo's random data",
       .aliases = {"dataset", "type", "name"}},
      {.section = "data", .name = "path", .field = &member<&C::data, &D::path>,
       .doc = "fashion-mnist: the directory of the IDX .gz files; text: the text file; toy: unused",
       .aliases = {"dir", "file", "root", "data_dir"}},
      {.section = "data", .name = "validation_fraction", .field = &member<&C::data, &D::validation_fraction>,
       .range = fraction(), .doc = "share of the training set held out for validation",
       .aliases = {"val_fraction", "validation_split", "val_split"}},

      {.section = "train", .name = "workers", .field = &member<&C::train, &T::workers>, .range = at_least(1),
       .doc = "data-parallel worker nodes (with mpi: the number of processes); pipeline: replicas of the whole "
              "pipeline, dist.stages nodes each (mpi: workers x stages processes)",
       .aliases = {"world_size", "num_workers", "nodes", "ranks"}},
      {.section = "train", .name = "epochs", .field = &member<&C::train, &T::epochs>, .range = at_least(0),
       .doc = "passes over the training set", .aliases = {"num_epochs", "n_epochs", "epoch"}},
      {.section = "train", .name = "iters", .field = &member<&C::train, &T::iters>, .range = at_least(0),
       .doc = "optimizer steps; > 0 overrides train.epochs",
       .aliases = {"steps", "max_steps", "iterations", "max_iters"}},
      {.section = "train", .name = "batch", .field = &member<&C::train, &T::batch>, .range = at_least(1),
       .doc = "the global batch in samples, split across the data-parallel workers",
       .aliases = {"batch_size", "global_batch_size"}},
      {.section = "train", .name = "optimizer", .field = &member<&C::train, &T::optimizer>,
       .choices = {"sgd", "adam", "adamw"}, .doc = "the update rule", .aliases = {"optim", "opt"}},
      {.section = "train", .name = "lr", .field = &member<&C::train, &T::lr>, .range = above(0),
       .doc = "learning rate; the peak when scheduled", .aliases = {"learning_rate", "max_lr", "lr_max"}},
      {.section = "train", .name = "momentum", .field = &member<&C::train, &T::momentum>, .range = fraction(),
       .doc = "sgd: momentum factor", .aliases = {"sgd_momentum"}},
      {.section = "train", .name = "weight_decay", .field = &member<&C::train, &T::weight_decay>, .range = at_least(0),
       .doc = "L2 penalty (sgd, adam) or decoupled decay (adamw)", .aliases = {"wd", "decay", "l2"}},
      {.section = "train", .name = "beta1", .field = &member<&C::train, &T::beta1>, .range = fraction(),
       .doc = "adam, adamw: decay of the first-moment average", .aliases = {"b1", "beta_1"}},
      {.section = "train", .name = "beta2", .field = &member<&C::train, &T::beta2>, .range = fraction(),
       .doc = "adam, adamw: decay of the second-moment average", .aliases = {"b2", "beta_2"}},
      {.section = "train", .name = "eps", .field = &member<&C::train, &T::eps>, .range = above(0),
       .doc = "adam, adamw: term added to the denominator", .aliases = {"epsilon", "adam_eps"}},
      {.section = "train", .name = "freeze_variance_at", .field = &member<&C::train, &T::freeze_variance_at>,
       .range = at_least(0),
       .doc = "adam, adamw: after this many steps the second moment stays as it is, so every element's step is "
              "linear in its gradient (1-bit Adam's compression stage: error feedback's delayed bursts then move "
              "an element as far as the steps they stand for); 0: never",
       .aliases = {"freeze_step", "var_freeze_step", "freeze_variance"}},
      {.section = "train", .name = "clip", .field = &member<&C::train, &T::clip>, .range = at_least(0),
       .doc = "clip the global gradient L2 norm to this; 0: off",
       .aliases = {"grad_clip", "clip_norm", "max_grad_norm", "gradient_clipping"}},
      {.section = "train", .name = "max_bad_steps", .field = &member<&C::train, &T::max_bad_steps>,
       .range = at_least(1),
       .doc = "a step whose gradient holds NaN or Inf is skipped (no update); this many in a row stop the run",
       .aliases = {"max_nonfinite_steps", "nan_limit", "max_skipped_steps"}},
      {.section = "train", .name = "schedule", .field = &member<&C::train, &T::schedule>,
       .choices = {"constant", "cosine", "step"},
       .doc = "learning rate over steps: constant; linear warmup then cosine to min_lr; or step decay",
       .aliases = {"lr_schedule", "scheduler"}},
      {.section = "train", .name = "warmup", .field = &member<&C::train, &T::warmup>, .range = at_least(0),
       .doc = "cosine: steps of linear warmup", .aliases = {"warmup_steps", "warmup_iters"}},
      {.section = "train", .name = "min_lr", .field = &member<&C::train, &T::min_lr>, .range = at_least(0),
       .doc = "cosine: learning rate at the last step", .aliases = {"lr_min", "final_lr"}},
      {.section = "train", .name = "decay_every", .field = &member<&C::train, &T::decay_every>, .range = at_least(0),
       .doc = "step: steps between decays; 0: a third of the run's steps", .aliases = {"step_size", "decay_steps", "lr_step"}},
      {.section = "train", .name = "decay_factor", .field = &member<&C::train, &T::decay_factor>,
       .range = {0.0, 1.0, true, false}, .doc = "step: factor applied to the learning rate at each decay",
       .aliases = {"gamma", "lr_decay"}},
      {.section = "train", .name = "seed", .field = &member<&C::train, &T::seed>, .range = at_least(0),
       .doc = "seeds initialisation, shuffling and dropout; the same seed gives the same run",
       .aliases = {"random_seed", "rng_seed"}},
      {.section = "train", .name = "out", .field = &member<&C::train, &T::out>, .non_empty = true,
       .doc = "run directory for metrics, checkpoints and the manifest",
       .aliases = {"out_dir", "output", "output_dir", "run_dir"}},
      {.section = "train", .name = "log_every", .field = &member<&C::train, &T::log_every>, .range = at_least(1),
       .doc = "steps between metric records", .aliases = {"log_interval", "print_every"}},
      {.section = "train", .name = "eval_every", .field = &member<&C::train, &T::eval_every>, .range = at_least(0),
       .doc = "steps between evaluations (and one before the first step); 0: at the end of every epoch",
       .aliases = {"eval_interval", "val_every"}},
      {.section = "train", .name = "eval_examples", .field = &member<&C::train, &T::eval_examples>,
       .range = at_least(0),
       .doc = "examples an evaluation reads, spaced evenly through the evaluation set (for text: windows, as "
              "char_gpt.py's); 0: all",
       .aliases = {"eval_iters", "eval_samples", "eval_windows"}},
      {.section = "train", .name = "final_eval_examples", .field = &member<&C::train, &T::final_eval_examples>,
       .range = at_least(0),
       .doc = "examples the evaluation after the last step (and `courier eval`) reads, spaced evenly; 0: as "
              "train.eval_examples",
       .aliases = {"final_eval_iters", "final_eval_windows"}},
      {.section = "train", .name = "threads", .field = &member<&C::train, &T::threads>, .range = at_least(0),
       .doc = "BLAS threads per node (its elementwise loops run on one thread); 0: the cores divided among "
              "the local nodes",
       .aliases = {"num_threads", "omp_threads", "blas_threads"}},

      {.section = "dist", .name = "transport", .field = &member<&C::dist, &X::transport>,
       .choices = {"inproc", "mpi", "sim"},
       .doc = "how messages move: threads in one process, Open MPI processes, or the simulated network",
       .aliases = {"backend"}},
      {.section = "dist", .name = "strategy", .field = &member<&C::dist, &X::strategy>,
       .choices = {"allreduce", "ps", "local-sgd", "gossip", "pipeline"},
       .doc = "how workers combine their work: allreduce, parameter server, local SGD, gossip averaging, pipeline",
       .aliases = {"mode", "parallelism"}},
      {.section = "dist", .name = "sync", .field = &member<&C::dist, &X::sync>, .choices = {"bsp", "asp", "ssp"},
       .doc = "ps: bulk synchronous, asynchronous, or stale synchronous (bounded by dist.staleness)",
       .aliases = {"sync_mode", "consistency"}},
      {.section = "dist", .name = "staleness", .field = &member<&C::dist, &X::staleness>, .range = at_least(0),
       .doc = "ssp: steps the fastest worker may run ahead of the slowest", .aliases = {"max_staleness", "slack"}},
      {.section = "dist", .name = "servers", .field = &member<&C::dist, &X::servers>, .range = at_least(1),
       .doc = "ps: parameter-server shards (nodes besides the workers)", .aliases = {"num_servers", "shards"}},
      {.section = "dist", .name = "algo", .field = &member<&C::dist, &X::algo>,
       .choices = {"auto", "ring", "halving-doubling", "tree", "mpi-native"},
       .doc = "allreduce: the algorithm; auto picks by message and world size; mpi-native is MPI_Allreduce",
       .aliases = {"algorithm", "allreduce_algo"}},
      {.section = "dist", .name = "codec", .field = &member<&C::dist, &X::codec>, .non_empty = true,
       .doc = "compression of what workers exchange: identity, zstd (lossless), fp16, bf16, int8, topk:F, randomk:F "
              "(F the fraction kept), +ef for error feedback (topk:0.01+ef), or powersgd:R (rank R); identity sends "
              "it as it is",
       .aliases = {"compression", "compressor"}},
      {.section = "dist", .name = "codec_warmup", .field = &member<&C::dist, &X::codec_warmup>, .range = at_least(0),
       .doc = "steps at the start exchanged uncompressed before dist.codec takes over (PyTorch's "
              "start_powerSGD_iter, DGC's warm-up): the first steps' large, fast-changing gradients are the ones "
              "compression hurts most",
       .aliases = {"start_powersgd_iter", "compression_warmup", "warmup_steps"}},
      {.section = "dist", .name = "powersgd_min_elements", .field = &member<&C::dist, &X::powersgd_min_elements>,
       .range = at_least(0),
       .doc = "powersgd: matrices of fewer elements are summed uncompressed, as biases are (the GPT baby config's "
              "token and position embeddings have 8064 and 8192; its smallest block matrix 16384); 0: every matrix "
              "its factors make smaller",
       .aliases = {"powersgd_min_size", "min_compression_size"}},
      {.section = "dist", .name = "exchange", .field = &member<&C::dist, &X::exchange>,
       .choices = {"gradients", "updates", "preconditioned"},
       .doc = "allreduce: what the workers average (and dist.codec compresses). gradients: the step's gradients, "
              "then every worker runs the optimizer on the mean; updates: every worker runs adam or adamw on its own "
              "gradients, with the second moment of the workers' mean estimated from its own, and they average lr "
              "m/(sqrt(v) + eps), so error feedback delays a change at its full size; preconditioned: the same "
              "without momentum, lr g/(sqrt(v) + eps), error feedback's residual summing them in its place",
       .aliases = {"compress_update", "exchange_updates"}},
      {.section = "dist", .name = "bucket_mb", .field = &member<&C::dist, &X::bucket_mb>, .range = above(0),
       .doc = "allreduce: gradient bucket size in MiB (fusion of small tensors)",
       .aliases = {"bucket_size", "bucket_cap_mb", "bucket"}},
      {.section = "dist", .name = "local_steps", .field = &member<&C::dist, &X::local_steps>, .range = at_least(1),
       .doc = "local-sgd: local steps H between averagings", .aliases = {"sync_every", "inner_steps", "period"}},
      {.section = "dist", .name = "outer_lr", .field = &member<&C::dist, &X::outer_lr>, .range = above(0),
       .doc = "local-sgd: outer learning rate on the averaged update (DiLoCo: 0.7)",
       .aliases = {"outer_learning_rate"}},
      {.section = "dist", .name = "outer_momentum", .field = &member<&C::dist, &X::outer_momentum>,
       .range = fraction(), .doc = "local-sgd: outer Nesterov momentum; 0: plain averaging (DiLoCo: 0.9)",
       .aliases = {"outer_nesterov"}},
      {.section = "dist", .name = "graph", .field = &member<&C::dist, &X::graph>,
       .choices = {"ring", "torus", "random", "exponential"}, .doc = "gossip: who averages with whom",
       .aliases = {"topology"}},
      {.section = "dist", .name = "degree", .field = &member<&C::dist, &X::degree>, .range = at_least(1),
       .doc = "gossip random graph: neighbours per worker; rounded down to even, at most train.workers - 1",
       .aliases = {"neighbors", "neighbours"}},
      {.section = "dist", .name = "consensus_step", .field = &member<&C::dist, &X::consensus_step>,
       .range = {0.0, 1.0, true, false},
       .doc = "gossip with dist.codec: how far a worker moves toward its neighbours' public copies a step (CHOCO's "
              "gamma); below 1 when a sparse codec's copies trail the model",
       .aliases = {"gamma", "consensus_lr", "gossip_step"}},
      {.section = "dist", .name = "stages", .field = &member<&C::dist, &X::stages>, .range = at_least(1),
       .doc = "pipeline: stages the model is cut into", .aliases = {"pipeline_stages", "num_stages"}},
      {.section = "dist", .name = "microbatches", .field = &member<&C::dist, &X::microbatches>, .range = at_least(1),
       .doc = "pipeline: micro-batches each replica's share of the batch is split into (uneven sizes allowed)",
       .aliases = {"micro_batches", "num_microbatches", "chunks"}},
      {.section = "dist", .name = "schedule", .field = &member<&C::dist, &X::schedule>, .choices = {"gpipe", "1f1b"},
       .doc = "pipeline: all forwards then all backwards (gpipe), or one forward one backward (1f1b)",
       .aliases = {"pipeline_schedule"}},
      {.section = "dist", .name = "sim_link", .field = &member<&C::dist, &X::sim_link>, .non_empty = true,
       .doc = "sim: every link's bandwidth and latency, optionally a loss probability: \"25Gbps,5us\", "
              "\"100Gbps,2us,loss=0.001\" (bandwidth in bps, Kbps, Mbps, Gbps, Tbps, MB/s or GB/s; latency in ns, "
              "us, ms or s)",
       .aliases = {"link", "sim_network"}},
      {.section = "dist", .name = "sim_cluster", .field = &member<&C::dist, &X::sim_cluster>, .non_empty = true,
       .doc = "sim: how the nodes are wired: switch (one non-blocking switch), fattree:K[:O] (leaves of K nodes "
              "under a spine, uplinks oversubscribed O:1), ring (each node to its two neighbours)",
       .aliases = {"cluster", "fabric", "sim_fabric"}},
      {.section = "dist", .name = "sim_compute_scale", .field = &member<&C::dist, &X::sim_compute_scale>,
       .range = at_least(0),
       .doc = "sim: virtual seconds a node's compute costs per real second it took; 0: compute is free and the "
              "run is deterministic to the byte; 2: a machine half as fast",
       .aliases = {"compute_scale", "sim_speed"}},
      {.section = "dist", .name = "sim_faults", .field = &member<&C::dist, &X::sim_faults>,
       .doc = "sim: what goes wrong and when, space-separated: crash:N@T (node N stops at virtual time T), "
              "slow:N:F[@T] (computes F times slower), slownic:N:F[@T], partition:A-B@T1-T2 (T2 may be never), "
              "loss:P; empty: nothing",
       .aliases = {"fault_plan"}},
      {.section = "dist", .name = "faults", .field = &member<&C::dist, &X::faults>,
       .doc = "inproc: what goes wrong, space-separated: drop:P, duplicate:P, corrupt:P, delay:P, reorder:P (per "
              "message), seed:N, kill:N@S (node N dies in step S), hang:N@S (stops silently), join:N@S (spare N "
              "joins after step S), slow:N:F (computes F times slower); empty: nothing",
       .aliases = {"fault_injection", "inject"}},
      {.section = "dist", .name = "delivery", .field = &member<&C::dist, &X::delivery>,
       .choices = {"checked", "reliable"},
       .doc = "checked: a lost or damaged message fails the step, naming it; reliable: messages are acknowledged "
              "and re-sent with back-off until they arrive intact (as ps-lite's resender)",
       .aliases = {"resend", "reliable", "acks"}},
      {.section = "dist", .name = "recovery", .field = &member<&C::dist, &X::recovery>,
       .choices = {"stop", "elastic"},
       .doc = "stop: a dead node ends the run with an error naming it; elastic: the survivors agree on the new "
              "membership, restore the last commit and go on",
       .aliases = {"elastic", "on_failure", "fault_tolerance"}},
      {.section = "dist", .name = "commit_every", .field = &member<&C::dist, &X::commit_every>, .range = at_least(1),
       .doc = "elastic: steps between in-memory commits of model and optimizer state; a failure redoes at most "
              "this many steps",
       .aliases = {"commit_interval", "snapshot_every"}},
      {.section = "dist", .name = "timeout_s", .field = &member<&C::dist, &X::timeout_s>,
       .range = {0.0, kInf, true, false},
       .doc = "seconds any blocking wait (a collective, a parameter-server request, a pipeline transfer, a "
              "membership round) may take before the stall is resolved and reported, naming the silent rank",
       .aliases = {"timeout", "deadline", "collective_timeout"}},
      {.section = "dist", .name = "heartbeat_ms", .field = &member<&C::dist, &X::heartbeat_ms>, .range = at_least(0),
       .doc = "milliseconds between the workers' heartbeats (comm/health), which find a dead or hung worker "
              "without waiting for dist.timeout_s; 0: no heartbeats (over sim there are none)",
       .aliases = {"heartbeat", "heartbeat_interval", "keepalive"}},
      {.section = "dist", .name = "heartbeat_timeout_ms", .field = &member<&C::dist, &X::heartbeat_timeout_ms>,
       .range = at_least(1),
       .doc = "milliseconds without a heartbeat after which a worker is suspected and the others' waits on it "
              "fail naming it",
       .aliases = {"heartbeat_timeout", "failure_timeout"}},
      {.section = "dist", .name = "stragglers", .field = &member<&C::dist, &X::stragglers>,
       .choices = {"wait", "skip"},
       .doc = "ps with ssp: wait holds every worker within dist.staleness of the slowest; skip leaves a worker whose "
              "compute a step exceeds 2x the median out of that bound (back in under 1.5x), its pushes still "
              "applied as they come, so the others keep their pace",
       .aliases = {"straggler", "straggler_policy", "backup_workers"}},

      {.section = "checkpoint", .name = "every", .field = &member<&C::checkpoint, &K::every>, .range = at_least(0),
       .doc = "steps between checkpoints; 0: only at the end", .aliases = {"interval", "save_every", "every_steps"}},
      {.section = "checkpoint", .name = "keep", .field = &member<&C::checkpoint, &K::keep>, .range = at_least(0),
       .doc = "newest checkpoints kept on disk; 0: keep all", .aliases = {"keep_last", "max_to_keep"}},
  };
  return kTable;
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Edits to turn `name` into `candidate`, if that is few enough to be a typo rather than another word.
std::optional<std::size_t> near_miss(std::string_view name, std::string_view candidate) {
  const std::size_t distance = edit_distance(name, candidate);
  const std::size_t limit = 1 + name.size() / 4;
  if (distance > limit) return std::nullopt;
  return distance;
}

}  // namespace

bool Range::contains(double value) const {
  const bool above_min = min_open ? value > min : value >= min;
  const bool below_max = max_open ? value < max : value <= max;
  return above_min && below_max;
}

std::string Range::describe() const {
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  if (has_min && has_max) {
    return fmt::format("{} {} and {} {}", min_open ? ">" : ">=", min, max_open ? "<" : "<=", max);
  }
  if (has_min) return fmt::format("{} {}", min_open ? ">" : ">=", min);
  if (has_max) return fmt::format("{} {}", max_open ? "<" : "<=", max);
  return "any";
}

std::span<const SectionSpec> sections() { return kSections; }
std::span<const KeySpec> table() { return key_table(); }

bool is_section(std::string_view name) {
  return std::any_of(kSections.begin(), kSections.end(), [&](const SectionSpec& s) { return s.name == name; });
}

const KeySpec* find(std::string_view section, std::string_view name) {
  for (const KeySpec& spec : key_table()) {
    if (spec.section == section && spec.name == name) return &spec;
  }
  return nullptr;
}

std::vector<std::string_view> keys_of(std::string_view section) {
  std::vector<std::string_view> names;
  for (const KeySpec& spec : key_table()) {
    if (spec.section == section) names.push_back(spec.name);
  }
  return names;
}

std::string section_list() {
  std::vector<std::string> names;
  for (const SectionSpec& section : kSections) names.push_back(fmt::format("[{}]", section.name));
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string full_name(const KeySpec& spec) { return fmt::format("{}.{}", spec.section, spec.name); }

// Optimal string alignment: insertions, deletions, substitutions and swaps of neighbours
// ("bacth" -> "batch" is one edit). Three rows of the classic table; O(|a| |b|).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = lower(a[i - 1]) == lower(b[j - 1]);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> suggest_key(std::string_view section, std::string_view name) {
  // Ranked by (edits, whether the section differs, how far the section is): a key of the named
  // section wins a tie, and "train.strategy" still finds dist.strategy.
  const KeySpec* best = nullptr;
  std::tuple<std::size_t, bool, std::size_t> best_rank;
  for (const KeySpec& spec : key_table()) {
    std::vector<std::string_view> names = spec.aliases;
    names.push_back(spec.name);
    for (std::string_view candidate : names) {
      const std::optional<std::size_t> edits = near_miss(name, candidate);
      if (!edits) continue;
      const auto rank = std::make_tuple(*edits, spec.section != section, edit_distance(section, spec.section));
      if (best == nullptr || rank < best_rank) {
        best = &spec;
        best_rank = rank;
      }
    }
  }
  if (best == nullptr) return std::nullopt;
  return full_name(*best);
}

std::optional<std::string_view> suggest_section(std::string_view name) {
  std::optional<std::string_view> best;
  std::size_t best_edits = 0;
  for (const SectionSpec& section : kSections) {
    const std::optional<std::size_t> edits = near_miss(name, section.name);
    if (edits && (!best || *edits < best_edits)) {
      best = section.name;
      best_edits = *edits;
    }
  }
  return best;
}

std::optional<std::string_view> suggest_choice(const KeySpec& spec, std::string_view value) {
  std::optional<std::string_view> best;
  std::size_t best_edits = 0;
  for (std::string_view choice : spec.choices) {
    const std::optional<std::size_t> edits = near_miss(value, choice);
    if (edits && (!best || *edits < best_edits)) {
      best = choice;
      best_edits = *edits;
    }
  }
  return best;
}

std::string format_value(std::int64_t value) { return fmt::format("{}", value); }
std::string format_value(std::uint64_t value) { return fmt::format("{}", value); }

// The shortest text that reads back as the same double, always with a '.' or an exponent so
// TOML sees a float.
std::string format_value(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string format_value(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned>(byte));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string format_value(const std::vector<std::int64_t>& value) { return fmt::format("[{}]", fmt::join(value, ", ")); }

std::string value_text(const KeySpec& spec, const Config& config) {
  // The accessors take a Config& to serve reading and writing; this only reads.
  Config& readable = const_cast<Config&>(config);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  return std::visit([&](auto accessor) { return format_value(accessor(readable)); }, spec.field);
}

std::string_view type_name(const KeySpec& spec) {
  constexpr std::array<std::string_view, 5> kNames = {"integer", "integer", "float", "string", "array of integers"};
  static_assert(std::variant_size_v<Field> == kNames.size());
  return kNames[spec.field.index()];
}

std::string allowed_phrase(const KeySpec& spec) {
  if (!spec.choices.empty()) return fmt::format("one of {}", fmt::join(spec.choices, " | "));
  if (std::holds_alternative<Accessor<std::string>>(spec.field)) {
    return spec.non_empty ? "any non-empty text" : "any text";
  }
  if (std::holds_alternative<Accessor<std::vector<std::int64_t>>>(spec.field)) {
    return fmt::format("each {}", spec.range.describe());
  }
  return spec.range.describe();
}

std::string expected_phrase(const KeySpec& spec) {
  const std::string_view type = type_name(spec);
  const std::string_view article = type.front() == 'i' || type.front() == 'a' ? "an" : "a";
  if (std::holds_alternative<Accessor<std::string>>(spec.field)) {
    if (!spec.choices.empty()) return fmt::format("a string, {}", allowed_phrase(spec));
    return spec.non_empty ? "a string that is not empty" : "a string";
  }
  if (std::holds_alternative<Accessor<std::vector<std::int64_t>>>(spec.field)) {
    return fmt::format("an array of integers, {}", allowed_phrase(spec));
  }
  return fmt::format("{} {} {}", article, type, allowed_phrase(spec));
}

Status check_number(const KeySpec& spec, std::string_view key, std::int64_t value) {
  if (spec.range.contains(static_cast<double>(value))) return Status::ok();
  return Status::invalid_argument(
      fmt::format("{} = {} is out of range; allowed: {}", key, value, spec.range.describe()));
}

Status check_value(const KeySpec& spec, std::int64_t value) { return check_number(spec, full_name(spec), value); }

Status check_value(const KeySpec& spec, std::uint64_t value) {
  if (value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return Status::ok();
  return Status::invalid_argument(
      fmt::format("{} = {} is out of range; allowed: 0 to {} (the largest TOML integer)", full_name(spec), value,
                  std::numeric_limits<std::int64_t>::max()));
}

Status check_value(const KeySpec& spec, double value) {
  if (std::isfinite(value) && spec.range.contains(value)) return Status::ok();
  return Status::invalid_argument(
      fmt::format("{} = {} is out of range; allowed: {}", full_name(spec), format_value(value), spec.range.describe()));
}

Status check_value(const KeySpec& spec, const std::string& value) {
  if (spec.non_empty && value.empty()) {
    return Status::invalid_argument(fmt::format("{} is empty; give it a value ({})", full_name(spec), spec.doc));
  }
  if (spec.choices.empty() || std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end()) {
    return Status::ok();
  }
  std::string message = fmt::format("{} = {} is not one of the choices: {}", full_name(spec), format_value(value),
                                    fmt::join(spec.choices, ", "));
  if (std::optional<std::string_view> suggestion = suggest_choice(spec, value)) {
    message += fmt::format("; did you mean \"{}\"?", *suggestion);
  }
  return Status::invalid_argument(std::move(message));
}

Status check_value(const KeySpec& spec, const std::vector<std::int64_t>& value) {
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (Status status = check_number(spec, fmt::format("{}[{}]", full_name(spec), i), value[i]); !status.is_ok()) {
      return status;
    }
  }
  return Status::ok();
}

Status check_key(const KeySpec& spec, const Config& config) {
  Config& readable = const_cast<Config&>(config);  // NOLINT(cppcoreguidelines-pro-type-const-cast): read only
  return std::visit([&](auto accessor) { return check_value(spec, accessor(readable)); }, spec.field);
}

}  // namespace courier::config_keys
