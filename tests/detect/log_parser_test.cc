#include "detect/log_parser.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace rampart::detect {
namespace {

std::string AsciiLowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::string_view kCombined =
    R"(203.0.113.9 - alice [30/Jan/2026:09:15:00 +0100] "GET /mifs/c/appstore/fob/3/5/x%20y?a=%41b HTTP/1.1" 404 512 "https://ref.example/" "curl/8.0")";
constexpr std::string_view kCommon =
    R"(198.51.100.7 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326)";
constexpr std::string_view kEpmm =
    R"(mdm.example.org:443 192.0.2.10 - - [29/Jan/2026:23:01:02 +0000] "GET /mifs/403.jsp?k0f53cf964d387=yv66vg HTTP/1.1" 200 - "-" "Mozilla/5.0")";

TEST(LogParserTest, CombinedFields) {
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(kCombined, &ev));
  EXPECT_EQ(ev.Get(Field::kSourceIp), "203.0.113.9");
  EXPECT_EQ(ev.Get(Field::kUserName), "alice");
  EXPECT_EQ(ev.Get(Field::kHttpRequestMethod), "GET");
  EXPECT_EQ(ev.Get(Field::kUrlOriginal), "/mifs/c/appstore/fob/3/5/x%20y?a=%41b");
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/mifs/c/appstore/fob/3/5/x%20y");
  EXPECT_EQ(ev.Decoded(Field::kUrlPath), "/mifs/c/appstore/fob/3/5/x y");
  EXPECT_EQ(ev.Get(Field::kUrlQuery), "a=%41b");
  EXPECT_EQ(ev.Decoded(Field::kUrlQuery), "a=Ab");
  EXPECT_EQ(ev.Decoded(Field::kUrlOriginal), "/mifs/c/appstore/fob/3/5/x y?a=Ab");
  EXPECT_EQ(ev.status_code(), 404);
  EXPECT_EQ(ev.Get(Field::kHttpResponseStatusCode), "404");
  EXPECT_EQ(ev.body_bytes(), 512);
  EXPECT_EQ(ev.Get(Field::kHttpRequestReferrer), "https://ref.example/");
  EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), "curl/8.0");
  EXPECT_FALSE(ev.Has(Field::kDestinationDomain));
  // 2026-01-30T08:15:00Z
  EXPECT_EQ(ev.timestamp_millis(), 1769760900000);
}

TEST(LogParserTest, CommonAndExtension) {
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(kCommon, &ev));
  EXPECT_EQ(ev.Get(Field::kUrlExtension), "gif");
  EXPECT_FALSE(ev.Has(Field::kUserAgentOriginal));
  EXPECT_FALSE(ev.Has(Field::kUserName));
  EXPECT_EQ(ev.timestamp_millis(), 971211336000);
}

TEST(LogParserTest, EpmmVhostPrefix) {
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(kEpmm, &ev));
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "mdm.example.org");
  EXPECT_EQ(ev.Get(Field::kSourceIp), "192.0.2.10");
  EXPECT_EQ(ev.Get(Field::kUrlQuery), "k0f53cf964d387=yv66vg");
  EXPECT_EQ(ev.Get(Field::kUrlExtension), "jsp");
  EXPECT_FALSE(ev.Has(Field::kHttpResponseBodyBytes));
}

TEST(LogParserTest, EpmmVhostPrefixByIpv6Address) {
  Event ev;
  for (std::string_view prefix : {"[2001:db8::10]:443", "[2001:db8::10]"}) {
    std::string line =
        std::string(prefix) +
        R"( 2001:db8::99 - - [29/Jan/2026:23:01:02 +0000] "GET /mifs/403.jsp HTTP/1.1" 200 12 "-" "x")";
    ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    EXPECT_EQ(ev.Get(Field::kDestinationDomain), "2001:db8::10");
    EXPECT_EQ(ev.Get(Field::kSourceIp), "2001:db8::99");
    EXPECT_EQ(ev.Get(Field::kUrlPath), "/mifs/403.jsp");
    EXPECT_EQ(ev.timestamp_millis(), 1769727662000);
  }
  std::vector<std::string_view> sample = {
      R"([2001:db8::10]:443 192.0.2.1 - - [29/Jan/2026:23:01:02 +0000] "GET / HTTP/1.1" 200 1 "-" "x")"};
  EXPECT_EQ(DetectFormat(sample), LogFormat::kEpmm);
  // A bracket that is neither an address nor the time is still malformed.
  EXPECT_FALSE(ParseAccessLogLine(
      R"([mdm.example.org]:443 192.0.2.1 - - [29/Jan/2026:23:01:02 +0000] "GET / HTTP/1.1" 200 1)",
      &ev));
  EXPECT_FALSE(ParseAccessLogLine(
      R"([2001:db8::10]:x 192.0.2.1 - - [29/Jan/2026:23:01:02 +0000] "GET / HTTP/1.1" 200 1)",
      &ev));
  // Not as the client of a common line either: source.ip would keep its brackets.
  EXPECT_FALSE(ParseAccessLogLine(
      R"([2001:db8::99] - - [29/Jan/2026:23:01:02 +0000] "GET / HTTP/1.1" 200 1)", &ev));
  // An absolute request target sets destination.domain too, but is no EPMM prefix.
  std::vector<std::string_view> proxy = {
      R"(192.0.2.1 - - [29/Jan/2026:23:01:02 +0000] "GET http://evil.example/x HTTP/1.1" 200 1)"};
  EXPECT_EQ(DetectFormat(proxy), LogFormat::kCommon);
}

// A proxy's CONNECT names the tunnel's far end, which indicators and cs-host rules look at.
TEST(LogParserTest, ConnectAndBracketedHostsSetTheDestination) {
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "CONNECT evil.example:443 HTTP/1.1" 200 0)",
      &ev));
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "evil.example");
  EXPECT_EQ(ev.Get(Field::kUrlOriginal), "evil.example:443");
  EXPECT_FALSE(ev.Has(Field::kUrlPath)) << "a tunnel names no resource";
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "connect [2001:db8::7]:443 HTTP/1.1" 200 0)",
      &ev));
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "2001:db8::7");
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "GET http://u@[2001:db8::8]:8080/x HTTP/1.1" 200 0)",
      &ev));
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "2001:db8::8");
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/x");
  // Only CONNECT: a GET of "host:port" is an odd path, as before.
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "GET evil.example:443 HTTP/1.1" 200 0)", &ev));
  EXPECT_FALSE(ev.Has(Field::kDestinationDomain));
}

// The extension of the file the server runs, not of the spelling: rules on url.extension
// (c-uri-extension) see "jsp" in both.
TEST(LogParserTest, ExtensionIsTheServedFiles) {
  Event ev;
  for (std::string_view target : {"/mifs/403.jsp;jsessionid=abc?x=1", "/mifs/403%2ejsp?x=1",
                                  "/mifs/403%2EJSP", "http://h/mifs/403.jsp;a=b"}) {
    SCOPED_TRACE(target);
    std::string line = "10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] \"GET " + std::string(target) +
                       " HTTP/1.1\" 200 0";
    ASSERT_TRUE(ParseAccessLogLine(line, &ev));
    EXPECT_EQ(AsciiLowerCopy(ev.Get(Field::kUrlExtension)), "jsp");
  }
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "GET /a/b.php?x=1 HTTP/1.1" 200 0)", &ev));
  EXPECT_EQ(ev.Get(Field::kUrlExtension), "php");
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0000] "GET /x.jsp%2fy HTTP/1.1" 200 0)", &ev));
  EXPECT_FALSE(ev.Has(Field::kUrlExtension)) << "the file is y: " << ev.Get(Field::kUrlExtension);
}

TEST(LogParserTest, EscapedQuoteAndBadRequestLine) {
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(
      R"(192.0.2.1 - - [30/Jan/2026:09:15:00 +0000] "\x16\x03\x01\" junk" 400 0 "-" "a \"b\"")",
      &ev));
  EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), R"(a \"b\")");
  EXPECT_EQ(ev.status_code(), 400);
}

TEST(LogParserTest, AbsoluteUrlSetsDomain) {
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(
      R"(10.0.0.1 - - [30/Jan/2026:09:15:00 +0000] "GET http://evil.example:8080/a/b.php?x=1 HTTP/1.1" 200 1 "-" "-")",
      &ev));
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "evil.example");
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/a/b.php");
  EXPECT_EQ(ev.Get(Field::kUrlQuery), "x=1");
}

TEST(LogParserTest, RejectsMalformed) {
  Event ev;
  for (std::string_view bad :
       {"", "garbage", "1.2.3.4 - - [bad time] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - - [30/Jan/2026:09:15:00 +0000] \"GET / HTTP/1.1 200 1",
        "1.2.3.4 - - [30/Jan/2026:09:15:00 +0000] \"GET /\" abc 1",
        "a b c d e [30/Jan/2026:09:15:00 +0000] \"GET /\" 200 1", "{\"x\":", "[1,2]"}) {
    EXPECT_FALSE(ParseAccessLogLine(bad, &ev)) << bad;
    EXPECT_FALSE(ParseJsonLine(bad, &ev)) << bad;
  }
  std::string huge(kMaxLineBytes + 1, 'a');
  EXPECT_FALSE(ParseAccessLogLine(huge, &ev));
  LineParser p(LogFormat::kCombined);
  EXPECT_FALSE(p.Parse("nope", &ev));
  EXPECT_TRUE(p.Parse(kCombined, &ev));
  EXPECT_EQ(p.lines(), 2u);
  EXPECT_EQ(p.errors(), 1u);
}

TEST(LogParserTest, OneMegabyteLineParses) {
  std::string line = "1.2.3.4 - - [30/Jan/2026:09:15:00 +0000] \"GET /";
  line.append(kMaxLineBytes - line.size() - 40, 'a');
  line += "%41 HTTP/1.1\" 200 1 \"-\" \"ua\"";
  ASSERT_LE(line.size(), kMaxLineBytes);
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(line, &ev));
  EXPECT_TRUE(ev.HasDistinctDecoded(Field::kUrlPath));
  EXPECT_EQ(ev.Decoded(Field::kUrlPath).back(), 'A');
}

TEST(LogParserTest, JsonLinesEcsAndNginx) {
  Event ev;
  ASSERT_TRUE(ParseJsonLine(
      R"({"@timestamp":"2026-01-30T09:15:00.250Z","source":{"ip":"2001:db8::1"},"url.original":"/a%2Fb?c=d","http":{"response":{"status_code":404}},"user_agent":{"original":"x"}})",
      &ev));
  EXPECT_EQ(ev.Get(Field::kSourceIp), "2001:db8::1");
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/a%2Fb");
  EXPECT_EQ(ev.Decoded(Field::kUrlPath), "/a/b");
  EXPECT_EQ(ev.status_code(), 404);
  EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), "x");
  EXPECT_EQ(ev.timestamp_millis(), 1769764500250);

  ASSERT_TRUE(ParseJsonLine(
      R"({"time_local":"30/Jan/2026:09:15:00 +0000","remote_addr":"192.0.2.3","request":"POST /mifs/aad/api/v2/x HTTP/1.1","status":"200","body_bytes_sent":"77"})",
      &ev));
  EXPECT_EQ(ev.Get(Field::kHttpRequestMethod), "POST");
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/mifs/aad/api/v2/x");
  EXPECT_EQ(ev.body_bytes(), 77);
  EXPECT_EQ(ev.timestamp_millis(), 1769764500000);
}

// Epoch times in seconds or milliseconds, as numbers; those past year 9999 either way are no
// time at all rather than an overflow (UBSan would stop here).
TEST(LogParserTest, JsonEpochTimesAndOnesOutOfRange) {
  Event ev;
  for (const auto& [time, millis] :
       std::vector<std::pair<std::string, int64_t>>{{"1769764500", 1769764500000},
                                                    {"1769764500250", 1769764500250},
                                                    {"1769764500.25", 1769764500250},
                                                    {"-5", -5000},
                                                    {"1e300", 0},
                                                    {"-1e300", 0},
                                                    {"-9223372036854775807", 0},
                                                    {"9223372036854775807", 0},
                                                    {"18446744073709551615", 0},
                                                    {"253402300800000", 0}}) {
    const std::string line = R"({"remote_addr":"192.0.2.3","time":)" + time + "}";
    ASSERT_TRUE(ParseJsonLine(line, &ev)) << line;
    EXPECT_EQ(ev.timestamp_millis(), millis) << line;
    EXPECT_EQ(ev.Get(Field::kSourceIp), "192.0.2.3");
  }
}

// ECS writers put the client in client.ip and the absolute URL in url.full.
TEST(LogParserTest, JsonClientIpAndUrlFull) {
  Event ev;
  ASSERT_TRUE(ParseJsonLine(
      R"({"client":{"ip":"203.0.113.9"},"url":{"full":"https://mdm.example.eu/mifs/403.jsp?a=1"}})",
      &ev));
  EXPECT_EQ(ev.Get(Field::kSourceIp), "203.0.113.9");
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/mifs/403.jsp");
  EXPECT_EQ(ev.Get(Field::kUrlQuery), "a=1");
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "mdm.example.eu");
}

// nginx's `main` format logs "$http_x_forwarded_for" after the user agent. The field is taken
// when its last hop, the one the nearest proxy wrote, is spelled as an address is, whatever the
// client wrote before it; another format's third quoted field (a cookie, a host) is not.
TEST(LogParserTest, NginxMainFormatLogsXForwardedFor) {
  const std::string head =
      R"(10.0.0.2 - - [30/Jan/2026:09:15:00 +0100] "GET /mifs/user/login.jsp HTTP/1.1" 200 5 "-" "curl/8" )";
  Event ev;
  for (std::string_view logged : {"203.0.113.7", "evil \\\"x\\\", 10.0.0.3, 203.0.113.7",
                                  "unknown, [2001:db8::7]:443", " 2001:db8::7 "}) {
    const std::string line = head + "\"" + std::string(logged) + "\"";  // the event views it
    ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << logged;
    EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), logged);
    EXPECT_EQ(ev.Get(Field::kSourceIp), "10.0.0.2") << "the parser attributes nothing itself";
    EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), "curl/8");
  }
  for (std::string_view other : {"-", "", "session=ab12", "mdm.example.eu:443", "203.0.113.7, x"}) {
    const std::string line = head + "\"" + std::string(other) + "\"";
    ASSERT_TRUE(ParseAccessLogLine(line, &ev)) << other;
    EXPECT_FALSE(ev.Has(Field::kHttpRequestXForwardedFor)) << other;
  }
  ASSERT_TRUE(ParseAccessLogLine(kCombined, &ev));
  EXPECT_FALSE(ev.Has(Field::kHttpRequestXForwardedFor));
  ASSERT_TRUE(ParseJsonLine(
      R"({"remote_addr":"10.0.0.2","request":"GET / HTTP/1.1","http_x_forwarded_for":"192.0.2.1, 203.0.113.7"})",
      &ev));
  EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), "192.0.2.1, 203.0.113.7");
  // Header keys as a shipper spells them, in any case; field names stay as ECS writes them.
  ASSERT_TRUE(ParseJsonLine(
      R"({"Remote_Addr":"10.0.0.2","X-Forwarded-For":"203.0.113.7","User-Agent":"curl/8","Source.IP":"192.0.2.9"})",
      &ev));
  EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), "203.0.113.7");
  EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), "curl/8");
  EXPECT_EQ(ev.Get(Field::kSourceIp), "10.0.0.2");
}

// A line from a trusted proxy is the client's its proxies named: read from the right, past the
// proxies, never further than the first hop that is not one.
TEST(LogParserTest, AttributeToForwardedClient) {
  ProxyTrust trust;
  trust.proxies = {*ParseCidr("10.0.0.0/24"), *ParseCidr("2001:db8:ff::/48")};
  Attribution how = Attribution::kNotFromProxy;
  auto attributed = [&](std::string_view peer, std::string_view forwarded) {
    Event ev;
    std::string line =
        std::string(peer) +
        R"( - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" 200 5 "-" "curl/8" ")" +
        std::string(forwarded) + "\"";
    EXPECT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    how = AttributeToForwardedClient(trust, &ev);
    EXPECT_EQ(how == Attribution::kForwardedClient, ev.Get(Field::kSourceIp) != peer) << line;
    return std::string(ev.Get(Field::kSourceIp));
  };
  EXPECT_EQ(attributed("10.0.0.2", "203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(attributed("10.0.0.2", "198.51.100.1, 203.0.113.7"), "203.0.113.7")
      << "what the client wrote left of its own hop is not believed";
  EXPECT_EQ(attributed("10.0.0.2", "198.51.100.1, 203.0.113.7, 10.0.0.9"), "203.0.113.7");
  EXPECT_EQ(attributed("10.0.0.2", "2001:DB8:0::7"), "2001:db8::7");
  EXPECT_EQ(attributed("2001:db8:ff::1", "[2001:db8::7]:443"), "2001:db8::7");
  EXPECT_EQ(how, Attribution::kForwardedClient);
  EXPECT_EQ(attributed("10.0.0.2", "10.0.0.9"), "10.0.0.2") << "every hop a proxy's: unnamed";
  EXPECT_EQ(how, Attribution::kNoClientNamed);
  EXPECT_EQ(attributed("10.0.0.2", "203.0.113.7, 1.2.3.4.5"), "10.0.0.2") << "a garbage hop";
  EXPECT_EQ(attributed("10.0.0.2", "203.0.113.7:1,x"), "10.0.0.2") << "not a hop list";
  EXPECT_EQ(how, Attribution::kNoClientNamed);
  EXPECT_EQ(attributed("10.0.0.2", "-"), "10.0.0.2");
  EXPECT_EQ(how, Attribution::kNoClientNamed) << "the proxy's own health check";
  EXPECT_EQ(attributed("192.0.2.99", "203.0.113.7"), "192.0.2.99") << "a peer that is no proxy";
  EXPECT_EQ(how, Attribution::kNotFromProxy);
  EXPECT_EQ(attributed("192.0.2.99", "-"), "192.0.2.99");
  EXPECT_EQ(how, Attribution::kNotFromProxy) << "no header, and no proxy either";
  // nginx escapes a quote in a logged value as \x22, Apache as \": neither ends the field.
  EXPECT_EQ(attributed("10.0.0.2", R"(x\x22 \x22y, 203.0.113.8)"), "203.0.113.8");
  EXPECT_EQ(attributed("10.0.0.2", R"(x\" \"203.0.113.9, 203.0.113.8)"), "203.0.113.8");
  trust.proxies.clear();
  EXPECT_EQ(attributed("10.0.0.2", "203.0.113.7"), "10.0.0.2") << "no proxy trusted";
}

TEST(LogParserTest, DetectsFormat) {
  std::vector<std::string_view> combined = {kCombined, kCombined, ""};
  EXPECT_EQ(DetectFormat(combined), LogFormat::kCombined);
  std::vector<std::string_view> common = {kCommon};
  EXPECT_EQ(DetectFormat(common), LogFormat::kCommon);
  std::vector<std::string_view> epmm = {kEpmm, kEpmm, kCombined};
  EXPECT_EQ(DetectFormat(epmm), LogFormat::kEpmm);
  std::vector<std::string_view> json = {R"({"remote_addr":"1.2.3.4"})", "junk"};
  EXPECT_EQ(DetectFormat(json), LogFormat::kJsonLines);
}

TEST(LogParserTest, PercentDecodeKeepsBadEscapes) {
  std::string out;
  PercentDecodeAppend("%4%zz%41%", &out);
  EXPECT_EQ(out, "%4%zzA%");
}

}  // namespace
}  // namespace rampart::detect
