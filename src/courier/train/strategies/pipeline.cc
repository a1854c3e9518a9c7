// A pipeline stage: its schedule over micro-batches, the replicas' and tied gradients, the
// pipeline-wide gradient norm, and gathering the model on rank 0.
#include "courier/train/strategies/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "courier/comm/collectives/collectives.h"
#include "courier/core/check.h"
#include "courier/tensor/reduce.h"

namespace courier {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::uint64_t kTagGather = 301;      // a stage's parameters to rank 0
constexpr std::uint64_t kTagTied = 302;        // a tied parameter's partial gradient, owner <-> reader
constexpr std::uint64_t kTagReport = 303;      // a stage's report to rank 0
constexpr std::uint64_t kTagMicrobatch = 1000;  // + 2m: micro-batch m's activation; + 2m + 1: its gradient

std::uint64_t activation_tag(int m) { return kTagMicrobatch + 2 * static_cast<std::uint64_t>(m); }
std::uint64_t grad_tag(int m) { return activation_tag(m) + 1; }

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

SendInfo f32_info(std::size_t count, std::int64_t step) {
  return {.dtype = DType::kF32, .element_count = count, .step = static_cast<std::uint64_t>(step)};
}

std::vector<std::byte> bytes_of(std::span<const float> values) {
  std::vector<std::byte> bytes(values.size_bytes());
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// Makes `t` a tensor of `shape`, reusing its storage when the shape is already right.
void ensure_shape(Tensor& t, const Shape& shape) {
  if (!t.defined() || !(t.shape() == shape)) t = Tensor::empty(shape);
}

}  // namespace

std::vector<int> PipelineGrid::stage_members(int stage) const {
  std::vector<int> members;
  for (int r = 0; r < replicas; ++r) members.push_back(rank_of(stage, r));
  return members;
}

std::vector<int> PipelineGrid::replica_members(int replica) const {
  std::vector<int> members;
  for (int s = 0; s < stages; ++s) members.push_back(rank_of(s, replica));
  return members;
}

// One micro-batch in flight on this stage; kept in a pool and reused.
struct PipelineStrategy::Microbatch {
  Sequential::Activations state;
  Tensor input;                      // stage 0: the examples; later stages: the activation received
  Tensor dout;                       // the gradient of the stage's output: received, or the loss's
  Tensor din;                        // the gradient of the input, sent back (not on stage 0)
  std::vector<std::int32_t> labels;  // last stage
  int index = -1;                    // the micro-batch, -1 while free
};

PipelineStrategy::PipelineStrategy(Communicator& world, Communicator& stage_group, Sequential& model,
                                   const PipelineOptions& options, std::vector<LayerRange> ranges)
    : Strategy(world), stage_group_(stage_group), model_(model), options_(options), ranges_(std::move(ranges)),
      stage_(options.grid.stage_of(world.rank())), replica_(options.grid.replica_of(world.rank())),
      replica_group_(world.subgroup(options.grid.replica_members(replica_), options.grid.replica_context(replica_))) {}

PipelineStrategy::~PipelineStrategy() = default;

Result<std::unique_ptr<PipelineStrategy>> PipelineStrategy::create(Communicator& world, Communicator& stage_group,
                                                                   Sequential& model, const PipelineOptions& options,
                                                                   OptimizerFactory make_optimizer) {
  COURIER_CHECK_EQ(world.world_size(), options.grid.world_size(), "pipeline world = stages x replicas");
  COURIER_CHECK_EQ(stage_group.world_size(), options.grid.replicas, "a stage's group spans its replicas");
  std::vector<std::int64_t> counts;
  for (std::size_t i = 0; i < model.layer_count(); ++i) counts.push_back(model.parameter_range(i).count);
  Result<std::vector<LayerRange>> ranges = partition_layers(counts, options.grid.stages);
  if (!ranges.is_ok()) return ranges.status();
  std::unique_ptr<PipelineStrategy> pipeline(
      new PipelineStrategy(world, stage_group, model, options, std::move(*ranges)));
  auto stage_of_layer = [&](std::size_t layer) {
    int s = 0;
    while (pipeline->ranges_[static_cast<std::size_t>(s)].last <= layer) ++s;
    return s;
  };
  std::vector<std::pair<std::int64_t, int>> shared;  // (tied parameter, its reader stage): one pair of stages each
  for (const TiedParameter& tied : model.tied_parameters()) {
    const int owner = stage_of_layer(tied.owner);
    const int reader = stage_of_layer(tied.reader);
    if (owner == reader) continue;
    const auto seen = std::find_if(shared.begin(), shared.end(), [&](const auto& s) { return s.first == tied.offset; });
    if (seen != shared.end() && seen->second == reader) continue;  // another reader on the same stage: one copy
    if (seen != shared.end()) {
      return Status::unimplemented(fmt::format(
          "layer {}'s parameter at offset {} is read on more than two pipeline stages; change dist.stages so that "
          "its readers share a stage",
          tied.owner, tied.offset));
    }
    shared.emplace_back(tied.offset, reader);
    if (pipeline->stage_ == owner) pipeline->ties_.push_back({tied.offset, tied.count, reader, nullptr});
    if (pipeline->stage_ == reader) {
      pipeline->ties_.push_back({tied.offset, tied.count, owner, make_optimizer(tied.offset, tied.count)});
    }
  }
  return pipeline;
}

std::string PipelineStrategy::describe() const {
  std::string text = fmt::format("pipeline: {} stages x {} replica{}, {}, {} micro-batches a step; layers",
                                 ranges_.size(), options_.grid.replicas, options_.grid.replicas == 1 ? "" : "s",
                                 pipeline_schedule_name(options_.schedule), options_.microbatches);
  for (std::size_t s = 0; s < ranges_.size(); ++s) {
    text += fmt::format("{} [{}, {})", s == 0 ? "" : " |", ranges_[s].first, ranges_[s].last);
  }
  return text;
}

GradsReady PipelineStrategy::stage_range(int stage) const {
  const LayerRange& r = ranges_[static_cast<std::size_t>(stage)];
  const std::int64_t begin = model_.parameter_range(r.first).offset;
  const GradsReady last = model_.parameter_range(r.last - 1);
  return {r.first, begin, last.offset + last.count - begin};
}

Status PipelineStrategy::start(Parameters&, Optimizer&) { return Status::ok(); }

// ---- the schedule -------------------------------------------------------------------------

Status PipelineStrategy::forward_backward(const Dataset& data, std::span<const std::int64_t> indices) {
  const auto started = SteadyClock::now();
  data_ = &data;
  indices_.assign(indices.begin(), indices.end());
  const auto examples = static_cast<std::int64_t>(indices_.size());
  const int microbatches = static_cast<int>(std::min<std::int64_t>(options_.microbatches, examples));
  offsets_.assign(1, 0);
  for (int m = 0; m < microbatches; ++m) {
    offsets_.push_back(offsets_.back() +
                       static_cast<std::int64_t>(block_range(indices_.size(), microbatches, m).count));
  }
  by_index_.assign(static_cast<std::size_t>(microbatches), nullptr);
  loss_sum_ = 0.0;
  for (const PipelineInstruction& ins :
       pipeline_stage_schedule(options_.schedule, options_.grid.stages, stage_, microbatches)) {
    if (Status s = run(ins); !s.is_ok()) {
      comm_.abort(s);
      return s;
    }
  }
  schedule_seconds_ += seconds_since(started);
  return Status::ok();
}

Status PipelineStrategy::run(const PipelineInstruction& ins) {
  const int m = ins.microbatch;
  const LayerRange& r = ranges_[static_cast<std::size_t>(stage_)];
  const std::int64_t rows = offsets_[static_cast<std::size_t>(m) + 1] - offsets_[static_cast<std::size_t>(m)];
  switch (ins.op) {
    case PipelineOp::kRecvActivation: {
      Microbatch& mb = acquire(m);
      ensure_shape(mb.input, model_.input_shape(r.first).prepend(rows));
      return receive_into(stage_ - 1, activation_tag(m), mb.input, "activation", m);
    }
    case PipelineOp::kForward: return forward(stage_ == 0 ? acquire(m) : *by_index_[static_cast<std::size_t>(m)]);
    case PipelineOp::kSendActivation:
      send_tensor(stage_ + 1, activation_tag(m), by_index_[static_cast<std::size_t>(m)]->state.activations[r.last]);
      return Status::ok();
    case PipelineOp::kRecvGrad: {
      Microbatch& mb = *by_index_[static_cast<std::size_t>(m)];
      ensure_shape(mb.dout, model_.input_shape(r.last).prepend(rows));
      return receive_into(stage_ + 1, grad_tag(m), mb.dout, "gradient", m);
    }
    case PipelineOp::kBackward: return backward(*by_index_[static_cast<std::size_t>(m)]);
    case PipelineOp::kSendGrad: {
      Microbatch& mb = *by_index_[static_cast<std::size_t>(m)];
      send_tensor(stage_ - 1, grad_tag(m), mb.din);
      release(mb);
      return Status::ok();
    }
  }
  return Status::internal(fmt::format("unknown pipeline instruction {}", static_cast<int>(ins.op)));
}

// The first stage reads the examples; the last computes the loss of the global-batch mean:
// its micro-batch's mean loss weighted by rows / global examples, and that loss's gradient.
Status PipelineStrategy::forward(Microbatch& mb) {
  const LayerRange& r = ranges_[static_cast<std::size_t>(stage_)];
  const auto begin = static_cast<std::size_t>(offsets_[static_cast<std::size_t>(mb.index)]);
  const auto rows = static_cast<std::size_t>(offsets_[static_cast<std::size_t>(mb.index) + 1]) - begin;
  const std::span<const std::int64_t> examples(indices_.data() + begin, rows);
  const bool last = stage_ == options_.grid.stages - 1;
  if (stage_ == 0 || last) {
    // The last stage needs only the labels; fill() writes inputs too, into scratch there.
    Tensor& inputs = stage_ == 0 ? mb.input : scratch_inputs_;
    ensure_shape(inputs, data_->sample_shape().prepend(static_cast<std::int64_t>(rows)));
    mb.labels.resize(rows * static_cast<std::size_t>(data_->labels_per_example()));
    data_->fill(examples, inputs, mb.labels);
  }
  const Tensor& out = model_.forward(mb.state, mb.input, r.first, r.last);
  if (last) {
    ensure_shape(mb.dout, out.shape());
    const double loss = loss_fn_.forward_backward(out, mb.labels, mb.dout);
    const auto share = static_cast<float>(static_cast<double>(rows) / static_cast<double>(step_.global_examples));
    for (float& g : mb.dout.span()) g *= share;
    loss_sum_ += loss * static_cast<double>(rows);
  }
  std::int64_t held = 0;
  for (const auto& state : pool_) held += state->state.bytes();
  peak_bytes_ = std::max(peak_bytes_, held);
  return Status::ok();
}

Status PipelineStrategy::backward(Microbatch& mb) {
  const LayerRange& r = ranges_[static_cast<std::size_t>(stage_)];
  Tensor* din = nullptr;
  if (stage_ > 0) {
    ensure_shape(mb.din, mb.input.shape());
    din = &mb.din;
  }
  model_.backward(mb.state, mb.dout, r.first, r.last, {}, din);
  if (stage_ == 0) release(mb);  // later stages release once the input gradient has left
  return Status::ok();
}

PipelineStrategy::Microbatch& PipelineStrategy::acquire(int microbatch) {
  auto free = std::find_if(pool_.begin(), pool_.end(), [](const auto& mb) { return mb->index < 0; });
  if (free == pool_.end()) {
    pool_.push_back(std::make_unique<Microbatch>());
    free = pool_.end() - 1;
  }
  (*free)->index = microbatch;
  by_index_[static_cast<std::size_t>(microbatch)] = free->get();
  return **free;
}

void PipelineStrategy::release(Microbatch& mb) { mb.index = -1; }

Status PipelineStrategy::receive_into(int peer_stage, std::uint64_t tag, Tensor& into, const char* what,
                                      int microbatch) {
  const int peer = options_.grid.rank_of(peer_stage, replica_);
  const auto started = SteadyClock::now();
  Result<Message> message = comm_.receive(peer, tag, Deadline::after(real_clock(), options_.timeout),
                                          {"pipeline", static_cast<std::uint64_t>(step_.step)});
  const double waited = seconds_since(started);
  recv_seconds_ += waited;
  wait_seconds_ += waited;
  if (!message.is_ok()) return message.status();
  const std::size_t expected = static_cast<std::size_t>(into.numel()) * sizeof(float);
  if (message->payload().size() != expected) {
    return Status::data_loss(fmt::format(
        "pipeline stage {} (rank {}), step {}, micro-batch {}: the {} from stage {} (rank {}) holds {} bytes, "
        "expected {} (shape {}); the stages disagree on the model or the batch split",
        stage_, comm_.rank(), step_.step, microbatch, what, peer_stage, peer, message->payload().size(), expected,
        into.shape()));
  }
  std::memcpy(into.data(), message->payload().data(), expected);
  return Status::ok();
}

void PipelineStrategy::send_tensor(int peer_stage, std::uint64_t tag, const Tensor& tensor) {
  const int peer = options_.grid.rank_of(peer_stage, replica_);
  sends_.emplace_back(comm_.send(peer, tag, bytes_of(tensor.span()), f32_info(tensor.span().size(), step_.step)),
                      peer);
}

// ---- the update ---------------------------------------------------------------------------

Status PipelineStrategy::finish_step(Parameters& params, Optimizer& optimizer) {
  const auto started = SteadyClock::now();
  const Deadline deadline = Deadline::after(real_clock(), options_.timeout);
  const OpContext context{"pipeline send", static_cast<std::uint64_t>(step_.step)};
  for (auto& [handle, peer] : sends_) {
    if (Status s = comm_.wait(handle, deadline, context, peer); !s.is_ok()) return s;
  }
  sends_.clear();
  const GradsReady owned = owned_range();
  std::span<float> grads = params.grads().span();
  if (stage_group_.world_size() > 1) {  // the replicas' sum: each micro-batch already weighted by its global share
    CollectiveOptions collective;
    collective.step = static_cast<std::uint64_t>(step_.step);
    const auto sum = [&](std::int64_t offset, std::int64_t count) {
      return allreduce(stage_group_, grads.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(count)),
                       ReduceOp::kSum, collective);
    };
    if (Status s = sum(owned.offset, owned.count); !s.is_ok()) return s;
    for (const Tie& tie : ties_) {
      if (tie.optimizer == nullptr) continue;  // the owner's copy is inside its range
      if (Status s = sum(tie.offset, tie.count); !s.is_ok()) return s;
    }
  }
  if (Status s = sum_tied(params); !s.is_ok()) return s;
  Result<double> norm = global_norm_and_loss(params);
  if (!norm.is_ok()) return norm.status();
  wait_seconds_ += seconds_since(started);
  const auto range = [](std::span<float> all, std::int64_t offset, std::int64_t count) {
    return all.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(count));
  };
  std::span<float> values = params.values().span();
  const auto global_norm = static_cast<float>(*norm);
  optimizer.step(range(values, owned.offset, owned.count), range(grads, owned.offset, owned.count), step_.lr,
                 global_norm);
  for (Tie& tie : ties_) {
    if (tie.optimizer == nullptr) continue;
    tie.optimizer->step(range(values, tie.offset, tie.count), range(grads, tie.offset, tie.count), step_.lr,
                        global_norm);
  }
  return Status::ok();
}

// Owner and reader of a tied parameter swap their partial gradients and both add: a + b on
// one side, b + a on the other, the same float.
Status PipelineStrategy::sum_tied(Parameters& params) {
  for (const Tie& tie : ties_) {
    const int peer = options_.grid.rank_of(tie.peer_stage, replica_);
    std::span<float> grads =
        params.grads().span().subspan(static_cast<std::size_t>(tie.offset), static_cast<std::size_t>(tie.count));
    comm_.send(peer, kTagTied, bytes_of(grads), f32_info(grads.size(), step_.step));
    Result<Message> theirs = comm_.receive(peer, kTagTied, Deadline::after(real_clock(), options_.timeout),
                                           {"pipeline tied gradient", static_cast<std::uint64_t>(step_.step)});
    if (!theirs.is_ok()) return theirs.status();
    if (theirs->payload().size() != grads.size_bytes()) {
      return Status::data_loss(fmt::format(
          "pipeline stage {} (rank {}), step {}: the tied gradient from stage {} (rank {}) holds {} bytes, expected {}",
          stage_, comm_.rank(), step_.step, tie.peer_stage, peer, theirs->payload().size(), grads.size_bytes()));
    }
    std::vector<float> other(grads.size());
    std::memcpy(other.data(), theirs->payload().data(), grads.size_bytes());
    for (std::size_t i = 0; i < grads.size(); ++i) grads[i] += other[i];
  }
  return Status::ok();
}

// Over this replica's stages: the gradient's squared norm (each stage its own range, so a
// tied parameter counts once, with its owner) and the loss (the last stage's).
Result<double> PipelineStrategy::global_norm_and_loss(Parameters& params) {
  const GradsReady owned = owned_range();
  const std::span<const float> grads = params.grads().span().subspan(static_cast<std::size_t>(owned.offset),
                                                                     static_cast<std::size_t>(owned.count));
  double sums[2] = {squared_norm(grads), stage_ == options_.grid.stages - 1 ? loss_sum_ : 0.0};
  CollectiveOptions collective;
  collective.step = static_cast<std::uint64_t>(step_.step);
  if (Status s = allreduce(replica_group_, std::span<double>(sums, 2), ReduceOp::kSum, collective); !s.is_ok()) {
    return s;
  }
  replica_loss_ = step_.local_examples > 0 ? sums[1] / static_cast<double>(step_.local_examples) : 0.0;
  return std::sqrt(sums[0]);
}

// ---- the whole model on rank 0 ----------------------------------------------------------

Status PipelineStrategy::gather_model(Parameters& params) {
  if (replica_ != 0) return Status::ok();
  const Deadline deadline = Deadline::after(real_clock(), options_.timeout);
  std::span<float> values = params.values().span();
  if (stage_ != 0) {
    const GradsReady owned = owned_range();
    const std::span<const float> mine =
        values.subspan(static_cast<std::size_t>(owned.offset), static_cast<std::size_t>(owned.count));
    SendHandle sent = comm_.send(0, kTagGather, bytes_of(mine), f32_info(mine.size(), step_.step));
    return comm_.wait(sent, deadline, {"pipeline gather", static_cast<std::uint64_t>(step_.step)}, 0);
  }
  for (int s = 1; s < options_.grid.stages; ++s) {
    const GradsReady range = stage_range(s);
    const std::size_t bytes = static_cast<std::size_t>(range.count) * sizeof(float);
    Result<Message> part = comm_.receive(options_.grid.rank_of(s, 0), kTagGather, deadline,
                                         {"pipeline gather", static_cast<std::uint64_t>(step_.step)});
    if (!part.is_ok()) return part.status();
    if (part->payload().size() != bytes) {
      return Status::data_loss(fmt::format("pipeline gather: stage {} sent {} bytes of parameters, expected {}", s,
                                           part->payload().size(), bytes));
    }
    if (bytes > 0) std::memcpy(values.data() + range.offset, part->payload().data(), bytes);
  }
  return Status::ok();
}

PipelineStageReport PipelineStrategy::own_report() const {
  return {stage_,
          ranges_[static_cast<std::size_t>(stage_)],
          owned_range().count,
          peak_bytes_,
          schedule_seconds_ > 0 ? recv_seconds_ / schedule_seconds_ : 0.0,
          pipeline_bubble_fraction(options_.grid.stages, options_.microbatches)};
}

Status PipelineStrategy::finish(Parameters& params, Optimizer&) {
  if (Status s = gather_model(params); !s.is_ok()) return s;
  if (replica_ != 0) return Status::ok();
  const Deadline deadline = Deadline::after(real_clock(), options_.timeout);
  if (stage_ != 0) {
    const PipelineStageReport report = own_report();
    const double numbers[2] = {static_cast<double>(report.peak_activation_bytes), report.bubble_fraction};
    SendHandle sent = comm_.send(0, kTagReport,
                      std::vector<std::byte>(reinterpret_cast<const std::byte*>(numbers),
                                             reinterpret_cast<const std::byte*>(numbers) + sizeof numbers),
                      SendInfo{.dtype = DType::kF64});
    return comm_.wait(sent, deadline, {"pipeline report", 0}, 0);
  }
  reports_ = {own_report()};
  for (int s = 1; s < options_.grid.stages; ++s) {
    Result<Message> message = comm_.receive(options_.grid.rank_of(s, 0), kTagReport, deadline, {"pipeline report", 0});
    if (!message.is_ok()) return message.status();
    double numbers[2];
    if (message->payload().size() != sizeof numbers) {
      return Status::data_loss(fmt::format("pipeline report of stage {}: {} bytes, expected {}", s,
                                           message->payload().size(), sizeof numbers));
    }
    std::memcpy(numbers, message->payload().data(), sizeof numbers);
    reports_.push_back({s, ranges_[static_cast<std::size_t>(s)], stage_range(s).count,
                        static_cast<std::int64_t>(numbers[0]), numbers[1],
                        pipeline_bubble_fraction(options_.grid.stages, options_.microbatches)});
  }
  return Status::ok();
}

}  // namespace courier
