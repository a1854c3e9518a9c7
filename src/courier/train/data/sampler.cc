// BatchPlan: seeded epoch permutations, cut into global batches and then into node slices.
#include "courier/train/data/sampler.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <span>

#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier {

std::vector<std::int64_t> epoch_permutation(std::int64_t size, std::uint64_t seed, std::int64_t epoch) {
  COURIER_CHECK_GE(size, 0, "dataset size");
  COURIER_CHECK_GE(epoch, 0, "epoch");
  std::vector<std::int64_t> order(static_cast<std::size_t>(size));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  Rng(seed).fork(static_cast<std::uint64_t>(epoch)).shuffle(std::span<std::int64_t>(order));
  return order;
}

struct BatchPlan::EpochCache {
  struct Entry {
    std::int64_t epoch = -1;
    std::shared_ptr<const std::vector<std::int64_t>> permutation;
  };
  std::mutex mutex;
  Entry entries[2];  // guarded by mutex
};

BatchPlan::BatchPlan(std::int64_t dataset_size, std::int64_t global_batch, int nodes, std::uint64_t seed,
                     bool drop_last)
    : dataset_size_(dataset_size),
      global_batch_(global_batch),
      nodes_(nodes),
      seed_(seed),
      drop_last_(drop_last),
      cache_(std::make_unique<EpochCache>()) {
  COURIER_CHECK_GT(dataset_size_, 0, "batch plan dataset size");
  COURIER_CHECK_GT(global_batch_, 0, "batch plan global batch");
  COURIER_CHECK_GT(nodes_, 0, "batch plan nodes");
  if (drop_last_) {
    COURIER_CHECK_LE(global_batch_, dataset_size_, "drop_last with a batch larger than the dataset leaves no step");
  }
  steps_per_epoch_ = drop_last_ ? dataset_size_ / global_batch_ : (dataset_size_ + global_batch_ - 1) / global_batch_;
}

BatchPlan::~BatchPlan() = default;
BatchPlan::BatchPlan(BatchPlan&&) noexcept = default;
BatchPlan& BatchPlan::operator=(BatchPlan&&) noexcept = default;

BatchPlan::Position BatchPlan::step_position(std::int64_t step) const {
  COURIER_CHECK_GE(step, 0, "step");
  return {step / steps_per_epoch_, step % steps_per_epoch_};
}

std::int64_t BatchPlan::global_batch_size(std::int64_t step) const {
  const Position at = step_position(step);
  return std::min(global_batch_, dataset_size_ - at.step_in_epoch * global_batch_);
}

// The cache lock is held only to look up or store a pointer; the O(size) shuffle runs
// outside it, so two threads missing at once both compute (the same) permutation.
std::shared_ptr<const std::vector<std::int64_t>> BatchPlan::permutation(std::int64_t epoch) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    for (const EpochCache::Entry& entry : cache_->entries) {
      if (entry.epoch == epoch) return entry.permutation;
    }
  }
  auto computed = std::make_shared<const std::vector<std::int64_t>>(epoch_permutation(dataset_size_, seed_, epoch));
  std::lock_guard<std::mutex> lock(cache_->mutex);
  EpochCache::Entry (&entries)[2] = cache_->entries;
  if (entries[0].epoch != epoch && entries[1].epoch != epoch) {
    // Replace the older entry (the smaller epoch; -1 when empty).
    entries[entries[0].epoch <= entries[1].epoch ? 0 : 1] = {epoch, computed};
  }
  return computed;
}

void BatchPlan::node_indices(std::int64_t step, int node, std::vector<std::int64_t>& out) const {
  node_indices(step, node, nodes_, out);
}

void BatchPlan::node_indices(std::int64_t step, int node, int nodes, std::vector<std::int64_t>& out) const {
  COURIER_CHECK(node >= 0 && node < nodes, "node {} is outside [0, {})", node, nodes);
  const Position at = step_position(step);
  const std::int64_t batch = global_batch_size(step);
  // Slices of batch / nodes examples, the first batch % nodes of them one longer.
  const std::int64_t base = batch / nodes;
  const std::int64_t extra = batch % nodes;
  const std::int64_t begin = at.step_in_epoch * global_batch_ + node * base + std::min<std::int64_t>(node, extra);
  const std::int64_t count = base + (node < extra ? 1 : 0);
  const std::shared_ptr<const std::vector<std::int64_t>> order = permutation(at.epoch);
  out.assign(order->begin() + begin, order->begin() + begin + count);
}

}  // namespace courier
