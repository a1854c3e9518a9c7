// The image-classification Dataset over IDX arrays (read_idx is in idx_file.cc).
#include "courier/train/data/idx.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "courier/core/check.h"
#include "courier/core/simd.h"

namespace courier {

namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& path) { return fmt::format("'{}'", path.string()); }

COURIER_VECTOR_CLONES
void scale_pixels(const std::uint8_t* __restrict pixels, float* __restrict out, std::int64_t n, float scale) {
  for (std::int64_t k = 0; k < n; ++k) out[k] = static_cast<float>(pixels[k]) * scale;
}

// Pixels stay bytes in memory (47 MB for Fashion-MNIST's train set, not 188 MB of floats);
// fill() turns them into fp32, b * scale, in a loop that vectorises.
class ImageClassificationDataset final : public Dataset {
 public:
  ImageClassificationDataset(IdxArray images, IdxArray labels, Shape sample_shape, std::int64_t classes, float scale)
      : pixels_(std::move(images.values)),
        labels_(std::move(labels.values)),
        count_(images.dims[0]),
        pixels_per_image_(images.dims[1] * images.dims[2]),
        sample_shape_(sample_shape),
        classes_(classes),
        scale_(scale) {}

  std::int64_t size() const override { return count_; }
  Shape sample_shape() const override { return sample_shape_; }
  std::int64_t classes() const override { return classes_; }
  std::int64_t labels_per_example() const override { return 1; }

  // inputs (B, sample_shape...), labels (B)
  void fill(std::span<const std::int64_t> indices, Tensor& inputs, std::span<std::int32_t> labels) const override {
    const auto batch = static_cast<std::int64_t>(indices.size());
    COURIER_CHECK_EQ(inputs.shape(), sample_shape_.prepend(batch), "image batch inputs");
    COURIER_CHECK_EQ(labels.size(), indices.size(), "image batch labels");
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t index = indices[static_cast<std::size_t>(b)];
      COURIER_CHECK(index >= 0 && index < count_, "image index {} is outside [0, {})", index, count_);
      const std::uint8_t* pixels = pixels_.data() + index * pixels_per_image_;
      float* out = inputs.data() + b * pixels_per_image_;
      scale_pixels(pixels, out, pixels_per_image_, scale_);
      labels[static_cast<std::size_t>(b)] = labels_[static_cast<std::size_t>(index)];
    }
  }

 private:
  std::vector<std::uint8_t> pixels_;  // (count, rows, cols)
  std::vector<std::uint8_t> labels_;  // (count)
  std::int64_t count_;
  std::int64_t pixels_per_image_;
  Shape sample_shape_;
  std::int64_t classes_;
  float scale_;
};

Status check_image_shapes(const IdxArray& images, const IdxArray& labels, const fs::path& images_path,
                          const fs::path& labels_path) {
  if (images.dims.size() != 3 || images.dims[1] == 0 || images.dims[2] == 0) {
    return Status::invalid_argument(fmt::format("IDX file {} has dimensions [{}], not (images, rows, cols): name an "
                                                "image file (idx3) there",
                                                quoted(images_path), fmt::join(images.dims, ", ")));
  }
  if (labels.dims.size() != 1) {
    return Status::invalid_argument(fmt::format("IDX file {} has dimensions [{}], not (labels): name a label file "
                                                "(idx1) there",
                                                quoted(labels_path), fmt::join(labels.dims, ", ")));
  }
  if (images.dims[0] != labels.dims[0]) {
    return Status::invalid_argument(fmt::format("{} holds {} images but {} holds {} labels: the two files are not a "
                                                "pair (train with train, t10k with t10k)",
                                                quoted(images_path), images.dims[0], quoted(labels_path), labels.dims[0]));
  }
  if (images.dims[0] == 0) {
    return Status::invalid_argument(fmt::format("{} holds no images: a dataset needs at least one", quoted(images_path)));
  }
  return Status::ok();
}

// options.classes, or max label + 1 when it is 0.
Result<std::int64_t> label_classes(const IdxArray& labels, const fs::path& labels_path, std::int64_t classes) {
  if (classes <= 0) return std::int64_t{*std::max_element(labels.values.begin(), labels.values.end())} + 1;
  for (std::size_t i = 0; i < labels.values.size(); ++i) {
    if (labels.values[i] >= classes) {
      return Status::invalid_argument(fmt::format("label {} of example {} in {} is not below the {} classes declared: "
                                                  "check the file is the label file of this dataset",
                                                  labels.values[i], i, quoted(labels_path), classes));
    }
  }
  return classes;
}

}  // namespace

Result<std::unique_ptr<Dataset>> load_image_classification(const std::filesystem::path& images_path,
                                                           const std::filesystem::path& labels_path,
                                                           const ImageOptions& options) {
  if (!(options.scale > 0.0f) || !std::isfinite(options.scale)) {
    return Status::invalid_argument(fmt::format("image scale {} for {} must be finite and positive (1/255 maps bytes "
                                                "to [0, 1])",
                                                options.scale, quoted(images_path)));
  }
  Result<IdxArray> images = read_idx(images_path);
  if (!images.is_ok()) return images.status();
  Result<IdxArray> labels = read_idx(labels_path);
  if (!labels.is_ok()) return labels.status();
  if (Status status = check_image_shapes(*images, *labels, images_path, labels_path); !status.is_ok()) return status;
  Result<std::int64_t> classes = label_classes(*labels, labels_path, options.classes);
  if (!classes.is_ok()) return classes.status();

  const std::int64_t rows = images->dims[1];
  const std::int64_t cols = images->dims[2];
  const Shape sample_shape = options.flatten ? Shape({rows * cols}) : Shape({1, rows, cols});
  return std::unique_ptr<Dataset>(std::make_unique<ImageClassificationDataset>(
      std::move(images).value(), std::move(labels).value(), sample_shape, *classes, options.scale));
}

Result<FashionMnist> load_fashion_mnist(const std::filesystem::path& dir, bool flatten) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return Status::not_found(fmt::format(
        "no Fashion-MNIST directory at {}: install it with `make data` (scripts/install-deps data installs Debian's "
        "dataset-fashion-mnist into {}), or set data.path to the directory that holds the IDX files",
        quoted(dir), kFashionMnistDir));
  }
  const ImageOptions options{.flatten = flatten, .classes = kFashionMnistClasses};
  Result<std::unique_ptr<Dataset>> train =
      load_image_classification(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz", options);
  if (!train.is_ok()) return train.status().with_context("loading the Fashion-MNIST train split");
  Result<std::unique_ptr<Dataset>> test =
      load_image_classification(dir / "t10k-images-idx3-ubyte.gz", dir / "t10k-labels-idx1-ubyte.gz", options);
  if (!test.is_ok()) return test.status().with_context("loading the Fashion-MNIST test split");
  return FashionMnist{std::move(train).value(), std::move(test).value()};
}

}  // namespace courier
