// IDX files (the MNIST format; grammar below), raw or gzipped, and the image-classification
// datasets built from them, Fashion-MNIST first.
//
//   file   := magic dims data [gzip-compressed as a whole, or not]
//   magic  := 0x00 0x00 type ndims          type 0x08 = unsigned byte (the only one read here)
//   dims   := ndims x uint32 big-endian     ndims in 1..4, outermost dimension first
//   data   := product(dims) values, row-major, nothing after them
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "courier/core/status.h"
#include "courier/train/data/dataset.h"

namespace courier {

// read_idx refuses arrays larger than this, whatever a header declares.
inline constexpr std::int64_t kIdxMaxBytes = std::int64_t{2} << 30;  // 2 GiB

// Where Debian's dataset-fashion-mnist installs the four files.
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr std::int64_t kFashionMnistClasses = 10;
inline constexpr std::array<std::string_view, kFashionMnistClasses> kFashionMnistClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

struct IdxArray {
  std::vector<std::int64_t> dims;     // outermost first
  std::vector<std::uint8_t> values;   // row-major, product(dims) of them
};

// Reads a whole IDX file of unsigned bytes, gzipped (detected by the 1f 8b magic) or raw.
// Never allocates more than the bytes actually present (and never past kIdxMaxBytes).
// Errors, each naming the file:
//   NOT_FOUND           no such file (says how to install the data or set data.path)
//   INVALID_ARGUMENT    a directory; not IDX (bad magic); a type other than 0x08; ndims not in 1..4
//   DATA_LOSS           header or data shorter than declared (expected and actual sizes);
//                       bytes after the data; a corrupt gzip stream
//   RESOURCE_EXHAUSTED  the header declares more than kIdxMaxBytes of data
//   FAILED_PRECONDITION the file exists but cannot be opened (permissions)
Result<IdxArray> read_idx(const std::filesystem::path& path);

struct ImageOptions {
  bool flatten = true;           // sample_shape {rows * cols}; else {1, rows, cols}
  float scale = 1.0f / 255.0f;   // pixel byte b becomes b * scale (1/255: [0, 1])
  std::int64_t classes = 0;      // 0: max label + 1 (at least 1); else every label must be below it
};

// An image-classification dataset from an IDX image file (count, rows, cols) and an IDX label
// file (count). The pixels stay bytes in memory and become fp32 in fill().
// Errors: those of read_idx; INVALID_ARGUMENT when the shapes are not (count, rows, cols) and
// (count), the counts differ, there are no images, a label is not below options.classes, or
// scale is not finite and positive.
Result<std::unique_ptr<Dataset>> load_image_classification(const std::filesystem::path& images_path,
                                                           const std::filesystem::path& labels_path,
                                                           const ImageOptions& options = {});

struct FashionMnist {
  std::unique_ptr<Dataset> train;  // 60,000 examples
  std::unique_ptr<Dataset> test;   // 10,000 examples
};

// Reads <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz with 10 classes, pixels in [0, 1].
// Errors: NOT_FOUND when dir or a file is missing (says how to install it); those of
// load_image_classification, with the split named.
Result<FashionMnist> load_fashion_mnist(const std::filesystem::path& dir, bool flatten);

}  // namespace courier
