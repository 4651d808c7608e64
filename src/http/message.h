// HTTP request and response as plain values, free of Boost.Beast so that api/ and tests include
// only this light header. The server (server.cc) converts to and from Beast types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rampart::http {

struct Request {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // as received: path plus optional "?query"
  std::string path;    // target up to '?', still percent-encoded
  std::string query;   // after '?', still percent-encoded; empty if none
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The client's address: the TCP peer's, or behind a trusted proxy the one the proxy forwarded
  // (common/forwarded.h). Everything that keys on an address (events, blocks, sign-in records)
  // reads this one.
  std::string remote_ip;
  uint16_t remote_port = 0;  // the TCP peer's
  std::string peer_ip;       // the TCP peer's address; differs from remote_ip when forwarded
  std::string request_id;    // random, echoed as X-Request-Id
  int64_t received_at_ms = 0;

  // First header with that (lower-case) name, or empty.
  std::string_view Header(std::string_view lower_name) const;
  // Percent-decoded value of the first query parameter with that name; nullopt-like empty
  // string and false when absent or badly encoded.
  bool QueryParam(std::string_view name, std::string* value) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response Json(int status, std::string body);
  // {"error": {"code": "<code name>", "message": "<message>"}} with the HTTP status mapped from
  // the Status code (the single place where that mapping lives).
  static Response Error(const Status& status);
  static Response Error(int http_status, std::string_view code, std::string_view message);
};

int HttpStatusFor(Code code);

// Percent-decodes one path segment or query component ('+' becomes space only when
// plus_as_space). InvalidArgument on a bad escape or a decoded NUL byte.
Result<std::string> PercentDecode(std::string_view in, bool plus_as_space);

}  // namespace rampart::http
