// Allreduce data parallelism (as Horovod and PyTorch DDP): every worker holds the whole
// model; gradients are summed across workers by allreduce, then every worker applies the
// same optimizer step to the same parameters, so replicas stay identical.
//
// Gradients travel in buckets of about bucket_bytes, built in reverse layer order (the order
// backward produces them). A bucket's allreduce starts on a communication thread as soon as
// its last layer reports ready, so communication overlaps the rest of backward. With a
// codec (dist.codec) each bucket is its own stream through its own compressor (error
// feedback keeps a residual a bucket); uncompressed buckets use options.collective.algorithm.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "courier/comm/collectives/collectives.h"
#include "courier/train/strategies/strategy.h"

namespace courier {

struct AllreduceOptions {
  std::size_t bucket_bytes = std::size_t{25} << 20;  // PyTorch DDP's default, 25 MiB
  CollectiveOptions collective;                      // algorithm, timeout, segments
  CompressionOptions compression;
  // false: each bucket is reduced on the caller's thread as it becomes ready, no communication
  // thread (the sim transport, whose node is one thread taking turns in virtual time).
  bool overlap = true;
  // dist.exchange = updates or preconditioned: each worker runs the optimizer's state on its
  // own gradients and the workers average (and compress) lr times its update direction, after
  // backward, instead of the gradients (REQUIRES: optimizer.supports_direction()). Error
  // feedback then delays a change at its full size: Adam's normalisation no longer shrinks a
  // delayed burst to one step. update_momentum false: the direction without momentum
  // (preconditioned), so nothing a worker has seen waits in its momentum either.
  bool exchange_updates = false;
  bool update_momentum = true;
};

class AllreduceStrategy final : public Strategy {
 public:
  // `workers` is the communicator of the data-parallel workers; `layers` the flat parameter
  // range of every layer, in layer order (Sequential::parameter_range). Both outlive this.
  AllreduceStrategy(Communicator& workers, std::vector<GradsReady> layers, AllreduceOptions options);
  ~AllreduceStrategy() override;

  std::string describe() const override;
  Status start(Parameters& params, Optimizer& optimizer) override;
  void begin_step(const StepInfo& step) override;
  void on_grads_ready(const GradsReady& ready) override;
  Status finish_step(Parameters& params, Optimizer& optimizer) override;
  Status finish(Parameters& params, Optimizer& optimizer) override;

  // The buckets, as flat ranges (for tests): bucket 0 holds the last layers.
  struct Bucket {
    std::int64_t offset = 0, count = 0;
    int layers_pending = 0;  // this step's layers not yet ready
    int layers = 0;
  };
  const std::vector<Bucket>& buckets() const { return buckets_; }

 private:
  void run_communication();
  // finish_step under exchange_updates: direction, mean over the workers, update.
  Status exchange_update(Parameters& params, Optimizer& optimizer);
  // Weights, then sums bucket `index` of the gradients over the workers (compressed or not).
  Status reduce_bucket(int index, const StepInfo& step);
  // Sums `part`, bucket `index` of a step, over the workers: compressed, or not.
  Status sum_bucket(int index, std::span<float> part, const StepInfo& step);

  AllreduceOptions options_;
  std::vector<int> bucket_of_layer_;
  std::vector<Bucket> buckets_;
  std::vector<std::unique_ptr<GradientCompressor>> compressors_;  // one a bucket, when compressing
  std::vector<float> direction_;  // exchange_updates: this worker's update direction, then the mean
  Parameters* params_ = nullptr;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<int> ready_;  // buckets whose allreduce may start
  int finished_ = 0;       // buckets reduced this step
  Status failure_;         // the first failed allreduce of this step
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace courier
