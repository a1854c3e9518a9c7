// Byte-level text: the two vocabularies, encode/decode, windows and their shifted labels,
// the nanoGPT split, and the errors for files and options that cannot make a corpus.
#include "courier/train/data/text.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "testutil/scratch_dir.h"

namespace courier {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A text file in the test's scratch directory.
fs::path write_text(const testing::ScratchDir& dir, const std::string& name, const std::string& text) {
  const fs::path path = dir.file(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return path;
}

struct Batch {
  Tensor inputs;
  std::vector<std::int32_t> labels;
};

Batch fill(const Dataset& data, const std::vector<std::int64_t>& indices) {
  const auto n = static_cast<std::int64_t>(indices.size());
  Batch batch{Tensor::empty(data.sample_shape().prepend(n)),
              std::vector<std::int32_t>(static_cast<std::size_t>(n * data.labels_per_example()), -1)};
  data.fill(indices, batch.inputs, batch.labels);
  return batch;
}

class TextTest : public ::testing::Test {
 protected:
  testing::ScratchDir scratch_;
};

TEST_F(TextTest, BytesVocabularyIsTheIdentity) {
  const Vocabulary bytes = Vocabulary::bytes();
  EXPECT_EQ(bytes.size(), 256);
  Result<std::vector<std::int32_t>> tokens = bytes.encode("AB\n");
  ASSERT_TRUE(tokens.is_ok());
  EXPECT_EQ(*tokens, (std::vector<std::int32_t>{65, 66, 10}));
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  Result<std::vector<std::int32_t>> all = bytes.encode(every_byte);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ((*all)[0], 0);
  EXPECT_EQ((*all)[255], 255);
  EXPECT_EQ(bytes.decode(*all), every_byte);
}

TEST_F(TextTest, CharsVocabularyIsTheSortedDistinctBytes) {
  const Vocabulary chars = Vocabulary::chars_of("hello, hell");
  EXPECT_EQ(chars.symbols(), " ,ehlo");
  EXPECT_EQ(chars.size(), 6);
  Result<std::vector<std::int32_t>> tokens = chars.encode("hello");
  ASSERT_TRUE(tokens.is_ok());
  EXPECT_EQ(*tokens, (std::vector<std::int32_t>{3, 2, 4, 4, 5}));
  EXPECT_EQ(chars.decode(*tokens), "hello");
  EXPECT_TRUE(chars.contains('h'));
  EXPECT_FALSE(chars.contains('z'));

  Result<std::vector<std::int32_t>> unknown = chars.encode("hoz");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("0x7a at offset 2"));

  const std::vector<std::int32_t> outside = {6};
  EXPECT_THROW(chars.decode(outside), CheckError);
  const std::vector<std::int32_t> negative = {-1};
  EXPECT_THROW(chars.decode(negative), CheckError);
}

TEST_F(TextTest, VocabularyFromSavedSymbols) {
  const Vocabulary chars = Vocabulary::chars_of("the quick brown fox");
  Result<Vocabulary> restored = Vocabulary::from_symbols(chars.symbols());
  ASSERT_TRUE(restored.is_ok());
  EXPECT_EQ(restored->symbols(), chars.symbols());
  EXPECT_EQ(*restored->encode("fox"), *chars.encode("fox"));
  EXPECT_EQ(Vocabulary::from_symbols("ba").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Vocabulary::from_symbols("aa").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Vocabulary::from_symbols("").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TextTest, WindowsAndLabelsShiftedByOne) {
  const std::string text = "abcdefghijklmnopqrst";  // 20 bytes
  TextOptions options;
  options.context = 4;
  options.validation_fraction = 0.25;
  Result<TextCorpus> corpus = load_text(write_text(scratch_, "abc.txt", text), options);
  ASSERT_TRUE(corpus.is_ok()) << corpus.status().to_string();
  EXPECT_EQ(corpus->train_tokens, 15);
  EXPECT_EQ(corpus->validation_tokens, 5);
  const Dataset& train = *corpus->train;
  EXPECT_EQ(train.size(), 11);  // 15 - 4
  EXPECT_EQ(train.sample_shape(), Shape({4}));
  EXPECT_EQ(train.labels_per_example(), 4);
  EXPECT_EQ(train.classes(), 256);

  const Batch batch = fill(train, {0, 10, 3});
  for (int b = 0; b < 3; ++b) {
    const std::int64_t start = std::vector<std::int64_t>{0, 10, 3}[static_cast<std::size_t>(b)];
    for (int t = 0; t < 4; ++t) {
      EXPECT_EQ(batch.inputs.at({b, t}), static_cast<float>(text[static_cast<std::size_t>(start + t)]));
      EXPECT_EQ(batch.labels[static_cast<std::size_t>(b * 4 + t)], text[static_cast<std::size_t>(start + t + 1)]);
    }
  }
  // The last training window ends at the split: its last label is token 14 ('o'), not beyond.
  EXPECT_EQ(fill(train, {10}).labels.back(), 'o');

  const Dataset& validation = *corpus->validation;
  EXPECT_EQ(validation.size(), 1);  // 5 - 4
  const Batch held_out = fill(validation, {0});
  EXPECT_EQ(held_out.inputs.at({0, 0}), static_cast<float>('p'));
  EXPECT_EQ(held_out.labels, (std::vector<std::int32_t>{'q', 'r', 's', 't'}));
  EXPECT_THROW(fill(validation, {1}), CheckError);
  EXPECT_THROW(fill(train, {11}), CheckError);
  EXPECT_THROW(fill(train, {-1}), CheckError);
}

TEST_F(TextTest, CharsVocabularyWindowsHoldTokenIds) {
  TextOptions options;
  options.context = 3;
  options.validation_fraction = 0.0;
  options.vocabulary = "chars";
  Result<TextCorpus> corpus = load_text(write_text(scratch_, "baab.txt", "baabba"), options);
  ASSERT_TRUE(corpus.is_ok()) << corpus.status().to_string();
  EXPECT_EQ(corpus->vocabulary.symbols(), "ab");
  EXPECT_EQ(corpus->train->classes(), 2);
  EXPECT_EQ(corpus->train->size(), 3);
  EXPECT_EQ(corpus->validation->size(), 0);
  EXPECT_EQ(corpus->validation_tokens, 0);
  const Batch batch = fill(*corpus->train, {1});  // "aab" -> "abb"
  EXPECT_EQ(batch.inputs.at({0, 0}), 0.0f);
  EXPECT_EQ(batch.inputs.at({0, 1}), 0.0f);
  EXPECT_EQ(batch.inputs.at({0, 2}), 1.0f);
  EXPECT_EQ(batch.labels, (std::vector<std::int32_t>{0, 1, 1}));
  std::vector<std::int32_t> window;
  for (int t = 0; t < 3; ++t) window.push_back(static_cast<std::int32_t>(batch.inputs.at({0, t})));
  EXPECT_EQ(corpus->vocabulary.decode(window), "aab");
  EXPECT_EQ(corpus->vocabulary.decode(batch.labels), "abb");
}

TEST_F(TextTest, SplitIsTheFirstNinetyPercentAsNanoGpt) {
  std::string text;
  for (int i = 0; i < 1001; ++i) text.push_back(static_cast<char>('a' + i % 26));
  TextOptions options;
  options.context = 8;
  Result<TextCorpus> corpus = make_text_corpus(text, options);
  ASSERT_TRUE(corpus.is_ok()) << corpus.status().to_string();
  EXPECT_EQ(corpus->train_tokens, 900);  // int(1001 * 0.9)
  EXPECT_EQ(corpus->validation_tokens, 101);
  EXPECT_EQ(corpus->train->size(), 892);
  EXPECT_EQ(corpus->validation->size(), 93);
  const Batch first_validation = fill(*corpus->validation, {0});
  EXPECT_EQ(first_validation.inputs.at({0, 0}), static_cast<float>(text[900]));
}

TEST_F(TextTest, ContextLongerThanTheFileIsAClearError) {
  const fs::path path = write_text(scratch_, "short.txt", "tiny text");
  TextOptions options;
  options.context = 64;
  Result<TextCorpus> corpus = load_text(path, options);
  ASSERT_FALSE(corpus.is_ok());
  EXPECT_EQ(corpus.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(corpus.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(corpus.status().message(), HasSubstr("context of 64"));
  EXPECT_THAT(corpus.status().message(), HasSubstr("shorter context"));
}

TEST_F(TextTest, ValidationSplitShorterThanTheContextIsAClearError) {
  TextOptions options;
  options.context = 8;
  options.validation_fraction = 0.1;
  Result<TextCorpus> corpus = make_text_corpus(std::string(50, 'x'), options, "'fifty.txt'");
  ASSERT_FALSE(corpus.is_ok());
  EXPECT_EQ(corpus.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(corpus.status().message(), HasSubstr("fifty.txt"));
  EXPECT_THAT(corpus.status().message(), HasSubstr("validation split holds 5"));
  options.validation_fraction = 0.0;
  EXPECT_TRUE(make_text_corpus(std::string(50, 'x'), options).is_ok());
}

TEST_F(TextTest, MissingAndEmptyFiles) {
  const fs::path missing = scratch_.file("no-such-corpus.txt");
  Result<TextCorpus> none = load_text(missing);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr(missing.string()));
  EXPECT_THAT(none.status().message(), HasSubstr("make data"));

  const fs::path empty = write_text(scratch_, "empty.txt", "");
  Result<TextCorpus> nothing = load_text(empty);
  ASSERT_FALSE(nothing.is_ok());
  EXPECT_EQ(nothing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(nothing.status().message(), HasSubstr(empty.string()));
  EXPECT_THAT(nothing.status().message(), HasSubstr("empty"));
}

TEST_F(TextTest, BadOptionsAreInvalidArgument) {
  const fs::path path = write_text(scratch_, "ok.txt", std::string(200, 'y'));
  TextOptions zero_context;
  zero_context.context = 0;
  TextOptions all_validation;
  all_validation.validation_fraction = 1.0;
  TextOptions negative_validation;
  negative_validation.validation_fraction = -0.1;
  TextOptions words;
  words.vocabulary = "words";
  for (const TextOptions& options : {zero_context, all_validation, negative_validation, words}) {
    Result<TextCorpus> corpus = load_text(path, options);
    ASSERT_FALSE(corpus.is_ok());
    EXPECT_EQ(corpus.status().code(), StatusCode::kInvalidArgument) << corpus.status().to_string();
    EXPECT_THAT(corpus.status().message(), HasSubstr(path.string()));
  }
  TextOptions fine;
  fine.context = 16;
  EXPECT_TRUE(load_text(path, fine).is_ok());
}

TEST_F(TextTest, FillChecksShapes) {
  TextOptions options;
  options.context = 4;
  options.validation_fraction = 0.0;
  Result<TextCorpus> corpus = make_text_corpus("0123456789", options);
  ASSERT_TRUE(corpus.is_ok());
  const std::vector<std::int64_t> indices = {0, 1};
  Tensor inputs = Tensor::empty({2, 4});
  std::vector<std::int32_t> short_labels(7);
  EXPECT_THROW(corpus->train->fill(indices, inputs, short_labels), CheckError);
  Tensor wrong = Tensor::empty({2, 5});
  std::vector<std::int32_t> labels(8);
  EXPECT_THROW(corpus->train->fill(indices, wrong, labels), CheckError);
  corpus->train->fill(indices, inputs, labels);
  EXPECT_EQ(labels, (std::vector<std::int32_t>{'1', '2', '3', '4', '2', '3', '4', '5'}));
}

}  // namespace
}  // namespace courier
