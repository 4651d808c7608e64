// Lookups made cheaper per line must answer exactly as before: the IPv4 fast path of ParseIp
// against the parser it replaced, the per-thread memo of hosts that match nothing against later
// Adds, expiry and other stores, and URLs built from the virtual host and the request path.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "detect/ioc.h"
#include "detect/ip.h"

namespace rampart::detect {
namespace {

constexpr int64_t kLookupNow = 1769760000000;

// ParseIp as it was before the IPv4-first rewrite, verbatim but for names.
bool RefParseIpv4(std::string_view text, uint8_t out[4]) {
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
    size_t start = i;
    unsigned value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return false;
    out[octet] = static_cast<uint8_t>(value);
  }
  return i == text.size();
}

std::optional<IpAddress> RefParseIp(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  IpAddress ip;
  if (text.find(':') == std::string_view::npos) {
    if (!RefParseIpv4(text, ip.bytes.data() + 12)) return std::nullopt;
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    ip.v4 = true;
    return ip;
  }
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) != 1) return std::nullopt;
  std::memcpy(ip.bytes.data(), &a6, 16);
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  ip.v4 = std::memcmp(ip.bytes.data(), kMapped, 12) == 0;
  return ip;
}

void ExpectSameIp(const std::string& text) {
  std::optional<IpAddress> got = ParseIp(text);
  std::optional<IpAddress> want = RefParseIp(text);
  ASSERT_EQ(got.has_value(), want.has_value()) << "'" << text << "'";
  if (got) {
    EXPECT_EQ(got->bytes, want->bytes) << text;
    EXPECT_EQ(got->v4, want->v4) << text;
  }
}

TEST(IpParseEquivalenceTest, AgreesWithThePreviousParser) {
  for (const char* text : {"1.2.3",
                           "01.2.3.4",
                           "256.1.1.1",
                           "1.2.3.4 ",
                           " 1.2.3.4",
                           "1.2.3.4",
                           "0.0.0.0",
                           "255.255.255.255",
                           "1.2.3.04",
                           "1.2.3.0",
                           "1.2.3.00",
                           "1.2.3.1000",
                           "1.2.3.4.",
                           ".1.2.3.4",
                           "[1.2.3.4]",
                           "[1.2.3.4",
                           "[]",
                           "[",
                           "::",
                           "::1",
                           "[::1]",
                           "::ffff:1.2.3.4",
                           "1::",
                           "2001:db8::1",
                           "2001:DB8::1",
                           "g::1",
                           "mdm.example.eu",
                           "example.eu",
                           "fe80::1%eth0",
                           "a.b.c.d",
                           "1:2:3:4:5:6:7:8",
                           "1:2:3:4:5:6:7:8:9",
                           "",
                           "1.2.3.4:443",
                           ":1.2.3.4",
                           "::1.2.3.4",
                           "::256.1.1.1",
                           "ab",
                           "abc:",
                           ".",
                           ":",
                           "999",
                           "1e3.0.0.1"}) {
    ExpectSameIp(text);
  }
  std::mt19937_64 rng(42);
  constexpr std::string_view kAlphabet = "0123456789.:abcdefABCDEFxz[] %";
  for (int i = 0; i < 200000; ++i) {
    std::string text;
    size_t n = rng() % 18;
    for (size_t k = 0; k < n; ++k) text.push_back(kAlphabet[rng() % kAlphabet.size()]);
    ExpectSameIp(text);
    // And near-valid ones: an address with one byte changed.
    std::string near = std::to_string(rng() % 300) + "." + std::to_string(rng() % 256) + "." +
                       std::to_string(rng() % 256) + "." + std::to_string(rng() % 260);
    if (rng() % 2) near[rng() % near.size()] = kAlphabet[rng() % kAlphabet.size()];
    ExpectSameIp(near);
    if (HasFailure()) return;
  }
}

TEST(IocMemoTest, RememberedMissIsForgottenWhenTheStoreGrows) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kDomain, "a.example", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://a.example/x", "f", 0).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(store.FindDomain("B.example", kLookupNow), nullptr);
    EXPECT_EQ(store.FindUrl("http://C.example/x", kLookupNow), nullptr);
  }
  ASSERT_TRUE(store.Add(IocType::kDomain, "b.example", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://c.example/x", "f", 0).ok());
  EXPECT_NE(store.FindDomain("B.example", kLookupNow), nullptr);
  EXPECT_NE(store.FindUrl("http://C.example/x", kLookupNow), nullptr);
}

// An expired indicator is a "no" only for now: asking again at an earlier time still finds it.
TEST(IocMemoTest, ExpiredIndicatorIsNotRememberedAsAMiss) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kDomain, "old.example", "f", kLookupNow + 1000).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://old.example/x", "f", kLookupNow + 1000).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(store.FindDomain("cdn.old.example", kLookupNow + 2000), nullptr);
    EXPECT_EQ(store.FindUrl("http://old.example/x", kLookupNow + 2000), nullptr);
    EXPECT_NE(store.FindDomain("cdn.old.example", kLookupNow), nullptr);
    EXPECT_NE(store.FindUrl("http://old.example/x", kLookupNow), nullptr);
  }
}

TEST(IocMemoTest, StoresDoNotShareRememberedMisses) {
  IocStore with, without;
  ASSERT_TRUE(with.Add(IocType::kDomain, "x.example", "f", 0).ok());
  ASSERT_TRUE(without.Add(IocType::kDomain, "y.example", "f", 0).ok());
  EXPECT_EQ(without.FindDomain("x.example", kLookupNow), nullptr);
  EXPECT_NE(with.FindDomain("x.example", kLookupNow), nullptr);
  // A store made where a destroyed one lived is another store.
  for (int i = 0; i < 4; ++i) {
    auto first = std::make_unique<IocStore>();
    ASSERT_TRUE(first->Add(IocType::kDomain, "y.example", "f", 0).ok());
    EXPECT_EQ(first->FindDomain("z.example", kLookupNow), nullptr);
    first.reset();
    auto second = std::make_unique<IocStore>();
    ASSERT_TRUE(second->Add(IocType::kDomain, "z.example", "f", 0).ok());
    EXPECT_NE(second->FindDomain("z.example", kLookupNow), nullptr);
  }
}

// More hosts than the memo holds, from several threads at once: every answer stays right.
TEST(IocMemoTest, ManyHostsOnSeveralThreads) {
  IocStore store;
  for (int i = 0; i < 50; i += 2) {
    ASSERT_TRUE(store.Add(IocType::kDomain, "h" + std::to_string(i) + ".example", "f", 0).ok());
    ASSERT_TRUE(
        store.Add(IocType::kUrl, "http://h" + std::to_string(i) + ".example/p", "f", 0).ok());
  }
  auto work = [&store](int seed, int* wrong) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    for (int k = 0; k < 20000; ++k) {
      int i = static_cast<int>(rng() % 50);
      std::string host = "h" + std::to_string(i) + ".example";
      bool listed = i % 2 == 0;
      if ((store.FindDomain(host, kLookupNow) != nullptr) != listed) ++*wrong;
      if ((store.FindUrl("http://" + host + "/p", kLookupNow) != nullptr) != listed) ++*wrong;
    }
  };
  int wrong_a = 0, wrong_b = 0;
  std::thread a(work, 1, &wrong_a);
  std::thread b(work, 2, &wrong_b);
  a.join();
  b.join();
  EXPECT_EQ(wrong_a, 0);
  EXPECT_EQ(wrong_b, 0);
}

std::vector<IocMatch> MatchHostAndPath(const IocStore& store, std::string_view domain,
                                       std::string_view target) {
  Event ev;
  ev.Set(Field::kDestinationDomain, domain);
  ev.Set(Field::kUrlOriginal, target);
  std::vector<IocMatch> hits;
  store.MatchEvent(ev, kLookupNow, &hits);
  return hits;
}

// The URL built from the virtual host and the path is looked up as domain + path always was,
// whether the host alone can rule it out (plain and long enough) or the URL must be built.
TEST(IocHostAndPathTest, MatchesAsTheBuiltUrl) {
  IocStore store;
  ASSERT_TRUE(store.Add(IocType::kUrl, "https://drop.example/stage/a.zip", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "d.ex/p", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "HTTPS://Drop.Example:8443/P?q", "f", 0).ok());
  ASSERT_TRUE(store.Add(IocType::kUrl, "http://evil.example/p", "f", 0).ok());
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(MatchHostAndPath(store, "Drop.Example", "/stage/a.zip").size(), 1u);
    EXPECT_EQ(MatchHostAndPath(store, "drop.example", "/stage/b.zip").size(), 0u);
    EXPECT_EQ(MatchHostAndPath(store, "mdm.example.eu", "/stage/a.zip").size(), 0u);
    EXPECT_EQ(MatchHostAndPath(store, "d.ex", "/p").size(), 1u);
    EXPECT_EQ(MatchHostAndPath(store, "drop.example:8443", "/P?q").size(), 1u);
    EXPECT_EQ(MatchHostAndPath(store, "drop.example:8443", "/P?q#frag").size(), 1u);
    // A short host followed by a path holding "://" read as a scheme, as the built URL is.
    EXPECT_EQ(MatchHostAndPath(store, "ab", "/x://evil.example/p").size(), 1u);
    // A host that does not end where the path starts.
    EXPECT_EQ(MatchHostAndPath(store, "evil.example/p#", "/z").size(), 1u);
    EXPECT_EQ(MatchHostAndPath(store, "evil.example?", "/p").size(), 0u);
  }
}

// MatchEvent rules most addresses out from their first octets (IPv4 /16 and /24 bitmaps)
// before parsing them: every text must get what parsing it and FindIp give.
TEST(IocAddressPrefixTest, MatchEventAgreesWithParseAndFindIp) {
  IocStore v4_and_v6, v6_only;
  for (const char* net : {"198.18.0.7", "198.18.1.0/24", "10.20.0.0/16", "172.16.0.0/12",
                          "2.0.0.0/8", "203.0.113.128/25", "2001:db8::/64", "::ffff:9.9.9.9"}) {
    ASSERT_TRUE(v4_and_v6.Add(IocType::kIp, net, "f", 0).ok()) << net;
  }
  ASSERT_TRUE(v6_only.Add(IocType::kIp, "2001:db8::/64", "f", 0).ok());
  std::mt19937_64 rng(7);
  constexpr std::string_view kAlphabet = "0123456789.:abcdefx[] ";
  const std::string starts[] = {
      "198.18.", "198.18.1.",  "10.20.",  "172.17.", "172.32.", "2.", "203.0.113.",
      "9.9.9.",  "2001:db8::", "::ffff:", "0.",      "00.",     ""};
  int matched = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string text = starts[rng() % std::size(starts)];
    size_t n = rng() % 14;
    for (size_t k = 0; k < n; ++k) {
      text += rng() % 3 == 0 ? std::string(1, kAlphabet[rng() % kAlphabet.size()])
                             : std::to_string(rng() % 260) + (rng() % 4 ? "." : "");
    }
    if (text.size() > 60) text.resize(rng() % 60);
    for (const IocStore* store : {&v4_and_v6, &v6_only}) {
      for (Field f : {Field::kSourceIp, Field::kDestinationIp, Field::kDestinationDomain}) {
        Event ev;
        ev.Set(f, text);
        std::vector<IocMatch> hits;
        store->MatchEvent(ev, kLookupNow, &hits);
        std::optional<IpAddress> ip = ParseIp(text);
        const Ioc* want = ip ? store->FindIp(*ip, kLookupNow) : nullptr;
        ASSERT_EQ(hits.size(), want != nullptr ? 1u : 0u) << "'" << text << "'";
        if (want != nullptr) {
          EXPECT_EQ(hits[0].ioc, want) << text;
          ++matched;
        }
      }
    }
  }
  // The generated texts reach the listed networks, not only misses.
  EXPECT_GT(matched, 1000);
}

// The scheme search stops at `limit`, and answers as find("://") over the whole text did for
// both of its callers: UrlHost (first "://" at 10 or before) and the URL normaliser (first
// "://" in the first 13 bytes, before 10).
TEST(IocSchemeTest, SchemeSeparatorAgreesWithFind) {
  std::mt19937_64 rng(11);
  constexpr std::string_view kAlphabet = "://ah";
  for (int i = 0; i < 300000; ++i) {
    std::string s;
    size_t n = rng() % 20;
    for (size_t k = 0; k < n; ++k) s.push_back(kAlphabet[rng() % kAlphabet.size()]);
    std::string_view v = s;
    size_t whole = v.find("://");
    size_t host_want =
        whole != std::string_view::npos && whole <= 10 ? whole : std::string_view::npos;
    ASSERT_EQ(internal::SchemeSeparator(v, 11), host_want) << s;
    size_t head = v.substr(0, 13).find("://");
    size_t norm_want = head != std::string_view::npos && head < 10 ? head : std::string_view::npos;
    ASSERT_EQ(internal::SchemeSeparator(v, 10), norm_want) << s;
  }
}

// MatchEvent skips FindUrl for a bare path when no indicator is path-only: the URL it reports
// for url.original is FindUrl's answer either way.
TEST(IocTargetTest, MatchEventAgreesWithFindUrl) {
  IocStore hosts_only, with_paths;
  for (IocStore* store : {&hosts_only, &with_paths}) {
    ASSERT_TRUE(store->Add(IocType::kUrl, "https://evil.example/mifs/x", "f", 0).ok());
    ASSERT_TRUE(store->Add(IocType::kUrl, "evil.example/", "f", 0).ok());
  }
  ASSERT_TRUE(with_paths.Add(IocType::kUrl, "/mifs/x", "f", 0).ok());
  ASSERT_TRUE(with_paths.Add(IocType::kUrl, "/a?b", "f", 0).ok());
  const std::string targets[] = {"/mifs/x",
                                 "/mifs/x#f",
                                 "/a?b",
                                 "/a",
                                 "/",
                                 "",
                                 "mifs/x",
                                 "https://evil.example/mifs/x",
                                 "http://EVIL.example",
                                 "evil.example/mifs/x",
                                 "//evil.example/mifs/x",
                                 " /mifs/x",
                                 "/mifs/y"};
  int matched = 0;
  for (const IocStore* store : {&hosts_only, &with_paths}) {
    for (const std::string& target : targets) {
      Event ev;
      ev.Set(Field::kUrlOriginal, target);
      std::vector<IocMatch> hits;
      store->MatchEvent(ev, kLookupNow, &hits);
      const Ioc* want = store->FindUrl(target, kLookupNow);
      ASSERT_EQ(hits.size(), want != nullptr ? 1u : 0u) << "'" << target << "'";
      if (want != nullptr) {
        EXPECT_EQ(hits[0].ioc, want) << target;
        ++matched;
      }
    }
  }
  EXPECT_GE(matched, 6);
}

}  // namespace
}  // namespace rampart::detect
