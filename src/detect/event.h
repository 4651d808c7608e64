// The detection engine's event: one log line, request or action, seen through ECS-style dotted
// field names (https://www.elastic.co/guide/en/ecs/current/) so that Sigma rules, IoC lookups and
// correlations all read the same names whatever the source was.
//
//   Event ev;
//   LineParser parser(LogFormat::kApacheCombined);
//   if (parser.Parse(line, &ev)) {
//     std::string_view path = ev.Get(Field::kUrlPath);  // raw, as logged
//     std::string_view decoded = ev.Decoded(Field::kUrlPath);  // percent-decoded
//   }
//
// An Event is a view: string values point into the parsed line or into the event's own scratch
// buffer, so building one costs no per-field heap allocation once the scratch buffer has grown
// to the longest line seen. Values stay valid until the event is cleared or reused and, for
// values taken from the line, while the line's storage lives. Not thread-safe; one per thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/event_sink.h"

namespace rampart::detect {

// Every field the engine knows. Adding one means adding its name in event.cc as well.
enum class Field : uint8_t {
  kSourceIp,                  // source.ip
  kUrlOriginal,               // url.original: the request target as sent (path?query or absolute)
  kUrlPath,                   // url.path
  kUrlQuery,                  // url.query, without the '?'
  kUrlExtension,              // url.extension, derived from url.path ("jsp", no dot)
  kHttpRequestMethod,         // http.request.method
  kHttpResponseStatusCode,    // http.response.status_code (text and number)
  kHttpResponseBodyBytes,     // http.response.body.bytes (text and number)
  kUserAgentOriginal,         // user_agent.original
  kUserName,                  // user.name
  kEventAction,               // event.action
  kHostName,                  // host.name: the machine that logged the event
  kHttpRequestReferrer,       // http.request.referrer
  kDestinationDomain,         // destination.domain: virtual host / Host header
  kDestinationIp,             // destination.ip
  kHttpRequestCookie,         // http.request.cookie (JSON sources only)
  kHttpRequestMimeType,       // http.request.mime_type
  kHttpRequestXForwardedFor,  // http.request.x_forwarded_for: the header as a server logged it
  kEventOriginal,             // event.original: the whole log line
  // In-process events of `rampart serve` (common/event_sink.h) add these.
  kHttpRequestId,   // http.request.id: the X-Request-Id of the request
  kEventDuration,   // event.duration: nanoseconds the request took
  kOrganizationId,  // organization.id: the institution the event belongs to
  kDeviceId,        // device.id
  kStaffId,         // staff.id (an opaque id, never a name)
  kStaffCanary,     // staff.canary: "true" when the record read was a canary
  kCommandType,     // command.type: lock, wipe, ...
  // File integrity events (detect/file_integrity.h).
  kFilePath,            // file.path: absolute path of the file
  kFileExtension,       // file.extension: lower-cased, no dot ("jsp")
  kFileHashSha256,      // file.hash.sha256: lower-case hex
  kFileSize,            // file.size: bytes
  kFileMode,            // file.mode: permission bits in octal ("0644")
  kFileInBaseline,      // file.in_baseline: "true" when the baseline lists the path
  kFileHashMd5,         // file.hash.md5: lower-case hex (feeds often name a webshell by it)
  kFileHashSha1,        // file.hash.sha1: lower-case hex
  kFilePreviousSha256,  // file.previous.sha256: the content before a change
  // Set by Rampart's own events (common/event_sink.h) and the syslog receiver, so that rules
  // can test them too.
  kCommandId,              // command.id
  kCommandCount,           // command.count: commands approved or rejected at once
  kCommandCreatedBy,       // command.created_by
  kUserRoles,              // user.roles
  kEventReason,            // event.reason
  kHttpViolationReason,    // http.violation.reason: why the front door refused a request
  kComplianceState,        // compliance.state
  kTlsClientSubject,       // tls.client.subject: the syslog collector's certificate
  kLogSourceAddress,       // log.source.address: the address a syslog message came from
  kNetworkTransport,       // network.transport: udp, tcp or tls
  kMessage,                // message: a syslog message's text
  kProcessName,            // process.name: a syslog message's app name
  kLogSyslogSeverityCode,  // log.syslog.severity.code
  kLogSyslogFacilityCode,  // log.syslog.facility.code
  kLogSyslogMsgid,         // log.syslog.msgid
  kCount,
};

inline constexpr size_t kFieldCount = static_cast<size_t>(Field::kCount);

// "source.ip" for Field::kSourceIp.
std::string_view FieldName(Field field);
// The field with this ECS name, or nullopt.
std::optional<Field> FieldFromName(std::string_view name);

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Forgets every value; keeps the scratch capacity so that the next line allocates nothing.
  void Clear() {
    present_ = 0;
    decoded_mask_ = 0;
    timestamp_millis_ = 0;
    status_code_ = -1;
    body_bytes_ = -1;
    has_resolved_path_ = false;
    scratch_.clear();
    if (!overflow_.empty()) overflow_.clear();
  }

  bool Has(Field f) const { return (present_ >> static_cast<unsigned>(f)) & uint64_t{1}; }
  // Bit i set when Field(i) is present.
  uint64_t present_mask() const { return present_; }
  // The value as logged; empty when absent (use Has to tell absent from empty).
  std::string_view Get(Field f) const {
    return Has(f) ? raw_[static_cast<size_t>(f)] : std::string_view();
  }
  // The percent-decoded value when decoding changed it, else the raw value.
  std::string_view Decoded(Field f) const {
    return HasDistinctDecoded(f) ? decoded_[static_cast<size_t>(f)] : Get(f);
  }
  bool HasDistinctDecoded(Field f) const {
    return (decoded_mask_ >> static_cast<unsigned>(f)) & uint64_t{1};
  }

  // url.path as the server resolves it (detect/url_path.h) when that differs from both its raw
  // and its decoded form: "/mifs//./c/appstore/fob/" reaches the handler of
  // "/mifs/c/appstore/fob/", "/mifs/403.jsp;jsessionid=1" the file "/mifs/403.jsp". Rules on
  // url.path look at it too, so that such spellings do not slip past them.
  bool HasDistinctResolvedPath() const { return has_resolved_path_; }
  std::string_view ResolvedPath() const {
    return has_resolved_path_ ? resolved_path_ : Decoded(Field::kUrlPath);
  }
  // Computes ResolvedPath from the decoded url.path; call after DecodeField(kUrlPath).
  void ResolvePath();

  // Sets a value whose storage the caller keeps alive (usually the log line). Inline: a parser
  // sets a dozen fields per line.
  void Set(Field f, std::string_view value) {
    auto i = static_cast<size_t>(f);
    raw_[i] = value;
    decoded_mask_ &= ~(uint64_t{1} << i);
    present_ |= uint64_t{1} << i;
    if (f == Field::kUrlPath) has_resolved_path_ = false;
  }
  // Makes the field absent again (a derived value that turned out not to hold).
  void Unset(Field f) {
    const uint64_t bit = uint64_t{1} << static_cast<unsigned>(f);
    present_ &= ~bit;
    decoded_mask_ &= ~bit;
  }
  // Copies the value into the event's scratch buffer (for unescaped JSON strings and the like).
  void SetCopy(Field f, std::string_view value);
  // Stores the percent-decoded form of the field's current raw value when it differs.
  void DecodeField(Field f);

  // Milliseconds since the Unix epoch; 0 when the source carried no time.
  int64_t timestamp_millis() const { return timestamp_millis_; }
  void set_timestamp_millis(int64_t ms) { timestamp_millis_ = ms; }
  // Numeric views of http.response.status_code and http.response.body.bytes; -1 when absent.
  int status_code() const { return status_code_; }
  int64_t body_bytes() const { return body_bytes_; }
  void set_status_code(int code) { status_code_ = code; }
  void set_body_bytes(int64_t bytes) { body_bytes_ = bytes; }

  // Reserves scratch room for values derived from a line of this length. Copies and decoded
  // values are appended to one buffer; reserving up front keeps earlier views valid.
  void ReserveScratch(size_t line_length) {
    // A line yields at most one unescaped copy and one decoded copy of each of its bytes, and
    // the resolved form of its path.
    if (scratch_.capacity() < 3 * line_length + 64) scratch_.reserve(3 * line_length + 64);
  }
  // Copies bytes into the scratch buffer; the view lives as long as the event's values.
  std::string_view Keep(std::string_view s);

 private:
  // Slots are valid only where their bit is set, so that Clear touches two words, not every
  // slot: it runs once per log line.
  std::array<std::string_view, kFieldCount> raw_{};
  std::array<std::string_view, kFieldCount> decoded_{};
  std::string_view resolved_path_;
  bool has_resolved_path_ = false;
  uint64_t present_ = 0;
  uint64_t decoded_mask_ = 0;
  int64_t timestamp_millis_ = 0;
  int status_code_ = -1;
  int64_t body_bytes_ = -1;
  std::string scratch_;
  // Values that did not fit in the reserved scratch; rare, so one allocation each is fine.
  std::vector<std::unique_ptr<char[]>> overflow_;
};

static_assert(kFieldCount <= 64, "Event::present_ is a 64-bit mask");

// Decodes %XX escapes (invalid escapes are kept as they are; '+' is left alone because it only
// means a space inside form-encoded queries, and rules match the raw form too). Appends to *out.
void PercentDecodeAppend(std::string_view in, std::string* out);
inline bool NeedsPercentDecode(std::string_view s) {
  return s.find('%') != std::string_view::npos;
}

// The owned form the live engine takes (common/event_sink.h): every present field in its raw
// form, and the timestamp. Log sources (the follower, syslog) hand parsed lines over this way,
// so the engine sees exactly the fields `rampart scan` matches.
SecurityEvent ToSecurityEvent(const Event& ev);

// Whether `action` is one of Rampart's own event actions (the API's "http.request",
// "auth.login", "staff.decrypt", "command.queued", "device.*"; file integrity's "file.*"; the
// engine's "detection.*"; the response's "response.*" and the admin's "admin.*"), which only
// in-process sources may emit.
bool IsRampartAction(std::string_view action);

// ToSecurityEvent for a line from outside the process (a followed log file, a syslog sender):
// an action in Rampart's own namespaces is kept as "external." + action, so that a sender can
// neither feed the detectors that act on those events (new files, admin logins, canary tokens)
// nor match the rules written for them (a forged "file.deleted" hid a webshell from the
// new-file detector; a forged canary "staff.decrypt" could set off the staff-harvest playbook).
SecurityEvent ExternalSecurityEvent(const Event& ev);

}  // namespace rampart::detect
