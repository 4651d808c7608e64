#include "detect/log_parser.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/forwarded.h"
#include "common/text.h"
#include "detect/custom_log_format.h"

namespace rampart::detect {

// Howard Hinnant's days_from_civil.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

namespace {

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

bool IsDecimalDigit(char c) {
  return c >= '0' && c <= '9';
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

#if defined(__SSE2__)
// Bit k set when byte k of the sixteen at p is a or b.
[[gnu::always_inline]] inline unsigned EitherMask(const char* p, char a, char b) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return static_cast<unsigned>(_mm_movemask_epi8(
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(a)), _mm_cmpeq_epi8(v, _mm_set1_epi8(b)))));
}
#endif

// The first index in [i, n) holding a or b, else n. Quoted fields run to tens or hundreds of
// bytes: sixteen at a time finds their end in one pass, where memchr for the quote and again
// for a backslash took two.
[[gnu::always_inline]] inline size_t FindEither(const char* s, size_t i, size_t n, char a, char b) {
  if (i >= n) return n;
#if defined(__SSE2__)
  if (n >= 16) {
    auto mask = [&](size_t at) { return EitherMask(s + at, a, b); };
    for (; i + 16 <= n; i += 16) {
      if (unsigned m = mask(i); m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
    }
    if (i == n) return n;
    // The short rest as the last sixteen bytes, without those before i (already ruled out).
    unsigned m = mask(n - 16) >> (i - (n - 16));
    return m != 0 ? i + static_cast<size_t>(__builtin_ctz(m)) : n;
  }
#endif
  for (; i < n; ++i) {
    if (s[i] == a || s[i] == b) return i;
  }
  return n;
}

// The last index in [0, n) holding a or b, else npos: FindEither backwards, for the last
// segment of a path (a dozen bytes or more, walked one at a time before).
[[gnu::always_inline]] inline size_t FindLastEither(const char* s, size_t n, char a, char b) {
#if defined(__SSE2__)
  if (n >= 16) {
    auto mask = [&](size_t at) { return EitherMask(s + at, a, b); };
    size_t i = n;
    for (; i >= 16; i -= 16) {
      if (unsigned m = mask(i - 16); m != 0) return i - 16 + (31 - __builtin_clz(m));
    }
    if (i == 0) return std::string_view::npos;
    // The first i bytes, as the first sixteen: those from i on held neither (the loop's last
    // block covered them).
    unsigned m = mask(0);
    return m != 0 ? static_cast<size_t>(31 - __builtin_clz(m)) : std::string_view::npos;
  }
#endif
  for (size_t i = n; i > 0; --i) {
    if (s[i - 1] == a || s[i - 1] == b) return i - 1;
  }
  return std::string_view::npos;
}

// Reads a double-quoted field starting at s[*pos] == '"'. Apache and nginx escape '"' inside
// as \" (or \x22), so a backslash skips the next byte. Returns the content without quotes.
bool ReadQuoted(const char* s, size_t n, size_t* pos, std::string_view* out) {
  size_t p = *pos;
  if (p >= n || s[p] != '"') return false;
  size_t start = ++p;
  p = FindEither(s, p, n, '"', '\\');
  while (p < n) {
    if (s[p] == '"') {
      *out = std::string_view(s + start, p - start);
      *pos = p + 1;
      return true;
    }
    // A backslash: the escaped byte is skipped whatever it is.
    p += 2;
    if (p >= n) return false;
    p = FindEither(s, p, n, '"', '\\');
  }
  return false;
}

size_t SkipSpaces(const char* s, size_t n, size_t pos) {
  while (pos < n && s[pos] == ' ') ++pos;
  return pos;
}

size_t TokenEnd(const char* s, size_t n, size_t pos) {
  return FindEither(s, pos, n, ' ', ' ');
}

bool IsDash(std::string_view s) {
  return s.size() == 1 && s[0] == '-';
}

// Whether a quoted field could be an X-Forwarded-For list, from its last hop alone: the one the
// nearest proxy wrote, an address ("192.0.2.1", "2001:db8::1", "[2001:db8::1]:443"). What the
// client wrote left of it must not decide, else a client could keep the field from being read
// (and hide behind the proxy's address) by sending a header of letters.
bool LooksLikeForwardedFor(std::string_view field) {
  size_t comma = field.rfind(',');
  std::string_view last = comma == std::string_view::npos ? field : field.substr(comma + 1);
  // Trimmed as the hop is read (common/forwarded.cc).
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  if (last.empty()) return false;
  for (char c : last) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != '.' && c != ':' && c != '[' && c != ']') return false;
  }
  return true;
}

// Whether the token at pos is an IPv6 virtual host, "[2001:db8::1]" or "[2001:db8::1]:443",
// rather than the bracketed time: the EPMM log's first field when the server is reached by
// address. The time holds '/' and a space inside its brackets; an address holds neither.
bool IsBracketedAddress(const char* s, size_t n, size_t pos) {
  if (pos >= n || s[pos] != '[') return false;
  size_t i = pos + 1;
  bool colon = false;
  for (; i < n && s[i] != ']'; ++i) {
    char c = s[i];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return false;
    colon |= c == ':';
  }
  if (i >= n || !colon) return false;
  ++i;  // past ']'
  if (i < n && s[i] == ':') {
    size_t digits = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == digits) return false;
  }
  return i < n && s[i] == ' ';
}

}  // namespace

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
  size_t sp1 = FindEither(req.data(), 0, req.size(), ' ', ' ');
  if (sp1 == req.size()) {
    ev->Set(Field::kUrlOriginal, req);
    ev->DecodeField(Field::kUrlOriginal);
    return;
  }
  ev->Set(Field::kHttpRequestMethod, req.substr(0, sp1));
  std::string_view rest = req.substr(sp1 + 1);
  // The usual ending, " HTTP/1.1": its space is the last one, found without walking back.
  const size_t n = rest.size();
  if (n >= 9 && rest[n - 9] == ' ' && std::memcmp(rest.data() + n - 8, "HTTP/", 5) == 0 &&
      rest[n - 3] != ' ' && rest[n - 2] != ' ' && rest[n - 1] != ' ') {
    rest = rest.substr(0, n - 9);
  } else if (size_t sp2 = rest.rfind(' ');
             sp2 != std::string_view::npos && rest.substr(sp2 + 1).starts_with("HTTP/")) {
    rest = rest.substr(0, sp2);
  }
  SetUrlFields(rest, ev);
}

std::string_view VirtualHostName(std::string_view vhost) {
  // "host:port", or "[v6]:port".
  size_t colon = vhost.rfind(':');
  if (colon != std::string_view::npos &&
      AllDigits(std::string_view(vhost.data() + colon + 1, vhost.size() - colon - 1))) {
    vhost = std::string_view(vhost.data(), colon);
  }
  if (vhost.size() > 2 && vhost.front() == '[' && vhost.back() == ']') {
    vhost = std::string_view(vhost.data() + 1, vhost.size() - 2);
  }
  return vhost;
}

namespace {

// Maps the JSON key (flattened with dots) to a field. ECS names map to themselves.
struct JsonAlias {
  std::string_view key;
  Field field;
};
constexpr std::array<JsonAlias, 36> kJsonAliases = {{
    {"remote_addr", Field::kSourceIp},
    {"client.ip", Field::kSourceIp},
    {"url.full", Field::kUrlOriginal},
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
    {"user-agent", Field::kUserAgentOriginal},
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
    {"http_x_forwarded_for", Field::kHttpRequestXForwardedFor},
    {"x_forwarded_for", Field::kHttpRequestXForwardedFor},
    {"x-forwarded-for", Field::kHttpRequestXForwardedFor},
}};

std::optional<Field> JsonKeyField(std::string_view key) {
  if (auto f = FieldFromName(key)) return f;
  static const std::unordered_map<std::string_view, Field> kByAlias = [] {
    std::unordered_map<std::string_view, Field> m;
    for (const auto& a : kJsonAliases) m.emplace(a.key, a.field);
    return m;
  }();
  auto it = kByAlias.find(key);
  if (it != kByAlias.end()) return it->second;
  // Shippers write header keys as they were sent ("X-Forwarded-For", "User-Agent"): the aliases
  // are compared without case.
  if (std::none_of(key.begin(), key.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return std::nullopt;
  }
  std::string lower(key);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  it = kByAlias.find(lower);
  return it == kByAlias.end() ? std::nullopt : std::optional<Field>(it->second);
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
      // Seconds or milliseconds before or after 1970; beyond year 9999 either way it is no time
      // (and converting it would overflow).
      if (v.is_number_float()) {
        const double seconds = v.get<double>();
        if (std::isfinite(seconds) && std::fabs(seconds) * 1000 <= kMaxLogEpochMillis) {
          st->epoch = static_cast<int64_t>(seconds * 1000);
          st->has_epoch = true;
        }
      } else if (v.is_number_integer() &&
                 !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{kMaxLogEpochMillis})) {
        const auto n = v.get<int64_t>();
        if (n >= -kMaxLogEpochMillis && n <= kMaxLogEpochMillis) {
          st->epoch = n;
          st->has_epoch = true;
        }
      }
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
    case LogFormat::kCustom:
      return "custom";
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

namespace internal {
namespace {

// memcmp(a, b, n) == 0 for the few bytes of a time, without a library call.
bool SameBytes(const char* a, const char* b, size_t n) {
  // Whole words, the last one overlapping the others, so that no byte loop is left.
  if (n >= 8) {
    uint64_t x, y;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    uint32_t x, y, u, v;
    std::memcpy(&x, a, 4);
    std::memcpy(&y, b, 4);
    std::memcpy(&u, a + n - 4, 4);
    std::memcpy(&v, b + n - 4, 4);
    return x == y && u == v;
  }
  for (; n > 0; --n, ++a, ++b) {
    if (*a != *b) return false;
  }
  return true;
}

}  // namespace

std::optional<int64_t> ApacheTimeCache::Parse(std::string_view t) {
  // Only the seconds may differ from the remembered time: its day, minute and zone were valid.
  if (t.size() == key_size_ && t.size() >= 20 && SameBytes(t.data(), key_, 18) &&
      SameBytes(t.data() + 20, key_ + 20, t.size() - 20)) {
    char hi = t[18], lo = t[19];
    if (hi < '0' || hi > '9' || lo < '0' || lo > '9') return std::nullopt;
    int sec = (hi - '0') * 10 + (lo - '0');
    if (sec > 60) return std::nullopt;
    return minute_millis_ + sec * 1000;
  }
  std::optional<int64_t> ms = ParseApacheTime(t);
  if (ms && t.size() <= sizeof(key_)) {
    std::memcpy(key_, t.data(), t.size());
    key_size_ = t.size();
    minute_millis_ = *ms - ((t[18] - '0') * 10 + (t[19] - '0')) * 1000;
  }
  return ms;
}

}  // namespace internal

namespace {

// url.extension as the server sees the file, when the path is spelled so that its raw form
// tells another: "/403.jsp;jsessionid=1" and "/403%2ejsp" are .jsp files.
void SetServerExtension(Event* ev) {
  std::string_view path = ev->ResolvedPath();
  size_t slash = path.rfind('/');
  std::string_view leaf = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = leaf.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= leaf.size()) {
    ev->Unset(Field::kUrlExtension);  // "/x.jsp%2fy" names y, which has none
    return;
  }
  std::string_view extension = leaf.substr(dot + 1);
  if (extension != ev->Get(Field::kUrlExtension)) ev->Set(Field::kUrlExtension, extension);
}

// The host of a URL's authority ("user@host:port", "[2001:db8::1]:443"), without brackets or
// port; empty when there is none.
std::string_view AuthorityHost(std::string_view authority) {
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    return close == std::string_view::npos ? std::string_view() : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool IsConnect(std::string_view method) {
  constexpr std::string_view kConnect = "connect";
  if (method.size() != kConnect.size()) return false;
  for (size_t i = 0; i < kConnect.size(); ++i) {
    if (AsciiLower(method[i]) != kConnect[i]) return false;
  }
  return true;
}

// SetUrlFields for a target that is not a plain path: absolute URLs, "*", anything odd.
void SetOtherUrlFields(std::string_view target, Event* ev) {
  // A proxy's CONNECT names host:port, the tunnel's far end, and no resource.
  if (IsConnect(ev->Get(Field::kHttpRequestMethod)) && target.find('/') == std::string_view::npos) {
    std::string_view host = AuthorityHost(target);
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
    std::string_view host = AuthorityHost(after.substr(0, slash));
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
  ev->ResolvePath();
  if (ev->HasDistinctDecoded(Field::kUrlPath) || ev->HasDistinctResolvedPath()) {
    SetServerExtension(ev);
  }
}

}  // namespace

void SetUrlFields(std::string_view target, Event* ev) {
  ev->Set(Field::kUrlOriginal, target);
  if (target.empty() || target[0] != '/') {
    SetOtherUrlFields(target, ev);
    return;
  }
  // A path, the usual case: one pass finds the query and whether anything needs decoding.
  const char* s = target.data();
  const size_t n = target.size();
  size_t q = FindEither(s, 0, n, '?', '%');
  bool path_escaped = false;
  if (q < n && s[q] == '%') {
    path_escaped = true;
    q = FindEither(s, q + 1, n, '?', '?');
  }
  bool query_escaped = q < n && std::memchr(s + q + 1, '%', n - q - 1) != nullptr;
  ev->Set(Field::kUrlPath, std::string_view(s, q));
  if (q < n) ev->Set(Field::kUrlQuery, std::string_view(s + q + 1, n - q - 1));
  // The extension follows the last dot of the last segment; the path starts with '/'.
  size_t last = FindLastEither(s, q, '/', '.');
  if (last != std::string_view::npos && s[last] == '.' && last + 1 < q) {
    ev->Set(Field::kUrlExtension, std::string_view(s + last + 1, q - last - 1));
  }
  if (path_escaped || query_escaped) ev->DecodeField(Field::kUrlOriginal);
  if (path_escaped) ev->DecodeField(Field::kUrlPath);
  if (query_escaped) ev->DecodeField(Field::kUrlQuery);
  ev->ResolvePath();
  if (ev->HasDistinctDecoded(Field::kUrlPath) || ev->HasDistinctResolvedPath()) {
    SetServerExtension(ev);
  }
}

bool ParseAccessLogLine(std::string_view line, Event* ev) {
  ev->Clear();
  if (line.size() > kMaxLineBytes) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  ev->ReserveScratch(line.size());
  const char* s = line.data();
  const size_t n = line.size();
  // Up to four space-separated tokens before the bracketed time: [vhost:port] host ident user.
  std::array<std::string_view, 4> pre;
  size_t count = 0;
  size_t pos = 0;
  while (pos < n && (s[pos] != '[' || (count == 0 && IsBracketedAddress(s, n, pos)))) {
    if (count == pre.size()) return false;
    size_t end = TokenEnd(s, n, pos);
    if (end == pos) return false;
    pre[count++] = std::string_view(s + pos, end - pos);
    pos = SkipSpaces(s, n, end);
  }
  if (count != 3 && count != 4) return false;
  // A bracketed address is taken only as the EPMM prefix, never as the client.
  if (count == 3 && s[0] == '[') return false;
  if (pos >= n) return false;
  // Consecutive lines share their time up to the second: one cache per thread (the parser is a
  // free function called from several threads).
  thread_local internal::ApacheTimeCache time_cache;
  // "dd/Mon/yyyy:HH:MM:SS +hhmm" is the usual length. A time that parses holds no ']', so when
  // it parses up to a ']' there, that is the first ']' as the general path would find it.
  constexpr size_t kUsualTime = 26;
  std::optional<int64_t> ts;
  size_t close = pos + kUsualTime + 1;
  if (close < n && s[close] == ']') {
    ts = time_cache.Parse(std::string_view(s + pos + 1, kUsualTime));
  }
  if (!ts) {
    const void* found = std::memchr(s + pos, ']', n - pos);
    if (found == nullptr) return false;
    close = static_cast<size_t>(static_cast<const char*>(found) - s);
    ts = time_cache.Parse(std::string_view(s + pos + 1, close - pos - 1));
    if (!ts) return false;
  }
  pos = SkipSpaces(s, n, close + 1);
  std::string_view request;
  if (!ReadQuoted(s, n, &pos, &request)) return false;
  pos = SkipSpaces(s, n, pos);
  size_t status_end = TokenEnd(s, n, pos);
  std::string_view status(s + pos, status_end - pos);
  pos = SkipSpaces(s, n, status_end);
  size_t bytes_end = TokenEnd(s, n, pos);
  std::string_view bytes(s + pos, bytes_end - pos);
  pos = bytes_end;
  int status_code = -1;
  if (status.size() == 3 && IsDecimalDigit(status[0]) && IsDecimalDigit(status[1]) &&
      IsDecimalDigit(status[2])) {
    status_code = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
  } else if (!IsDash(status)) {
    return false;
  }
  // Up to 18 digits cannot overflow int64; longer sizes go through from_chars (SetNumber).
  uint64_t body_bytes = 0;
  if (!IsDash(bytes)) {
    if (bytes.empty()) return false;
    for (char c : bytes) {
      if (!IsDecimalDigit(c)) return false;
      body_bytes = body_bytes * 10 + static_cast<uint64_t>(c - '0');
    }
  }

  ev->Set(Field::kEventOriginal, line);
  ev->set_timestamp_millis(*ts);
  size_t first = 0;
  if (count == 4) {
    ev->Set(Field::kDestinationDomain, VirtualHostName(pre[0]));
    first = 1;
  }
  ev->Set(Field::kSourceIp, pre[first]);
  if (!IsDash(pre[first + 2])) ev->Set(Field::kUserName, pre[first + 2]);
  SetRequestLine(request, ev);
  if (status_code >= 0) {
    ev->Set(Field::kHttpResponseStatusCode, status);
    ev->set_status_code(status_code);
  }
  if (!IsDash(bytes)) {
    if (bytes.size() <= 18) {
      ev->Set(Field::kHttpResponseBodyBytes, bytes);
      ev->set_body_bytes(static_cast<int64_t>(body_bytes));
    } else {
      SetNumber(Field::kHttpResponseBodyBytes, bytes, ev);
    }
  }
  pos = SkipSpaces(s, n, pos);
  std::string_view referrer, agent;
  if (ReadQuoted(s, n, &pos, &referrer)) {
    if (!IsDash(referrer)) ev->Set(Field::kHttpRequestReferrer, referrer);
    pos = SkipSpaces(s, n, pos);
    if (ReadQuoted(s, n, &pos, &agent)) {
      if (!IsDash(agent)) ev->Set(Field::kUserAgentOriginal, agent);
      // nginx's `main` format logs "$http_x_forwarded_for" next. Another format's third quoted
      // field (a cookie, a host name with a port) is not taken for it unless it could be a list
      // of hops.
      pos = SkipSpaces(s, n, pos);
      std::string_view forwarded;
      if (ReadQuoted(s, n, &pos, &forwarded) && !IsDash(forwarded) &&
          LooksLikeForwardedFor(forwarded)) {
        ev->Set(Field::kHttpRequestXForwardedFor, forwarded);
      }
    }
  }
  return true;
}

Attribution AttributeToForwardedClient(const ProxyTrust& trust, Event* ev) {
  if (trust.proxies.empty()) return Attribution::kNotFromProxy;
  const std::string_view peer = ev->Get(Field::kSourceIp);
  if (!ev->Has(Field::kHttpRequestXForwardedFor)) {
    return IsTrustedProxy(peer, trust) ? Attribution::kNoClientNamed : Attribution::kNotFromProxy;
  }
  const std::string_view values[] = {ev->Get(Field::kHttpRequestXForwardedFor)};
  ForwardedClient client = ClientAddressFromValues(peer, values, trust);
  if (!client.from_proxy) return Attribution::kNotFromProxy;
  if (!client.named) return Attribution::kNoClientNamed;
  ev->SetCopy(Field::kSourceIp, client.address);
  return Attribution::kForwardedClient;
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
  } else if (ev->Has(Field::kUrlPath)) {
    // URL fields given as they are (or a request line that set none): rules still see their
    // decoded and resolved forms. Decoding again what is decoded gives the same form.
    for (Field f : {Field::kUrlOriginal, Field::kUrlPath, Field::kUrlQuery}) {
      if (ev->Has(f) && !ev->HasDistinctDecoded(f)) ev->DecodeField(f);
    }
    ev->ResolvePath();
  }
  if (!st.time.empty()) {
    if (auto ts = ParseLogTime(st.time)) ev->set_timestamp_millis(*ts);
  } else if (st.has_epoch) {
    // Seconds or milliseconds: anything before 2001 in milliseconds is taken as seconds.
    ev->set_timestamp_millis(
        st.epoch < 1'000'000'000'000 && st.epoch > -1'000'000'000'000 ? st.epoch * 1000 : st.epoch);
  }
  return true;
}

bool ParseInOtherFamily(std::string_view line, LogFormat format, Event* ev) {
  if (format == LogFormat::kCustom) return false;
  return format == LogFormat::kJsonLines ? ParseAccessLogLine(line, ev) : ParseJsonLine(line, ev);
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
      // The EPMM prefix shows as a destination.domain taken from the first token ("[v6]" in
      // brackets); an absolute request target sets one too, elsewhere in the line.
      std::string_view domain = ev.Get(Field::kDestinationDomain);
      std::string_view original = ev.Get(Field::kEventOriginal);
      if (!domain.empty() &&
          (original.starts_with(domain) ||
           (original.starts_with('[') && original.substr(1).starts_with(domain)))) {
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
  bool ok;
  if (format_ == LogFormat::kCustom) {
    ok = layout_ != nullptr && layout_->Parse(line, ev);
  } else {
    ok = format_ == LogFormat::kJsonLines ? ParseJsonLine(line, ev) : ParseAccessLogLine(line, ev);
  }
  if (!ok) ++errors_;
  return ok;
}

}  // namespace rampart::detect
