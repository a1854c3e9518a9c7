// Building what a config names: the model, its optimizer, the learning-rate schedule.
#pragma once

#include <memory>

#include "courier/core/status.h"
#include "courier/nn/sequential.h"
#include "courier/train/config.h"
#include "courier/train/optim/lr_schedule.h"
#include "courier/train/optim/optimizer.h"

namespace courier {

// The model of config.model for inputs of `sample_shape` and `classes` outputs, set up and
// initialised from config.train.seed (the same parameters on every node). Dropout masks come
// from config.train.seed and `node`, so every node draws its own. INVALID_ARGUMENT for a model
// kind this build cannot train or a shape it does not fit.
Result<Sequential> build_model(const Config& config, const Shape& sample_shape, std::int64_t classes, int node = 0);

// The optimizer of config.train over the flat range [offset, offset + count) of `params`
// (the whole buffer, or a parameter server's slice). Weight decay applies to the parameters
// the layers mark for it (matrices), not to biases.
std::unique_ptr<Optimizer> build_optimizer(const Config& config, const std::vector<ParamSpec>& specs,
                                           std::int64_t offset, std::int64_t count);

// The schedule of config.train over `total_steps`.
LrSchedule build_schedule(const Config& config, std::int64_t total_steps);

}  // namespace courier
