// ParameterLayout and Parameters: flat layout with offsets in declaration order, prefixes,
// views aliasing the flat value and gradient buffers, initialisation order, find(), and
// duplicate names.
#include "courier/nn/parameters.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"
#include "testutil/tensor_near.h"

namespace courier {
namespace {

using testing::expect_tensor_near;

// weight (3, 4), bias (4), then under prefix "1.": scale (2, 2).
ParameterLayout example_layout() {
  ParameterLayout layout;
  layout.add("weight", {3, 4}, Init::constant(1.0f), true);
  layout.add("bias", {4}, Init::constant(2.0f), false);
  layout.set_prefix("1.");
  layout.add("scale", {2, 2}, Init::constant(3.0f), false);
  return layout;
}

TEST(ParameterLayout, OffsetsFollowDeclarationOrder) {
  const ParameterLayout layout = example_layout();
  ASSERT_EQ(layout.specs().size(), 3u);
  EXPECT_EQ(layout.numel(), 20);
  EXPECT_EQ(layout.specs()[0].name, "weight");
  EXPECT_EQ(layout.specs()[0].offset, 0);
  EXPECT_EQ(layout.specs()[0].shape, Shape({3, 4}));
  EXPECT_TRUE(layout.specs()[0].weight_decay);
  EXPECT_EQ(layout.specs()[1].name, "bias");
  EXPECT_EQ(layout.specs()[1].offset, 12);
  EXPECT_FALSE(layout.specs()[1].weight_decay);
  EXPECT_EQ(layout.specs()[2].name, "1.scale");
  EXPECT_EQ(layout.specs()[2].offset, 16);
}

TEST(ParameterLayout, AddReturnsSlotsInOrder) {
  ParameterLayout layout;
  EXPECT_EQ(layout.add("a", {2}, Init::zeros(), false).index, 0u);
  EXPECT_EQ(layout.add("b", {3}, Init::zeros(), false).index, 1u);
  EXPECT_EQ(layout.add("c", {0}, Init::zeros(), false).index, 2u);
  EXPECT_EQ(layout.add("d", {1}, Init::zeros(), false).index, 3u);
  EXPECT_EQ(layout.specs()[3].offset, 5) << "an empty parameter takes no room";
}

TEST(ParameterLayout, DuplicateNamesThrow) {
  ParameterLayout layout;
  layout.set_prefix("0.");
  layout.add("weight", {2, 2}, Init::zeros(), true);
  try {
    layout.add("weight", {3}, Init::zeros(), true);
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    EXPECT_NE(std::string(e.what()).find("0.weight"), std::string::npos) << e.what();
  }
  layout.set_prefix("1.");
  EXPECT_NO_THROW(layout.add("weight", {2, 2}, Init::zeros(), true)) << "another prefix is another name";
  EXPECT_EQ(layout.specs().size(), 2u);
}

TEST(Parameters, FlatBuffersAndViews) {
  Parameters params(example_layout());
  EXPECT_EQ(params.numel(), 20);
  EXPECT_EQ(params.values().shape(), Shape({20}));
  EXPECT_EQ(params.grads().shape(), Shape({20}));
  expect_tensor_near(params.grads(), Tensor::zeros({20}));
  EXPECT_FALSE(params.values().same_storage(params.grads()));

  EXPECT_EQ(params.value(ParamSlot{0}).shape(), Shape({3, 4}));
  EXPECT_EQ(params.value(ParamSlot{1}).shape(), Shape({4}));
  EXPECT_EQ(params.value(ParamSlot{2}).shape(), Shape({2, 2}));
  EXPECT_EQ(params.grad(ParamSlot{2}).shape(), Shape({2, 2}));
  EXPECT_EQ(params.value(ParamSlot{0}).data(), params.values().data());
  EXPECT_EQ(params.value(ParamSlot{1}).data(), params.values().data() + 12);
  EXPECT_EQ(params.value(ParamSlot{2}).data(), params.values().data() + 16);
  EXPECT_EQ(params.grad(ParamSlot{1}).data(), params.grads().data() + 12);
  EXPECT_THROW(static_cast<void>(params.value(ParamSlot{3})), CheckError);
  EXPECT_THROW(static_cast<void>(params.grad(ParamSlot{3})), CheckError);
}

TEST(Parameters, ViewsAliasTheFlatBuffers) {
  Parameters params(example_layout());
  params.values().zero();
  Tensor bias = params.value(ParamSlot{1});
  bias.at(2) = 5.0f;
  EXPECT_EQ(params.values().at(14), 5.0f);
  params.values().at(17) = -1.0f;
  EXPECT_EQ(params.value(ParamSlot{2}).at({0, 1}), -1.0f);

  Tensor dweight = params.grad(ParamSlot{0});
  dweight.at({2, 3}) = 7.0f;
  EXPECT_EQ(params.grads().at(11), 7.0f);
  params.grads().at(19) = 4.0f;
  EXPECT_EQ(params.grad(ParamSlot{2}).at({1, 1}), 4.0f);

  params.zero_grads();
  EXPECT_EQ(dweight.at({2, 3}), 0.0f);
  EXPECT_EQ(params.grad(ParamSlot{2}).at({1, 1}), 0.0f);
  EXPECT_EQ(bias.at(2), 5.0f) << "zero_grads leaves the values alone";
}

TEST(Parameters, InitializeFillsEachParameterWithItsInit) {
  Parameters params(example_layout());
  Rng rng(1);
  params.initialize(rng);
  for (std::int64_t i = 0; i < 12; ++i) EXPECT_EQ(params.values().at(i), 1.0f) << i;
  for (std::int64_t i = 12; i < 16; ++i) EXPECT_EQ(params.values().at(i), 2.0f) << i;
  for (std::int64_t i = 16; i < 20; ++i) EXPECT_EQ(params.values().at(i), 3.0f) << i;
}

TEST(Parameters, InitializeDrawsInDeclarationOrder) {
  ParameterLayout layout;
  layout.add("a", {3}, Init::uniform(0.0f, 1.0f), false);
  layout.add("b", {2}, Init::constant(9.0f), false);
  layout.add("c", {2}, Init::uniform(-1.0f, 0.0f), false);
  Parameters params(std::move(layout));
  Rng rng(77);
  params.initialize(rng);

  Rng expected(77);
  for (std::int64_t i = 0; i < 3; ++i) EXPECT_EQ(params.values().at(i), expected.uniform(0.0f, 1.0f)) << i;
  EXPECT_EQ(params.values().at(3), 9.0f);
  EXPECT_EQ(params.values().at(4), 9.0f);
  for (std::int64_t i = 5; i < 7; ++i) EXPECT_EQ(params.values().at(i), expected.uniform(-1.0f, 0.0f)) << i;
}

TEST(Parameters, FindByName) {
  const Parameters params(example_layout());
  ASSERT_TRUE(params.find("weight").has_value());
  EXPECT_EQ(params.find("weight")->index, 0u);
  ASSERT_TRUE(params.find("1.scale").has_value());
  EXPECT_EQ(params.find("1.scale")->index, 2u);
  EXPECT_FALSE(params.find("scale").has_value());
  EXPECT_FALSE(params.find("nope").has_value());
  EXPECT_EQ(params.specs().size(), 3u);
  EXPECT_EQ(params.specs()[2].name, "1.scale");
}

TEST(Parameters, MoveKeepsViewsOnTheSameBuffers) {
  Parameters original(example_layout());
  float* values = original.values().data();
  Parameters moved(std::move(original));
  EXPECT_EQ(moved.values().data(), values);
  EXPECT_EQ(moved.value(ParamSlot{1}).data(), values + 12);
  Tensor bias = moved.value(ParamSlot{1});
  bias.at(0) = 8.0f;
  EXPECT_EQ(moved.values().at(12), 8.0f);
}

TEST(Parameters, EmptyLayout) {
  Parameters params{ParameterLayout()};
  EXPECT_EQ(params.numel(), 0);
  EXPECT_EQ(params.values().numel(), 0);
  Rng rng(1);
  EXPECT_NO_THROW(params.initialize(rng));
  EXPECT_NO_THROW(params.zero_grads());
}

}  // namespace
}  // namespace courier
