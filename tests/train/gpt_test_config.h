// The small GPT the training tests share: a character model of one block on a few
// thousand bytes of verse, AdamW with clipping, and the run directory in a ScratchDir.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "courier/train/config.h"
#include "testutil/scratch_dir.h"

namespace courier::testing {

// A few thousand bytes of verse-like text with 30-odd distinct characters.
inline std::filesystem::path write_corpus(const ScratchDir& dir) {
  const std::filesystem::path path = dir.file("corpus.txt");
  std::ofstream out(path);
  const char* verses[] = {"In the beginning God created the heaven and the earth.\n",
                          "And the earth was without form, and void.\n",
                          "And God said, Let there be light: and there was light.\n",
                          "The LORD is my shepherd; I shall not want.\n"};
  for (int i = 0; i < 40; ++i) out << verses[i % 4];
  return path;
}

inline Config gpt_config(const ScratchDir& dir, const std::string& run, int workers, std::int64_t iters) {
  Config c;
  c.model.kind = "gpt";
  c.model.layers = 1;
  c.model.heads = 2;
  c.model.embedding = 16;
  c.model.context = 8;
  c.model.vocabulary = "chars";
  c.data.kind = "text";
  c.data.path = write_corpus(dir).string();
  c.train.workers = workers;
  c.train.iters = iters;
  c.train.batch = 8;
  c.train.optimizer = "adamw";
  c.train.lr = 1e-2;
  c.train.weight_decay = 0.1;
  c.train.clip = 1.0;
  c.train.eval_every = 1000;
  c.train.eval_examples = 48;
  c.train.log_every = 1000;
  c.train.threads = 1;
  c.train.out = dir.file(run).string();
  return c;
}

}  // namespace courier::testing
