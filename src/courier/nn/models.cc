// Model builders.
#include "courier/nn/models.h"

#include "courier/nn/conv2d.h"
#include "courier/nn/flatten.h"
#include "courier/nn/linear.h"
#include "courier/nn/max_pool2d.h"
#include "courier/nn/relu.h"

namespace courier {

Sequential make_mlp(std::int64_t inputs, const std::vector<std::int64_t>& hidden, std::int64_t outputs) {
  Sequential model;
  std::int64_t width = inputs;
  for (std::int64_t next : hidden) {
    model.add<Linear>(width, next);
    model.add<Relu>();
    width = next;
  }
  model.add<Linear>(width, outputs);
  return model;
}

Shape fashion_cnn_input() { return {1, 28, 28}; }

// Valid convolutions: 28 -> 26 -> 13 -> 11 -> 5, so Flatten gives 64 * 5 * 5 = 1600.
Sequential make_fashion_cnn() {
  Sequential model;
  model.add<Conv2d>(1, 32, 3);
  model.add<Relu>();
  model.add<MaxPool2d>(2);
  model.add<Conv2d>(32, 64, 3);
  model.add<Relu>();
  model.add<MaxPool2d>(2);
  model.add<Flatten>();
  model.add<Linear>(64 * 5 * 5, 128);
  model.add<Relu>();
  model.add<Linear>(128, 10);
  return model;
}

}  // namespace courier
