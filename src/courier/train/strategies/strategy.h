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
#include <string>

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

  // Bytes this worker sent and received, and time it spent waiting for messages.
  CommunicatorStats stats() const { return comm_.stats(); }
  double wait_seconds() const { return wait_seconds_; }

 protected:
  Communicator& comm_;
  StepInfo step_;               // the step begun last
  double wait_seconds_ = 0.0;   // strategies add the time they block on messages
};

}  // namespace courier
