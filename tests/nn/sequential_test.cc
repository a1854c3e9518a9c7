// Sequential: setup (shapes, parameter names and ranges), forward against a manual
// composition of the kernels, backward's grads-ready hook (order, ranges, finality),
// gradient accumulation, input and parameter gradients against gradcheck, describe(), and
// the life-cycle and shape checks.
#include "courier/nn/sequential.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "courier/nn/linear.h"
#include "courier/nn/relu.h"
#include "courier/nn/tanh.h"
#include "courier/tensor/activation.h"
#include "courier/tensor/bias.h"
#include "courier/tensor/matmul.h"
#include "testutil/gradcheck.h"
#include "testutil/random_tensor.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::random_tensor;
using testing::expect_tensor_near;
using testing::gradcheck;


// Linear(4 -> 5), Tanh, Linear(5 -> 3, no bias): parameters 0.weight (5, 4), 0.bias (5),
// 2.weight (3, 5), 40 in all.
Sequential make_model(std::uint64_t seed = 1) {
  Sequential model;
  model.add<Linear>(4, 5);
  model.add<Tanh>();
  LinearOptions no_bias;
  no_bias.bias = false;
  model.add<Linear>(5, 3, no_bias);
  Rng rng(seed);
  model.setup({4}, rng);
  return model;
}

Tensor param(const Sequential& model, const char* name) {
  const auto slot = model.parameters().find(name);
  EXPECT_TRUE(slot.has_value()) << name;
  return slot ? model.parameters().value(*slot) : Tensor();
}

// The model's function written out with the kernels: (x W0^T + b0) -> tanh -> W2^T.
Tensor manual_forward(const Sequential& model, const Tensor& x) {
  const std::int64_t batch = x.dim(0);
  Tensor hidden = Tensor::empty({batch, 5});
  matmul(x, param(model, "0.weight"), hidden, {.transpose_b = true});
  bias_add_forward(hidden, param(model, "0.bias"), hidden);
  tanh_forward(hidden, hidden);
  Tensor out = Tensor::empty({batch, 3});
  matmul(hidden, param(model, "2.weight"), out, {.transpose_b = true});
  return out;
}

double dot(const Tensor& a, const Tensor& b) {
  double total = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) total += static_cast<double>(a.data()[i]) * b.data()[i];
  return total;
}

TEST(Sequential, SetupShapesAndParameterNames) {
  const Sequential model = make_model();
  EXPECT_TRUE(model.is_setup());
  EXPECT_EQ(model.layer_count(), 3u);
  EXPECT_EQ(model.input_shape(0), Shape({4}));
  EXPECT_EQ(model.input_shape(1), Shape({5}));
  EXPECT_EQ(model.input_shape(2), Shape({5}));
  EXPECT_EQ(model.output_shape(), Shape({3}));

  const auto& specs = model.parameters().specs();
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[0].name, "0.weight");
  EXPECT_EQ(specs[1].name, "0.bias");
  EXPECT_EQ(specs[2].name, "2.weight");
  EXPECT_EQ(specs[2].offset, 25);
  EXPECT_EQ(model.parameters().numel(), 40);

  const GradsReady first = model.parameter_range(0);
  EXPECT_EQ(first.offset, 0);
  EXPECT_EQ(first.count, 25);
  EXPECT_EQ(model.parameter_range(1).offset, 25);
  EXPECT_EQ(model.parameter_range(1).count, 0);
  EXPECT_EQ(model.parameter_range(2).offset, 25);
  EXPECT_EQ(model.parameter_range(2).count, 15);
  EXPECT_THROW(static_cast<void>(model.parameter_range(3)), CheckError);
}

TEST(Sequential, ForwardEqualsManualComposition) {
  Sequential model = make_model();
  Rng rng(80);
  for (std::int64_t batch : {1, 6, 3}) {  // batch changes reallocate the activations
    SCOPED_TRACE(batch);
    const Tensor x = random_tensor({batch, 4}, rng);
    const Tensor& out = model.forward(x);
    EXPECT_EQ(out.shape(), Shape({batch, 3}));
    expect_tensor_near(out, manual_forward(model, x), {.rtol = 1e-5, .atol = 1e-6});
  }
}

TEST(Sequential, BackwardHookFiresOncePerLayerLastFirst) {
  Sequential model = make_model();
  Rng rng(81);
  const Tensor x = random_tensor({6, 4}, rng);
  const Tensor dout = random_tensor({6, 3}, rng);
  model.forward(x);
  model.parameters().zero_grads();

  std::vector<GradsReady> events;
  std::vector<Tensor> snapshots;  // each reported range as it was when reported
  bool earlier_layers_untouched = true;
  model.backward(dout, [&](const GradsReady& ready) {
    events.push_back(ready);
    const Tensor& grads = model.parameters().grads();
    snapshots.push_back(grads.rows(ready.offset, ready.offset + ready.count).clone());
    // Layers before the reported one have not run their backward yet.
    for (std::int64_t i = 0; i < ready.offset; ++i) {
      if (grads.at(i) != 0.0f) earlier_layers_untouched = false;
    }
  });

  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].layer, 2u);
  EXPECT_EQ(events[1].layer, 1u);
  EXPECT_EQ(events[2].layer, 0u);
  EXPECT_EQ(events[0].offset, 25);
  EXPECT_EQ(events[0].count, 15);
  EXPECT_EQ(events[1].offset, 25);
  EXPECT_EQ(events[1].count, 0);
  EXPECT_EQ(events[2].offset, 0);
  EXPECT_EQ(events[2].count, 25);
  EXPECT_TRUE(earlier_layers_untouched);

  // A reported range already held its final values.
  const Tensor& grads = model.parameters().grads();
  for (std::size_t e = 0; e < events.size(); ++e) {
    SCOPED_TRACE(e);
    expect_tensor_near(snapshots[e], grads.rows(events[e].offset, events[e].offset + events[e].count),
                       {.rtol = 0, .atol = 0});
  }
  float nonzero = 0.0f;
  for (float v : grads.span()) nonzero += std::abs(v);
  EXPECT_GT(nonzero, 0.0f);
}

TEST(Sequential, GradientsAccumulateWithoutZeroGrads) {
  Sequential model = make_model();
  Rng rng(82);
  const Tensor x = random_tensor({5, 4}, rng);
  const Tensor dout = random_tensor({5, 3}, rng);
  model.forward(x);
  model.parameters().zero_grads();
  model.backward(dout);
  const Tensor once = model.parameters().grads().clone();
  model.backward(dout);
  Tensor doubled = once.clone();
  for (float& v : doubled.span()) v *= 2.0f;
  expect_tensor_near(model.parameters().grads(), doubled, {.rtol = 1e-6, .atol = 1e-7});

  model.parameters().zero_grads();
  model.backward(dout);
  expect_tensor_near(model.parameters().grads(), once, {.rtol = 0, .atol = 0});
}

TEST(Sequential, InputGradientMatchesGradcheck) {
  Sequential model = make_model(3);
  Rng rng(83);
  Tensor x = random_tensor({4, 4}, rng);
  const Tensor r = random_tensor({4, 3}, rng);
  model.forward(x);
  Tensor din = Tensor::full(x.shape(), 1e6f);
  model.backward(r, {}, &din);
  EXPECT_TRUE(gradcheck([&] { return dot(model.forward(x), r); }, x.span(), din.span()));
}

TEST(Sequential, ParameterGradientsMatchGradcheck) {
  Sequential model = make_model(4);
  Rng rng(84);
  const Tensor x = random_tensor({4, 4}, rng);
  const Tensor r = random_tensor({4, 3}, rng);
  model.forward(x);
  model.parameters().zero_grads();
  model.backward(r);
  const Tensor dparams = model.parameters().grads().clone();
  EXPECT_TRUE(gradcheck([&] { return dot(model.forward(x), r); }, model.parameters().values().span(),
                        dparams.span()));
}

TEST(Sequential, DescribeMentionsLayers) {
  const Sequential model = make_model();
  const std::string text = model.describe();
  EXPECT_NE(text.find("Linear(4 -> 5)"), std::string::npos) << text;
  EXPECT_NE(text.find("Tanh"), std::string::npos) << text;
  EXPECT_NE(text.find("Linear(5 -> 3, no bias)"), std::string::npos) << text;
  EXPECT_NE(text.find("total 40 parameters"), std::string::npos) << text;

  Sequential unset;
  unset.add<Relu>();
  EXPECT_NE(unset.describe().find("Relu"), std::string::npos);
}

TEST(Sequential, WrongInputShapeNamesShapes) {
  Sequential model = make_model();
  const Tensor x = Tensor::zeros({2, 7});
  try {
    model.forward(x);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[2, 7]"), std::string::npos) << what;
    EXPECT_NE(what.find("[4]"), std::string::npos) << what;
  }
  EXPECT_THROW(model.forward(Tensor::zeros({2, 4, 1})), CheckError);
  EXPECT_THROW(model.forward(Tensor::zeros(Shape())), CheckError);
}

TEST(Sequential, BackwardShapeChecks) {
  Sequential model = make_model();
  model.forward(Tensor::zeros({2, 4}));
  try {
    model.backward(Tensor::zeros({2, 4}));
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[2, 4]"), std::string::npos) << what;
    EXPECT_NE(what.find("[2, 3]"), std::string::npos) << what;
  }
  Tensor wrong_din = Tensor::zeros({3, 4});
  EXPECT_THROW(model.backward(Tensor::zeros({2, 3}), {}, &wrong_din), CheckError);
}

TEST(Sequential, LifeCycleChecks) {
  Sequential empty;
  Rng rng(1);
  EXPECT_THROW(empty.setup({4}, rng), CheckError);
  EXPECT_THROW(static_cast<void>(empty.parameters()), CheckError);
  EXPECT_THROW(empty.forward(Tensor::zeros({1, 4})), CheckError);

  Sequential model = make_model();
  EXPECT_THROW(model.backward(Tensor::zeros({1, 3})), CheckError) << "backward before forward";
  EXPECT_THROW(model.add<Relu>(), CheckError) << "add after setup";
  EXPECT_THROW(model.setup({4}, rng), CheckError) << "setup twice";
}

TEST(Sequential, MovedModelStillWorks) {
  Sequential original = make_model();
  Rng rng(85);
  const Tensor x = random_tensor({3, 4}, rng);
  const Tensor expected = original.forward(x).clone();
  Sequential moved = std::move(original);
  expect_tensor_near(moved.forward(x), expected, {.rtol = 0, .atol = 0});
  moved.parameters().zero_grads();
  moved.backward(Tensor::full({3, 3}, 1.0f));
  float total = 0.0f;
  for (float v : moved.parameters().grads().span()) total += std::abs(v);
  EXPECT_GT(total, 0.0f);
}

// Layers [0, 2) then [2, 3) against two activation states each (two micro-batches in flight)
// give the whole model's outputs and, summed, its gradients of the concatenated batch.
TEST(Sequential, LayerRangesWithMicrobatchStatesEqualTheWholeModel) {
  Sequential whole = make_model();
  Sequential staged = make_model();
  Rng rng(86);
  const Tensor x = random_tensor({4, 4}, rng);
  const Tensor dout = random_tensor({4, 3}, rng);
  const Tensor expected = whole.forward(x).clone();
  whole.parameters().zero_grads();
  Tensor dx_expected = Tensor::empty({4, 4});
  whole.backward(dout, {}, &dx_expected);

  staged.parameters().zero_grads();
  Sequential::Activations first[2], second[2];
  for (int m = 0; m < 2; ++m) {
    const Tensor& hidden = staged.forward(first[m], x.rows(2 * m, 2 * m + 2), 0, 2);
    expect_tensor_near(staged.forward(second[m], hidden, 2, 3), expected.rows(2 * m, 2 * m + 2));
  }
  EXPECT_GT(first[0].bytes(), 0);
  EXPECT_EQ(first[0].bytes(), first[1].bytes());
  std::vector<std::size_t> layers;
  for (int m = 1; m >= 0; --m) {  // backwards in the other order: the states are independent
    Tensor dhidden = Tensor::empty({2, 5});
    Tensor dx = Tensor::empty({2, 4});
    staged.backward(second[m], dout.rows(2 * m, 2 * m + 2), 2, 3,
                    [&](const GradsReady& ready) { layers.push_back(ready.layer); }, &dhidden);
    staged.backward(first[m], dhidden, 0, 2, [&](const GradsReady& ready) { layers.push_back(ready.layer); }, &dx);
    expect_tensor_near(dx, dx_expected.rows(2 * m, 2 * m + 2));
  }
  EXPECT_EQ(layers, (std::vector<std::size_t>{2, 1, 0, 2, 1, 0}));
  expect_tensor_near(staged.parameters().grads(), whole.parameters().grads(), {.rtol = 1e-5, .atol = 1e-6});
}

TEST(Sequential, LayerRangeChecks) {
  Sequential model = make_model();
  Sequential::Activations state;
  Rng rng(87);
  EXPECT_THROW(model.forward(state, random_tensor({2, 4}, rng), 1, 1), CheckError) << "empty range";
  EXPECT_THROW(model.forward(state, random_tensor({2, 4}, rng), 0, 4), CheckError) << "past the last layer";
  EXPECT_THROW(model.forward(state, random_tensor({2, 4}, rng), 2, 3), CheckError) << "layer 2 reads 5 features";
  EXPECT_THROW(model.backward(state, Tensor::zeros({2, 3}), 2, 3), CheckError) << "backward before forward";
  model.forward(state, random_tensor({2, 5}, rng), 1, 3);
  EXPECT_THROW(model.backward(state, Tensor::zeros({2, 3}), 2, 3), CheckError) << "another range than forward's";
}

TEST(Sequential, NoTiedParametersInAPlainModel) { EXPECT_TRUE(make_model().tied_parameters().empty()); }

}  // namespace
}  // namespace courier
