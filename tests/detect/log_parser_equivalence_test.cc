// The single-pass access-log parser against the reference parser it replaced: the same verdict,
// the same fields (raw and decoded), the same time, status and size on every line, including
// hundreds of thousands of mutated lines that are malformed in every way a byte edit allows.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "detect/log_parser.h"
#include "tests/detect/reference_log_parser.h"

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
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "CONNECT u@[2001:db8::7]:443 HTTP/1.1" 200 0)",
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "GET /x.jsp%2fy;a=b/z.Php%3bq HTTP/1.1" 200 0)",
      "1.2.3.4   -   -   [15/Jul/2025:12:34:56 +0000]   \"GET /x?q=%zz%4 HTTP/1.1\"   200   10   "
      "\"-\"   \"ua\"\r\n",
      R"(10.0.0.2 - - [30/Jan/2026:09:15:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8" "unknown, 198.51.100.1,[2001:db8::7]:443 ")",
      R"(10.0.0.2 - - [30/Jan/2026:09:15:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8" "a=b; c" "203.0.113.4")",
  };
  return kLines;
}

void ExpectSameEvent(const Event& got, const Event& want, const std::string& line) {
  ASSERT_EQ(reference::EventDifference(got, want), "") << "in " << line;
}

void ExpectSameParse(const std::string& line) {
  Event got, want;
  bool ok = ParseAccessLogLine(line, &got);
  bool ref = reference::RefParseAccessLogLine(line, &want);
  ASSERT_EQ(ok, ref) << line;
  if (ok) ExpectSameEvent(got, want, line);
  // LineParser, as `rampart scan` drives it, gives the same verdict and counts a refusal.
  LineParser parser(LogFormat::kCombined);
  Event by_parser;
  ASSERT_EQ(parser.Parse(line, &by_parser), ref) << line;
  ASSERT_EQ(parser.errors(), ref ? 0u : 1u) << line;
  if (ok) ExpectSameEvent(by_parser, want, line);
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
                                            "x://y",
                                            "evil.example:443",
                                            "/a.jsp%2fb;c=d"};
  for (int i = 0; i < 50000; ++i) {
    std::string target = Mutate(targets[rng() % targets.size()], rng);
    Event got, want;
    got.ReserveScratch(target.size());
    want.ReserveScratch(target.size());
    // Some as a proxy's CONNECT, whose target names a host rather than a resource.
    if (i % 4 == 0) {
      got.Set(Field::kHttpRequestMethod, "CONNECT");
      want.Set(Field::kHttpRequestMethod, "CONNECT");
    }
    SetUrlFields(target, &got);
    reference::RefSetUrlFields(target, &want);
    ExpectSameEvent(got, want, target);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace rampart::detect
