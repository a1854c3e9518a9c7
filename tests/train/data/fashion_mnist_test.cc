// The real Fashion-MNIST from Debian's dataset-fashion-mnist: sizes, labels, pixel statistics.
// Skipped (with the reason) where the package is not installed.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "courier/train/data/idx.h"
#include "testutil/scratch_dir.h"

namespace courier {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FashionMnistTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz")) return;
    Result<FashionMnist> loaded = load_fashion_mnist(kFashionMnistDir, /*flatten=*/true);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    data_ = new FashionMnist(std::move(loaded).value());
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  void SetUp() override {
    if (data_ == nullptr) {
      GTEST_SKIP() << "Fashion-MNIST is not installed in " << kFashionMnistDir
                   << ": run `make data` (Debian package dataset-fashion-mnist)";
    }
  }

  // Every example of `data`, in order.
  static void fill_all(const Dataset& data, Tensor& inputs, std::vector<std::int32_t>& labels) {
    std::vector<std::int64_t> indices(static_cast<std::size_t>(data.size()));
    std::iota(indices.begin(), indices.end(), std::int64_t{0});
    inputs = Tensor::empty(data.sample_shape().prepend(data.size()));
    labels.assign(indices.size(), -1);
    data.fill(indices, inputs, labels);
  }

  static FashionMnist* data_;
};

FashionMnist* FashionMnistTest::data_ = nullptr;

TEST_F(FashionMnistTest, SizesShapesAndClasses) {
  EXPECT_EQ(data_->train->size(), 60000);
  EXPECT_EQ(data_->test->size(), 10000);
  for (const Dataset* split : {data_->train.get(), data_->test.get()}) {
    EXPECT_EQ(split->classes(), 10);
    EXPECT_EQ(split->labels_per_example(), 1);
    EXPECT_EQ(split->sample_shape(), Shape({784}));
  }
}

TEST_F(FashionMnistTest, LabelsAreBalancedAndFirstIsAnkleBoot) {
  Tensor inputs;
  std::vector<std::int32_t> labels;
  fill_all(*data_->train, inputs, labels);
  EXPECT_EQ(labels[0], 9);
  EXPECT_EQ(kFashionMnistClassNames[9], "Ankle boot");
  std::array<int, 10> train_counts{};
  for (std::int32_t label : labels) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++train_counts[static_cast<std::size_t>(label)];
  }
  for (int count : train_counts) EXPECT_EQ(count, 6000);

  fill_all(*data_->test, inputs, labels);
  EXPECT_EQ(labels[0], 9);
  std::array<int, 10> test_counts{};
  for (std::int32_t label : labels) ++test_counts[static_cast<std::size_t>(label)];
  for (int count : test_counts) EXPECT_EQ(count, 1000);
}

TEST_F(FashionMnistTest, PixelsInUnitIntervalWithTheKnownMean) {
  Tensor inputs;
  std::vector<std::int32_t> labels;
  fill_all(*data_->train, inputs, labels);
  double sum = 0.0;
  double sum_sq = 0.0;
  float lo = 1.0f;
  float hi = 0.0f;
  for (float v : inputs.span()) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  // Computed once from the Debian files: mean 0.286041, std 0.353024 (the published 0.2860
  // and 0.3530). A scale of 1/256 instead of 1/255 would give a mean of 0.2849.
  const double n = static_cast<double>(inputs.numel());
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.2860, 5e-4);
  EXPECT_NEAR(std::sqrt(sum_sq / n - mean * mean), 0.3530, 5e-4);
}

TEST_F(FashionMnistTest, UnflattenedHoldsTheSamePixels) {
  Result<FashionMnist> images = load_fashion_mnist(kFashionMnistDir, /*flatten=*/false);
  ASSERT_TRUE(images.is_ok()) << images.status().to_string();
  EXPECT_EQ(images->test->sample_shape(), Shape({1, 28, 28}));
  const std::vector<std::int64_t> indices = {9999, 0, 4321};
  Tensor flat = Tensor::empty({3, 784});
  Tensor square = Tensor::empty({3, 1, 28, 28});
  std::vector<std::int32_t> flat_labels(3);
  std::vector<std::int32_t> square_labels(3);
  data_->test->fill(indices, flat, flat_labels);
  images->test->fill(indices, square, square_labels);
  EXPECT_EQ(flat_labels, square_labels);
  for (std::int64_t i = 0; i < flat.numel(); ++i) ASSERT_EQ(flat.data()[i], square.data()[i]) << i;
}

TEST(FashionMnistMissingTest, MissingDirectoryIsNotFoundWithInstallHint) {
  const testing::ScratchDir scratch;
  const fs::path dir = scratch.file("no-fashion-mnist-here");
  Result<FashionMnist> loaded = load_fashion_mnist(dir, true);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr(dir.string()));
  EXPECT_THAT(loaded.status().message(), HasSubstr("make data"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("data.path"));
}

TEST(FashionMnistMissingTest, DirectoryWithoutTheFilesNamesTheSplitAndFile) {
  const testing::ScratchDir scratch;
  const fs::path& dir = scratch.path();
  Result<FashionMnist> loaded = load_fashion_mnist(dir, true);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr("train split"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("train-images-idx3-ubyte.gz"));
}

}  // namespace
}  // namespace courier
