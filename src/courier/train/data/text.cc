// Vocabulary, the windowed text Dataset, and load_text.
#include "courier/train/data/text.h"

#include <cmath>
#include <fstream>
#include <utility>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier {
namespace {

namespace fs = std::filesystem;

// Example i: inputs tokens[begin + i, begin + i + context), labels one further on.
// Both splits share one token buffer.
class TextWindowDataset final : public Dataset {
 public:
  TextWindowDataset(std::shared_ptr<const std::vector<std::uint8_t>> tokens, std::int64_t begin, std::int64_t length,
                    std::int64_t context, std::int64_t classes)
      : tokens_(std::move(tokens)), begin_(begin), length_(length), context_(context), classes_(classes) {}

  std::int64_t size() const override { return length_ > context_ ? length_ - context_ : 0; }
  Shape sample_shape() const override { return Shape({context_}); }
  std::int64_t classes() const override { return classes_; }
  std::int64_t labels_per_example() const override { return context_; }

  // inputs (B, T) token ids as fp32, labels (B * T)
  void fill(std::span<const std::int64_t> indices, Tensor& inputs, std::span<std::int32_t> labels) const override {
    const auto batch = static_cast<std::int64_t>(indices.size());
    COURIER_CHECK_EQ(inputs.shape(), Shape({batch, context_}), "text batch inputs");
    COURIER_CHECK_EQ(static_cast<std::int64_t>(labels.size()), batch * context_, "text batch labels");
    const std::int64_t windows = size();
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t index = indices[static_cast<std::size_t>(b)];
      COURIER_CHECK(index >= 0 && index < windows, "text window {} is outside [0, {})", index, windows);
      const std::uint8_t* window = tokens_->data() + begin_ + index;
      float* in = inputs.data() + b * context_;
      std::int32_t* next = labels.data() + b * context_;
      for (std::int64_t t = 0; t < context_; ++t) {
        in[t] = static_cast<float>(window[t]);
        next[t] = window[t + 1];
      }
    }
  }

 private:
  std::shared_ptr<const std::vector<std::uint8_t>> tokens_;
  std::int64_t begin_;
  std::int64_t length_;
  std::int64_t context_;
  std::int64_t classes_;
};

Status check_options(const TextOptions& options, std::string_view source) {
  if (options.context < 1) {
    return Status::invalid_argument(fmt::format("text {}: context {} must be at least 1", source, options.context));
  }
  if (!(options.validation_fraction >= 0.0 && options.validation_fraction < 1.0)) {
    return Status::invalid_argument(fmt::format("text {}: validation_fraction {} must be in [0, 1) (0.1 keeps the "
                                                "last tenth of the file for validation)",
                                                source, options.validation_fraction));
  }
  if (options.vocabulary != "bytes" && options.vocabulary != "chars") {
    return Status::invalid_argument(fmt::format("text {}: unknown vocabulary '{}': use \"bytes\" (256 symbols) or "
                                                "\"chars\" (the distinct bytes of the file)",
                                                source, options.vocabulary));
  }
  return Status::ok();
}

Status split_too_short(std::string_view source, std::string_view split, std::int64_t split_tokens,
                       std::int64_t file_tokens, const TextOptions& options, std::string_view remedy) {
  return Status::invalid_argument(fmt::format(
      "text {}: the {} split holds {} of the {} tokens (validation_fraction {}), not more than the context of {}: {}",
      source, split, split_tokens, file_tokens, options.validation_fraction, options.context, remedy));
}

Result<std::string> read_whole_file(const fs::path& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) {
    return Status::not_found(fmt::format("no text file at '{}': run `make data` to prepare data/kjv.txt "
                                         "(scripts/prepare-data), or set data.path to a text file",
                                         path.string()));
  }
  if (fs::is_directory(status)) {
    return Status::invalid_argument(fmt::format("'{}' is a directory: name a text file", path.string()));
  }
  const auto bytes = static_cast<std::int64_t>(fs::file_size(path, error));
  if (error) return Status::failed_precondition(fmt::format("cannot stat '{}': {}", path.string(), error.message()));
  if (bytes > kTextMaxBytes) {
    return Status::resource_exhausted(fmt::format("text file '{}' holds {} bytes, more than the {} courier reads: "
                                                  "use a shorter file",
                                                  path.string(), bytes, kTextMaxBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::failed_precondition(fmt::format("cannot open '{}': check its permissions", path.string()));
  std::string text(static_cast<std::size_t>(bytes), '\0');
  in.read(text.data(), bytes);
  if (in.gcount() != bytes) {
    return Status::data_loss(fmt::format("reading '{}' stopped after {} of {} bytes: is it being written to?",
                                         path.string(), in.gcount(), bytes));
  }
  return text;
}

}  // namespace

Vocabulary::Vocabulary(std::string symbols) : symbols_(std::move(symbols)) {
  token_of_.fill(-1);
  for (std::size_t t = 0; t < symbols_.size(); ++t) {
    token_of_[static_cast<unsigned char>(symbols_[t])] = static_cast<std::int16_t>(t);
  }
}

Vocabulary Vocabulary::bytes() {
  std::string symbols(256, '\0');
  for (int b = 0; b < 256; ++b) symbols[static_cast<std::size_t>(b)] = static_cast<char>(b);
  return Vocabulary(std::move(symbols));
}

Vocabulary Vocabulary::chars_of(std::string_view text) {
  std::array<bool, 256> present{};
  for (char c : text) present[static_cast<unsigned char>(c)] = true;
  std::string symbols;
  for (int b = 0; b < 256; ++b) {
    if (present[static_cast<std::size_t>(b)]) symbols.push_back(static_cast<char>(b));
  }
  return Vocabulary(std::move(symbols));
}

Result<Vocabulary> Vocabulary::from_symbols(std::string_view symbols) {
  if (symbols.empty()) return Status::invalid_argument("a vocabulary needs at least one symbol");
  for (std::size_t i = 1; i < symbols.size(); ++i) {
    if (static_cast<unsigned char>(symbols[i - 1]) >= static_cast<unsigned char>(symbols[i])) {
      return Status::invalid_argument(fmt::format(
          "vocabulary symbols must be distinct bytes in increasing order; byte {} at position {} follows byte {}: the "
          "saved table is damaged",
          static_cast<unsigned char>(symbols[i]), i, static_cast<unsigned char>(symbols[i - 1])));
    }
  }
  return Vocabulary(std::string(symbols));
}

Result<std::vector<std::int32_t>> Vocabulary::encode(std::string_view text) const {
  std::vector<std::int32_t> tokens(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (token_of_[byte] < 0) {
      return Status::invalid_argument(fmt::format("byte {:#04x} at offset {} is not in the vocabulary of {} symbols: "
                                                  "use characters the training text contains",
                                                  byte, i, symbols_.size()));
    }
    tokens[i] = token_of_[byte];
  }
  return tokens;
}

std::string Vocabulary::decode(std::span<const std::int32_t> tokens) const {
  std::string text(tokens.size(), '\0');
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    COURIER_CHECK(tokens[i] >= 0 && tokens[i] < size(), "token {} is outside the vocabulary [0, {})", tokens[i], size());
    text[i] = symbols_[static_cast<std::size_t>(tokens[i])];
  }
  return text;
}

Result<TextCorpus> make_text_corpus(std::string_view text, const TextOptions& options, std::string_view source) {
  if (Status status = check_options(options, source); !status.is_ok()) return status;
  if (text.empty()) return Status::invalid_argument(fmt::format("text {} is empty: a language model needs text", source));

  Vocabulary vocabulary = options.vocabulary == "chars" ? Vocabulary::chars_of(text) : Vocabulary::bytes();
  auto tokens = std::make_shared<std::vector<std::uint8_t>>(text.size());
  Result<std::vector<std::int32_t>> encoded = vocabulary.encode(text);
  COURIER_CHECK(encoded.is_ok(), "a vocabulary built from the text encodes it");
  for (std::size_t i = 0; i < text.size(); ++i) (*tokens)[i] = static_cast<std::uint8_t>((*encoded)[i]);

  const auto total = static_cast<std::int64_t>(text.size());
  const auto train_tokens =
      static_cast<std::int64_t>(std::floor(static_cast<double>(total) * (1.0 - options.validation_fraction)));
  const std::int64_t validation_tokens = total - train_tokens;
  if (train_tokens <= options.context) {
    return split_too_short(source, "training", train_tokens, total, options,
                           "use a shorter context or a longer text");
  }
  if (options.validation_fraction > 0.0 && validation_tokens <= options.context) {
    return split_too_short(source, "validation", validation_tokens, total, options,
                           "raise validation_fraction, use a shorter context, or set validation_fraction to 0");
  }
  TextCorpus corpus{vocabulary, train_tokens, validation_tokens, nullptr, nullptr};
  corpus.train = std::make_unique<TextWindowDataset>(tokens, 0, train_tokens, options.context, vocabulary.size());
  corpus.validation =
      std::make_unique<TextWindowDataset>(tokens, train_tokens, validation_tokens, options.context, vocabulary.size());
  return corpus;
}

Result<TextCorpus> load_text(const std::filesystem::path& path, const TextOptions& options) {
  const std::string source = fmt::format("'{}'", path.string());
  if (Status status = check_options(options, source); !status.is_ok()) return status;
  Result<std::string> text = read_whole_file(path);
  if (!text.is_ok()) return text.status();
  return make_text_corpus(*text, options, source);
}

}  // namespace courier
