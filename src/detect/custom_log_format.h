// Access logs in a layout of the administrator's own, declared with the web server's own format
// string, so that every field is read where that server writes it rather than guessed from its
// place (the built-in parser takes the quoted field after the user agent as X-Forwarded-For,
// which in another layout may be a header the client chose).
//
//   auto layout = CustomLogFormat::Compile(
//       R"(nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent )"
//       R"("$http_referer" "$http_user_agent" $request_time "$http_x_forwarded_for")");
//   if (!layout.ok()) return layout.status();  // names the directive and its offset
//   LineParser parser(&*layout);               // or layout->Parse(line, &ev)
//
// A spec is "nginx:" + a `log_format` string or "apache:" + a `LogFormat` string. Variables that
// Rampart has no field for are read and dropped. A line is split at the literal text between
// variables, from the left; a quote that a backslash escapes (Apache's \", nginx's escape=json)
// does not end a quoted value, and the times of fixed width ($time_local, %t) are taken by their
// width, so their space does not split them. Since a client may write a space (or any literal but
// a quote) into the values it sends, the forwarded-for header must be between quotes, and the
// client address may follow no unquoted value a client writes. nginx's escape=none writes quotes
// unescaped: no layout is safe under it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "detect/event.h"
#include "detect/time_layout.h"

namespace rampart::detect {

class CustomLogFormat {
 public:
  // What the value of one variable becomes.
  enum class Slot : uint8_t {
    kIgnored,
    kClientAddress,       // source.ip
    kUser,                // user.name
    kTimeLocal,           // "30/Jan/2026:09:15:00 +0100" (nginx $time_local)
    kTimeLocalBracketed,  // "[30/Jan/2026:09:15:00 +0100]" (Apache %t)
    kTimeIso,             // RFC 3339 (nginx $time_iso8601)
    kEpochSeconds,        // "1769760900.123" or "1769760900" (nginx $msec, Apache %{sec}t)
    kEpochMillis,         // Apache %{msec}t
    kEpochMicros,         // Apache %{usec}t
    kRequestLine,         // "GET /path?q HTTP/1.1"
    kMethod,              // http.request.method
    kTarget,              // path and query as sent (nginx $request_uri)
    kPath,                // the path alone (nginx $uri, Apache %U)
    kQuery,               // the query alone (nginx $args; Apache %q, which starts with '?')
    kStatus,              // http.response.status_code
    kBodyBytes,           // http.response.body.bytes
    kReferrer,            // http.request.referrer
    kUserAgent,           // user_agent.original
    kForwardedFor,        // http.request.x_forwarded_for
    kVirtualHost,         // destination.domain (a ":port" is dropped)
    kCookie,              // http.request.cookie
    kMimeType,            // http.request.mime_type
    kServerAddress,       // destination.ip
    kHostName,            // host.name
    kTimeStrftime,        // Apache %{...}t in a strftime layout (StrftimeLayout)
    kTimeMillisFraction,  // Apache %{msec_frac}t: three digits added to a time in whole seconds
    kTimeMicrosFraction,  // Apache %{usec_frac}t: six digits, likewise
  };

  // InvalidArgument, naming the offset in the format string, for a spec without its "nginx:"
  // or "apache:" prefix, a variable or directive cut short, two variables with nothing between
  // them (a line could not be split between them; a strftime time ending in %s or %Z does not
  // end by itself), an Apache time in a strftime layout that cannot be read back, or whose
  // layouts together give no date (when no other time is logged), a zone's name without its
  // offset (%Z without %z) or a 12-hour clock without %p, a layout that gives none of the
  // fields Rampart reads, or one a client could shift (above). \" \' and \\ stand for the
  // character, as in the servers' configuration files. A strftime time is taken as far as its
  // layout writes, so a space in it does not split the line; without %z it is read as UTC.
  static Result<CustomLogFormat> Compile(std::string_view spec);

  // Clears *ev first. False when the line does not have the layout's literal text where the
  // layout puts it, or a status, size or time that is not one. Values point into `line`.
  bool Parse(std::string_view line, Event* ev) const;

  const std::string& spec() const { return spec_; }

 private:
  struct Piece {
    std::string literal;  // the text before the variable
    Slot slot = Slot::kIgnored;
    bool server_written = false;  // no client writes any of it (a time, a status, a port)
    int time_layout = -1;         // kTimeStrftime: its index in time_layouts_
  };

  CustomLogFormat() = default;

  std::string spec_;
  std::vector<Piece> pieces_;
  std::vector<StrftimeLayout> time_layouts_;
  std::string trailing_;  // the text after the last variable
};

}  // namespace rampart::detect
