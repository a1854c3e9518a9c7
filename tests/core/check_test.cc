// COURIER_CHECK*: what a failed check throws and says, lazy messages, sign-safe comparisons.
#include "courier/core/check.h"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace courier {
namespace {

using ::testing::HasSubstr;

// Runs `fn`, which must throw CheckError, and returns the error.
template <typename Fn>
CheckError expect_check_error(Fn&& fn) {
  try {
    fn();
  } catch (const CheckError& error) {
    return error;
  }
  ADD_FAILURE() << "expected a CheckError";
  return CheckError("", 0, "", "", "", "");
}

struct Streamable {
  int id;
  friend bool operator==(const Streamable&, const Streamable&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Streamable& s) { return out << "Streamable#" << s.id; }
};

struct Unprintable {
  int id;
  friend bool operator==(const Unprintable&, const Unprintable&) = default;
};

enum class Color : std::uint8_t { kRed = 7, kBlue = 9 };

TEST(CheckTest, PassingChecksDoNotThrow) {
  const int two = 2;
  EXPECT_NO_THROW(COURIER_CHECK(two == 2));
  EXPECT_NO_THROW(COURIER_CHECK_EQ(two, 2));
  EXPECT_NO_THROW(COURIER_CHECK_NE(two, 3));
  EXPECT_NO_THROW(COURIER_CHECK_LT(two, 3));
  EXPECT_NO_THROW(COURIER_CHECK_LE(two, 2));
  EXPECT_NO_THROW(COURIER_CHECK_LE(two, 3));
  EXPECT_NO_THROW(COURIER_CHECK_GT(two, 1));
  EXPECT_NO_THROW(COURIER_CHECK_GE(two, 2));
  EXPECT_NO_THROW(COURIER_CHECK_GE(two, 1));
}

TEST(CheckTest, FailingChecksThrowAtTheBoundaries) {
  const int two = 2;
  EXPECT_THROW(COURIER_CHECK(two != 2), CheckError);
  EXPECT_THROW(COURIER_CHECK_EQ(two, 3), CheckError);
  EXPECT_THROW(COURIER_CHECK_NE(two, 2), CheckError);
  EXPECT_THROW(COURIER_CHECK_LT(two, 2), CheckError);
  EXPECT_THROW(COURIER_CHECK_LE(two, 1), CheckError);
  EXPECT_THROW(COURIER_CHECK_GT(two, 2), CheckError);
  EXPECT_THROW(COURIER_CHECK_GE(two, 3), CheckError);
}

TEST(CheckTest, CheckErrorIsALogicError) {
  EXPECT_THROW(COURIER_CHECK(false), std::logic_error);
}

TEST(CheckTest, PlainCheckCarriesExpressionAndNoValues) {
  const int rank = 5;
  const CheckError error = expect_check_error([&] { COURIER_CHECK(rank < 3); });
  EXPECT_EQ(error.expression(), "rank < 3");
  EXPECT_EQ(error.lhs(), "");
  EXPECT_EQ(error.rhs(), "");
  EXPECT_EQ(error.message(), "");
  EXPECT_THAT(std::string(error.what()), HasSubstr("rank < 3"));
}

TEST(CheckTest, WhatCarriesExpressionBothValuesAndMessage) {
  const int got = 1234;
  const int want = 5678;
  const CheckError error = expect_check_error([&] { COURIER_CHECK_EQ(got, want, "buffer sizes differ"); });
  EXPECT_EQ(error.expression(), "got == want");
  EXPECT_EQ(error.lhs(), "1234");
  EXPECT_EQ(error.rhs(), "5678");
  EXPECT_EQ(error.message(), "buffer sizes differ");
  const std::string what = error.what();
  EXPECT_THAT(what, HasSubstr("got == want"));
  EXPECT_THAT(what, HasSubstr("1234"));
  EXPECT_THAT(what, HasSubstr("5678"));
  EXPECT_THAT(what, HasSubstr("buffer sizes differ"));
}

TEST(CheckTest, EachComparisonNamesItsOperator) {
  const int a = 4;
  const int b = 3;
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_EQ(a, b); }).expression(), "a == b");
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_NE(a, a); }).expression(), "a != a");
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_LT(a, b); }).expression(), "a < b");
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_LE(a, b); }).expression(), "a <= b");
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_GT(b, a); }).expression(), "b > a");
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_GE(b, a); }).expression(), "b >= a");
}

TEST(CheckTest, FormatMessageWithArguments) {
  const float loss = 2.5f;
  const CheckError error =
      expect_check_error([&] { COURIER_CHECK_LT(loss, 1.0f, "rank {} step {} op {}", 3, 100, "allreduce"); });
  EXPECT_EQ(error.message(), "rank 3 step 100 op allreduce");
  EXPECT_EQ(error.lhs(), "2.5");
  EXPECT_EQ(error.rhs(), "1");
  EXPECT_THAT(std::string(error.what()), HasSubstr("rank 3 step 100 op allreduce"));

  const CheckError plain = expect_check_error([&] { COURIER_CHECK(loss < 0.0f, "loss of {} is positive", loss); });
  EXPECT_EQ(plain.message(), "loss of 2.5 is positive");
}

TEST(CheckTest, PlainStringMessageIsNotFormatted) {
  // A single message argument is used as is, so braces in it survive.
  const CheckError error = expect_check_error([] { COURIER_CHECK(false, "literal {} braces"); });
  EXPECT_EQ(error.message(), "literal {} braces");
  const std::string built = "built " + std::to_string(42);
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK(false, built); }).message(), "built 42");
}

TEST(CheckTest, MessageArgumentsAreNotEvaluatedWhenTheCheckPasses) {
  int evaluations = 0;
  auto counted = [&evaluations] {
    ++evaluations;
    return 7;
  };
  COURIER_CHECK(true, "value {}", counted());
  COURIER_CHECK_EQ(1, 1, "value {}", counted());
  COURIER_CHECK_NE(1, 2, "value {}", counted());
  COURIER_CHECK_LT(1, 2, "value {}", counted());
  COURIER_CHECK_LE(1, 1, "value {}", counted());
  COURIER_CHECK_GT(2, 1, "value {}", counted());
  COURIER_CHECK_GE(1, 1, "value {}", counted());
  EXPECT_EQ(evaluations, 0);

  const CheckError error = expect_check_error([&] { COURIER_CHECK_EQ(1, 2, "value {}", counted()); });
  EXPECT_EQ(evaluations, 1);
  EXPECT_EQ(error.message(), "value 7");
}

TEST(CheckTest, ComparedExpressionsAreEvaluatedOnce) {
  int calls = 0;
  COURIER_CHECK_EQ(++calls, 1);
  EXPECT_EQ(calls, 1);
  EXPECT_THROW(COURIER_CHECK_EQ(++calls, 5), CheckError);
  EXPECT_EQ(calls, 2);
}

TEST(CheckTest, IntegerComparisonsAreSignSafe) {
  // Plain C++ would convert -1 to SIZE_MAX and get both of these wrong.
  EXPECT_THROW(COURIER_CHECK_EQ(std::size_t{1}, -1), CheckError);
  EXPECT_NO_THROW(COURIER_CHECK_LT(-1, std::size_t{1}));
  EXPECT_NO_THROW(COURIER_CHECK_GT(std::size_t{1}, -1));
  EXPECT_NO_THROW(COURIER_CHECK_NE(std::numeric_limits<std::size_t>::max(), -1));
  EXPECT_THROW(COURIER_CHECK_GE(-1, 0u), CheckError);
  EXPECT_NO_THROW(COURIER_CHECK_LE(std::int64_t{-5}, std::uint8_t{0}));
  EXPECT_NO_THROW(COURIER_CHECK_EQ(std::int64_t{3}, 3u));

  const CheckError error = expect_check_error([] { COURIER_CHECK_EQ(std::size_t{1}, -1); });
  EXPECT_EQ(error.lhs(), "1");
  EXPECT_EQ(error.rhs(), "-1");
}

TEST(CheckTest, BoolAndCharacterComparisonsCompileAndWork) {
  const char letter = 'x';
  const bool flag = true;
  EXPECT_NO_THROW(COURIER_CHECK_EQ(letter, 'x'));
  EXPECT_NO_THROW(COURIER_CHECK_LT('a', letter));
  EXPECT_NO_THROW(COURIER_CHECK_EQ(flag, true));
  EXPECT_NO_THROW(COURIER_CHECK_LE(false, flag));
  const CheckError error = expect_check_error([&] { COURIER_CHECK_EQ(letter, 'y'); });
  EXPECT_EQ(error.lhs(), "x");
  EXPECT_EQ(error.rhs(), "y");
  EXPECT_THROW(COURIER_CHECK_GT(false, flag), CheckError);
}

TEST(CheckTest, FloatingPointComparisons) {
  EXPECT_NO_THROW(COURIER_CHECK_LT(0.5f, 1.0));
  EXPECT_THROW(COURIER_CHECK_GT(0.5, 0.5f), CheckError);
  const CheckError error = expect_check_error([] { COURIER_CHECK_EQ(0.25, 0.5); });
  EXPECT_EQ(error.lhs(), "0.25");
  EXPECT_EQ(error.rhs(), "0.5");
}

TEST(CheckTest, ValuesOfOtherTypesArePrinted) {
  const std::string name = "weight";
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_EQ(name, "bias"); }).lhs(), "weight");
  EXPECT_EQ(expect_check_error([&] { COURIER_CHECK_EQ(name, "bias"); }).rhs(), "bias");

  const CheckError enums = expect_check_error([] { COURIER_CHECK_EQ(Color::kRed, Color::kBlue); });
  EXPECT_EQ(enums.lhs(), "7");
  EXPECT_EQ(enums.rhs(), "9");

  const CheckError streamed = expect_check_error([] { COURIER_CHECK_EQ(Streamable{1}, Streamable{2}); });
  EXPECT_EQ(streamed.lhs(), "Streamable#1");
  EXPECT_EQ(streamed.rhs(), "Streamable#2");

  const CheckError opaque = expect_check_error([] { COURIER_CHECK_EQ(Unprintable{1}, Unprintable{2}); });
  EXPECT_EQ(opaque.lhs(), "<unprintable>");
  EXPECT_EQ(opaque.rhs(), "<unprintable>");
}

TEST(CheckTest, FileIsRelativeAndLineIsTheCheck) {
  const int line = __LINE__ + 1;
  const CheckError error = expect_check_error([] { COURIER_CHECK(false); });
  const std::string_view file = error.file();
  ASSERT_FALSE(file.empty());
  // The build maps the source directory away (-ffile-prefix-map), so no machine paths leak.
  EXPECT_NE(file.front(), '/') << file;
  EXPECT_TRUE(file.ends_with("core/check_test.cc")) << file;
  EXPECT_EQ(error.line(), line);
  EXPECT_THAT(std::string(error.what()), HasSubstr(std::string(file) + ":" + std::to_string(line)));
}

}  // namespace
}  // namespace courier
