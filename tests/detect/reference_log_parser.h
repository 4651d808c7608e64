// The access-log parser as it was before the single-pass rewrite (session 6), kept verbatim but
// for names as the oracle that the equivalence test and detect_log_parser_fuzz compare
// ParseAccessLogLine, LineParser and SetUrlFields with. Test support only: not in src/, never
// linked into the server. Header-only so that the fuzz target and its _replay twin compile it
// without a library of their own; every function is inline and lives in
// rampart::detect::reference, so a unity batch of tests/detect sees no clashing name.
#pragma once

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "detect/event.h"
#include "detect/log_parser.h"

namespace rampart::detect::reference {

inline void RefSetUrlFields(std::string_view target, Event* ev);

namespace detail {

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's days_from_civil).
inline int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

inline bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

inline int MonthFromAbbrev(std::string_view m) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == m) return static_cast<int>(i) + 1;
  }
  return 0;
}

inline std::optional<int64_t> ToMillis(int y, int mo, int d, int h, int mi, int s, int64_t frac_ms,
                                       int offset_minutes) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_minutes * 60;
  return secs * 1000 + frac_ms;
}

// "+0100", "-07:00", "Z" → minutes east of UTC.
inline bool ParseOffset(std::string_view s, int* minutes) {
  if (s == "Z" || s == "z" || s.empty()) {
    *minutes = 0;
    return true;
  }
  if (s[0] != '+' && s[0] != '-') return false;
  int hh = 0, mm = 0;
  if (!Digits(s, 1, 2, &hh)) return false;
  size_t p = 3;
  if (p < s.size() && s[p] == ':') ++p;
  if (!Digits(s, p, 2, &mm) || p + 2 != s.size()) return false;
  *minutes = (hh * 60 + mm) * (s[0] == '-' ? -1 : 1);
  return true;
}

inline std::optional<int64_t> ParseApacheTime(std::string_view t) {
  // 10/Oct/2000:13:55:36 -0700
  int d, y, h, mi, s;
  if (t.size() < 20 || !Digits(t, 0, 2, &d) || t[2] != '/' || t[6] != '/') return std::nullopt;
  int mo = MonthFromAbbrev(t.substr(3, 3));
  if (mo == 0 || !Digits(t, 7, 4, &y) || t[11] != ':' || !Digits(t, 12, 2, &h) || t[14] != ':' ||
      !Digits(t, 15, 2, &mi) || t[17] != ':' || !Digits(t, 18, 2, &s)) {
    return std::nullopt;
  }
  int offset = 0;
  if (t.size() > 20) {
    if (t[20] != ' ' || !ParseOffset(t.substr(21), &offset)) return std::nullopt;
  }
  return ToMillis(y, mo, d, h, mi, s, 0, offset);
}

inline bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Reads a double-quoted field starting at line[*pos] == '"'. Apache and nginx escape '"' inside
// as \" (or \x22), so a backslash skips the next byte. Returns the content without quotes.
inline bool ReadQuoted(std::string_view line, size_t* pos, std::string_view* out) {
  size_t p = *pos;
  if (p >= line.size() || line[p] != '"') return false;
  size_t start = ++p;
  // Most quoted values hold no escape: two memchr calls find the end without a byte loop.
  size_t quote = line.find('"', start);
  if (quote != std::string_view::npos &&
      line.substr(start, quote - start).find('\\') == std::string_view::npos) {
    *out = line.substr(start, quote - start);
    *pos = quote + 1;
    return true;
  }
  while (p < line.size()) {
    char c = line[p];
    if (c == '\\') {
      p += 2;
      continue;
    }
    if (c == '"') {
      *out = line.substr(start, p - start);
      *pos = p + 1;
      return true;
    }
    ++p;
  }
  return false;
}

inline std::string_view ReadToken(std::string_view line, size_t* pos) {
  size_t p = *pos;
  size_t end = line.find(' ', p);
  if (end == std::string_view::npos) end = line.size();
  *pos = end;
  return line.substr(p, end - p);
}

inline void SkipSpaces(std::string_view line, size_t* pos) {
  while (*pos < line.size() && line[*pos] == ' ') ++*pos;
}

inline void SetNumber(Field f, std::string_view text, Event* ev) {
  if (text.empty() || text == "-") return;
  ev->Set(f, text);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return;
  if (f == Field::kHttpResponseStatusCode && v >= 0 && v < 1000) {
    ev->set_status_code(static_cast<int>(v));
  } else if (f == Field::kHttpResponseBodyBytes && v >= 0) {
    ev->set_body_bytes(v);
  }
}

// "GET /path?q HTTP/1.1" → method and URL fields. A request line that is not of that shape
// (TLS bytes sent to a plain port, "-") is kept whole in url.original so that rules still see it.
inline void SetRequestLine(std::string_view req, Event* ev) {
  if (req.empty() || req == "-") return;
  size_t sp1 = req.find(' ');
  if (sp1 == std::string_view::npos) {
    ev->Set(Field::kUrlOriginal, req);
    ev->DecodeField(Field::kUrlOriginal);
    return;
  }
  ev->Set(Field::kHttpRequestMethod, req.substr(0, sp1));
  std::string_view rest = req.substr(sp1 + 1);
  size_t sp2 = rest.rfind(' ');
  if (sp2 != std::string_view::npos && rest.substr(sp2 + 1).starts_with("HTTP/")) {
    rest = rest.substr(0, sp2);
  }
  RefSetUrlFields(rest, ev);
}

}  // namespace detail

// SetUrlFields as it was.
inline void RefSetUrlFields(std::string_view target, Event* ev) {
  ev->Set(Field::kUrlOriginal, target);
  // Bracketed IPv6 hosts lose their brackets, and every host its port and user. (Walked by
  // hand, not with std::regex, whose recursion a long fuzzed authority would overflow.)
  auto host_of = [](std::string_view authority) {
    for (size_t i = authority.size(); i-- > 0;) {
      if (authority[i] == '@') {
        authority = authority.substr(i + 1);
        break;
      }
    }
    if (!authority.empty() && authority.front() == '[') {
      for (size_t i = 1; i < authority.size(); ++i) {
        if (authority[i] == ']') return authority.substr(1, i - 1);
      }
      return std::string_view();
    }
    size_t end = 0;
    while (end < authority.size() && authority[end] != ':') ++end;
    return authority.substr(0, end);
  };
  std::string method(ev->Get(Field::kHttpRequestMethod));
  for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (method == "connect" && !target.starts_with('/') &&
      target.find('/') == std::string_view::npos) {
    std::string_view host = host_of(target);
    if (!host.empty() && !ev->Has(Field::kDestinationDomain)) {
      ev->Set(Field::kDestinationDomain, host);
    }
    ev->DecodeField(Field::kUrlOriginal);
    return;
  }
  std::string_view rest = target;
  // Only absolute URLs have a scheme, and it is short: paths are not searched.
  size_t scheme =
      (rest.empty() || rest[0] == '/') ? std::string_view::npos : rest.substr(0, 13).find("://");
  if (scheme != std::string_view::npos && scheme < 10) {
    std::string_view after = rest.substr(scheme + 3);
    size_t slash = after.find_first_of("/?");
    std::string_view host = host_of(after.substr(0, slash));
    if (!host.empty() && !ev->Has(Field::kDestinationDomain)) {
      ev->Set(Field::kDestinationDomain, host);
    }
    rest = slash == std::string_view::npos ? std::string_view() : after.substr(slash);
  }
  size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  ev->Set(Field::kUrlPath, path);
  if (q != std::string_view::npos) ev->Set(Field::kUrlQuery, rest.substr(q + 1));
  size_t last_slash = path.rfind('/');
  std::string_view leaf = last_slash == std::string_view::npos ? path : path.substr(last_slash + 1);
  size_t dot = leaf.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < leaf.size()) {
    ev->Set(Field::kUrlExtension, leaf.substr(dot + 1));
  }
  ev->DecodeField(Field::kUrlOriginal);
  ev->DecodeField(Field::kUrlPath);
  if (q != std::string_view::npos) ev->DecodeField(Field::kUrlQuery);
  // The extension of the file the server maps a decoded or resolved path to.
  ev->ResolvePath();
  if (ev->HasDistinctDecoded(Field::kUrlPath) || ev->HasDistinctResolvedPath()) {
    // The served file's extension: walking back from the end, the bytes before the first '.'
    // met, unless a '/' comes first or nothing follows the dot.
    std::string_view whole = ev->ResolvedPath();
    size_t i = whole.size();
    while (i > 0 && whole[i - 1] != '/' && whole[i - 1] != '.') --i;
    if (i > 0 && whole[i - 1] == '.' && i < whole.size()) {
      ev->Set(Field::kUrlExtension, whole.substr(i));
    } else {
      ev->Unset(Field::kUrlExtension);
    }
  }
}

// ParseAccessLogLine as it was (no time cache: each line is parsed on its own).
inline bool RefParseAccessLogLine(std::string_view line, Event* ev) {
  ev->Clear();
  if (line.size() > kMaxLineBytes) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  ev->ReserveScratch(line.size());
  // Up to four space-separated tokens before the bracketed time: [vhost:port] host ident user.
  std::array<std::string_view, 4> pre;
  size_t n = 0;
  size_t pos = 0;
  // An IPv6 virtual host, "[2001:db8::1]" or "[2001:db8::1]:443", may be the first token.
  auto bracketed_address = [](std::string_view token) {
    size_t close = token.find(']');
    if (!token.starts_with('[') || close == std::string_view::npos) return false;
    std::string_view inside = token.substr(1, close - 1);
    std::string_view port = token.substr(close + 1);
    if (inside.find(':') == std::string_view::npos ||
        inside.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return false;
    }
    return port.empty() || (port.size() > 1 && port[0] == ':' &&
                            port.find_first_not_of("0123456789", 1) == std::string_view::npos);
  };
  if (size_t space = line.find(' ');
      space != std::string_view::npos && bracketed_address(line.substr(0, space))) {
    pre[n++] = line.substr(0, space);
    pos = space;
    detail::SkipSpaces(line, &pos);
  }
  while (pos < line.size() && line[pos] != '[') {
    if (n == pre.size()) return false;
    pre[n++] = detail::ReadToken(line, &pos);
    if (pre[n - 1].empty()) return false;
    detail::SkipSpaces(line, &pos);
  }
  if (n != 3 && n != 4) return false;
  if (n == 3 && line[0] == '[') return false;  // an address in brackets is only the vhost
  size_t close = line.find(']', pos);
  if (close == std::string_view::npos) return false;
  auto ts = detail::ParseApacheTime(line.substr(pos + 1, close - pos - 1));
  if (!ts) return false;
  pos = close + 1;
  detail::SkipSpaces(line, &pos);
  std::string_view request;
  if (!detail::ReadQuoted(line, &pos, &request)) return false;
  detail::SkipSpaces(line, &pos);
  std::string_view status = detail::ReadToken(line, &pos);
  detail::SkipSpaces(line, &pos);
  std::string_view bytes = detail::ReadToken(line, &pos);
  if (!(status == "-" || (status.size() == 3 && detail::AllDigits(status)))) return false;
  if (!(bytes == "-" || detail::AllDigits(bytes))) return false;

  ev->Set(Field::kEventOriginal, line);
  ev->set_timestamp_millis(*ts);
  size_t first = 0;
  if (n == 4) {
    std::string_view vhost = pre[0];
    // "host:port", or "[v6]:port".
    size_t colon = vhost.rfind(':');
    if (colon != std::string_view::npos && detail::AllDigits(vhost.substr(colon + 1))) {
      vhost = vhost.substr(0, colon);
    }
    if (vhost.size() > 2 && vhost.front() == '[' && vhost.back() == ']') {
      vhost = vhost.substr(1, vhost.size() - 2);
    }
    ev->Set(Field::kDestinationDomain, vhost);
    first = 1;
  }
  ev->Set(Field::kSourceIp, pre[first]);
  if (pre[first + 2] != "-") ev->Set(Field::kUserName, pre[first + 2]);
  detail::SetRequestLine(request, ev);
  detail::SetNumber(Field::kHttpResponseStatusCode, status, ev);
  detail::SetNumber(Field::kHttpResponseBodyBytes, bytes, ev);
  detail::SkipSpaces(line, &pos);
  std::string_view referrer, agent;
  if (detail::ReadQuoted(line, &pos, &referrer)) {
    if (referrer != "-") ev->Set(Field::kHttpRequestReferrer, referrer);
    detail::SkipSpaces(line, &pos);
    if (detail::ReadQuoted(line, &pos, &agent)) {
      if (agent != "-") ev->Set(Field::kUserAgentOriginal, agent);
      // nginx's `main` format: "$http_x_forwarded_for", taken when its last hop is spelled
      // as an address is (hex digits, dots, colons, brackets).
      detail::SkipSpaces(line, &pos);
      std::string_view forwarded;
      if (detail::ReadQuoted(line, &pos, &forwarded) && forwarded != "-") {
        std::string_view last = forwarded.substr(forwarded.find_last_of(',') + 1);
        const size_t begin = last.find_first_not_of(" \t");
        const size_t end = last.find_last_not_of(" \t");
        last = begin == std::string_view::npos ? std::string_view()
                                               : last.substr(begin, end - begin + 1);
        if (!last.empty() &&
            last.find_first_not_of("0123456789abcdefABCDEF.:[]") == std::string_view::npos) {
          ev->Set(Field::kHttpRequestXForwardedFor, forwarded);
        }
      }
    }
  }
  return true;
}

// The first difference between two parsed events over everything the parser sets (presence,
// raw and decoded value of every field, time, status, size), as "<what>: '<got>' != '<want>'";
// empty when they are the same.
inline std::string EventDifference(const Event& got, const Event& want) {
  auto quote = [](std::string_view s) { return "'" + std::string(s) + "'"; };
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto f = static_cast<Field>(i);
    if (got.Has(f) != want.Has(f)) {
      return std::string(FieldName(f)) + " present: " + std::to_string(got.Has(f)) +
             " != " + std::to_string(want.Has(f));
    }
  }
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto f = static_cast<Field>(i);
    std::string name(FieldName(f));
    if (got.Get(f) != want.Get(f)) {
      return name + ": " + quote(got.Get(f)) + " != " + quote(want.Get(f));
    }
    if (got.HasDistinctDecoded(f) != want.HasDistinctDecoded(f)) {
      return name + " has a distinct decoded value: " + std::to_string(got.HasDistinctDecoded(f)) +
             " != " + std::to_string(want.HasDistinctDecoded(f));
    }
    if (got.Decoded(f) != want.Decoded(f)) {
      return name + " decoded: " + quote(got.Decoded(f)) + " != " + quote(want.Decoded(f));
    }
  }
  if (got.timestamp_millis() != want.timestamp_millis()) {
    return "timestamp: " + std::to_string(got.timestamp_millis()) +
           " != " + std::to_string(want.timestamp_millis());
  }
  if (got.status_code() != want.status_code()) {
    return "status code: " + std::to_string(got.status_code()) +
           " != " + std::to_string(want.status_code());
  }
  if (got.body_bytes() != want.body_bytes()) {
    return "body bytes: " + std::to_string(got.body_bytes()) +
           " != " + std::to_string(want.body_bytes());
  }
  if (got.present_mask() != want.present_mask()) {
    return "present mask: " + std::to_string(got.present_mask()) +
           " != " + std::to_string(want.present_mask());
  }
  return "";
}

}  // namespace rampart::detect::reference
