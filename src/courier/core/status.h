// Status and Result<T>: how courier reports failures of the world (a missing file, a
// peer that is gone, a corrupt message, a bad config) as values the caller branches on.
// Broken invariants are not Status; they are COURIER_CHECK failures (check.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "courier/core/check.h"

namespace courier {

// Codes are stable: they appear in logs and, later, on the wire. Never renumber.
enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument = 1,     // the caller passed something malformed (a bad flag, a bad shape)
  kNotFound = 2,            // a file, key or peer that does not exist
  kAlreadyExists = 3,
  kOutOfRange = 4,          // a valid request past the end (an index, a step)
  kFailedPrecondition = 5,  // the system is not in the state the call needs
  kDataLoss = 6,            // corrupt or truncated data: bad checksum, short read
  kDeadlineExceeded = 7,    // a wait ran past its deadline
  kUnavailable = 8,         // a peer is down or unreachable; retrying may help
  kAborted = 9,             // the operation was abandoned (e.g. a membership change)
  kCancelled = 10,          // the caller cancelled it
  kResourceExhausted = 11,  // out of memory, disk or buffer space
  kUnimplemented = 12,
  kInternal = 13,           // a bug in courier; please report it
};

std::string_view status_code_name(StatusCode code);

// An outcome: ok, or a code with a message that says what failed and what to do next.
// Cheap to copy when ok. Thread-compatible (not synchronised).
class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message);

  static Status ok() { return Status(); }
  static Status invalid_argument(std::string message) { return {StatusCode::kInvalidArgument, std::move(message)}; }
  static Status not_found(std::string message) { return {StatusCode::kNotFound, std::move(message)}; }
  static Status already_exists(std::string message) { return {StatusCode::kAlreadyExists, std::move(message)}; }
  static Status out_of_range(std::string message) { return {StatusCode::kOutOfRange, std::move(message)}; }
  static Status failed_precondition(std::string message) { return {StatusCode::kFailedPrecondition, std::move(message)}; }
  static Status data_loss(std::string message) { return {StatusCode::kDataLoss, std::move(message)}; }
  static Status deadline_exceeded(std::string message) { return {StatusCode::kDeadlineExceeded, std::move(message)}; }
  static Status unavailable(std::string message) { return {StatusCode::kUnavailable, std::move(message)}; }
  static Status aborted(std::string message) { return {StatusCode::kAborted, std::move(message)}; }
  static Status cancelled(std::string message) { return {StatusCode::kCancelled, std::move(message)}; }
  static Status resource_exhausted(std::string message) { return {StatusCode::kResourceExhausted, std::move(message)}; }
  static Status unimplemented(std::string message) { return {StatusCode::kUnimplemented, std::move(message)}; }
  static Status internal(std::string message) { return {StatusCode::kInternal, std::move(message)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The same failure with `context` in front: "reading config: file not found".
  // An ok status stays ok.
  Status with_context(std::string_view context) const;

  // "NOT_FOUND: no such file 'x.toml'", or "OK".
  std::string to_string() const;

  friend bool operator==(const Status& a, const Status& b) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
// Reading value() of a failed Result is a bug and throws CheckError.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor): return a T directly
  Result(Status status) : state_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    COURIER_CHECK(!std::get<Status>(state_).is_ok(), "a Result cannot hold an ok Status without a value");
  }

  bool is_ok() const { return std::holds_alternative<T>(state_); }
  // The failure, or ok when there is a value. A reference, so status().message() is safe to hold
  // while the Result lives.
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(state_);
  }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &value(); }

 private:
  T& checked() {
    if (!is_ok()) {
      COURIER_CHECK(false, "value() of a failed Result: " + std::get<Status>(state_).to_string());
    }
    return std::get<T>(state_);
  }

  std::variant<T, Status> state_;
};

}  // namespace courier
