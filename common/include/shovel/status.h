// Status and Result<T>: how every shoveling library reports errors.
//
// A Status is a code from a small cache-specific set plus a message written
// for the user ("id 'a//b' has an empty path component"). Result<T> holds
// either a value or a non-OK Status, shaped like std::expected (which GCC 12
// lacks in C++20). Both are values: cheap to move, safe to copy, no sharing,
// thread-compatible (not thread-safe to mutate concurrently).
//
// errno values are made from a Status only at the FUSE edge (fs/); exceptions
// from third-party libraries are caught where they are called and turned into
// a Status, never thrown across a library boundary.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shovel {

// The wire protocol carries these numbers; never renumber (worker/PROTOCOL.md).
enum class Code : uint16_t {
  kOk = 0,
  kNotFound = 1,           // the id (or node) does not exist
  kAlreadyExists = 2,      // create of an id that exists
  kInvalidArgument = 3,    // bad id, bad size, bad option; message names the rule
  kNoSpace = 4,            // the worker's memory limit cannot fit the write
  kUnavailable = 5,        // a worker or Consul cannot be reached
  kTimeout = 6,            // a deadline passed
  kCorruption = 7,         // stored or received bytes failed a check
  kInternal = 8,           // a bug: an invariant did not hold
  kRedirect = 9,           // the id lives elsewhere; message is the endpoint
  kProtocol = 10,          // malformed or unknown message
  kConflict = 11,          // a conditional write saw another version
  kPermissionDenied = 12,  // the connection's key may not do this (docs/security.md)
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) {
    return {Code::kAlreadyExists, std::move(m)};
  }
  static Status InvalidArgument(std::string m) {
    return {Code::kInvalidArgument, std::move(m)};
  }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Redirect(std::string endpoint) {
    return {Code::kRedirect, std::move(endpoint)};
  }
  static Status Protocol(std::string m) { return {Code::kProtocol, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {Code::kPermissionDenied, std::move(m)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsRedirect() const { return code_ == Code::kRedirect; }

  // "not found: id 'x' does not exist" (or "OK").
  std::string ToString() const;

  // Returns a copy with "context: " put before the message.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or a non-OK Status. Access to value() on an error is a bug
// (asserted in debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit like expected
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace shovel

// Early return on error. SHOVEL_RETURN_IF_ERROR(expr) for a Status;
// SHOVEL_ASSIGN_OR_RETURN(lhs, expr) for a Result.
#define SHOVEL_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::shovel::Status shovel_status_ = (expr);        \
    if (!shovel_status_.ok()) return shovel_status_; \
  } while (0)

#define SHOVEL_CONCAT_INNER_(a, b) a##b
#define SHOVEL_CONCAT_(a, b) SHOVEL_CONCAT_INNER_(a, b)
#define SHOVEL_ASSIGN_OR_RETURN(lhs, expr) \
  SHOVEL_ASSIGN_OR_RETURN_IMPL_(SHOVEL_CONCAT_(shovel_result_, __LINE__), lhs, expr)
#define SHOVEL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
