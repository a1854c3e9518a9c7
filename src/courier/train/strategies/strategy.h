// Strategy: how a data-parallel worker exchanges what it learned. The trainer runs forward
// and backward and does not know which strategy drives it; the strategy decides what travels
// where (gradients through an allreduce, pushes and pulls to parameter-server shards,
// periodic averages, neighbour averages) and who waits for whom.
//
// Call order on every worker, from the worker's one training thread:
//   start(params, optimizer)           once, before the first step
//   for each step:
//     begin_step(step)                 before backward
//     on_grads_ready(range)            from backward, after each layer (last layer first)
//     finish_step(params, optimizer)   after backward: finish the exchange, update params
//   finish(params, optimizer)          once, after the last step
// The gradients backward leaves are this worker's local mean; a strategy that combines
// workers weights each by local_examples / global_examples, so uneven slices of a partial
// last batch still give the global mean.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "courier/comm/codecs/compressor.h"
#include "courier/comm/communicator.h"
#include "courier/core/status.h"
#include "courier/nn/parameters.h"
#include "courier/nn/sequential.h"
#include "courier/train/optim/optimizer.h"

namespace courier {

// What every worker of a step has in common (for messages, errors and traces).
struct StepInfo {
  std::int64_t step = 0;
  float lr = 0.0f;
  // This worker's examples and the whole step's, over all workers.
  std::int64_t local_examples = 0;
  std::int64_t global_examples = 0;
};

// dist.codec, and what a compressor needs to know about the flat parameter buffer.
struct CompressionOptions {
  std::string spec = "identity";      // a codec (make_codec) or powersgd:R
  std::vector<MatrixRange> matrices;  // the model's 2-D parameters in the flat buffer (for PowerSGD)
  std::uint64_t seed = 0;             // the same on every worker
  std::int64_t warmup = 0;            // steps exchanged uncompressed first (dist.codec_warmup)
  // PowerSGD: matrices of fewer elements are summed as they are (dist.powersgd_min_elements).
  std::int64_t powersgd_min_elements = 0;

  bool enabled() const { return spec != "identity"; }
  // Whether step `step` (from 0) is compressed.
  bool compresses(std::int64_t step) const { return enabled() && step >= warmup; }
  // A compressor for the stream of vectors [offset, offset + count) of the flat buffer (the
  // matrices inside it, relative to offset, those below powersgd_min_elements left out).
  // REQUIRES: the spec passed check_compression_spec.
  std::unique_ptr<GradientCompressor> make(std::int64_t offset, std::int64_t count, int rank) const;
  // The codec itself, for point-to-point exchanges that keep public copies (gossip, a
  // parameter server's pulls): those copies already carry what a round drops, so a "+ef"
  // is left off. REQUIRES: a codec spec, not powersgd.
  std::unique_ptr<Codec> codec_without_feedback(int rank) const;
  // With error feedback if the spec asks for it (a parameter server's pushes).
  std::unique_ptr<Codec> codec(int rank) const;
};

// Which slice of each global batch a worker reads: slice `index` of `count` (BatchPlan). Fixed
// for most runs; an elastic run changes it when workers die or join.
struct DataShare {
  int index = 0;
  int count = 1;
};

class Strategy {
 public:
  // `comm` is what this worker talks over (its counters are the worker's stats()).
  explicit Strategy(Communicator& comm) : comm_(comm) {}
  virtual ~Strategy() = default;
  virtual std::string describe() const = 0;

  // Makes this worker's parameters (and, where it matters, optimizer state) the ones every
  // worker starts from: a broadcast from worker 0, or a pull from the servers.
  virtual Status start(Parameters& params, Optimizer& optimizer) = 0;
  // A step begins; backward follows.
  virtual void begin_step(const StepInfo& step) { step_ = step; }
  // The gradients of one layer are final for this step. Never blocks for long; may start
  // communication on another thread. Strategies that exchange only after the step ignore it.
  virtual void on_grads_ready(const GradsReady&) {}
  // Completes the step begun last: waits for what the update needs, then updates `params`.
  virtual Status finish_step(Parameters& params, Optimizer& optimizer) = 0;
  // After the last step: a last average, or telling the servers this worker is done.
  virtual Status finish(Parameters& params, Optimizer& optimizer) = 0;
  // Before an evaluation or a checkpoint, called on every node: makes worker 0's `params`
  // the whole model. Nothing to do where every worker holds all of it (the default); a
  // pipeline's stages send their layers to rank 0.
  virtual Status gather_model(Parameters&) { return Status::ok(); }

  // This worker's slice of the step's batch when the strategy knows better than the trainer
  // (a parameter server's replies name the live workers); nullopt: the trainer's own (the
  // worker's rank among the current workers).
  virtual std::optional<DataShare> data_share() const { return std::nullopt; }

  // Bytes this worker sent and received, and time it spent waiting for messages.
  CommunicatorStats stats() const { return comm_.stats(); }
  double wait_seconds() const { return wait_seconds_; }
  // Everything this worker sent: the bytes it would have sent without compression, and those
  // it sent (equal when nothing is compressed).
  CodecTraffic traffic() const {
    const std::uint64_t sent = stats().bytes_sent;
    return {sent + compressed_.raw_bytes - compressed_.wire_bytes, sent};
  }

 protected:
  Communicator& comm_;
  StepInfo step_;               // the step begun last
  double wait_seconds_ = 0.0;   // strategies add the time they block on messages
  CodecTraffic compressed_;     // strategies add their compressed exchanges (raw and wire bytes)
};

}  // namespace courier
