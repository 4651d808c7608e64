#include "detect/custom_log_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/forwarded.h"
#include "common/ip.h"
#include "detect/log_parser.h"
#include "tests/detect/reference_log_parser.h"

namespace rampart::detect {
namespace {

CustomLogFormat Layout(std::string_view spec) {
  auto layout = CustomLogFormat::Compile(spec);
  EXPECT_TRUE(layout.ok()) << spec << ": " << layout.status().message();
  return std::move(layout).value();
}

void ExpectRefused(std::string_view spec, std::string_view why) {
  auto layout = CustomLogFormat::Compile(spec);
  ASSERT_FALSE(layout.ok()) << spec;
  EXPECT_NE(layout.status().message().find(why), std::string::npos)
      << spec << ": " << layout.status().message();
}

// nginx's `main` with $request_time before the forwarded-for header and the virtual host last:
// the built-in parser finds no X-Forwarded-For there.
constexpr std::string_view kNginxTimed =
    R"(nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent )"
    R"("$http_referer" "$http_user_agent" $request_time "$http_x_forwarded_for" $host)";

TEST(CustomLogFormatTest, ReadsEachFieldWhereTheDeclaredLayoutPutsIt) {
  const CustomLogFormat layout = Layout(kNginxTimed);
  const std::string line =
      R"(10.0.0.5 - alice [30/Jan/2026:09:15:00 +0100] "GET /mifs/c/appstore/fob/3/5/a%20b.ipa?x=1 HTTP/1.1" )"
      R"(404 196 "-" "Mozilla/5.0 \"quoted\" agent" 0.012 "198.51.100.4, 10.0.0.9" mdm.example.eu:443)";
  Event ev;
  ASSERT_TRUE(layout.Parse(line, &ev));
  EXPECT_EQ(ev.Get(Field::kSourceIp), "10.0.0.5");
  EXPECT_EQ(ev.Get(Field::kUserName), "alice");
  EXPECT_EQ(ev.timestamp_millis(), 1769760900000);
  EXPECT_EQ(ev.Get(Field::kHttpRequestMethod), "GET");
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/mifs/c/appstore/fob/3/5/a%20b.ipa");
  EXPECT_EQ(ev.Decoded(Field::kUrlPath), "/mifs/c/appstore/fob/3/5/a b.ipa");
  EXPECT_EQ(ev.Get(Field::kUrlQuery), "x=1");
  EXPECT_EQ(ev.Get(Field::kUrlExtension), "ipa");
  EXPECT_EQ(ev.status_code(), 404);
  EXPECT_EQ(ev.body_bytes(), 196);
  EXPECT_FALSE(ev.Has(Field::kHttpRequestReferrer)) << "\"-\" is no referrer";
  EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), R"(Mozilla/5.0 \"quoted\" agent)");
  EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), "198.51.100.4, 10.0.0.9");
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "mdm.example.eu");
  EXPECT_EQ(ev.Get(Field::kEventOriginal), line);

  // The built-in parser reads the line, but not the header, which is not right after the agent.
  Event builtin;
  ASSERT_TRUE(ParseAccessLogLine(line, &builtin));
  EXPECT_FALSE(builtin.Has(Field::kHttpRequestXForwardedFor));

  // Through a trusted balancer, the declared header names the client.
  const ProxyTrust trust{{*ParseCidr("10.0.0.0/8")}};
  EXPECT_EQ(AttributeToForwardedClient(trust, &ev), Attribution::kForwardedClient);
  EXPECT_EQ(ev.Get(Field::kSourceIp), "198.51.100.4");
}

// In a layout with a header of the client's choosing after the agent, the built-in parser takes
// that header for X-Forwarded-For when it looks like an address: declared, it is not.
TEST(CustomLogFormatTest, AHeaderTheClientWritesIsNeverTakenForTheForwardedClient) {
  const CustomLogFormat layout = Layout(
      R"(nginx:$remote_addr - - [$time_local] "$request" $status $bytes_sent "$http_referer" )"
      R"("$http_user_agent" "$http_x_client_hint" "$http_x_forwarded_for")");
  const std::string line =
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" 200 5 "-" "curl/8" )"
      R"("192.0.2.1" "203.0.113.7")";
  const ProxyTrust trust{{*ParseCidr("10.0.0.0/8")}};
  Event builtin;
  ASSERT_TRUE(ParseAccessLogLine(line, &builtin));
  AttributeToForwardedClient(trust, &builtin);
  EXPECT_EQ(builtin.Get(Field::kSourceIp), "192.0.2.1") << "the guess this layout exists to avoid";
  Event ev;
  ASSERT_TRUE(layout.Parse(line, &ev));
  EXPECT_EQ(AttributeToForwardedClient(trust, &ev), Attribution::kForwardedClient);
  EXPECT_EQ(ev.Get(Field::kSourceIp), "203.0.113.7");
}

// The servers' own combined formats give what the built-in parser gives, field for field.
TEST(CustomLogFormatTest, TheCombinedFormatsReadAsTheBuiltInParserReadsThem) {
  const std::vector<std::string> lines = {
      R"(203.0.113.9 - alice [30/Jan/2026:09:15:00 +0100] "GET /mifs/c/appstore/fob/3/5/x%20y?a=%41b HTTP/1.1" 404 512 "https://ref.example/" "curl/8.0")",
      R"L(192.0.2.1 - - [01/Feb/2026:23:59:59 -0500] "POST /mifs/services/CheckinService HTTP/1.1" 200 - "-" "MobileIron/12.1.0 (iPhone; iOS 16.0.3)")L",
      R"(2001:db8::7 - - [30/Jan/2026:09:15:00 +0000] "\x16\x03\x01" 400 0 "-" "-")",
      R"(198.51.100.7 - - [30/Jan/2026:09:15:00 +0100] "GET /a\"b HTTP/1.0" 200 12 "-" "agent \\")",
  };
  for (
      std::string_view spec :
      {R"(nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent")",
       R"(apache:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i")",
       R"(apache:%a %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\")"}) {
    // The third is copied from httpd.conf, quotes escaped: it reads as the second.
    const CustomLogFormat layout = Layout(spec);
    for (const std::string& line : lines) {
      Event declared, builtin;
      ASSERT_TRUE(ParseAccessLogLine(line, &builtin)) << line;
      ASSERT_TRUE(layout.Parse(line, &declared)) << spec << "\n" << line;
      EXPECT_EQ(reference::EventDifference(declared, builtin), "") << spec << "\n" << line;
    }
  }
}

// A client writes a space (or anything but a quote, which the servers escape) into what it
// sends. Unquoted, the forwarded-for header would end at the first space in it, and the client
// would choose the address a line is attributed to; so would a space in an unquoted value a
// client writes before the client address. Such layouts are refused.
TEST(CustomLogFormatTest, LayoutsInWhichAClientCouldChooseItsAddressAreRefused) {
  const std::pair<std::string_view, std::string_view> refused[] = {
      {"nginx:$remote_addr \"$request\" $status $http_x_forwarded_for $request_time",
       "offset 32: $http_x_forwarded_for must be between quotes"},
      {"nginx:$remote_addr xff=$http_x_forwarded_for rt=$request_time",
       "$http_x_forwarded_for must be between quotes"},
      {"apache:%h %>s '%{X-Forwarded-For}i'", "%{X-Forwarded-For}i must be between quotes"},
      {"nginx:$remote_addr \"$http_user_agent $http_x_forwarded_for\"",
       "$http_x_forwarded_for must be between quotes"},
      {"nginx:$http_x_custom $remote_addr $request_time \"$http_x_forwarded_for\"",
       "offset 15: $remote_addr comes after a value a client writes"},
      {"nginx:$host $remote_addr [$time_local] \"$request\"", "$remote_addr comes after"},
      {"apache:%V %h %t \"%r\"", "%h comes after a value a client writes"},
  };
  for (const auto& [spec, why] : refused) ExpectRefused(spec, why);
  // Quoted, or written by the server, the values before the address cannot move it.
  for (std::string_view spec : {
           "nginx:\"$http_x_custom\" $remote_addr $request_time \"$http_x_forwarded_for\"",
           "nginx:$server_name:$server_port $time_iso8601 $status $remote_addr",
           "apache:%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"",
           "apache:%{msec}t %D %h \"%{X-Forwarded-For}i\"",
       }) {
    EXPECT_TRUE(CustomLogFormat::Compile(spec).ok()) << spec;
  }
  // The line the unquoted layout would have misread: the client's "6.6.6.6 x" in front of the
  // hop the balancer appended. Quoted, the header is whole and the balancer's hop decides.
  const CustomLogFormat layout =
      Layout("nginx:$remote_addr \"$request\" $status \"$http_x_forwarded_for\" $request_time");
  Event ev;
  ASSERT_TRUE(layout.Parse(R"(10.0.0.2 "GET / HTTP/1.1" 200 "6.6.6.6 x, 203.0.113.7" 0.004)", &ev));
  EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), "6.6.6.6 x, 203.0.113.7");
  const ProxyTrust trust{{*ParseCidr("10.0.0.0/8")}};
  EXPECT_EQ(AttributeToForwardedClient(trust, &ev), Attribution::kForwardedClient);
  EXPECT_EQ(ev.Get(Field::kSourceIp), "203.0.113.7");
}

// nginx escapes a quote as \x22 by default and as \" with escape=json; either way it does not
// end the value.
TEST(CustomLogFormatTest, NginxEscapedQuotesStayInsideTheirValue) {
  const CustomLogFormat layout =
      Layout(R"(nginx:$remote_addr [$time_local] "$request" $status "$http_user_agent" )"
             R"("$http_x_forwarded_for")");
  for (std::string_view agent : {R"(a\x22 \x22b)", R"(a\" \"b\\)", R"(\\)"}) {
    const std::string line =
        std::string("10.0.0.2 [30/Jan/2026:09:15:00 +0100] \"GET / HTTP/1.1\" 200 \"") +
        std::string(agent) + "\" \"203.0.113.7\"";
    Event ev;
    ASSERT_TRUE(layout.Parse(line, &ev)) << line;
    EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), agent);
    EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), "203.0.113.7");
  }
  // An agent ending in an escaped quote (escape=json's \") runs on to the next real quote: the
  // line is refused rather than read with the header taken from the agent.
  Event ev;
  EXPECT_FALSE(layout.Parse(
      R"(10.0.0.2 [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" 200 "a\" "203.0.113.7")", &ev));
}

// The last quoted value ends at its closing quote, escaped quotes inside it aside, and the
// layout's text after it must end the line; \t in a spec is a tab, as in the configuration file.
TEST(CustomLogFormatTest, TheLastQuotedValueAndTheTextAfterIt) {
  const CustomLogFormat layout = Layout(R"(apache:%h\t"%{X-Forwarded-For}i" -)");
  Event ev;
  ASSERT_TRUE(layout.Parse("10.0.0.1\t\"a\\\"b, 192.0.2.1\" -", &ev));
  EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), R"(a\"b, 192.0.2.1)");
  EXPECT_FALSE(layout.Parse("10.0.0.1 \"192.0.2.1\" -", &ev)) << "a space is not the tab";
  EXPECT_FALSE(layout.Parse("10.0.0.1\t\"192.0.2.1\" - x", &ev));
  EXPECT_FALSE(layout.Parse("10.0.0.1\t\"192.0.2.1\" \"-\" -", &ev))
      << "the value ends at the first closing quote, and what follows is not the layout's";
}

TEST(CustomLogFormatTest, PathAndQueryIdiomsAndTheirOtherSpellings) {
  struct Case {
    std::string_view spec, line, path, query;
  };
  const Case cases[] = {
      {"nginx:$remote_addr $request_method $uri$is_args$args $status",
       "192.0.2.1 GET /a/b.jsp?k0f53cf964d387=1 200", "/a/b.jsp", "k0f53cf964d387=1"},
      {"nginx:$remote_addr $request_method $uri$is_args$args $status", "192.0.2.1 GET /a/b 200",
       "/a/b", ""},
      {"apache:%a %m %U%q %s", "192.0.2.1 GET /mifs/403.jsp?cmd=id 200", "/mifs/403.jsp", "cmd=id"},
      {"nginx:$remote_addr $request_method $uri ?$args $status", "192.0.2.1 POST /x ?a=1&b=2 201",
       "/x", "a=1&b=2"},
      {"nginx:$remote_addr \"$request_method $request_uri\" $status",
       "192.0.2.1 \"GET /y?z=1\" 200", "/y", "z=1"},
  };
  for (const Case& c : cases) {
    const CustomLogFormat layout = Layout(c.spec);
    Event ev;
    ASSERT_TRUE(layout.Parse(c.line, &ev)) << c.spec << "\n" << c.line;
    EXPECT_EQ(ev.Get(Field::kUrlPath), c.path) << c.line;
    EXPECT_EQ(ev.Get(Field::kUrlQuery), c.query) << c.line;
    EXPECT_EQ(ev.Has(Field::kUrlQuery), !c.query.empty()) << c.line;
    EXPECT_EQ(ev.Get(Field::kSourceIp), "192.0.2.1");
    EXPECT_TRUE(ev.Has(Field::kHttpRequestMethod));
    EXPECT_EQ(ev.timestamp_millis(), 0) << "no time in these layouts";
  }
}

TEST(CustomLogFormatTest, TimesInEachLayoutTheServersWrite) {
  struct Case {
    std::string_view spec, line;
    int64_t millis;
  };
  const Case cases[] = {
      {"nginx:$time_iso8601 $remote_addr", "2026-01-30T09:15:00+01:00 192.0.2.1", 1769760900000},
      {"nginx:$msec $remote_addr", "1769760900.123 192.0.2.1", 1769760900123},
      {"nginx:$msec $remote_addr", "1769760900 192.0.2.1", 1769760900000},
      {"apache:%{sec}t %a", "1769760900 192.0.2.1", 1769760900000},
      {"apache:%{msec}t %a", "1769760900123 192.0.2.1", 1769760900123},
      {"apache:%{usec}t %a", "1769760900123456 192.0.2.1", 1769760900123},
      {"apache:%{begin:msec}t %a", "1769760900123 192.0.2.1", 1769760900123},
      // The time's space does not split it: it is taken by its width.
      {"nginx:$time_local $remote_addr", "30/Jan/2026:09:15:00 +0100 192.0.2.1", 1769760900000},
      {"apache:%t %a", "[30/Jan/2026:09:15:00 +0100] 192.0.2.1", 1769760900000},
      {"apache:%t%a", "[30/Jan/2026:09:15:00 +0100]192.0.2.1", 1769760900000},
      // strftime layouts (Apache's %{...}t), taken as far as the layout writes: spaces inside
      // do not split them. Without %z the time is UTC; the fraction comes from its own
      // directive, and the zone's offset may be given by another.
      {"apache:[%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] %a",
       "[30/Jan/2026 09:15:00.123 +0100] 192.0.2.1", 1769760900123},
      {"apache:%{%d/%b/%Y %T}t.%{usec_frac}t %a", "30/Jan/2026 08:15:00.123456 192.0.2.1",
       1769760900123},
      {"apache:%{%Y-%m-%d %H:%M:%S}t %a", "2026-01-30 08:15:00 192.0.2.1", 1769760900000},
      {"apache:%{end:%FT%T%z}t %a", "2026-01-30T03:15:00-0500 192.0.2.1", 1769760900000},
      {"apache:%{%c}t %a", "Fri Jan 30 08:15:00 2026 192.0.2.1", 1769760900000},
      {"apache:%{%a %b %e %T %Y}t %a", "Mon Feb  2 08:15:00 2026 192.0.2.1", 1770020100000},
      {"apache:%{%s}t %a", "1769760900 192.0.2.1", 1769760900000},
      {"apache:%{%d.%m.%y %I:%M:%S %p}t %a", "30.01.26 08:15:00 PM 192.0.2.1", 1769804100000},
      {"apache:%{%d.%m.%y %r}t %a", "30.01.26 12:15:00 AM 192.0.2.1", 1769732100000},
      {"apache:%{%Y %j}t %{%H%M%S}t|%a", "2026 030 081500|192.0.2.1", 1769760900000},
      {"apache:%{%F}t%{%T}t %a", "2026-01-3008:15:00 192.0.2.1", 1769760900000},
      {"apache:%{%A, %d %B %Y %H:%M:%S %Z}t %{%z}t %a",
       "Friday, 30 January 2026 09:15:00 CET +0100 192.0.2.1", 1769760900000},
      // glibc names a zone without an abbreviation by its offset.
      {"apache:%{%F %T %Z}t %{%z}t %a", "2026-01-30 11:15:00 +03 +0300 192.0.2.1", 1769760900000},
      {"apache:%{%s %Z}t %a", "1769760900 UTC 192.0.2.1", 1769760900000},
      // The date may come in pieces; another time, when logged, is read instead.
      {"apache:%{%d}t/%{%b}t/%{%Y}t %a", "30/Jan/2026 192.0.2.1", 1769731200000},
      {"apache:%t %{%z}t %a", "[30/Jan/2026:09:15:00 +0100] +0100 192.0.2.1", 1769760900000},
      // The fraction belongs to any time logged in whole seconds.
      {"apache:%{sec}t.%{msec_frac}t %a", "1769760900.123 192.0.2.1", 1769760900123},
      {"apache:%t.%{usec_frac}t %a", "[30/Jan/2026:09:15:00 +0100].123456 192.0.2.1",
       1769760900123},
  };
  for (const Case& c : cases) {
    const CustomLogFormat layout = Layout(c.spec);
    Event ev;
    ASSERT_TRUE(layout.Parse(c.line, &ev)) << c.spec << "\n" << c.line;
    EXPECT_EQ(ev.timestamp_millis(), c.millis) << c.line;
    EXPECT_EQ(ev.Get(Field::kSourceIp), "192.0.2.1") << c.line;
  }
}

TEST(CustomLogFormatTest, StrftimeTimesThatAreNoTimeRefuseTheLine) {
  const CustomLogFormat layout = Layout("apache:%{%Y-%m-%d %H:%M:%S}t %a %>s");
  Event ev;
  EXPECT_TRUE(layout.Parse("2028-02-29 23:59:60 192.0.2.1 200", &ev)) << "a leap day and second";
  EXPECT_EQ(ev.status_code(), 200);
  for (std::string_view line :
       {"2026-02-29 08:15:00 192.0.2.1 200", "2026-13-01 08:15:00 192.0.2.1 200",
        "2026-00-10 08:15:00 192.0.2.1 200", "2026-01-30 24:00:00 192.0.2.1 200",
        "2026-01-30 08:60:00 192.0.2.1 200", "2026-01-30 8:15:00 192.0.2.1 200",
        "2026-01-30T08:15:00 192.0.2.1 200", "26-01-30 08:15:00 192.0.2.1 200",
        "2026-01-30 08:15 192.0.2.1 200", ""}) {
    EXPECT_FALSE(layout.Parse(line, &ev)) << line;
    EXPECT_FALSE(ev.Has(Field::kSourceIp)) << line;
  }
  const CustomLogFormat names = Layout("apache:%{%a %d %b %Y %I:%M %p}t %a");
  EXPECT_TRUE(names.Parse("Fri 30 Jan 2026 12:15 pm 192.0.2.1", &ev));
  EXPECT_EQ(ev.timestamp_millis(), 1769775300000);
  for (std::string_view line :
       {"Fri 30 Foo 2026 12:15 PM 192.0.2.1", "Fry 30 Jan 2026 12:15 PM 192.0.2.1",
        "Fri 30 Jan 2026 00:15 PM 192.0.2.1", "Fri 30 Jan 2026 13:15 PM 192.0.2.1",
        "Fri 30 Jan 2026 12:15 XM 192.0.2.1"}) {
    EXPECT_FALSE(names.Parse(line, &ev)) << line;
  }
  const CustomLogFormat zoned = Layout("apache:%{%F %T %z}t %a");
  EXPECT_TRUE(zoned.Parse("2026-01-30 09:45:00 +0130 192.0.2.1", &ev));
  EXPECT_EQ(ev.timestamp_millis(), 1769760900000);
  for (std::string_view line :
       {"2026-01-30 09:45:00 +01:30 192.0.2.1", "2026-01-30 09:45:00 0130 192.0.2.1",
        "2026-01-30 09:45:00 +0160 192.0.2.1", "2026-01-30 09:45:00 +2400 192.0.2.1"}) {
    EXPECT_FALSE(zoned.Parse(line, &ev)) << line;
  }
  const CustomLogFormat fraction = Layout("apache:%t.%{msec_frac}t %a");
  EXPECT_FALSE(fraction.Parse("[30/Jan/2026:09:15:00 +0100].12x 192.0.2.1", &ev));
  EXPECT_FALSE(fraction.Parse("[30/Jan/2026:09:15:00 +0100].-12 192.0.2.1", &ev));
}

TEST(CustomLogFormatTest, LinesNotInTheLayoutAreRefusedAndLeaveNothingBehind) {
  const CustomLogFormat layout = Layout(kNginxTimed);
  const std::string good =
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" 200 5 "-" "curl/8" 0.1 "-" h)";
  Event ev;
  ASSERT_TRUE(layout.Parse(good, &ev));
  // The event views into the line: it must outlive the checks.
  const std::string with_line_end = good + "\r\n";
  ASSERT_TRUE(layout.Parse(with_line_end, &ev)) << "a line end is not part of the line";
  EXPECT_EQ(ev.Get(Field::kDestinationDomain), "h");
  const std::vector<std::string> bad = {
      "",
      "-",
      good.substr(0, good.size() - 3),  // cut inside the last literal
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" 2000 5 "-" "curl/8" 0.1 "-" h)",
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" 200 5k "-" "curl/8" 0.1 "-" h)",
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" OK 5 "-" "curl/8" 0.1 "-" h)",
      R"(10.0.0.5 - - [30/Jan/2026:99:15:00 +0100] "GET / HTTP/1.1" 200 5 "-" "curl/8" 0.1 "-" h)",
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00+0100] "GET / HTTP/1.1" 200 5 "-" "curl/8" 0.1 "-" h)",
      R"(10.0.0.5 - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1\" 200 5 "-" "curl/8" 0.1 "-" h)",
      R"({"remote_addr":"10.0.0.5","request":"GET / HTTP/1.1","status":200})",
      // No server writes an address with a space in it.
      R"(10.0.0.5 x - - [30/Jan/2026:09:15:00 +0100] "GET / HTTP/1.1" 200 5 "-" "curl/8" 0.1 "-" h)",
      std::string(kMaxLineBytes + 1, 'a'),
  };
  for (const std::string& line : bad) {
    ASSERT_TRUE(layout.Parse(good, &ev));
    EXPECT_FALSE(layout.Parse(line, &ev)) << line.substr(0, 200);
    EXPECT_EQ(ev.present_mask(), 0u) << "a refused line leaves an empty event";
  }
  // Times past year 9999, or not numbers, are no times.
  for (std::string_view line : {"253402300800 x", "1e9 x", "-5 x", "99999999999999999999 x"}) {
    EXPECT_FALSE(Layout("apache:%{sec}t %a").Parse(line, &ev)) << line;
  }
  EXPECT_FALSE(Layout("apache:%{msec}t %a").Parse("253402300800000 x", &ev));
  EXPECT_TRUE(Layout("apache:%{msec}t %a").Parse("253402300799999 x", &ev));

  // The LineParser counts them, and a declared layout is not read as the other family.
  LineParser parser(&layout);
  EXPECT_EQ(parser.format(), LogFormat::kCustom);
  EXPECT_TRUE(parser.Parse(good, &ev));
  EXPECT_FALSE(parser.Parse(bad[9], &ev));
  EXPECT_FALSE(ParseInOtherFamily(bad[9], parser.format(), &ev));
  EXPECT_EQ(parser.lines(), 2u);
  EXPECT_EQ(parser.errors(), 1u);
}

TEST(CustomLogFormatTest, FormatsThatCannotBeReadAreRefusedWithTheReason) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"$remote_addr $status", "\"nginx:\" followed by a log_format string"},
      {"nginx:$remote_addr$status", "offset 12: $status follows the previous variable"},
      {"apache:%h%>s", "offset 2: %>s follows the previous variable"},
      {"nginx:$remote_addr ${status", "offset 13: \"${\" is not closed"},
      {"nginx:$remote_addr $ x", "offset 13: '$' is not followed by a variable name"},
      {"nginx:${remote-addr} x", "'$' is not followed by a variable name"},
      {"apache:%h %", "offset 3: '%' ends the format"},
      {"apache:%h %{Referer", "\"%{\" is not closed"},
      {"apache:%h %i", "%i needs a header name"},
      {"apache:%h %{%H:%M:%S}t", "its strftime times give no date"},
      {"apache:%h %{%Y %H:%M}t", "its strftime times give no date"},
      {"apache:%h %{%F %T %Z}t", "a zone's name (%Z) without its offset"},
      {"apache:%h %{%C%y-%m-%d}t", "%C cannot be read back"},
      {"apache:%h %{%F %Ec}t", "%E cannot be read back"},
      {"apache:%h %{%F %}t", "'%' ends the layout"},
      {"apache:%h %{%F %I:%M:%S}t", "a 12-hour clock (%I, %l) without AM or PM"},
      // %s and %Z are as long as their value: what follows them must be literal text.
      {"apache:%{%s}t%h", "%h follows the previous variable"},
      {"apache:%{%F %T %Z}t%{%z}t %h", "%{%z}t follows the previous variable"},
      {"apache:%{msec_frac}t", "names none of the fields"},
      {"apache:%h %-", "'%-' is not an Apache log directive"},
      {"apache:%h %^tx", "\"%^\" is followed by ti or to"},
      {"nginx:$request_time $upstream_addr", "names none of the fields Rampart reads"},
      {"nginx:", "names none of the fields"},
      {"nginx:$remote_addr $uri$args", "offset 17: $args follows the previous variable"},
      {"nginx:$remote_addr $args$is_args", "$is_args follows the previous variable"},
  };
  for (const auto& [spec, why] : cases) ExpectRefused(spec, why);
  EXPECT_FALSE(CustomLogFormat::Compile("nginx:" + std::string(9000, 'x') + "$status").ok());
  std::string many = "nginx:";
  for (int i = 0; i < 200; ++i) many += "$status ";
  EXPECT_FALSE(CustomLogFormat::Compile(many).ok());
  // Apache's %% is a percent sign; unknown nginx variables and Apache directives are read and
  // dropped.
  const CustomLogFormat layout =
      Layout("apache:%h 100%% %D %{X-Custom}i %{c}a \"%400,501{User-Agent}i\" %^ti %s");
  Event ev;
  ASSERT_TRUE(layout.Parse("192.0.2.1 100% 1234 anything 10.0.0.1 \"curl/8\" x 200", &ev));
  EXPECT_EQ(ev.Get(Field::kSourceIp), "192.0.2.1") << "%{c}a is the connection's peer";
  EXPECT_EQ(ev.Get(Field::kUserAgentOriginal), "curl/8");
  EXPECT_EQ(ev.status_code(), 200);
  EXPECT_FALSE(layout.Parse("192.0.2.1 100 1234 anything 10.0.0.1 \"curl/8\" x 200", &ev));
  // %{c}h, like %{c}a, is the connection's peer; nginx's variable names have no case.
  const CustomLogFormat peer = Layout("apache:%{c}h %a %s");
  ASSERT_TRUE(peer.Parse("10.0.0.1 192.0.2.1 200", &ev));
  EXPECT_EQ(ev.Get(Field::kSourceIp), "192.0.2.1");
  const CustomLogFormat upper = Layout("nginx:$Remote_Addr \"$HTTP_X_FORWARDED_FOR\" ${Status}");
  ASSERT_TRUE(upper.Parse("10.0.0.1 \"192.0.2.1\" 404", &ev));
  EXPECT_EQ(ev.Get(Field::kSourceIp), "10.0.0.1");
  EXPECT_EQ(ev.Get(Field::kHttpRequestXForwardedFor), "192.0.2.1");
  EXPECT_EQ(ev.status_code(), 404);
}

}  // namespace
}  // namespace rampart::detect
