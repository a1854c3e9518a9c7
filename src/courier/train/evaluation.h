// What a training run reads and how it is judged: the data a config names (train and test
// splits, and a text's vocabulary), and evaluation of a model on evenly spaced examples.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "courier/core/status.h"
#include "courier/nn/sequential.h"
#include "courier/train/checkpoint/checkpoint.h"
#include "courier/train/config.h"
#include "courier/train/data/dataset.h"
#include "courier/train/data/text.h"

namespace courier {

struct EvalReport {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  double loss = 0.0;
  double accuracy = 0.0;                 // for text: of the next-token predictions
  std::int64_t examples = 0;             // images, or text windows
  std::optional<double> bits_per_byte;   // text: the loss in bits per byte
};

struct RunData {
  std::shared_ptr<const Dataset> train;
  std::shared_ptr<const Dataset> test;    // the test images, or the text's validation windows
  std::optional<Vocabulary> vocabulary;  // text only
};

// The data of config.data: Fashion-MNIST (train and test images) or a text file (train and
// validation windows, and the vocabulary). The loaders' errors name the file and the remedy.
Result<RunData> load_run_data(const Config& config);

// The checkpoint's vocabulary ("vocabulary" in the manifest: the byte of each token) must be
// the data's, or every token id would mean another character: FAILED_PRECONDITION otherwise.
// OK for data without a vocabulary and checkpoints without one.
Status check_vocabulary(const Checkpoint& checkpoint, const RunData& data, const Config& config);

// Examples 0..size-1 spaced evenly, `count` of them: torch.linspace(0, size - 1, count).long(),
// in float32 as torch computes it, so an evaluation reads the windows char_gpt.py reads.
std::vector<std::int64_t> evenly_spaced(std::int64_t size, std::int64_t count);

// Loss and accuracy of `model` on `examples` examples of `data` spaced evenly (0: all of
// them), in batches, with the model in evaluation mode (no dropout); for text per token, and
// the loss in bits per byte too. step and epoch are left 0 for the caller.
EvalReport evaluate(Sequential& model, const Dataset& data, std::int64_t examples);

}  // namespace courier
