// The single-pass access-log parser against the reference parser it replaced: the same verdict,
// the same fields (raw and decoded), the same time, status and size on every line, including
// hundreds of thousands of mutated lines that are malformed in every way a byte edit allows.
#include <gtest/gtest.h>

#include <array>
#include <charconv>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "detect/log_parser.h"

// The parser before the single-pass rewrite, verbatim but for names.
namespace rampart::detect::reference {

void RefSetUrlFields(std::string_view target, Event* ev);

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
  RefSetUrlFields(rest, ev);
}

}  // namespace

void RefSetUrlFields(std::string_view target, Event* ev) {
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

bool RefParseAccessLogLine(std::string_view line, Event* ev) {
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

}  // namespace rampart::detect::reference

namespace rampart::detect {
namespace {

const std::vector<std::string>& SeedLines() {
  static const std::vector<std::string> kLines = {
      R"(203.0.113.9 - alice [30/Jan/2026:09:15:00 +0100] "GET /mifs/c/appstore/fob/3/5/x%20y?a=%41b HTTP/1.1" 404 512 "https://ref.example/" "curl/8.0")",
      R"(198.51.100.7 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326)",
      R"(mdm.example.org:443 192.0.2.10 - - [29/Jan/2026:23:01:02 +0000] "GET /mifs/403.jsp?k0f53cf964d387=yv66vg HTTP/1.1" 200 - "-" "Mozilla/5.0")",
      R"(mdm.example.eu:443 10.61.234.179 - - [30/Jan/2026:00:00:00 +0100] "GET /mifs/user/login.jsp HTTP/1.1" 200 4312 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15")",
      R"(mdm.example.eu:443 10.244.99.106 - - [30/Jan/2026:00:00:01 +0100] "GET /mifs/css/theme2.css HTTP/1.1" 200 48213 "https://mdm.example.eu/mifs/login.jsp" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")",
      R"([2001:db8::1]:8443 2001:db8::7 - bob [01/Mar/2024:00:00:59 -02:30] "POST http://User@Evil.Example:8080/a/b.php?x=%2e%2E HTTP/1.0" 302 0 "http://r.example/%41" "ua \"quoted\" \\ end")",
      R"(1.2.3.4 - - [31/Dec/1999:23:59:60 Z] "\x16\x03\x01 garbage" 400 - "-" "-")",
      R"(1.2.3.4 - - [31/Dec/1999:23:59:59] "-" - 99999999999999999999 "-" "-" extra fields here)",
      R"(h.example:80 1.2.3.4 - - [15/Jul/2025:12:34:56 +0200] "GET /a%2/b.%41? HTTP/1.1" 200 1 "x" "y")",
      R"(1.2.3.4 - - [15/Jul/2025:12:34:56 ] "OPTIONS * HTTP/1.1" 200 1)",
      "1.2.3.4   -   -   [15/Jul/2025:12:34:56 +0000]   \"GET /x?q=%zz%4 HTTP/1.1\"   200   10   "
      "\"-\"   \"ua\"\r\n",
  };
  return kLines;
}

void ExpectSameEvent(const Event& got, const Event& want, const std::string& line) {
  ASSERT_EQ(got.present_mask(), want.present_mask()) << line;
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto f = static_cast<Field>(i);
    ASSERT_EQ(got.Get(f), want.Get(f)) << FieldName(f) << " in " << line;
    ASSERT_EQ(got.HasDistinctDecoded(f), want.HasDistinctDecoded(f)) << FieldName(f) << " " << line;
    ASSERT_EQ(got.Decoded(f), want.Decoded(f)) << FieldName(f) << " in " << line;
  }
  ASSERT_EQ(got.timestamp_millis(), want.timestamp_millis()) << line;
  ASSERT_EQ(got.status_code(), want.status_code()) << line;
  ASSERT_EQ(got.body_bytes(), want.body_bytes()) << line;
}

void ExpectSameParse(const std::string& line) {
  Event got, want;
  bool ok = ParseAccessLogLine(line, &got);
  bool ref = reference::RefParseAccessLogLine(line, &want);
  ASSERT_EQ(ok, ref) << line;
  if (ok) ExpectSameEvent(got, want, line);
}

// Bytes that change how a line splits, quotes, decodes or reads as a time.
constexpr std::string_view kInteresting = " \"\\[]%?/.:-+#@0123456789aAzZ\t\r\nJanFebDec";

std::string Mutate(std::string line, std::mt19937_64& rng) {
  int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    char c = kInteresting[rng() % kInteresting.size()];
    size_t at = line.empty() ? 0 : rng() % (line.size() + 1);
    switch (rng() % 5) {
      case 0:
      case 1:
        if (at < line.size()) line[at] = c;
        break;
      case 2:
        line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), c);
        break;
      case 3:
        if (at < line.size()) line.erase(at, 1 + rng() % 4);
        break;
      default:
        line.resize(at);
        break;
    }
  }
  return line;
}

TEST(LogParserEquivalenceTest, SeedLinesParseAsBefore) {
  for (const std::string& line : SeedLines()) ExpectSameParse(line);
}

TEST(LogParserEquivalenceTest, MutatedLinesParseAsBefore) {
  std::mt19937_64 rng(20260130);
  for (int i = 0; i < 300000; ++i) {
    const std::string& seed = SeedLines()[rng() % SeedLines().size()];
    ExpectSameParse(Mutate(seed, rng));
    if (HasFatalFailure()) return;
  }
}

// Consecutive lines share the time prefix the parser remembers: every change of second,
// minute, hour, day, month, year and zone, and every malformed second, must still parse as the
// reference parses it.
TEST(LogParserEquivalenceTest, TimestampSequencesParseAsBefore) {
  const std::string head = R"(1.2.3.4 - - [)";
  const std::string tail = R"(] "GET / HTTP/1.1" 200 1)";
  const std::vector<std::string> times = {
      "30/Jan/2026:00:00:00 +0100", "30/Jan/2026:00:00:01 +0100",  "30/Jan/2026:00:00:59 +0100",
      "30/Jan/2026:00:00:60 +0100", "30/Jan/2026:00:00:61 +0100",  "30/Jan/2026:00:00:0x +0100",
      "30/Jan/2026:00:00:x0 +0100", "30/Jan/2026:00:01:00 +0100",  "30/Jan/2026:00:01:00 +0000",
      "30/Jan/2026:00:01:00 -0100", "30/Jan/2026:00:01:00 +01:00", "30/Jan/2026:00:01:00",
      "30/Jan/2026:00:01:01",       "30/Jan/2026:00:01:01 Z",      "30/Jan/2026:00:01:02 z",
      "30/Jan/2026:00:01:02 ",      "30/Jan/2026:01:01:02 +0100",  "31/Jan/2026:01:01:02 +0100",
      "31/Feb/2026:01:01:02 +0100", "31/Feb/2027:01:01:02 +0100",  "31/Foo/2027:01:01:02 +0100",
      "31/Feb/2027:24:01:02 +0100", "31/Feb/2027:23:60:02 +0100",  "32/Feb/2027:23:59:02 +0100",
      "29/Feb/2028:23:59:02 +0100", "29/Feb/2028:23:59:03 +0100",  "29/Feb/2028:23:59:03 +01000",
      "29/Feb/2028:23:59:03 +010",  "01/Jan/0000:00:00:00 +0000",  "01/Jan/0000:00:00:01 +0000",
      "01/Jan/9999:00:00:01 -9999", "01/Jan/9999:00:00:02 -9999",
  };
  for (int round = 0; round < 2; ++round) {
    for (const std::string& t : times) {
      ExpectSameParse(head + t + tail);
      // The same time twice in a row comes from the remembered prefix.
      ExpectSameParse(head + t + tail);
    }
  }
}

// The cache on its own: fed one after another, times that share all but their seconds, or
// differ in minute, day or zone, or are malformed in the remembered part, give ParseLogTime's
// answer every time.
TEST(LogParserEquivalenceTest, TimeCacheGivesParseLogTimeAnswers) {
  std::mt19937_64 rng(99);
  std::vector<std::string> times = {"30/Jan/2026:00:00:00 +0100", "30/Jan/2026:23:59:59 -0130",
                                    "01/Mar/2024:12:00:00", "29/Feb/2024:12:00:00 Z",
                                    "31/Dec/1999:23:59:60 +00:00"};
  internal::ApacheTimeCache cache;
  for (int i = 0; i < 100000; ++i) {
    std::string t = times[rng() % times.size()];
    // Mostly the seconds change, as on consecutive lines; sometimes anything else does.
    if (rng() % 4 != 0) {
      t[18] = static_cast<char>('0' + rng() % 7);
      t[19] = static_cast<char>('0' + rng() % 10);
    } else {
      t = Mutate(t, rng);
    }
    if (t.size() < 3 || t[2] != '/') continue;
    ASSERT_EQ(cache.Parse(t), ParseLogTime(t)) << t;
  }
}

TEST(LogParserEquivalenceTest, MutatedTargetsSplitAsBefore) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> targets = {"/mifs/c/appstore/fob/3/5/x%20y?a=%41b",
                                            "http://User@Evil.Example:8080/a/b.php?x=%2e%2E",
                                            "/a.b/c",
                                            "/a/b.",
                                            "?q",
                                            "https://[2001:db8::1]:443/x.jsp",
                                            "/%41%4",
                                            "x://y"};
  for (int i = 0; i < 50000; ++i) {
    std::string target = Mutate(targets[rng() % targets.size()], rng);
    Event got, want;
    got.ReserveScratch(target.size());
    want.ReserveScratch(target.size());
    SetUrlFields(target, &got);
    reference::RefSetUrlFields(target, &want);
    ExpectSameEvent(got, want, target);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace rampart::detect
