// safetensors: round trips, the exact layout the format prescribes, a file written by an
// independent (python) writer, every malformed input with its code and message, truncation
// at every length, and 12,000 random mutations that must give a Status, never a crash.
#include "courier/train/checkpoint/safetensors.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "courier/core/rng.h"
#include "testutil/scratch_dir.h"
#include "train/checkpoint/file_bytes.h"

namespace courier {
namespace {

using ::courier::checkpoint_testing::file_bytes;
using ::courier::checkpoint_testing::set_file_bytes;
using ::courier::checkpoint_testing::set_file_text;
using ::courier::testing::ScratchDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A file of `header` (as given, unpadded) and `data`, with a correct header length.
std::vector<char> file_of(const std::string& header, const std::vector<char>& data) {
  std::vector<char> bytes(8 + header.size() + data.size());
  const std::uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  if (!header.empty()) std::memcpy(bytes.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(bytes.data() + 8 + header.size(), data.data(), data.size());
  return bytes;
}

// "{e1,e2,...}" (fmt, not operator+: GCC 12 warns falsely on "{" + std::string).
std::string object_of(const std::vector<std::string>& entries) {
  return fmt::format("{{{}}}", fmt::join(entries, ","));
}

std::vector<char> floats_bytes(std::vector<float> values) {
  std::vector<char> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

void expect_same(const SafetensorsFile& file, const std::vector<NamedTensor>& tensors) {
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(file.tensors[i].name, tensors[i].name);
    EXPECT_EQ(file.tensors[i].shape, tensors[i].shape);
    ASSERT_EQ(file.tensors[i].values.size(), tensors[i].values.size()) << tensors[i].name;
    if (tensors[i].bytes().empty()) continue;  // memcmp may not be given the null data of an empty tensor
    EXPECT_EQ(std::memcmp(file.tensors[i].values.data(), tensors[i].values.data(), tensors[i].bytes().size()), 0)
        << tensors[i].name;
  }
}

TEST(Safetensors, EmptyFileIsAPaddedEmptyObject) {
  ScratchDir dir;
  ASSERT_TRUE(write_safetensors(dir.path() / "e.safetensors", {}, {}).is_ok());
  const std::vector<char> bytes = file_bytes(dir.path() / "e.safetensors");
  const std::vector<char> expected = file_of("{}      ", {});
  EXPECT_EQ(bytes, expected);
  Result<SafetensorsFile> file = read_safetensors(dir.path() / "e.safetensors");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_TRUE(file->tensors.empty());
  EXPECT_TRUE(file->metadata.empty());
}

TEST(Safetensors, RoundTripsScalarZeroSizedSeveralTensorsAndMetadata) {
  const std::vector<float> weight = {0.5f, -1.25f, 3.0f, 0.1f, 1e-30f, -0.0f};
  const std::vector<float> bias = {1.5f, -2.5f};
  const std::vector<float> scalar = {7.0f};
  const std::vector<NamedTensor> tensors = {{"0.weight", {2, 3}, weight},
                                            {"0.bias", {2}, bias},
                                            {"empty", {0, 4}, {}},
                                            {"scalar", {}, scalar},
                                            {"optimizer.exp_avg.0.weight", {3, 2}, weight}};
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "ünïcode \"quoted\""}};
  ScratchDir dir;
  ASSERT_TRUE(write_safetensors(dir.path() / "m.safetensors", tensors, metadata).is_ok());
  Result<SafetensorsFile> file = read_safetensors(dir.path() / "m.safetensors");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  // Data order: "empty" (zero bytes) sits at the same offset as "scalar" and sorts first.
  expect_same(*file, tensors);
  EXPECT_EQ(file->metadata, metadata);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "m.safetensors.tmp"));
}

TEST(Safetensors, LayoutIsTheSpecifiedOne) {
  const std::vector<float> a = {1, 2, 3};
  const std::vector<float> b = {4, 5};
  const std::vector<NamedTensor> tensors = {{"a", {3}, a}, {"b", {1, 2}, b}};
  ScratchDir dir;
  ASSERT_TRUE(write_safetensors(dir.path() / "l.safetensors", tensors, {{"k", "v"}}).is_ok());
  const std::vector<char> bytes = file_bytes(dir.path() / "l.safetensors");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u) << "the header is padded so the data is 8-byte aligned";
  ASSERT_EQ(bytes.size(), 8 + n + 20);
  const std::string text(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const nlohmann::json header = nlohmann::json::parse(text);
  EXPECT_EQ(header["__metadata__"], nlohmann::json({{"k", "v"}}));
  EXPECT_EQ(header["a"], nlohmann::json::parse(R"({"dtype":"F32","shape":[3],"data_offsets":[0,12]})"));
  EXPECT_EQ(header["b"], nlohmann::json::parse(R"({"dtype":"F32","shape":[1,2],"data_offsets":[12,20]})"));
  EXPECT_EQ(text.find_first_not_of(' ', text.rfind('}') + 1), std::string::npos) << "padding is spaces";
  const std::vector<char> data(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  EXPECT_EQ(data, floats_bytes({1, 2, 3, 4, 5})) << "little-endian f32, packed";
}

TEST(Safetensors, ReadsAFileFromAnIndependentPythonWriter) {
  // tests/data/python_writer.safetensors comes from tools/safetensors_check.py write-fixture.
  Result<SafetensorsFile> file = read_safetensors(COURIER_SOURCE_DIR "/tests/data/python_writer.safetensors");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  const std::vector<float> bias = {1.5f, -2.5f}, weight = {0.5f, -1.25f, 3.0f, 0.1f, 0x1p-20f, -0.0f};
  const std::vector<float> exp_avg = {0.25f, 0.125f}, scalar = {7.0f};
  const std::vector<NamedTensor> expected = {{"0.bias", {2}, bias},
                                             {"0.weight", {2, 3}, weight},
                                             {"empty", {0, 4}, {}},
                                             {"optimizer.exp_avg.0.bias", {2}, exp_avg},
                                             {"scalar", {}, scalar}};
  expect_same(*file, expected);
  EXPECT_EQ(file->metadata, (std::map<std::string, std::string>{{"format", "pt"},
                                                                {"writer", "tools/safetensors_check.py"}}));
}

TEST(Safetensors, WriterRefusesBadTensorsAndLeavesNoFile) {
  const std::vector<float> two = {1, 2};
  const std::vector<std::pair<std::vector<NamedTensor>, std::string>> cases = {
      {{{"a", {2}, two}, {"a", {2}, two}}, "twice"},
      {{{"a", {-2}, two}}, "bad dimension -2"},
      {{{"a", {3}, two}}, "shape holds 3 elements, values has 2"},
      {{{"__metadata__", {2}, two}}, "reserved"},
      {{{"", {2}, two}}, "empty"},
      {{{"bad\xff", {2}, two}}, "not UTF-8"},
  };
  ScratchDir dir;
  for (const auto& [tensors, message] : cases) {
    Status s = write_safetensors(dir.path() / "bad.safetensors", tensors, {});
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("bad.safetensors"), HasSubstr(message)));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Safetensors, WriteReplacesAnExistingFileAndReportsAnUnwritableDirectory) {
  ScratchDir dir;
  const std::vector<float> one = {1}, two = {2, 2};
  ASSERT_TRUE(write_safetensors(dir.path() / "f.safetensors", std::vector<NamedTensor>{{"x", {1}, one}}, {}).is_ok());
  ASSERT_TRUE(write_safetensors(dir.path() / "f.safetensors", std::vector<NamedTensor>{{"y", {2}, two}}, {}).is_ok());
  Result<SafetensorsFile> file = read_safetensors(dir.path() / "f.safetensors");
  ASSERT_TRUE(file.is_ok());
  ASSERT_EQ(file->tensors.size(), 1u);
  EXPECT_EQ(file->tensors[0].name, "y");

  set_file_text(dir.path() / "plain", "a file, not a directory");
  Status s = write_safetensors(dir.path() / "plain" / "f.safetensors", {}, {});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr("plain/f.safetensors"));
}

TEST(Safetensors, MissingFileIsNotFound) {
  ScratchDir dir;
  Result<SafetensorsFile> file = read_safetensors(dir.path() / "nope.safetensors");
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr("nope.safetensors"));
}

// A valid file of a few hundred bytes for the truncation and mutation tests.
std::vector<char> sample_file(const ScratchDir& dir) {
  const std::vector<float> w = {0.5f, -1.0f, 2.0f, 4.0f, 8.0f, 16.0f}, b = {1.0f, -1.0f}, s = {3.0f};
  const std::vector<NamedTensor> tensors = {{"0.weight", {2, 3}, w}, {"0.bias", {2}, b}, {"s", {}, s},
                                            {"z", {0}, {}}};
  const Status status = write_safetensors(dir.path() / "sample.safetensors", tensors, {{"format", "pt"}});
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  return file_bytes(dir.path() / "sample.safetensors");
}

TEST(Safetensors, TruncationAtEveryLengthIsDataLossSayingHowManyBytesAreMissing) {
  ScratchDir dir;
  const std::vector<char> whole = sample_file(dir);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(whole[i])) << (8 * i);
  const std::filesystem::path path = dir.path() / "cut.safetensors";
  for (std::size_t length = 0; length < whole.size(); ++length) {
    set_file_bytes(path, std::vector<char>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(length)));
    Result<SafetensorsFile> file = read_safetensors(path);
    ASSERT_EQ(file.status().code(), StatusCode::kDataLoss) << "length " << length;
    const std::size_t missing = length < 8 ? 8 - length : length < 8 + n ? 8 + n - length : whole.size() - length;
    EXPECT_THAT(file.status().message(), AllOf(HasSubstr("cut.safetensors"), HasSubstr("truncated"),
                                               HasSubstr(fmt::format("missing {} bytes", missing))))
        << "length " << length;
  }
}

struct MalformedCase {
  std::string label;
  std::vector<char> bytes;
  StatusCode code;
  std::string message;
};

std::vector<MalformedCase> malformed_cases() {
  const std::vector<char> f2 = floats_bytes({1, 2});
  const std::vector<char> f3 = floats_bytes({1, 2, 3});
  const auto entry = [](std::string name, std::string body) { return fmt::format(R"("{}":{{{}}})", name, body); };
  const auto a_file = [&](std::string body, const std::vector<char>& data) {
    return file_of(object_of({entry("a", body)}), data);
  };
  const std::string ok_a = entry("a", R"("dtype":"F32","shape":[2],"data_offsets":[0,8])");
  std::vector<char> huge = file_of("{}", {});
  huge[5] = 1;  // header length 2^40
  std::vector<char> long_header = file_of("{}", floats_bytes({1}));
  long_header[0] = 100;  // 100 header bytes claimed, 6 present
  return {
      {"header length past the file", long_header, StatusCode::kDataLoss, "missing 94 bytes"},
      {"header length over the limit", huge, StatusCode::kDataLoss, "exceeds the limit of 100000000"},
      {"empty header", file_of("", {}), StatusCode::kDataLoss, "does not start with '{'"},
      {"not json", file_of("{not json", {}), StatusCode::kDataLoss, "not valid JSON (byte 3"},
      {"trailing garbage", file_of("{} x", {}), StatusCode::kDataLoss, "not valid JSON"},
      {"array header", file_of("[1,2]", {}), StatusCode::kDataLoss, "does not start with '{'"},
      {"bad utf-8", file_of("{\"\xff\":1}", {}), StatusCode::kDataLoss, "not valid JSON"},
      {"entry not object", file_of(R"({"a":3})", {}), StatusCode::kDataLoss, "tensor 'a' is not a JSON object"},
      {"no dtype", a_file(R"("shape":[2],"data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "\"dtype\" is missing"},
      {"dtype number", a_file(R"("dtype":1,"shape":[2],"data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "\"dtype\" is missing or not a string"},
      {"shape string", a_file(R"("dtype":"F32","shape":"2","data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "\"shape\" is missing or not an array"},
      {"shape negative", a_file(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "non-negative integer"},
      {"shape float", a_file(R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "non-negative integer"},
      {"offsets one", a_file(R"("dtype":"F32","shape":[2],"data_offsets":[8])", f2),
       StatusCode::kDataLoss, "\"data_offsets\" is not [begin, end]"},
      {"offsets negative", a_file(R"("dtype":"F32","shape":[2],"data_offsets":[-8,0])", f2),
       StatusCode::kDataLoss, "\"data_offsets\" is not [begin, end]"},
      {"offsets reversed", a_file(R"("dtype":"F32","shape":[0],"data_offsets":[8,0])", f2),
       StatusCode::kDataLoss, "end before they begin"},
      {"unknown dtype", a_file(R"("dtype":"Q99","shape":[2],"data_offsets":[0,8])", f2),
       StatusCode::kUnimplemented, "tensor 'a' has dtype 'Q99'"},
      {"bf16", file_of(object_of({entry("w", R"("dtype":"BF16","shape":[4],"data_offsets":[0,8])")}), f2),
       StatusCode::kUnimplemented, "tensor 'w' has dtype 'BF16'; courier reads only F32"},
      {"shape/offset mismatch", a_file(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "needs 3 elements x 4 bytes, but data_offsets [0, 8] span 8 bytes"},
      {"shape overflow",
       a_file(R"("dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "overflows 64 bits"},
      {"count x 4 overflow",
       a_file(R"("dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0])", {}),
       StatusCode::kDataLoss, "needs 4611686018427387904 elements"},
      {"offsets past the data", a_file(R"("dtype":"F32","shape":[3],"data_offsets":[0,12])", f2),
       StatusCode::kDataLoss, "truncated: tensor 'a' ends at byte 12 of the data but the file holds 8 bytes of data"},
      {"huge offsets",
       a_file(R"("dtype":"F32","shape":[1],"data_offsets":[18446744073709551608,18446744073709551612])", f2),
       StatusCode::kDataLoss, "bytes [0, 18446744073709551608) of the data, before tensor 'a', belong to no tensor"},
      {"overlap",
       file_of(object_of({ok_a, entry("b", R"("dtype":"F32","shape":[1],"data_offsets":[4,8])")}), f2),
       StatusCode::kDataLoss, "tensors 'a' and 'b' overlap"},
      {"gap", a_file(R"("dtype":"F32","shape":[1],"data_offsets":[4,8])", f2),
       StatusCode::kDataLoss, "bytes [0, 4) of the data, before tensor 'a', belong to no tensor"},
      {"uncovered tail", file_of(object_of({ok_a}), f3), StatusCode::kDataLoss,
       "the last 4 bytes of the data belong to no tensor"},
      {"duplicate name", file_of(object_of({ok_a, ok_a}), f2), StatusCode::kDataLoss,
       "tensor name 'a' appears twice"},
      {"duplicate field",
       a_file(R"("dtype":"F32","shape":[2],"shape":[2],"data_offsets":[0,8])", f2),
       StatusCode::kDataLoss, "key 'shape' appears twice"},
      {"metadata not object", file_of(R"({"__metadata__":[1]})", {}), StatusCode::kDataLoss,
       "\"__metadata__\" is not an object"},
      {"metadata value number", file_of(R"({"__metadata__":{"k":1}})", {}), StatusCode::kDataLoss,
       "value of 'k' is not a string"},
      {"control bytes in a name are not echoed",
       file_of(object_of({entry("a\\u0001b", R"("dtype":"X","shape":[],"data_offsets":[0,4])")}), f2),
       StatusCode::kUnimplemented, "tensor 'a?b'"},
  };
}

TEST(Safetensors, EveryMalformedInputGetsItsCodeAndAMessageNamingTheFile) {
  ScratchDir dir;
  const std::filesystem::path path = dir.path() / "bad.safetensors";
  for (const MalformedCase& c : malformed_cases()) {
    set_file_bytes(path, c.bytes);
    Result<SafetensorsFile> file = read_safetensors(path);
    ASSERT_FALSE(file.is_ok()) << c.label;
    EXPECT_EQ(file.status().code(), c.code) << c.label << ": " << file.status().to_string();
    EXPECT_THAT(file.status().message(), AllOf(HasSubstr(path.string()), HasSubstr(c.message))) << c.label;
  }
}

TEST(Safetensors, DeeplyNestedJsonIsRefusedWithoutExhaustingTheStack) {
  ScratchDir dir;
  const std::string nested = fmt::format(R"({{"a":{}{}}})", std::string(300'000, '['), std::string(300'000, ']'));
  set_file_bytes(dir.path() / "deep.safetensors", file_of(nested, {}));
  Result<SafetensorsFile> file = read_safetensors(dir.path() / "deep.safetensors");
  EXPECT_EQ(file.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(file.status().message(), HasSubstr("tensor 'a' is not a JSON object"));
}

TEST(Safetensors, PaddingIsOptionalOnRead) {
  ScratchDir dir;
  set_file_bytes(dir.path() / "p.safetensors",
              file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", floats_bytes({1, 2})));
  Result<SafetensorsFile> file = read_safetensors(dir.path() / "p.safetensors");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->tensors[0].values, (std::vector<float>{1, 2}));
}

// One random change to a valid file: bit flips, random bytes, a new header length, a cut, an
// insertion, or a changed digit in the header (to reach the checks after the JSON parses).
void mutate(std::vector<char>& bytes, Rng& rng) {
  const auto at = [&] { return static_cast<std::size_t>(rng.below(bytes.size())); };
  switch (rng.below(6)) {
    case 0:
      for (std::uint64_t i = 0, n = 1 + rng.below(4); i < n; ++i) bytes[at()] ^= static_cast<char>(1 << rng.below(8));
      break;
    case 1: bytes[at()] = static_cast<char>(rng.next_u32()); break;
    case 2: {
      const std::uint64_t lengths[] = {0, 1, 7, 8, 64, 65, 1ull << 40, rng.next_u64(), rng.below(bytes.size())};
      const std::uint64_t n = lengths[rng.below(std::size(lengths))];
      for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
      break;
    }
    case 3: bytes.resize(at()); break;
    case 4: {
      const auto where = bytes.begin() + static_cast<std::ptrdiff_t>(at());
      bytes.insert(where, 1 + rng.below(8), static_cast<char>(rng.next_u32()));
      break;
    }
    default: {
      std::vector<std::size_t> digits;
      for (std::size_t i = 8; i < bytes.size() && i < 400; ++i) {
        if (bytes[i] >= '0' && bytes[i] <= '9') digits.push_back(i);
      }
      if (!digits.empty()) bytes[digits[rng.below(digits.size())]] = static_cast<char>('0' + rng.below(10));
      break;
    }
  }
}

TEST(Safetensors, RandomMutationsNeverCrashTheReader) {
  ScratchDir dir;
  const std::vector<char> valid = sample_file(dir);
  const std::filesystem::path path = dir.path() / "mutant.safetensors";
  Rng rng(20240611);
  std::map<StatusCode, int> outcomes;
  for (int i = 0; i < 12000; ++i) {
    std::vector<char> bytes = valid;
    for (std::uint64_t m = 0, n = 1 + rng.below(3); m < n && !bytes.empty(); ++m) mutate(bytes, rng);
    set_file_bytes(path, bytes);
    Result<SafetensorsFile> file = read_safetensors(path);
    ++outcomes[file.status().code()];
    if (!file.is_ok()) {
      EXPECT_THAT(file.status().message(), HasSubstr("mutant.safetensors")) << file.status().to_string();
      continue;
    }
    std::size_t data_bytes = 0;  // an accepted file's tensors account for every data byte
    for (const OwnedTensor& t : file->tensors) data_bytes += t.values.size() * sizeof(float);
    EXPECT_LE(data_bytes, bytes.size());
  }
  // The mutations reach past the length and JSON checks into the semantic ones.
  EXPECT_GT(outcomes[StatusCode::kOk], 100);
  EXPECT_GT(outcomes[StatusCode::kDataLoss], 5000);
  EXPECT_GT(outcomes[StatusCode::kUnimplemented], 10);
}

}  // namespace
}  // namespace courier
