// Pure log-line parsers: one line of text in, one Event out, no I/O, so that they can be
// unit-tested and fuzzed directly. Malformed lines are rejected (and counted by LineParser),
// never trusted: every byte sequence up to kMaxLineBytes is safe to pass.
//
//   LineParser parser(DetectFormat(first_lines));
//   Event ev;
//   for (std::string_view line : lines) {
//     if (!parser.Parse(line, &ev)) continue;  // counted in parser.errors()
//     ...
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/forwarded.h"
#include "detect/event.h"

namespace rampart::detect {

inline constexpr size_t kMaxLineBytes = 1 << 20;
// Epoch times in logs beyond year 9999 either way are no time (and converting them overflows).
inline constexpr int64_t kMaxLogEpochMillis = 253'402'300'799'999;

enum class LogFormat {
  kAuto,       // decide from the first lines (DetectFormat)
  kCommon,     // Apache/nginx common: host ident user [time] "request" status bytes
  kCombined,   // common + "referer" "user-agent" ["x-forwarded-for"] (the rest is ignored)
  kEpmm,       // Ivanti EPMM / Apache vhost_combined: "vhost:port" before the combined fields
  kJsonLines,  // one JSON object per line, ECS names (flat or nested) or nginx variable names
  kCustom,     // a layout the administrator declared (detect/custom_log_format.h)
};

class CustomLogFormat;

std::string_view LogFormatName(LogFormat format);
// Any format but kCustom, which takes a format string (CustomLogFormat::Compile).
std::optional<LogFormat> LogFormatFromName(std::string_view name);

// Parses common, combined and EPMM lines alike (the prefix and the trailing quoted fields are
// recognised per line), so a log that mixes them still parses. Clears *ev first.
// Returns false when the line is not an access-log line. Keeps the last time stamp it read in
// a per-thread cache (the result depends on the line alone, but a fuzzing crash may need the
// input before it to reproduce).
bool ParseAccessLogLine(std::string_view line, Event* ev);
// Behind reverse proxies a web server logs the proxy as every request's client. When the
// event's source.ip lies in `trust.proxies` and the event carries http.request.x_forwarded_for,
// source.ip becomes the client that header names (ClientAddressFromValues in
// common/forwarded.h: read from the right, past the proxies; what the client wrote left of its
// own hop is never believed). A line from a proxy that names no client (no header logged, a
// nearest hop that is no address, every hop a proxy's) is left as it is, attributed to the
// proxy: the callers count those, since a client that gets its hop cut from the log (a line
// truncated by a syslog relay) stays hidden behind the proxy. The proxy stays in event.original.
enum class Attribution {
  kNotFromProxy,     // no proxy trusted, or source.ip is none of them
  kForwardedClient,  // source.ip is now the client the proxy named
  kNoClientNamed,    // from a trusted proxy, naming no client: left as the proxy's
};
Attribution AttributeToForwardedClient(const ProxyTrust& trust, Event* ev);
// Parses one JSON object. Clears *ev first. Returns false when the line is not a JSON object.
bool ParseJsonLine(std::string_view line, Event* ev);

// For a line its file's format refuses: parses it as the other family would (JSON lines
// against the access-log formats, which share one parser), so that a file that changed format
// part way is still read. False when it does not parse there either, and always for kCustom: a
// declared layout is not second-guessed.
bool ParseInOtherFamily(std::string_view line, LogFormat format, Event* ev);

// Picks the format that parses most of the sample lines (empty lines ignored); kCombined when
// nothing parses, so that the caller still gets per-line parse errors.
LogFormat DetectFormat(std::span<const std::string_view> sample);

// Parses "10/Oct/2000:13:55:36 -0700" (Apache %t without brackets) or RFC 3339 / ISO 8601
// ("2026-01-30T09:15:00.123Z", "+01:00" offsets) into milliseconds since the epoch.
std::optional<int64_t> ParseLogTime(std::string_view text);
// Days since 1970-01-01 for a proleptic Gregorian date (month 1-12, day 1-31).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

// Splits an HTTP request target into url.* fields (and destination.domain for absolute URLs),
// percent-decoding path, query and original for matching.
void SetUrlFields(std::string_view target, Event* ev);
// Splits a request line ("GET /path?q HTTP/1.1") into http.request.method and the url.*
// fields; one of another shape ("-" aside) is kept whole in url.original, so rules still see it.
void SetRequestLine(std::string_view request, Event* ev);
// Sets a status code or a size, and its numeric view when the text is a decimal in range.
void SetNumber(Field field, std::string_view text, Event* ev);
// The host of a "host:port" or "[v6]:port" virtual host.
std::string_view VirtualHostName(std::string_view host_and_port);

namespace internal {

// ParseLogTime for Apache times ("10/Oct/2000:13:55:36 -0700"), remembering the last valid one
// so that the next time differing only in its seconds costs a comparison instead of a parse.
// Gives exactly what ParseLogTime gives for a text with '/' at [2] (an Apache time or nothing);
// nullopt for any other text. Not thread-safe: one per thread.
class ApacheTimeCache {
 public:
  std::optional<int64_t> Parse(std::string_view text);

 private:
  char key_[32] = {};
  size_t key_size_ = 0;        // 0: nothing remembered
  int64_t minute_millis_ = 0;  // the remembered time with its seconds set to zero
};

}  // namespace internal

// Parses lines of one format and counts them. Not thread-safe.
class LineParser {
 public:
  explicit LineParser(LogFormat format) : format_(format) {}
  // format() is kCustom; `layout` must outlive the parser.
  explicit LineParser(const CustomLogFormat* layout)
      : format_(LogFormat::kCustom), layout_(layout) {}

  // Returns false (and counts a parse error) for a malformed line or one over kMaxLineBytes.
  bool Parse(std::string_view line, Event* ev);

  LogFormat format() const { return format_; }
  uint64_t lines() const { return lines_; }
  uint64_t errors() const { return errors_; }

 private:
  LogFormat format_;
  const CustomLogFormat* layout_ = nullptr;
  uint64_t lines_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace rampart::detect
