// Bucketed, overlapped allreduce data parallelism.
#include "courier/train/strategies/allreduce.h"

#include <chrono>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {

AllreduceStrategy::AllreduceStrategy(Communicator& workers, std::vector<GradsReady> layers, AllreduceOptions options)
    : Strategy(workers), options_(options), bucket_of_layer_(layers.size(), -1) {
  // Walk the layers last to first, closing a bucket once it holds bucket_bytes.
  for (std::size_t i = layers.size(); i-- > 0;) {
    if (buckets_.empty() || static_cast<std::size_t>(buckets_.back().count) * sizeof(float) >= options_.bucket_bytes) {
      buckets_.push_back(Bucket{layers[i].offset + layers[i].count, 0, 0, 0});
    }
    Bucket& bucket = buckets_.back();
    COURIER_CHECK_EQ(bucket.offset, layers[i].offset + layers[i].count, "layer ranges must be contiguous");
    bucket.offset = layers[i].offset;
    bucket.count += layers[i].count;
    bucket.layers += 1;
    bucket_of_layer_[i] = static_cast<int>(buckets_.size()) - 1;
  }
  if (options_.compression.enabled()) {
    for (const Bucket& bucket : buckets_) {
      compressors_.push_back(options_.compression.make(bucket.offset, bucket.count, comm_.rank()));
    }
  }
  // Alone there is nothing to exchange: no thread, and no hand-off to it every step. Updates
  // are exchanged after backward, on the worker's own thread.
  if (comm_.world_size() > 1 && options_.overlap && !options_.exchange_updates) {
    thread_ = std::thread([this] { run_communication(); });
  }
}

AllreduceStrategy::~AllreduceStrategy() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string AllreduceStrategy::describe() const {
  const std::string how = options_.compression.enabled()
                              ? fmt::format("{} compressed", compressors_.front()->name())
                              : std::string(allreduce_algorithm_name(options_.collective.algorithm));
  const char* what = !options_.exchange_updates ? ""
                     : options_.update_momentum ? " of Adam updates"
                                                : " of preconditioned gradients";
  return fmt::format("allreduce{} over {} workers ({}, {} bucket{} of up to {:.3g} MiB)", what, comm_.world_size(),
                     how, buckets_.size(), buckets_.size() == 1 ? "" : "s",
                     static_cast<double>(options_.bucket_bytes) / (1 << 20));
}

Status AllreduceStrategy::start(Parameters& params, Optimizer&) {
  params_ = &params;
  CollectiveOptions options = options_.collective;
  return broadcast(comm_, std::as_writable_bytes(params.values().span()), 0, options);
}

void AllreduceStrategy::begin_step(const StepInfo& step) {
  std::lock_guard lock(mutex_);
  step_ = step;
  finished_ = 0;
  failure_ = Status::ok();
  for (Bucket& bucket : buckets_) bucket.layers_pending = bucket.layers;
}

void AllreduceStrategy::on_grads_ready(const GradsReady& ready) {
  COURIER_CHECK_LT(ready.layer, bucket_of_layer_.size(), "layer index");
  const int b = bucket_of_layer_[ready.layer];
  std::lock_guard lock(mutex_);
  if (--buckets_[static_cast<std::size_t>(b)].layers_pending == 0) {
    if (options_.exchange_updates) return;  // the exchange waits for the optimizer, after backward
    if (!thread_.joinable()) {
      // Without overlap, reduced here and now; a world of one: the bucket is already its own
      // sum (rounded as the codec would).
      if (failure_.is_ok() && (comm_.world_size() > 1 || options_.compression.compresses(step_.step))) {
        if (Status s = reduce_bucket(b, step_); !s.is_ok() && failure_.is_ok()) failure_ = s;
      }
      ++finished_;
      return;
    }
    ready_.push_back(b);
    cv_.notify_all();
  }
}

// The communication thread: reduces buckets in the order they become ready. Each worker's
// gradient is weighted by its share of the step's examples, so the sum is the global mean.
void AllreduceStrategy::run_communication() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    const int bucket = ready_.front();
    ready_.pop_front();
    const StepInfo step = step_;
    const bool skip = !failure_.is_ok();
    lock.unlock();
    const Status status = skip ? Status::ok() : reduce_bucket(bucket, step);
    lock.lock();
    if (!status.is_ok() && failure_.is_ok()) failure_ = status;
    ++finished_;
    cv_.notify_all();
  }
}

Status AllreduceStrategy::reduce_bucket(int index, const StepInfo& step) {
  const Bucket& bucket = buckets_[static_cast<std::size_t>(index)];
  std::span<float> grads =
      params_->grads().span().subspan(static_cast<std::size_t>(bucket.offset), static_cast<std::size_t>(bucket.count));
  const float weight = static_cast<float>(step.local_examples) / static_cast<float>(step.global_examples);
  if (weight != 1.0f) {
    for (float& g : grads) g *= weight;
  }
  return sum_bucket(index, grads, step);
}

Status AllreduceStrategy::sum_bucket(int index, std::span<float> part, const StepInfo& step) {
  CollectiveOptions options = options_.collective;
  options.step = static_cast<std::uint64_t>(step.step);
  if (!options_.compression.compresses(step.step)) return allreduce(comm_, part, ReduceOp::kSum, options);
  CodecTraffic traffic;
  Status status = compressors_[static_cast<std::size_t>(index)]->allreduce(comm_, part, options, traffic);
  compressed_ += traffic;  // read after finish_step, which waits for this bucket under mutex_
  return status;
}

Status AllreduceStrategy::finish_step(Parameters& params, Optimizer& optimizer) {
  if (options_.exchange_updates) return exchange_update(params, optimizer);
  const auto started = std::chrono::steady_clock::now();
  {
    std::unique_lock lock(mutex_);
    for (const Bucket& bucket : buckets_) {
      COURIER_CHECK_EQ(bucket.layers_pending, 0, "backward did not report every layer's gradients as ready");
    }
    cv_.wait(lock, [&] { return finished_ == static_cast<int>(buckets_.size()); });
    if (!failure_.is_ok()) return failure_;
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  optimizer.step(params.values().span(), params.grads().span(), step_.lr);
  return Status::ok();
}

// The optimizer's direction from this worker's gradients, times lr and its share of the step's
// examples, summed over the workers bucket by bucket (compressed as the gradients would be),
// then applied by every worker alike: the parameters stay identical, the optimizer states differ.
Status AllreduceStrategy::exchange_update(Parameters& params, Optimizer& optimizer) {
  for (const Bucket& bucket : buckets_) {
    COURIER_CHECK_EQ(bucket.layers_pending, 0, "backward did not report every layer's gradients as ready");
  }
  direction_.resize(params.grads().span().size());
  optimizer.direction(params.grads().span(), direction_,
                      DirectionOptions{.workers = comm_.world_size(), .momentum = options_.update_momentum});
  // What is exchanged (and what error feedback delays) is the change to the parameters, lr
  // included: a delayed burst moves them as far as the steps it stands for at their own lr.
  const float weight = step_.lr * static_cast<float>(step_.local_examples) / static_cast<float>(step_.global_examples);
  for (float& d : direction_) d *= weight;
  const auto started = std::chrono::steady_clock::now();
  // Alone and uncompressed, the sum is the direction itself.
  const bool exchange = comm_.world_size() > 1 || options_.compression.compresses(step_.step);
  for (std::size_t b = 0; exchange && b < buckets_.size(); ++b) {
    std::span<float> part = std::span<float>(direction_).subspan(static_cast<std::size_t>(buckets_[b].offset),
                                                                 static_cast<std::size_t>(buckets_[b].count));
    if (Status status = sum_bucket(static_cast<int>(b), part, step_); !status.is_ok()) return status;
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  optimizer.apply_direction(params.values().span(), direction_, step_.lr);
  return Status::ok();
}

Status AllreduceStrategy::finish(Parameters&, Optimizer&) { return Status::ok(); }

}  // namespace courier
