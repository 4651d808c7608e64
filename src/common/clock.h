// Time behind an interface so that expiry, grace periods and rate windows are testable.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace rampart {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
  int64_t NowSeconds() const { return NowMillis() / 1000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  // A process-wide instance; thread-safe.
  static const SystemClock& Instance();
};

// A clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_millis) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void AdvanceMillis(int64_t ms) { now_ += ms; }
  void AdvanceSeconds(int64_t s) { now_ += s * 1000; }
  void SetMillis(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
};

// Milliseconds of the monotonic clock, for intervals and deadlines within one process: not a
// time of day, and never stepped back.
int64_t SteadyMillis();

// RFC 3339 UTC rendering with second precision, e.g. 2026-01-30T09:15:00Z.
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace rampart
