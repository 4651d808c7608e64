// Lookups made cheaper per line must answer exactly as before: the IPv4 fast path of ParseIp
// against the parser it replaced, the per-thread memo of hosts that match nothing against later
// Adds, expiry and other stores, and URLs built from the virtual host and the request path; and
// address matching against an oracle of its own (parsing and bit-by-bit containment in this
// file, nothing from ip.cc).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/ip.h"
#include "detect/ioc.h"

namespace rampart::detect {
namespace {

constexpr int64_t kLookupNow = 1769760000000;

// Fewer than `bound` bytes drawn from `alphabet`.
std::string RandomText(std::mt19937_64& rng, std::string_view alphabet, size_t bound) {
  std::string text;
  size_t n = rng() % bound;
  for (size_t k = 0; k < n; ++k) text.push_back(alphabet[rng() % alphabet.size()]);
  return text;
}

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
    std::string text = RandomText(rng, kAlphabet, 18);
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
    std::string s = RandomText(rng, kAlphabet, 20);
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

// An oracle for address and network indicators that shares nothing with src/detect/ip.cc:
// texts are parsed here into the 16-byte mapped form, and containment is decided bit by bit.
// What the store promises (ip.h, ioc.h): IPv4 lives in ::ffff:0:0/96 whatever its spelling
// ("1.2.3.4", "::ffff:1.2.3.4", "0:0:0:0:0:ffff:102:304"), a network's prefix counts the bits
// of its address's notation (32 for a dotted quad, 128 in IPv6 notation, where a mapped
// network shorter than /96 is refused), IPv6 networks never match IPv4 addresses nor IPv4
// networks IPv6 ones, and the longest listed network that holds an address is the one reported.
using OracleBytes = std::array<uint8_t, 16>;

struct OracleNet {
  OracleBytes base{};  // as written: host bits may be set
  int prefix = 0;      // on the 128-bit form
  bool v4 = false;
};

bool OracleIsMapped(const OracleBytes& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

int OracleBit(const OracleBytes& b, int bit) {
  return (b[bit / 8] >> (7 - bit % 8)) & 1;
}

bool OracleContains(const OracleNet& net, const OracleBytes& addr) {
  if (net.v4 != OracleIsMapped(addr)) return false;
  for (int bit = 0; bit < net.prefix; ++bit) {
    if (OracleBit(net.base, bit) != OracleBit(addr, bit)) return false;
  }
  return true;
}

// "a.b.c.d": four decimal octets, no leading zero, none over 255.
bool OracleParseDotted(std::string_view text, uint8_t* out) {
  int octet = 0;
  size_t i = 0;
  while (octet < 4) {
    size_t start = i;
    int value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
      value = value * 10 + (text[i] - '0');
      ++i;
    }
    if (i == start || value > 255 || (i - start > 1 && text[start] == '0')) return false;
    out[octet++] = static_cast<uint8_t>(value);
    if (octet < 4) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
  }
  return i == text.size();
}

// Colon-separated groups of one to four hex digits; the last may be a dotted quad (two groups).
bool OracleParseGroups(std::string_view text, std::vector<uint8_t>* out) {
  if (text.empty()) return true;
  size_t start = 0;
  for (;;) {
    size_t colon = text.find(':', start);
    std::string_view group = text.substr(start, colon - start);
    if (colon == std::string_view::npos && group.find('.') != std::string_view::npos) {
      uint8_t quad[4];
      if (!OracleParseDotted(group, quad)) return false;
      out->insert(out->end(), quad, quad + 4);
      return true;
    }
    if (group.empty() || group.size() > 4) return false;
    unsigned value = 0;
    for (char c : group) {
      unsigned d;
      if (c >= '0' && c <= '9') {
        d = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<unsigned>(c - 'A' + 10);
      } else {
        return false;
      }
      value = value * 16 + d;
    }
    out->push_back(static_cast<uint8_t>(value >> 8));
    out->push_back(static_cast<uint8_t>(value & 0xff));
    if (colon == std::string_view::npos) return true;
    start = colon + 1;
  }
}

std::optional<OracleBytes> OracleParseAddress(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  OracleBytes b{};
  if (text.find(':') == std::string_view::npos) {
    b[10] = b[11] = 0xff;
    if (!OracleParseDotted(text, b.data() + 12)) return std::nullopt;
    return b;
  }
  size_t gap = text.find("::");
  std::vector<uint8_t> head, tail;
  if (gap == std::string_view::npos) {
    if (!OracleParseGroups(text, &head) || head.size() != 16) return std::nullopt;
  } else {
    if (!OracleParseGroups(text.substr(0, gap), &head) ||
        !OracleParseGroups(text.substr(gap + 2), &tail) || head.size() + tail.size() > 14) {
      return std::nullopt;
    }
  }
  std::copy(head.begin(), head.end(), b.begin());
  std::copy(tail.begin(), tail.end(), b.end() - static_cast<std::ptrdiff_t>(tail.size()));
  return b;
}

// "address/prefix" or a bare address, as an indicator's value is written.
std::optional<OracleNet> OracleParseNetwork(std::string_view text) {
  size_t slash = text.find('/');
  auto addr = OracleParseAddress(text.substr(0, slash));
  if (!addr) return std::nullopt;
  OracleNet net;
  net.base = *addr;
  net.v4 = OracleIsMapped(*addr);
  bool v6_notation = text.substr(0, slash).find(':') != std::string_view::npos;
  int max = v6_notation ? 128 : 32;
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  if (net.v4 && v6_notation && prefix < 96) return std::nullopt;
  net.prefix = v6_notation ? prefix : prefix + 96;
  return net;
}

std::string OracleDotted(const OracleBytes& b) {
  return std::to_string(b[12]) + "." + std::to_string(b[13]) + "." + std::to_string(b[14]) + "." +
         std::to_string(b[15]);
}

// IPv6 text: all eight groups, or the longest run of zero groups written "::", in either case.
std::string OracleV6Text(const OracleBytes& b, bool compress, bool upper) {
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = unsigned{b[2 * i]} << 8 | b[2 * i + 1];
  int run_at = -1, run_len = 0;
  if (compress) {
    for (int i = 0; i < 8;) {
      int j = i;
      while (j < 8 && groups[j] == 0) ++j;
      if (j - i > run_len) {
        run_at = i;
        run_len = j - i;
      }
      i = j == i ? i + 1 : j;
    }
  }
  std::string out;
  char buf[8];
  for (int i = 0; i < 8; ++i) {
    if (i == run_at) {
      out += "::";
      i += run_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof(buf), upper ? "%X" : "%x", groups[i]);
    out += buf;
  }
  return out;
}

// One of the spellings the store must read as this address.
std::string OracleAddressText(const OracleBytes& b, std::mt19937_64& rng) {
  std::string text;
  if (OracleIsMapped(b)) {
    switch (rng() % 4) {
      case 0:
        text = "::ffff:" + OracleDotted(b);
        break;
      case 1:
        text = OracleV6Text(b, rng() % 2 == 0, rng() % 2 == 0);
        break;
      default:
        text = OracleDotted(b);
        break;
    }
  } else {
    text = OracleV6Text(b, rng() % 3 != 0, rng() % 4 == 0);
  }
  if (rng() % 8 == 0) text = "[" + text + "]";
  return text;
}

OracleBytes OracleMasked(OracleBytes b, int prefix) {
  for (int bit = prefix; bit < 128; ++bit)
    b[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return b;
}

// The last address of the network: every host bit set.
OracleBytes OracleLast(OracleBytes b, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) b[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
  return b;
}

// b + 1 or b - 1 over all 128 bits.
OracleBytes OracleStep(OracleBytes b, bool up) {
  for (int i = 15; i >= 0; --i) {
    if (up ? b[i]++ != 0xff : b[i]-- != 0) break;
  }
  return b;
}

OracleBytes OracleRandomV4(std::mt19937_64& rng) {
  OracleBytes b{};
  b[10] = b[11] = 0xff;
  // Few /8s and /16s, so that random addresses fall into the listed networks too.
  static constexpr uint8_t kFirst[] = {10, 172, 192, 198, 203, 0, 255, 1};
  b[12] = rng() % 4 == 0 ? static_cast<uint8_t>(rng()) : kFirst[rng() % std::size(kFirst)];
  b[13] = rng() % 2 == 0 ? static_cast<uint8_t>(rng() % 4) : static_cast<uint8_t>(rng());
  b[14] = static_cast<uint8_t>(rng() % 2 == 0 ? rng() % 4 : rng());
  b[15] = static_cast<uint8_t>(rng());
  return b;
}

OracleBytes OracleRandomV6(std::mt19937_64& rng) {
  OracleBytes b{};
  switch (rng() % 5) {
    case 0:  // 2001:db8::/32, mostly zeros below
      b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8;
      for (int i = 4; i < 16; ++i) b[i] = rng() % 3 == 0 ? static_cast<uint8_t>(rng()) : 0;
      break;
    case 1:  // ::a.b.c.d, the deprecated IPv4-compatible form: IPv6, not IPv4
      for (int i = 12; i < 16; ++i) b[i] = static_cast<uint8_t>(rng());
      break;
    case 2:  // next to the mapped range: ::fffe:0:0/96 and ::1:ffff:0:0/96
      b[9] = rng() % 2 == 0 ? 1 : 0;
      b[10] = 0xff;
      b[11] = rng() % 2 == 0 ? 0xfe : 0xff;
      for (int i = 12; i < 16; ++i) b[i] = static_cast<uint8_t>(rng());
      break;
    case 3:  // fe80::/10
      b[0] = 0xfe, b[1] = static_cast<uint8_t>(0x80 | (rng() % 0x40));
      for (int i = 8; i < 16; ++i) b[i] = static_cast<uint8_t>(rng());
      break;
    default:
      for (auto& byte : b) byte = static_cast<uint8_t>(rng());
      break;
  }
  // Only the IPv4 generator makes addresses in ::ffff:0:0/96.
  if (OracleIsMapped(b)) b[9] = 1;
  return b;
}

// A network indicator's value as an operator writes it: host bits sometimes left set.
std::string OracleNetworkText(const OracleBytes& addr, int shown_prefix, bool v4, bool bare,
                              std::mt19937_64& rng) {
  // An IPv4 network is sometimes written in IPv6 notation, its prefix then counted on 128 bits.
  bool mapped = v4 && rng() % 3 == 0;
  std::string text = !v4      ? OracleV6Text(addr, rng() % 4 != 0, rng() % 4 == 0)
                     : mapped ? "::ffff:" + OracleDotted(addr)
                              : OracleDotted(addr);
  if (!bare) text += "/" + std::to_string(mapped ? 96 + shown_prefix : shown_prefix);
  return text;
}

int OracleRandomPrefix(bool v4, std::mt19937_64& rng) {
  static constexpr int kV4[] = {8, 12, 15, 16, 17, 23, 24, 25, 28, 31, 32};
  static constexpr int kV6[] = {1, 10, 16, 32, 48, 63, 64, 65, 95, 96, 97, 112, 120, 127, 128};
  if (rng() % 5 == 0) return v4 ? 8 + static_cast<int>(rng() % 25) : static_cast<int>(rng() % 129);
  return v4 ? kV4[rng() % std::size(kV4)] : kV6[rng() % std::size(kV6)];
}

// The addresses at and next to each network's edges: first, last, one before, one after, and
// the first address of the neighbour that differs in the prefix's last bit.
void OracleEdgeAddresses(const OracleNet& net, std::vector<OracleBytes>* out) {
  OracleBytes first = OracleMasked(net.base, net.prefix);
  OracleBytes last = OracleLast(net.base, net.prefix);
  out->push_back(first);
  out->push_back(last);
  out->push_back(OracleStep(first, false));
  out->push_back(OracleStep(last, true));
  if (net.prefix > 0) {
    OracleBytes neighbour = first;
    neighbour[(net.prefix - 1) / 8] ^= static_cast<uint8_t>(0x80u >> ((net.prefix - 1) % 8));
    out->push_back(neighbour);
  }
}

TEST(IocAddressOracleTest, OracleReadsItsOwnSpellings) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20000; ++i) {
    OracleBytes b = i % 2 == 0 ? OracleRandomV4(rng) : OracleRandomV6(rng);
    std::string text = OracleAddressText(b, rng);
    std::optional<OracleBytes> back = OracleParseAddress(text);
    ASSERT_TRUE(back.has_value()) << text;
    ASSERT_EQ(*back, b) << text;
  }
  // Spellings written out by hand, so that the oracle does not only agree with its own writer.
  struct Known {
    const char* text;
    OracleBytes bytes;
  };
  const Known known[] = {
      {"192.0.2.1", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}},
      {"::ffff:192.0.2.1", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}},
      {"0:0:0:0:0:FFFF:C000:201", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}},
      {"::1.2.3.4", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}},
      {"2001:db8::1", {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
      {"[fe80::]", {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {"::", {}},
      {"1:2:3:4:5:6:7::", {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0}},
  };
  for (const Known& k : known) {
    std::optional<OracleBytes> got = OracleParseAddress(k.text);
    ASSERT_TRUE(got.has_value()) << k.text;
    EXPECT_EQ(*got, k.bytes) << k.text;
  }
  OracleNet net = *OracleParseNetwork("10.20.0.0/16");
  EXPECT_TRUE(OracleContains(net, *OracleParseAddress("10.20.255.255")));
  EXPECT_FALSE(OracleContains(net, *OracleParseAddress("10.21.0.0")));
  EXPECT_FALSE(OracleContains(*OracleParseNetwork("::/0"), *OracleParseAddress("10.21.0.0")));
  EXPECT_TRUE(OracleContains(*OracleParseNetwork("::/0"), *OracleParseAddress("::1.2.3.4")));
  EXPECT_TRUE(OracleContains(*OracleParseNetwork("0.0.0.0/0"), *OracleParseAddress("::ffff:0:0")));
  EXPECT_EQ(OracleParseNetwork("::ffff:10.20.0.0/112")->prefix, net.prefix);
  EXPECT_FALSE(OracleParseNetwork("::ffff:10.20.0.0/16").has_value());
}

// A mapped network shorter than /96 would reach into IPv6 space: the store refuses it, and a
// dotted quad's prefix never counts past 32.
TEST(IocAddressOracleTest, MappedNetworksShorterThan96AreRefused) {
  IocStore store;
  for (int prefix = 0; prefix < 96; ++prefix) {
    std::string text = "::ffff:10.20.0.0/" + std::to_string(prefix);
    EXPECT_FALSE(store.Add(IocType::kIp, text, "f", 0).ok()) << text;
    EXPECT_FALSE(OracleParseNetwork(text).has_value()) << text;
  }
  for (int prefix = 96; prefix <= 128; ++prefix) {
    std::string text = "::ffff:0.0.0.0/" + std::to_string(prefix);
    EXPECT_TRUE(store.Add(IocType::kIp, text, "f", 0).ok()) << text;
  }
  EXPECT_FALSE(store.Add(IocType::kIp, "10.20.0.0/33", "f", 0).ok());
}

// MatchEvent on address texts against the oracle: for stores of random networks (with and
// without 0.0.0.0/0 and ::/0) and addresses at, inside and just outside every network's edges,
// an address matches exactly when a listed network holds it, and the indicator reported is the
// longest such network.
TEST(IocAddressOracleTest, MatchEventAgreesWithBitByBitContainment) {
  std::mt19937_64 rng(20260130);
  int matched = 0, missed = 0, cross_family = 0;
  for (int round = 0; round < 24; ++round) {
    IocStore store;
    std::vector<OracleNet> nets;
    auto add = [&](const std::string& text) {
      ASSERT_TRUE(store.Add(IocType::kIp, text, "f", 0).ok()) << text;
      std::optional<OracleNet> net = OracleParseNetwork(text);
      ASSERT_TRUE(net.has_value()) << text;
      nets.push_back(*net);
    };
    if (round % 4 == 1) add("0.0.0.0/0");
    if (round % 4 == 2) add("::/0");
    if (round % 4 == 3) {
      add("0.0.0.0/0");
      add("::/0");
    }
    int count = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < count; ++i) {
      bool v4 = rng() % 2 == 0;
      OracleBytes addr = v4 ? OracleRandomV4(rng) : OracleRandomV6(rng);
      int shown = OracleRandomPrefix(v4, rng);
      bool bare = shown == (v4 ? 32 : 128) && rng() % 2 == 0;
      add(OracleNetworkText(addr, shown, v4, bare, rng));
      if (HasFatalFailure()) return;
    }
    std::vector<OracleBytes> probes;
    for (const OracleNet& net : nets) OracleEdgeAddresses(net, &probes);
    for (int i = 0; i < 2000; ++i)
      probes.push_back(i % 2 ? OracleRandomV4(rng) : OracleRandomV6(rng));
    // Each address twice, in other spellings and fields: a lookup must not change the next.
    for (int pass = 0; pass < 2; ++pass) {
      for (const OracleBytes& addr : probes) {
        const OracleNet* want = nullptr;
        for (const OracleNet& net : nets) {
          if (OracleContains(net, addr) && (want == nullptr || net.prefix > want->prefix)) {
            want = &net;
          }
        }
        std::string text = OracleAddressText(addr, rng);
        static constexpr Field kFields[] = {Field::kSourceIp, Field::kDestinationIp,
                                            Field::kDestinationDomain};
        Event ev;
        ev.Set(kFields[rng() % std::size(kFields)], text);
        std::vector<IocMatch> hits;
        store.MatchEvent(ev, kLookupNow, &hits);
        ASSERT_EQ(hits.size(), want != nullptr ? 1u : 0u) << "'" << text << "' round " << round;
        if (want == nullptr) {
          ++missed;
          for (const OracleNet& net : nets) {
            if (net.v4 != OracleIsMapped(addr) && net.prefix == (net.v4 ? 96 : 0)) ++cross_family;
          }
          continue;
        }
        ++matched;
        std::optional<OracleNet> got = OracleParseNetwork(hits[0].ioc->value);
        ASSERT_TRUE(got.has_value()) << hits[0].ioc->value;
        EXPECT_TRUE(OracleContains(*got, addr)) << hits[0].ioc->value << " for " << text;
        EXPECT_EQ(got->prefix, want->prefix) << hits[0].ioc->value << " for " << text;
        EXPECT_EQ(OracleMasked(got->base, got->prefix), OracleMasked(want->base, want->prefix))
            << hits[0].ioc->value << " for " << text;
        if (HasFailure()) return;
      }
    }
  }
  // The probes reach both answers, and addresses of the other family meet /0 networks.
  EXPECT_GT(matched, 5000);
  EXPECT_GT(missed, 5000);
  EXPECT_GT(cross_family, 1000);
}

}  // namespace
}  // namespace rampart::detect
