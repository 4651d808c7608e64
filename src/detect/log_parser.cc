#include "detect/log_parser.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string>

namespace rampart::detect {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
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

int MonthFromAbbrev(std::string_view m) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == m) return static_cast<int>(i) + 1;
  }
  return 0;
}

std::optional<int64_t> ToMillis(int y, int mo, int d, int h, int mi, int s, int64_t frac_ms,
                                int offset_minutes) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_minutes * 60;
  return secs * 1000 + frac_ms;
}

// "+0100", "-07:00", "Z" → minutes east of UTC.
bool ParseOffset(std::string_view s, int* minutes) {
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

std::optional<int64_t> ParseApacheTime(std::string_view t) {
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

std::optional<int64_t> ParseIsoTime(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (!Digits(t, 0, 4, &y) || t.size() < 19 || t[4] != '-' || !Digits(t, 5, 2, &mo) ||
      t[7] != '-' || !Digits(t, 8, 2, &d) || (t[10] != 'T' && t[10] != ' ' && t[10] != 't') ||
      !Digits(t, 11, 2, &h) || t[13] != ':' || !Digits(t, 14, 2, &mi) || t[16] != ':' ||
      !Digits(t, 17, 2, &s)) {
    return std::nullopt;
  }
  size_t p = 19;
  int64_t frac_ms = 0;
  if (p < t.size() && (t[p] == '.' || t[p] == ',')) {
    ++p;
    int digits = 0;
    while (p < t.size() && t[p] >= '0' && t[p] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (t[p] - '0');
      ++digits;
      ++p;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) frac_ms *= 10;
  }
  int offset = 0;
  if (!ParseOffset(t.substr(p), &offset)) return std::nullopt;
  return ToMillis(y, mo, d, h, mi, s, frac_ms, offset);
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Reads a double-quoted field starting at line[*pos] == '"'. Apache and nginx escape '"' inside
// as \" (or \x22), so a backslash skips the next byte. Returns the content without quotes.
bool ReadQuoted(std::string_view line, size_t* pos, std::string_view* out) {
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

std::string_view ReadToken(std::string_view line, size_t* pos) {
  size_t p = *pos;
  size_t end = line.find(' ', p);
  if (end == std::string_view::npos) end = line.size();
  *pos = end;
  return line.substr(p, end - p);
}

void SkipSpaces(std::string_view line, size_t* pos) {
  while (*pos < line.size() && line[*pos] == ' ') ++*pos;
}

void SetNumber(Field f, std::string_view text, Event* ev) {
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
void SetRequestLine(std::string_view req, Event* ev) {
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
  SetUrlFields(rest, ev);
}

// Maps the JSON key (flattened with dots) to a field. ECS names map to themselves.
struct JsonAlias {
  std::string_view key;
  Field field;
};
constexpr std::array<JsonAlias, 30> kJsonAliases = {{
    {"remote_addr", Field::kSourceIp},
    {"client_ip", Field::kSourceIp},
    {"clientip", Field::kSourceIp},
    {"src_ip", Field::kSourceIp},
    {"c-ip", Field::kSourceIp},
    {"request_uri", Field::kUrlOriginal},
    {"uri", Field::kUrlOriginal},
    {"url", Field::kUrlOriginal},
    {"request_method", Field::kHttpRequestMethod},
    {"method", Field::kHttpRequestMethod},
    {"status", Field::kHttpResponseStatusCode},
    {"status_code", Field::kHttpResponseStatusCode},
    {"body_bytes_sent", Field::kHttpResponseBodyBytes},
    {"bytes", Field::kHttpResponseBodyBytes},
    {"bytes_sent", Field::kHttpResponseBodyBytes},
    {"http_user_agent", Field::kUserAgentOriginal},
    {"user_agent", Field::kUserAgentOriginal},
    {"useragent", Field::kUserAgentOriginal},
    {"http_referer", Field::kHttpRequestReferrer},
    {"referer", Field::kHttpRequestReferrer},
    {"referrer", Field::kHttpRequestReferrer},
    {"remote_user", Field::kUserName},
    {"user", Field::kUserName},
    {"username", Field::kUserName},
    {"host", Field::kDestinationDomain},
    {"http_host", Field::kDestinationDomain},
    {"server_name", Field::kDestinationDomain},
    {"hostname", Field::kHostName},
    {"action", Field::kEventAction},
    {"http_cookie", Field::kHttpRequestCookie},
}};

std::optional<Field> JsonKeyField(std::string_view key) {
  if (auto f = FieldFromName(key)) return f;
  for (const auto& a : kJsonAliases) {
    if (a.key == key) return a.field;
  }
  return std::nullopt;
}

struct JsonState {
  std::string_view request;  // nginx $request, parsed after the other fields
  std::string_view time;
  int64_t epoch = 0;
  bool has_epoch = false;
};

constexpr int kMaxJsonDepth = 6;

void FlattenJson(const nlohmann::json& obj, std::string& prefix, int depth, Event* ev,
                 JsonState* st) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    size_t keep = prefix.size();
    if (!prefix.empty()) prefix.push_back('.');
    prefix.append(it.key());
    const nlohmann::json& v = it.value();
    if (v.is_object()) {
      if (depth < kMaxJsonDepth) FlattenJson(v, prefix, depth + 1, ev, st);
    } else if (prefix == "request" && v.is_string()) {
      st->request = ev->Keep(v.get_ref<const std::string&>());
    } else if ((prefix == "@timestamp" || prefix == "timestamp" || prefix == "time" ||
                prefix == "time_local" || prefix == "time_iso8601") &&
               v.is_string()) {
      st->time = v.get_ref<const std::string&>();
    } else if ((prefix == "timestamp" || prefix == "time" || prefix == "@timestamp") &&
               v.is_number()) {
      st->epoch =
          v.is_number_float() ? static_cast<int64_t>(v.get<double>() * 1000) : v.get<int64_t>();
      st->has_epoch = true;
    } else if (auto f = JsonKeyField(prefix)) {
      if (v.is_string()) {
        std::string_view s = v.get_ref<const std::string&>();
        if (*f == Field::kHttpResponseStatusCode || *f == Field::kHttpResponseBodyBytes) {
          ev->SetCopy(*f, s);
          SetNumber(*f, ev->Get(*f), ev);
        } else {
          ev->SetCopy(*f, s);
        }
      } else if (v.is_number_integer()) {
        auto n = std::to_string(v.get<int64_t>());
        ev->SetCopy(*f, n);
        SetNumber(*f, ev->Get(*f), ev);
      } else if (v.is_boolean()) {
        ev->SetCopy(*f, v.get<bool>() ? "true" : "false");
      }
    }
    prefix.resize(keep);
  }
}

}  // namespace

std::string_view LogFormatName(LogFormat format) {
  switch (format) {
    case LogFormat::kAuto:
      return "auto";
    case LogFormat::kCommon:
      return "common";
    case LogFormat::kCombined:
      return "combined";
    case LogFormat::kEpmm:
      return "epmm";
    case LogFormat::kJsonLines:
      return "jsonl";
  }
  return "unknown";
}

std::optional<LogFormat> LogFormatFromName(std::string_view name) {
  for (auto f : {LogFormat::kAuto, LogFormat::kCommon, LogFormat::kCombined, LogFormat::kEpmm,
                 LogFormat::kJsonLines}) {
    if (LogFormatName(f) == name) return f;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseLogTime(std::string_view text) {
  if (text.size() >= 3 && text[2] == '/') return ParseApacheTime(text);
  return ParseIsoTime(text);
}

void SetUrlFields(std::string_view target, Event* ev) {
  ev->Set(Field::kUrlOriginal, target);
  std::string_view rest = target;
  // Only absolute URLs have a scheme, and it is short: paths are not searched.
  size_t scheme =
      (rest.empty() || rest[0] == '/') ? std::string_view::npos : rest.substr(0, 13).find("://");
  if (scheme != std::string_view::npos && scheme < 10) {
    std::string_view after = rest.substr(scheme + 3);
    size_t slash = after.find_first_of("/?");
    std::string_view authority = after.substr(0, slash);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority = authority.substr(at + 1);
    if (!authority.empty() && authority[0] != '[')
      authority = authority.substr(0, authority.find(':'));
    if (!authority.empty() && !ev->Has(Field::kDestinationDomain)) {
      ev->Set(Field::kDestinationDomain, authority);
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
}

bool ParseAccessLogLine(std::string_view line, Event* ev) {
  ev->Clear();
  if (line.size() > kMaxLineBytes) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  ev->ReserveScratch(line.size());
  // Up to four space-separated tokens before the bracketed time: [vhost:port] host ident user.
  std::array<std::string_view, 4> pre;
  size_t n = 0;
  size_t pos = 0;
  while (pos < line.size() && line[pos] != '[') {
    if (n == pre.size()) return false;
    pre[n++] = ReadToken(line, &pos);
    if (pre[n - 1].empty()) return false;
    SkipSpaces(line, &pos);
  }
  if (n != 3 && n != 4) return false;
  size_t close = line.find(']', pos);
  if (close == std::string_view::npos) return false;
  auto ts = ParseApacheTime(line.substr(pos + 1, close - pos - 1));
  if (!ts) return false;
  pos = close + 1;
  SkipSpaces(line, &pos);
  std::string_view request;
  if (!ReadQuoted(line, &pos, &request)) return false;
  SkipSpaces(line, &pos);
  std::string_view status = ReadToken(line, &pos);
  SkipSpaces(line, &pos);
  std::string_view bytes = ReadToken(line, &pos);
  if (!(status == "-" || (status.size() == 3 && AllDigits(status)))) return false;
  if (!(bytes == "-" || AllDigits(bytes))) return false;

  ev->Set(Field::kEventOriginal, line);
  ev->set_timestamp_millis(*ts);
  size_t first = 0;
  if (n == 4) {
    std::string_view vhost = pre[0];
    // "host:port", or "[v6]:port".
    size_t colon = vhost.rfind(':');
    if (colon != std::string_view::npos && AllDigits(vhost.substr(colon + 1))) {
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
  SetRequestLine(request, ev);
  SetNumber(Field::kHttpResponseStatusCode, status, ev);
  SetNumber(Field::kHttpResponseBodyBytes, bytes, ev);
  SkipSpaces(line, &pos);
  std::string_view referrer, agent;
  if (ReadQuoted(line, &pos, &referrer)) {
    if (referrer != "-") ev->Set(Field::kHttpRequestReferrer, referrer);
    SkipSpaces(line, &pos);
    if (ReadQuoted(line, &pos, &agent) && agent != "-") {
      ev->Set(Field::kUserAgentOriginal, agent);
    }
  }
  return true;
}

bool ParseJsonLine(std::string_view line, Event* ev) {
  ev->Clear();
  if (line.size() > kMaxLineBytes) return false;
  size_t p = line.find_first_not_of(" \t");
  if (p == std::string_view::npos || line[p] != '{') return false;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  ev->ReserveScratch(line.size());
  ev->Set(Field::kEventOriginal, line);
  std::string prefix;
  JsonState st;
  try {
    FlattenJson(j, prefix, 0, ev, &st);
  } catch (const std::exception&) {
    // Only numbers out of int64 range can throw here; treat the line as malformed.
    return false;
  }
  if (!st.request.empty()) SetRequestLine(st.request, ev);
  if (ev->Has(Field::kUrlOriginal) && !ev->Has(Field::kUrlPath)) {
    std::string_view original = ev->Get(Field::kUrlOriginal);
    SetUrlFields(original, ev);
  }
  if (!st.time.empty()) {
    if (auto ts = ParseLogTime(st.time)) ev->set_timestamp_millis(*ts);
  } else if (st.has_epoch) {
    // Seconds or milliseconds: anything before 2001 in milliseconds is taken as seconds.
    ev->set_timestamp_millis(st.epoch < 1'000'000'000'000 ? st.epoch * 1000 : st.epoch);
  }
  return true;
}

LogFormat DetectFormat(std::span<const std::string_view> sample) {
  Event ev;
  int json = 0, access = 0, vhost = 0, combined = 0;
  for (std::string_view line : sample) {
    if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
    if (ParseJsonLine(line, &ev)) {
      ++json;
      continue;
    }
    if (ParseAccessLogLine(line, &ev)) {
      ++access;
      // The EPMM prefix shows as a destination.domain taken from the first token.
      if (ev.Has(Field::kDestinationDomain) &&
          ev.Get(Field::kEventOriginal).starts_with(ev.Get(Field::kDestinationDomain))) {
        ++vhost;
      }
      if (ev.Has(Field::kUserAgentOriginal) || ev.Has(Field::kHttpRequestReferrer)) ++combined;
    }
  }
  if (json > access) return LogFormat::kJsonLines;
  if (access == 0) return LogFormat::kCombined;
  if (vhost * 2 > access) return LogFormat::kEpmm;
  return combined > 0 ? LogFormat::kCombined : LogFormat::kCommon;
}

bool LineParser::Parse(std::string_view line, Event* ev) {
  ++lines_;
  if (format_ == LogFormat::kAuto) {
    std::string_view one[] = {line};
    format_ = DetectFormat(one);
  }
  bool ok =
      format_ == LogFormat::kJsonLines ? ParseJsonLine(line, ev) : ParseAccessLogLine(line, ev);
  if (!ok) ++errors_;
  return ok;
}

}  // namespace rampart::detect
