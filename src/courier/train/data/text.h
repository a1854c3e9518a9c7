// Byte-level text for language models: a vocabulary of bytes (all 256, or only those the
// corpus uses), and the corpus split nanoGPT's way into training and validation windows.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "courier/core/status.h"
#include "courier/train/data/dataset.h"

namespace courier {

// load_text refuses larger files.
inline constexpr std::int64_t kTextMaxBytes = std::int64_t{2} << 30;  // 2 GiB

// Token t stands for the byte symbols()[t]; symbols are sorted, so the "bytes" vocabulary is
// the identity. Immutable; safe to share between threads.
class Vocabulary {
 public:
  // All 256 byte values: token = byte.
  static Vocabulary bytes();
  // The distinct bytes of `text`, sorted, as tokens 0..V-1.
  static Vocabulary chars_of(std::string_view text);
  // A saved table (symbols() of another vocabulary), e.g. from a checkpoint.
  // INVALID_ARGUMENT unless the bytes are strictly increasing and there is at least one.
  static Result<Vocabulary> from_symbols(std::string_view symbols);

  std::int64_t size() const { return static_cast<std::int64_t>(symbols_.size()); }
  const std::string& symbols() const { return symbols_; }
  bool contains(unsigned char byte) const { return token_of_[byte] >= 0; }

  // INVALID_ARGUMENT naming the first byte the vocabulary lacks and its offset in `text`.
  Result<std::vector<std::int32_t>> encode(std::string_view text) const;
  // REQUIRES (COURIER_CHECK): every token in [0, size()).
  std::string decode(std::span<const std::int32_t> tokens) const;

 private:
  explicit Vocabulary(std::string symbols);

  std::string symbols_;
  std::array<std::int16_t, 256> token_of_{};  // -1: not in the vocabulary
};

struct TextOptions {
  std::int64_t context = 64;           // tokens a window holds (T)
  double validation_fraction = 0.1;    // the last part of the file, in [0, 1)
  std::string vocabulary = "bytes";    // "bytes" (256 symbols) or "chars" (the distinct bytes of the file)
};

// Each split is a Dataset whose example i is the window tokens[i, i + context) as inputs
// (fp32 holding token ids, sample_shape {context}) and tokens[i + 1, i + context] as labels
// (labels_per_example = context, classes = vocabulary size): size = split tokens - context.
struct TextCorpus {
  Vocabulary vocabulary;
  std::int64_t train_tokens = 0;       // floor(file bytes * (1 - validation_fraction)), as nanoGPT
  std::int64_t validation_tokens = 0;  // the rest
  std::unique_ptr<Dataset> train;
  std::unique_ptr<Dataset> validation;  // size() 0 when validation_fraction is 0
};

// Reads the whole file at `path`. Errors, each naming the file: NOT_FOUND (missing; says how
// to prepare data/kjv.txt), INVALID_ARGUMENT (a bad option, an empty file, a split with no
// more tokens than the context), RESOURCE_EXHAUSTED (larger than kTextMaxBytes), DATA_LOSS
// (a read that fails part way).
Result<TextCorpus> load_text(const std::filesystem::path& path, const TextOptions& options = {});

// The same from text already in memory; `source` names it in errors.
Result<TextCorpus> make_text_corpus(std::string_view text, const TextOptions& options,
                                    std::string_view source = "<memory>");

}  // namespace courier
