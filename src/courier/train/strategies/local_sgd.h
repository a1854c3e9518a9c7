// Local SGD (periodic model averaging; DiLoCo with an outer optimizer): every worker trains
// alone on its own data, and every H steps the workers average their parameters with one
// allreduce. With an outer optimizer the average is not taken as is: the change since the
// last average (the "outer gradient") drives an outer SGD with Nesterov momentum on the
// parameters every worker last agreed on. outer_lr = 1 and outer_momentum = 0 is plain
// averaging. Inner optimizer state (Adam's moments) stays local, as in DiLoCo.
// With a codec (dist.codec) what travels is each worker's change since the last average,
// compressed (with error feedback, the part a round drops is sent in a later one).
#pragma once

#include <vector>

#include "courier/comm/collectives/collectives.h"
#include "courier/train/strategies/strategy.h"

namespace courier {

struct LocalSgdOptions {
  int local_steps = 8;          // H
  float outer_lr = 1.0f;
  float outer_momentum = 0.0f;  // Nesterov when > 0
  CollectiveOptions collective;
  CompressionOptions compression;
};

class LocalSgdStrategy final : public Strategy {
 public:
  LocalSgdStrategy(Communicator& workers, LocalSgdOptions options);

  std::string describe() const override;
  Status start(Parameters& params, Optimizer& optimizer) override;
  Status finish_step(Parameters& params, Optimizer& optimizer) override;
  Status finish(Parameters& params, Optimizer& optimizer) override;

 private:
  Status average(Parameters& params);

  LocalSgdOptions options_;
  std::int64_t since_average_ = 0;
  std::vector<float> anchor_;    // the parameters at the last average
  std::vector<float> momentum_;  // outer Nesterov buffer
  std::vector<float> outer_;     // the outer gradient: anchor - the workers' mean
  std::unique_ptr<GradientCompressor> compressor_;
};

}  // namespace courier
