// validate(): every key's own range and choices, then the rules across keys. Each rule is
// one function in kRules; its summary is listed in docs/config.md.
#include <array>

#include <fmt/format.h>

#include "courier/comm/codecs/compressor.h"
#include "courier/sim/cluster.h"
#include "courier/sim/faults.h"
#include "courier/train/config.h"
#include "courier/train/config_keys.h"
#include "courier/train/faults.h"

namespace courier {
namespace {

using config_keys::format_value;

Status something_to_train(const Config& c) {
  if (c.train.epochs > 0 || c.train.iters > 0) return Status::ok();
  return Status::invalid_argument(
      "train.epochs = 0 and train.iters = 0 leave nothing to train; set train.epochs or train.iters above 0");
}

Status batch_covers_workers(const Config& c) {
  if (c.train.batch >= c.train.workers) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "train.batch = {} is smaller than train.workers = {}: the global batch is split across the workers, so each "
      "needs at least one sample; raise train.batch or lower train.workers",
      c.train.batch, c.train.workers));
}

Status cosine_ends_below_peak(const Config& c) {
  if (c.train.schedule != "cosine" || c.train.min_lr <= c.train.lr) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "train.min_lr = {} is above train.lr = {}: the cosine schedule decays from train.lr down to train.min_lr; "
      "lower train.min_lr",
      format_value(c.train.min_lr), format_value(c.train.lr)));
}

Status sync_mode_needs_ps(const Config& c) {
  if (c.dist.sync == "bsp" || c.dist.strategy == "ps") return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.sync = {} applies only to dist.strategy = \"ps\" (it is {}); set dist.strategy = \"ps\" or "
      "dist.sync = \"bsp\"",
      format_value(c.dist.sync), format_value(c.dist.strategy)));
}

Status mpi_native_needs_mpi(const Config& c) {
  if (c.dist.algo != "mpi-native" || c.dist.transport == "mpi") return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.algo = \"mpi-native\" calls MPI_Allreduce, so it needs dist.transport = \"mpi\" (it is {}); "
      "set dist.transport = \"mpi\" or another dist.algo",
      format_value(c.dist.transport)));
}

Status stages_mean_pipeline(const Config& c) {
  const bool pipeline = c.dist.strategy == "pipeline";
  if (pipeline && c.dist.stages < 2) {
    return Status::invalid_argument(fmt::format(
        "dist.strategy = \"pipeline\" needs dist.stages >= 2 (it is {}); set dist.stages", c.dist.stages));
  }
  if (!pipeline && c.dist.stages > 1) {
    return Status::invalid_argument(fmt::format(
        "dist.stages = {} applies only to dist.strategy = \"pipeline\" (it is {}); set dist.strategy = "
        "\"pipeline\" or dist.stages = 1",
        c.dist.stages, format_value(c.dist.strategy)));
  }
  return Status::ok();
}

Status microbatches_fit_batch(const Config& c) {
  if (c.dist.strategy != "pipeline" || c.train.workers <= 0) return Status::ok();
  const std::int64_t per_worker = c.train.batch / c.train.workers;
  if (per_worker >= c.dist.microbatches) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.microbatches = {} is more than the {} samples each replica gets (train.batch = {} over train.workers = "
      "{} pipeline replicas); lower dist.microbatches or raise train.batch",
      c.dist.microbatches, per_worker, c.train.batch, c.train.workers));
}

// Pipeline messages (activations, their gradients, the stages' gradient sums) go uncompressed.
Status pipeline_without_codec(const Config& c) {
  if (c.dist.strategy != "pipeline" || c.dist.codec == "identity") return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.codec = {} does not apply to dist.strategy = \"pipeline\": its activations and gradients travel "
      "uncompressed; set dist.codec = \"identity\"",
      format_value(c.dist.codec)));
}

Status heads_divide_embedding(const Config& c) {
  if (c.model.kind != "gpt" || c.model.heads <= 0 || c.model.embedding % c.model.heads == 0) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "model.embedding = {} is not divisible by model.heads = {}: each head gets embedding / heads channels; "
      "change one of them",
      c.model.embedding, c.model.heads));
}

Status model_reads_its_data(const Config& c) {
  const std::string_view model = c.model.kind;
  const std::string_view data = c.data.kind;
  const bool fits = model == "gpt" ? data == "text" : model == "cnn" ? data == "fashion-mnist" : data != "text";
  if (fits) return Status::ok();
  const std::string_view wanted = model == "gpt" ? "\"text\"" : model == "cnn" ? "\"fashion-mnist\""
                                                                                  : "\"fashion-mnist\" or \"toy\"";
  return Status::invalid_argument(fmt::format("model.kind = {} cannot read data.kind = {}; set data.kind = {}",
                                              format_value(c.model.kind), format_value(c.data.kind), wanted));
}

Status data_has_path(const Config& c) {
  if (c.data.kind == "toy" || !c.data.path.empty()) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "data.path is empty but data.kind = {} reads from it; set data.path to the {}", format_value(c.data.kind),
      c.data.kind == "text" ? "text file" : "directory of the IDX files"));
}

// A parameter-server shard sees only its slice of the gradient, so it cannot clip the global norm.
Status clip_needs_one_server(const Config& c) {
  if (c.train.clip <= 0 || c.dist.strategy != "ps" || c.dist.servers == 1) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "train.clip = {} with dist.strategy = \"ps\" needs dist.servers = 1 (got {}): a shard sees only its slice of "
      "the gradient; set dist.servers = 1 or train.clip = 0",
      c.train.clip, c.dist.servers));
}

Status codec_is_known(const Config& c) {
  Status status = check_compression_spec(c.dist.codec);
  if (status.is_ok()) return status;
  return Status::invalid_argument(fmt::format("dist.codec: {}", status.message()));
}

// PowerSGD's factors are summed by allreduce; a push to a server or a neighbour has no partner to sum with.
Status powersgd_needs_allreduce(const Config& c) {
  if (!is_powersgd_spec(c.dist.codec) || c.dist.strategy == "allreduce" || c.dist.strategy == "local-sgd") {
    return Status::ok();
  }
  return Status::invalid_argument(fmt::format(
      "dist.codec = {} works through allreduce; dist.strategy = {} sends point to point. Use dist.strategy = "
      "\"allreduce\" or \"local-sgd\", or a codec such as int8 or topk:0.01+ef",
      format_value(c.dist.codec), format_value(c.dist.strategy)));
}

Status freeze_needs_adam(const Config& c) {
  if (c.train.freeze_variance_at == 0 || c.train.optimizer != "sgd") return Status::ok();
  return Status::invalid_argument(fmt::format(
      "train.freeze_variance_at = {} freezes Adam's second moment, but train.optimizer = \"sgd\" has none; use "
      "adam or adamw, or set train.freeze_variance_at = 0",
      c.train.freeze_variance_at));
}

Status updates_need_allreduce_and_adam(const Config& c) {
  if (c.dist.exchange == "gradients") return Status::ok();
  if (c.dist.strategy != "allreduce") {
    return Status::invalid_argument(fmt::format(
        "dist.exchange = {} averages the workers' optimizer directions in an allreduce, but "
        "dist.strategy = {}; use dist.strategy = \"allreduce\", or set dist.exchange = \"gradients\"",
        format_value(c.dist.exchange), format_value(c.dist.strategy)));
  }
  if (c.train.optimizer != "adamw" && !(c.train.optimizer == "adam" && c.train.weight_decay == 0.0)) {
    return Status::invalid_argument(fmt::format(
        "dist.exchange = {} needs an update direction that does not read the parameters, but "
        "train.optimizer = {} (weight decay {}); use adamw, or adam with train.weight_decay = 0, or set "
        "dist.exchange = \"gradients\"",
        format_value(c.dist.exchange), format_value(c.train.optimizer), c.train.weight_decay));
  }
  return Status::ok();
}

Status min_elements_needs_powersgd(const Config& c) {
  if (c.dist.powersgd_min_elements == 0 || is_powersgd_spec(c.dist.codec)) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.powersgd_min_elements = {} chooses the matrices PowerSGD compresses, but dist.codec = {}; use "
      "dist.codec = \"powersgd:R\", or set dist.powersgd_min_elements = 0",
      c.dist.powersgd_min_elements, format_value(c.dist.codec)));
}

// Checked whatever dist.transport is, so a typo is caught before a run switches to sim.
Status sim_network_parses(const Config& c) {
  if (Result<sim::LinkSpec> link = sim::parse_link(c.dist.sim_link); !link.is_ok()) {
    return Status::invalid_argument(fmt::format("dist.sim_link = {}: {}", format_value(c.dist.sim_link),
                                                link.status().message()));
  }
  sim::ClusterSpec spec;
  if (Status s = sim::parse_fabric(c.dist.sim_cluster, spec); !s.is_ok()) {
    return Status::invalid_argument(fmt::format("dist.sim_cluster = {}: {}", format_value(c.dist.sim_cluster),
                                                s.message()));
  }
  if (Result<std::vector<sim::Fault>> faults = parse_sim_faults(c.dist.sim_faults); !faults.is_ok()) {
    return Status::invalid_argument(fmt::format("dist.sim_faults = {}: {}", format_value(c.dist.sim_faults),
                                                faults.status().message()));
  }
  return Status::ok();
}

// The nodes of the run before any joins: the pipeline grid or the workers, and the servers.
int configured_nodes(const Config& c) {
  const std::int64_t replicas = c.dist.strategy == "pipeline" ? c.dist.stages * c.train.workers : c.train.workers;
  return static_cast<int>(replicas + (c.dist.strategy == "ps" ? c.dist.servers : 0));
}

Status faults_fit_the_run(const Config& c) {
  if (c.dist.faults.empty()) return Status::ok();
  Result<TrainFaults> faults = parse_train_faults(c.dist.faults);
  if (!faults.is_ok()) {
    return Status::invalid_argument(
        fmt::format("dist.faults = {}: {}", format_value(c.dist.faults), faults.status().message()));
  }
  if (c.dist.transport != "inproc") {
    return Status::invalid_argument(fmt::format(
        "dist.faults works in process only (dist.transport = inproc), not over {}; on sim use dist.sim_faults, "
        "over mpi `courier launch` and COURIER_FAULT_KILL_AT (docs/fault-tolerance.md)",
        c.dist.transport));
  }
  if (Status s = check_train_faults(*faults, configured_nodes(c)); !s.is_ok()) {
    return Status::invalid_argument(fmt::format("dist.faults = {}: {}", format_value(c.dist.faults), s.message()));
  }
  if (faults->joins() > 0 && c.dist.recovery != "elastic") {
    return Status::invalid_argument(fmt::format(
        "dist.faults = {} has a node join, which needs dist.recovery = \"elastic\"", format_value(c.dist.faults)));
  }
  return Status::ok();
}

Status reliable_in_process(const Config& c) {
  if (c.dist.delivery != "reliable" || c.dist.transport == "inproc") return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.delivery = reliable runs in process (dist.transport = inproc), not over {}: mpi delivers reliably "
      "itself, and the sim transport re-sends what its modelled links lose (dist.sim_link loss=P)",
      c.dist.transport));
}

Status elastic_strategies(const Config& c) {
  if (c.dist.recovery != "elastic") return Status::ok();
  if (c.dist.strategy == "pipeline") {
    return Status::invalid_argument(
        "dist.recovery = elastic does not cover a pipeline (a stage's layers live on one node); use dist.recovery = "
        "stop with `courier launch` restarts, or a data-parallel strategy");
  }
  if (c.dist.transport != "inproc") {
    return Status::invalid_argument(fmt::format(
        "dist.recovery = elastic runs in process (dist.transport = inproc), not over {}; over mpi, `courier launch` "
        "restarts the job from its newest checkpoint",
        c.dist.transport));
  }
  return Status::ok();
}

Status heartbeat_timeout_exceeds_interval(const Config& c) {
  if (c.dist.heartbeat_ms == 0 || c.dist.heartbeat_timeout_ms > 2 * c.dist.heartbeat_ms) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.heartbeat_timeout_ms = {} is not above twice dist.heartbeat_ms = {}: one late beat would make a live "
      "worker a suspect; raise the timeout (a few intervals) or set dist.heartbeat_ms = 0",
      c.dist.heartbeat_timeout_ms, c.dist.heartbeat_ms));
}

Status skipping_stragglers_needs_ssp(const Config& c) {
  if (c.dist.stragglers == "wait" || (c.dist.strategy == "ps" && c.dist.sync == "ssp")) return Status::ok();
  return Status::invalid_argument(fmt::format(
      "dist.stragglers = \"skip\" loosens SSP's staleness bound, so it needs dist.strategy = \"ps\" and dist.sync = "
      "\"ssp\" (here {} and {}); ASP never waits, and BSP and allreduce need every worker's gradient",
      format_value(c.dist.strategy), format_value(c.dist.sync)));
}

constexpr std::array kRules = {
    config_keys::Rule{"train.epochs > 0 or train.iters > 0", &something_to_train},
    config_keys::Rule{"train.batch >= train.workers (the global batch is split across the workers)",
                      &batch_covers_workers},
    config_keys::Rule{"train.schedule = cosine: train.min_lr <= train.lr", &cosine_ends_below_peak},
    config_keys::Rule{"dist.sync = asp or ssp: dist.strategy = ps", &sync_mode_needs_ps},
    config_keys::Rule{"dist.algo = mpi-native: dist.transport = mpi", &mpi_native_needs_mpi},
    config_keys::Rule{"dist.strategy = pipeline if and only if dist.stages >= 2", &stages_mean_pipeline},
    config_keys::Rule{"dist.strategy = pipeline: train.batch / train.workers >= dist.microbatches",
                      &microbatches_fit_batch},
    config_keys::Rule{"dist.strategy = pipeline: dist.codec = identity", &pipeline_without_codec},
    config_keys::Rule{"model.kind = gpt: model.heads divides model.embedding", &heads_divide_embedding},
    config_keys::Rule{"model.kind = gpt reads data.kind = text; cnn reads fashion-mnist; mlp reads fashion-mnist or "
                      "toy",
                      &model_reads_its_data},
    config_keys::Rule{"data.kind = fashion-mnist or text: data.path is not empty", &data_has_path},
    config_keys::Rule{"train.clip > 0 with dist.strategy = ps: dist.servers = 1", &clip_needs_one_server},
    config_keys::Rule{"dist.codec: identity, zstd, fp16, bf16, int8, topk:F or randomk:F (F in (0, 1]), the lossy "
                      "ones optionally with +ef; or powersgd:R",
                      &codec_is_known},
    config_keys::Rule{"dist.codec = powersgd:R: dist.strategy = allreduce or local-sgd", &powersgd_needs_allreduce},
    config_keys::Rule{"train.freeze_variance_at > 0: train.optimizer = adam or adamw", &freeze_needs_adam},
    config_keys::Rule{"dist.powersgd_min_elements > 0: dist.codec = powersgd:R", &min_elements_needs_powersgd},
    config_keys::Rule{"dist.exchange = updates or preconditioned: dist.strategy = allreduce, train.optimizer = "
                      "adamw (or adam without weight decay)",
                      &updates_need_allreduce_and_adam},
    config_keys::Rule{"dist.sim_link is a link (\"25Gbps,5us\"), dist.sim_cluster a fabric (switch, "
                      "fattree:K[:O], ring) and dist.sim_faults a fault plan",
                      &sim_network_parses},
    config_keys::Rule{"dist.faults is a fault plan naming nodes of the run, with dist.transport = inproc; a join "
                      "needs dist.recovery = elastic",
                      &faults_fit_the_run},
    config_keys::Rule{"dist.delivery = reliable: dist.transport = inproc", &reliable_in_process},
    config_keys::Rule{"dist.recovery = elastic: dist.transport = inproc and a data-parallel strategy",
                      &elastic_strategies},
    config_keys::Rule{"dist.heartbeat_ms = 0 or dist.heartbeat_timeout_ms > 2 x dist.heartbeat_ms",
                      &heartbeat_timeout_exceeds_interval},
    config_keys::Rule{"dist.stragglers = skip: dist.strategy = ps and dist.sync = ssp", &skipping_stragglers_needs_ssp},
};

}  // namespace

Result<std::vector<sim::Fault>> parse_sim_faults(std::string_view plan) {
  std::vector<sim::Fault> faults;
  for (std::string_view item : plan_items(plan)) {
    Result<sim::Fault> fault = sim::parse_fault(item);
    if (!fault.is_ok()) return fault.status();
    faults.push_back(*fault);
  }
  return faults;
}

std::span<const config_keys::Rule> config_keys::rules() { return kRules; }

Status validate(const Config& config) {
  for (const config_keys::KeySpec& spec : config_keys::table()) {
    if (Status status = config_keys::check_key(spec, config); !status.is_ok()) return status;
  }
  for (const config_keys::Rule& rule : kRules) {
    if (Status status = rule.check(config); !status.is_ok()) return status;
  }
  return Status::ok();
}

}  // namespace courier
