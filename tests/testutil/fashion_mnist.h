// Whether the Fashion-MNIST package (dataset-fashion-mnist, `make data`) is installed, for the
// train tests that read it and skip without it. Header-only: only binaries linking courier::train
// include it.
#pragma once

#include <filesystem>

#include "courier/train/data/idx.h"

namespace courier::testing {

inline bool have_fashion_mnist() {
  return std::filesystem::exists(std::filesystem::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz");
}

}  // namespace courier::testing
