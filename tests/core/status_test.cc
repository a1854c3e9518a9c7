// Status codes, names and formatting; Result<T> holding a value or the Status explaining why not.
#include "courier/core/status.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace courier {
namespace {

using ::testing::HasSubstr;

TEST(StatusTest, DefaultIsOk) {
  const Status status;
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(status.code(), StatusCode::kOk);
  EXPECT_EQ(status.message(), "");
  EXPECT_EQ(status.to_string(), "OK");
  EXPECT_EQ(status, Status::ok());
}

TEST(StatusTest, NamedConstructorsGiveCodesAndNames) {
  struct Case {
    Status status;
    StatusCode code;
    const char* name;
  };
  const std::vector<Case> cases = {
      {Status::invalid_argument("m"), StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
      {Status::not_found("m"), StatusCode::kNotFound, "NOT_FOUND"},
      {Status::already_exists("m"), StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
      {Status::out_of_range("m"), StatusCode::kOutOfRange, "OUT_OF_RANGE"},
      {Status::failed_precondition("m"), StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
      {Status::data_loss("m"), StatusCode::kDataLoss, "DATA_LOSS"},
      {Status::deadline_exceeded("m"), StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
      {Status::unavailable("m"), StatusCode::kUnavailable, "UNAVAILABLE"},
      {Status::aborted("m"), StatusCode::kAborted, "ABORTED"},
      {Status::cancelled("m"), StatusCode::kCancelled, "CANCELLED"},
      {Status::resource_exhausted("m"), StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
      {Status::unimplemented("m"), StatusCode::kUnimplemented, "UNIMPLEMENTED"},
      {Status::internal("m"), StatusCode::kInternal, "INTERNAL"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(c.status.is_ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_EQ(status_code_name(c.code), c.name);
    EXPECT_EQ(c.status.to_string(), std::string(c.name) + ": m");
  }
  EXPECT_EQ(status_code_name(StatusCode::kOk), "OK");
}

TEST(StatusTest, CodesArePinned) {
  // These numbers appear in logs and on the wire; renumbering breaks old peers.
  EXPECT_EQ(static_cast<int>(StatusCode::kOk), 0);
  EXPECT_EQ(static_cast<int>(StatusCode::kInvalidArgument), 1);
  EXPECT_EQ(static_cast<int>(StatusCode::kNotFound), 2);
  EXPECT_EQ(static_cast<int>(StatusCode::kAlreadyExists), 3);
  EXPECT_EQ(static_cast<int>(StatusCode::kOutOfRange), 4);
  EXPECT_EQ(static_cast<int>(StatusCode::kFailedPrecondition), 5);
  EXPECT_EQ(static_cast<int>(StatusCode::kDataLoss), 6);
  EXPECT_EQ(static_cast<int>(StatusCode::kDeadlineExceeded), 7);
  EXPECT_EQ(static_cast<int>(StatusCode::kUnavailable), 8);
  EXPECT_EQ(static_cast<int>(StatusCode::kAborted), 9);
  EXPECT_EQ(static_cast<int>(StatusCode::kCancelled), 10);
  EXPECT_EQ(static_cast<int>(StatusCode::kResourceExhausted), 11);
  EXPECT_EQ(static_cast<int>(StatusCode::kUnimplemented), 12);
  EXPECT_EQ(static_cast<int>(StatusCode::kInternal), 13);
}

TEST(StatusTest, UnknownCodeHasAName) {
  EXPECT_EQ(status_code_name(static_cast<StatusCode>(200)), "UNKNOWN");
}

TEST(StatusTest, ToStringIsCodeColonMessage) {
  EXPECT_EQ(Status::not_found("no such file 'x.toml'").to_string(), "NOT_FOUND: no such file 'x.toml'");
}

TEST(StatusTest, WithContextPrependsAndKeepsTheCode) {
  const Status base = Status::not_found("no such file 'x.toml'");
  const Status wrapped = base.with_context("reading config");
  EXPECT_EQ(wrapped.code(), StatusCode::kNotFound);
  EXPECT_EQ(wrapped.message(), "reading config: no such file 'x.toml'");
  EXPECT_EQ(wrapped.to_string(), "NOT_FOUND: reading config: no such file 'x.toml'");
  EXPECT_EQ(wrapped.with_context("starting run").message(), "starting run: reading config: no such file 'x.toml'");
  // The original is unchanged.
  EXPECT_EQ(base.message(), "no such file 'x.toml'");
}

TEST(StatusTest, OkStaysOkWithContext) {
  const Status wrapped = Status::ok().with_context("reading config");
  EXPECT_TRUE(wrapped.is_ok());
  EXPECT_EQ(wrapped.message(), "");
  EXPECT_EQ(wrapped.to_string(), "OK");
}

TEST(StatusTest, Equality) {
  EXPECT_EQ(Status::unavailable("peer 3"), Status::unavailable("peer 3"));
  EXPECT_NE(Status::unavailable("peer 3"), Status::unavailable("peer 4"));
  EXPECT_NE(Status::unavailable("peer 3"), Status::aborted("peer 3"));
  EXPECT_NE(Status::unavailable("peer 3"), Status::ok());
}

TEST(StatusTest, OkWithAMessageIsABug) {
  EXPECT_THROW((void)Status(StatusCode::kOk, "fine"), CheckError);
  EXPECT_NO_THROW((void)Status(StatusCode::kOk, ""));
}

TEST(ResultTest, HoldsAValue) {
  Result<int> result = 42;
  ASSERT_TRUE(result.is_ok());
  EXPECT_TRUE(result.status().is_ok());
  EXPECT_EQ(result.value(), 42);
  EXPECT_EQ(*result, 42);
  result.value() = 7;
  EXPECT_EQ(*result, 7);
  const Result<int>& view = result;
  EXPECT_EQ(view.value(), 7);
}

TEST(ResultTest, ArrowReachesTheValue) {
  Result<std::string> result = std::string("hello");
  EXPECT_EQ(result->size(), 5u);
  const Result<std::string>& view = result;
  EXPECT_EQ(view->front(), 'h');
}

TEST(ResultTest, HoldsAStatus) {
  const Result<int> result = Status::data_loss("checksum mismatch");
  EXPECT_FALSE(result.is_ok());
  EXPECT_EQ(result.status(), Status::data_loss("checksum mismatch"));
}

TEST(ResultTest, ValueOfAFailedResultThrowsWithTheStatus) {
  Result<int> result = Status::not_found("no checkpoint at step 100");
  try {
    (void)result.value();
    FAIL() << "value() of a failed Result did not throw";
  } catch (const CheckError& error) {
    EXPECT_THAT(error.message(), HasSubstr("NOT_FOUND: no checkpoint at step 100"));
    EXPECT_THAT(std::string(error.what()), HasSubstr("NOT_FOUND: no checkpoint at step 100"));
  }
  const Result<int>& view = result;
  EXPECT_THROW((void)view.value(), CheckError);
  EXPECT_THROW((void)*result, CheckError);
  EXPECT_THROW((void)*view, CheckError);
  EXPECT_THROW((void)std::move(result).value(), CheckError);

  Result<std::string> text = Status::internal("bug");
  EXPECT_THROW((void)text->size(), CheckError);
}

TEST(ResultTest, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> result = std::make_unique<int>(5);
  std::unique_ptr<int> owned = std::move(result).value();
  ASSERT_NE(owned, nullptr);
  EXPECT_EQ(*owned, 5);
}

TEST(ResultTest, AnOkStatusWithoutAValueIsABug) {
  EXPECT_THROW((void)Result<int>(Status::ok()), CheckError);
  EXPECT_THROW((void)Result<int>{Status{}}, CheckError);
}

Result<int> parse_positive(int x) {
  if (x <= 0) return Status::invalid_argument("not positive");
  return x;
}

TEST(ResultTest, FunctionsReturnEitherDirectly) {
  EXPECT_EQ(parse_positive(3).value(), 3);
  EXPECT_EQ(parse_positive(-1).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace courier
