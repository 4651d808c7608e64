// Status and Result<T>: errors as values across component boundaries.
//
// A Status is either OK (cheap: no allocation) or carries a Code and a message that is safe to
// show to a client: messages never contain secrets, tokens or personal data.
//
//   Result<Device> r = store.GetDevice(inst, id);
//   if (!r.ok()) return r.status();
//   Device d = std::move(r).value();
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace rampart {

enum class Code {
  kOk = 0,
  kInvalidArgument,    // the caller sent something malformed (HTTP 400)
  kUnauthenticated,    // no or bad credentials (401)
  kPermissionDenied,   // authenticated, not allowed (403)
  kNotFound,           // no such object, or not visible to this caller (404)
  kConflict,           // state does not allow this (409)
  kAlreadyExists,      // unique key taken (409)
  kPayloadTooLarge,    // (413)
  kResourceExhausted,  // a rate or budget is used up (429)
  kUnavailable,        // a dependency is down; retry later (503)
  kInternal,           // a bug or an I/O failure (500)
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status Unauthenticated(std::string msg) {
    return {Code::kUnauthenticated, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status PayloadTooLarge(std::string msg) {
    return {Code::kPayloadTooLarge, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {Code::kResourceExhausted, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Explicitly discards a Status the caller has decided not to act on.
  void IgnoreError() const {}

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result built from an OK status carries no value");
    if (status_.ok()) status_ = Status::Internal("Result built from OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace rampart

// Early-returns a non-OK Status from the enclosing function.
#define RAMPART_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::rampart::Status rampart_status_ = (expr);        \
    if (!rampart_status_.ok()) return rampart_status_; \
  } while (0)

#define RAMPART_CONCAT_INNER(a, b) a##b
#define RAMPART_CONCAT(a, b) RAMPART_CONCAT_INNER(a, b)
// Assigns the value of a Result to lhs, or early-returns its Status.
#define RAMPART_ASSIGN_OR_RETURN(lhs, expr)                    \
  auto RAMPART_CONCAT(rampart_result_, __LINE__) = (expr);     \
  if (!RAMPART_CONCAT(rampart_result_, __LINE__).ok())         \
    return RAMPART_CONCAT(rampart_result_, __LINE__).status(); \
  lhs = std::move(RAMPART_CONCAT(rampart_result_, __LINE__)).value()
