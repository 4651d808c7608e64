// Structured JSON logging to stderr, one object per line:
//   {"ts":"2026-01-30T09:15:00.123Z","level":"info","event":"http.request","status":200,...}
//
// Callers pass only non-personal, non-secret fields: ids, counts, codes, addresses of peers.
// Staff names, mobile numbers, e-mail addresses and any token or key must never be logged.
// Thread-safe: each line is written with a single write(2).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace rampart::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Value = std::variant<std::string_view, int64_t, double, bool>;
struct Field {
  std::string_view key;
  Value value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};

// Both return the setting they replace, so that a caller can put it back.
Level SetMinLevel(Level level);
// Sends lines to a file descriptor other than stderr (tests capture logs this way).
int SetOutputFd(int fd);
void Write(Level level, std::string_view event, std::initializer_list<Field> fields = {});
// Renders one line without writing it; used by Write and by tests.
std::string Render(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void Debug(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, e, f);
}
inline void Info(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, e, f);
}
inline void Warn(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, e, f);
}
inline void Error(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kError, e, f);
}

}  // namespace rampart::log
