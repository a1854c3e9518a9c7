// read_idx over raw and gzipped files: values round trip, and every malformed file gives its
// code and a message naming the file. Then the image-classification Dataset built on it.
#include "courier/train/data/idx.h"

#include <zlib.h>

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

using Bytes = std::vector<std::uint8_t>;

// magic 00 00 type ndims, then each dimension as a big-endian uint32.
Bytes idx_header(std::uint8_t type, const std::vector<std::uint32_t>& dims) {
  Bytes bytes = {0x00, 0x00, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(d >> shift));
  }
  return bytes;
}

Bytes idx_file(const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes bytes = idx_header(0x08, dims);
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

Bytes counting(std::size_t n) {
  Bytes data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return data;
}

void write_raw(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_gz(const fs::path& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

Bytes read_raw(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every read_idx test runs on a raw file and on the same bytes gzipped.
class IdxFileTest : public ::testing::TestWithParam<bool> {
 protected:
  bool gzipped() const { return GetParam(); }

  fs::path write(const Bytes& bytes, const std::string& name = "data.idx") {
    fs::path path = scratch_.file(name + (gzipped() ? ".gz" : ""));
    if (gzipped()) {
      write_gz(path, bytes);
    } else {
      write_raw(path, bytes);
    }
    return path;
  }

  // The code, and a message that names the file.
  void expect_failure(const Bytes& bytes, StatusCode code, const std::vector<std::string>& fragments = {}) {
    const fs::path path = write(bytes);
    Result<IdxArray> result = read_idx(path);
    ASSERT_FALSE(result.is_ok()) << "read_idx accepted a malformed file";
    EXPECT_EQ(result.status().code(), code) << result.status().to_string();
    EXPECT_THAT(result.status().message(), HasSubstr(path.string()));
    for (const std::string& fragment : fragments) EXPECT_THAT(result.status().message(), HasSubstr(fragment));
  }

  testing::ScratchDir scratch_;
};

INSTANTIATE_TEST_SUITE_P(Idx, IdxFileTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) { return param.param ? "gzip" : "raw"; });

TEST_P(IdxFileTest, RoundTripsValuesAndDims) {
  for (const std::vector<std::uint32_t>& dims :
       {std::vector<std::uint32_t>{7}, {3, 2, 5}, {2, 3, 4, 5}, {1, 1}, {300, 40}}) {
    std::size_t n = 1;
    for (std::uint32_t d : dims) n *= d;
    const Bytes data = counting(n);
    Result<IdxArray> array = read_idx(write(idx_file(dims, data)));
    ASSERT_TRUE(array.is_ok()) << array.status().to_string();
    EXPECT_EQ(array->dims, std::vector<std::int64_t>(dims.begin(), dims.end()));
    EXPECT_EQ(array->values, data);
  }
}

TEST_P(IdxFileTest, ZeroDimensionIsAnEmptyArray) {
  Result<IdxArray> array = read_idx(write(idx_file({0, 28, 28}, {})));
  ASSERT_TRUE(array.is_ok()) << array.status().to_string();
  EXPECT_EQ(array->dims, (std::vector<std::int64_t>{0, 28, 28}));
  EXPECT_TRUE(array->values.empty());
}

TEST_P(IdxFileTest, BadMagicIsInvalidArgument) {
  Bytes bytes = idx_file({4}, counting(4));
  bytes[0] = 0x01;
  expect_failure(bytes, StatusCode::kInvalidArgument, {"not an IDX file", "0x01"});
  bytes[0] = 0x00;
  bytes[1] = 0x08;
  expect_failure(bytes, StatusCode::kInvalidArgument, {"not an IDX file"});
}

TEST_P(IdxFileTest, TypeOtherThanUnsignedByteIsNamed) {
  Bytes bytes = idx_header(0x0D, {2});
  bytes.resize(bytes.size() + 8);
  expect_failure(bytes, StatusCode::kInvalidArgument, {"0x0d", "32-bit float", "0x08"});
  expect_failure(idx_header(0x0B, {2}), StatusCode::kInvalidArgument, {"0x0b", "16-bit integer"});
  expect_failure(idx_header(0x42, {2}), StatusCode::kInvalidArgument, {"0x42", "unknown"});
}

TEST_P(IdxFileTest, DimensionCountOutsideOneToFour) {
  expect_failure(idx_header(0x08, {}), StatusCode::kInvalidArgument, {"0 dimensions"});
  expect_failure(idx_file({1, 1, 1, 1, 1}, {9}), StatusCode::kInvalidArgument, {"5 dimensions"});
}

TEST_P(IdxFileTest, TruncatedDataNamesExpectedAndActualSizes) {
  Bytes bytes = idx_file({4, 4}, counting(16));
  bytes.resize(bytes.size() - 6);
  expect_failure(bytes, StatusCode::kDataLoss, {"truncated", "[4, 4]", "16 data bytes", "holds 10"});
}

TEST_P(IdxFileTest, TruncatedHeader) {
  expect_failure({}, StatusCode::kDataLoss, {"truncated", "header"});
  expect_failure({0x00, 0x00, 0x08}, StatusCode::kDataLoss, {"truncated", "header"});
  Bytes bytes = idx_header(0x08, {60000, 28, 28});
  bytes.resize(bytes.size() - 2);
  expect_failure(bytes, StatusCode::kDataLoss, {"expected 16 header bytes, found 14"});
}

TEST_P(IdxFileTest, TrailingBytesAreDataLoss) {
  Bytes bytes = idx_file({2, 2}, counting(4));
  bytes.push_back(0xAB);
  bytes.push_back(0xCD);
  expect_failure(bytes, StatusCode::kDataLoss, {"after its data", "4 data bytes", "holds 6"});
}

TEST_P(IdxFileTest, AbsurdDimensionsAreRefusedBeforeAllocating) {
  expect_failure(idx_file({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, counting(8)),
                 StatusCode::kResourceExhausted, {"4294967295", "damaged"});
  expect_failure(idx_file({65536, 65536}, counting(8)), StatusCode::kResourceExhausted, {"[65536, 65536]"});
  // Just over the 2 GiB cap in three dimensions.
  expect_failure(idx_file({2049, 1024, 1024}, {}), StatusCode::kResourceExhausted);
}

TEST_P(IdxFileTest, LargeDeclaredSizeWithFewBytesIsTruncated) {
  // 1 GiB declared (under the cap), 100 bytes present: reported as truncation, quickly.
  expect_failure(idx_file({1024, 1024, 1024}, counting(100)), StatusCode::kDataLoss,
                 {"truncated", "1073741824 data bytes", "holds 100"});
}

class IdxTest : public ::testing::Test {
 protected:
  fs::path temp_path(const std::string& name) const { return scratch_.file(name); }
  testing::ScratchDir scratch_;
};

TEST_F(IdxTest, MissingFileIsNotFoundWithInstallHint) {
  const fs::path path = temp_path("does-not-exist.idx.gz");
  Result<IdxArray> result = read_idx(path);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(result.status().message(), HasSubstr("make data"));
  EXPECT_THAT(result.status().message(), HasSubstr("dataset-fashion-mnist"));
  EXPECT_THAT(result.status().message(), HasSubstr("data.path"));
}

TEST_F(IdxTest, DirectoryIsInvalidArgument) {
  const fs::path dir = temp_path("dir");
  fs::create_directories(dir);
  Result<IdxArray> result = read_idx(dir);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr(dir.string()));
}

TEST_F(IdxTest, GzipStreamCutShortIsDataLoss) {
  const fs::path path = temp_path("cut.idx.gz");
  write_gz(path, idx_file({100, 100}, counting(10000)));
  Bytes compressed = read_raw(path);
  ASSERT_GT(compressed.size(), 40u);
  compressed.resize(compressed.size() / 2);
  write_raw(path, compressed);
  Result<IdxArray> result = read_idx(path);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), StatusCode::kDataLoss) << result.status().to_string();
  EXPECT_THAT(result.status().message(), HasSubstr(path.string()));
}

TEST_F(IdxTest, CorruptGzipStreamIsDataLoss) {
  const fs::path path = temp_path("corrupt.idx.gz");
  write_gz(path, idx_file({100, 100}, counting(10000)));
  Bytes compressed = read_raw(path);
  // Past the 10-byte gzip header, into the deflate data.
  for (std::size_t i = 12; i < compressed.size() - 8; i += 3) compressed[i] ^= 0x5A;
  write_raw(path, compressed);
  Result<IdxArray> result = read_idx(path);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), StatusCode::kDataLoss) << result.status().to_string();
  EXPECT_THAT(result.status().message(), HasSubstr(path.string()));
}

TEST_F(IdxTest, GzipAndRawGiveTheSameArray) {
  const Bytes bytes = idx_file({5, 3, 3}, counting(45));
  const fs::path raw = temp_path("same.idx");
  const fs::path gz = temp_path("same.idx.gz");
  write_raw(raw, bytes);
  write_gz(gz, bytes);
  ASSERT_NE(read_raw(raw), read_raw(gz));  // the second really is compressed
  Result<IdxArray> a = read_idx(raw);
  Result<IdxArray> b = read_idx(gz);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(a->dims, b->dims);
  EXPECT_EQ(a->values, b->values);
}

// --- the image-classification Dataset ---

struct ImageFiles {
  fs::path images;
  fs::path labels;
};

// 3 images of 2 x 3 pixels, pixel k of image i = 40 i + k; labels 2, 0, 1.
ImageFiles write_small_images(const testing::ScratchDir& dir, const Bytes& labels = {2, 0, 1},
                              std::uint32_t count = 3) {
  const std::string prefix = std::to_string(count) + "-" + std::to_string(labels.size()) + "-";
  ImageFiles files{dir.file(prefix + "images-idx3.gz"), dir.file(prefix + "labels-idx1.gz")};
  Bytes pixels;
  for (std::uint32_t i = 0; i < count; ++i) {
    for (int k = 0; k < 6; ++k) pixels.push_back(static_cast<std::uint8_t>(40 * i + static_cast<std::uint32_t>(k)));
  }
  write_gz(files.images, idx_file({count, 2, 3}, pixels));
  write_gz(files.labels, idx_file({static_cast<std::uint32_t>(labels.size())}, labels));
  return files;
}

class IdxImageClassificationTest : public ::testing::Test {
 protected:
  testing::ScratchDir scratch_;
};

TEST_F(IdxImageClassificationTest, FillsScaledPixelsAndLabels) {
  const ImageFiles files = write_small_images(scratch_);
  Result<std::unique_ptr<Dataset>> loaded = load_image_classification(files.images, files.labels);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const Dataset& data = **loaded;
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.sample_shape(), Shape({6}));
  EXPECT_EQ(data.classes(), 3);  // max label + 1
  EXPECT_EQ(data.labels_per_example(), 1);

  const std::vector<std::int64_t> indices = {2, 0, 2};
  Tensor inputs = Tensor::empty({3, 6});
  std::vector<std::int32_t> labels(3, -1);
  data.fill(indices, inputs, labels);
  EXPECT_EQ(labels, (std::vector<std::int32_t>{1, 2, 1}));
  for (int b = 0; b < 3; ++b) {
    for (int k = 0; k < 6; ++k) {
      const float expected = static_cast<float>(40 * indices[static_cast<std::size_t>(b)] + k) * (1.0f / 255.0f);
      ASSERT_EQ(inputs.at({b, k}), expected) << "example " << b << " pixel " << k;
    }
  }
}

TEST_F(IdxImageClassificationTest, UnflattenedShapeAndCustomScale) {
  const ImageFiles files = write_small_images(scratch_);
  ImageOptions options;
  options.flatten = false;
  options.scale = 0.5f;
  options.classes = 5;
  Result<std::unique_ptr<Dataset>> loaded = load_image_classification(files.images, files.labels, options);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->sample_shape(), Shape({1, 2, 3}));
  EXPECT_EQ((*loaded)->classes(), 5);
  Tensor inputs = Tensor::empty({1, 1, 2, 3});
  std::vector<std::int32_t> labels(1);
  const std::vector<std::int64_t> indices = {1};
  (*loaded)->fill(indices, inputs, labels);
  EXPECT_EQ(inputs.at({0, 0, 1, 2}), 45.0f * 0.5f);  // image 1, row 1, col 2: 40 + 5
  EXPECT_EQ(labels[0], 0);
}

TEST_F(IdxImageClassificationTest, CountMismatchNamesBothFiles) {
  const ImageFiles files = write_small_images(scratch_, {2, 0});
  Result<std::unique_ptr<Dataset>> loaded = load_image_classification(files.images, files.labels);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr(files.images.string()));
  EXPECT_THAT(loaded.status().message(), HasSubstr(files.labels.string()));
  EXPECT_THAT(loaded.status().message(), HasSubstr("3 images but"));
}

TEST_F(IdxImageClassificationTest, LabelNotBelowDeclaredClasses) {
  const ImageFiles files = write_small_images(scratch_, {2, 0, 7});
  ImageOptions options;
  options.classes = 7;
  Result<std::unique_ptr<Dataset>> loaded = load_image_classification(files.images, files.labels, options);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr("label 7 of example 2"));
  EXPECT_THAT(loaded.status().message(), HasSubstr(files.labels.string()));
  options.classes = 8;
  EXPECT_TRUE(load_image_classification(files.images, files.labels, options).is_ok());
}

TEST_F(IdxImageClassificationTest, WrongRanksAndEmptySetsAreRejected) {
  const ImageFiles files = write_small_images(scratch_);
  // Swapped files: labels where images belong.
  Result<std::unique_ptr<Dataset>> swapped = load_image_classification(files.labels, files.images);
  ASSERT_FALSE(swapped.is_ok());
  EXPECT_EQ(swapped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(swapped.status().message(), HasSubstr("not (images, rows, cols)"));

  const ImageFiles empty = write_small_images(scratch_, {}, 0);
  Result<std::unique_ptr<Dataset>> none = load_image_classification(empty.images, empty.labels);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("no images"));

  ImageOptions bad_scale;
  bad_scale.scale = 0.0f;
  EXPECT_EQ(load_image_classification(files.images, files.labels, bad_scale).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(IdxImageClassificationTest, MissingLabelFileIsNotFound) {
  const ImageFiles files = write_small_images(scratch_);
  const fs::path missing = scratch_.file("no-labels.gz");
  Result<std::unique_ptr<Dataset>> loaded = load_image_classification(files.images, missing);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr(missing.string()));
}

TEST_F(IdxImageClassificationTest, FillChecksItsArguments) {
  const ImageFiles files = write_small_images(scratch_);
  Result<std::unique_ptr<Dataset>> loaded = load_image_classification(files.images, files.labels);
  ASSERT_TRUE(loaded.is_ok());
  const Dataset& data = **loaded;
  Tensor inputs = Tensor::empty({1, 6});
  std::vector<std::int32_t> labels(1);
  const std::vector<std::int64_t> past_end = {3};
  const std::vector<std::int64_t> negative = {-1};
  const std::vector<std::int64_t> two = {0, 1};
  EXPECT_THROW(data.fill(past_end, inputs, labels), CheckError);
  EXPECT_THROW(data.fill(negative, inputs, labels), CheckError);
  EXPECT_THROW(data.fill(two, inputs, labels), CheckError);  // inputs hold one example
  Tensor two_inputs = Tensor::empty({2, 6});
  EXPECT_THROW(data.fill(two, two_inputs, labels), CheckError);  // labels hold one
  Tensor wrong_shape = Tensor::empty({1, 2, 3});
  const std::vector<std::int64_t> first = {0};
  EXPECT_THROW(data.fill(first, wrong_shape, labels), CheckError);
}

}  // namespace
}  // namespace courier
