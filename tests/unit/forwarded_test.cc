// ClientAddress: which address a request forwarded by a reverse proxy is attributed to.
#include "common/forwarded.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace rampart {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

ProxyTrust Trust(std::vector<std::string> proxies,
                 ForwardedHeader header = ForwardedHeader::kXForwardedFor) {
  ProxyTrust trust;
  trust.header = header;
  for (const auto& p : proxies) {
    auto net = ParseCidr(p);
    EXPECT_TRUE(net.has_value()) << p;
    if (net) trust.proxies.push_back(*net);
  }
  return trust;
}

std::string Client(std::string_view peer, const Headers& headers, const ProxyTrust& trust) {
  return ClientAddress(peer, headers, trust).address;
}

TEST(ForwardedTest, HeaderNamesAreRecognisedInAnyCase) {
  EXPECT_EQ(ForwardedHeaderNamed("x-forwarded-for"), ForwardedHeader::kXForwardedFor);
  EXPECT_EQ(ForwardedHeaderNamed("Forwarded"), ForwardedHeader::kForwarded);
  EXPECT_EQ(ForwardedHeaderNamed("X-Real-IP"), ForwardedHeader::kXRealIp);
  EXPECT_FALSE(ForwardedHeaderNamed("x-client-ip").has_value());
  EXPECT_FALSE(ForwardedHeaderNamed("").has_value());
}

TEST(ForwardedTest, AnUntrustedPeerIsTheClientWhateverItSends) {
  ProxyTrust trust = Trust({"10.0.0.1"});
  Headers headers = {{"x-forwarded-for", "203.0.113.7"}};
  EXPECT_EQ(Client("198.51.100.4", headers, trust), "198.51.100.4");
  EXPECT_EQ(Client("198.51.100.4", headers, ProxyTrust{}), "198.51.100.4");
  // A peer address that does not parse is passed through untouched and trusts nothing.
  EXPECT_EQ(Client("not-an-ip", headers, trust), "not-an-ip");
  EXPECT_FALSE(ClientAddress("198.51.100.4", headers, trust).from_proxy);
  EXPECT_TRUE(ClientAddress("10.0.0.1", headers, trust).from_proxy);
  EXPECT_TRUE(ClientAddress("10.0.0.1", {}, trust).from_proxy) << "named or not";
  EXPECT_FALSE(ClientAddress("10.0.0.1", {}, trust).named);
}

TEST(ForwardedTest, TheNearestUntrustedHopIsTheClient) {
  ProxyTrust trust = Trust({"10.0.0.0/24", "2001:db8:ff::/48"});
  // One proxy: it appended its client.
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "203.0.113.7"}}, trust), "203.0.113.7");
  // Two proxies in a chain: the inner one's entry is passed over.
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "203.0.113.7, 10.0.0.9"}}, trust),
            "203.0.113.7");
  // What the client sent before its own address is never believed, even a trusted address.
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "10.0.0.5, 192.0.2.1, 203.0.113.7"}}, trust),
            "203.0.113.7");
  // Several header lines are one list, in order.
  EXPECT_EQ(Client("10.0.0.1",
                   {{"x-forwarded-for", "192.0.2.1"}, {"x-forwarded-for", "203.0.113.8"}}, trust),
            "203.0.113.8");
  // IPv6 hops, bracketed or not, with a port or not, come out in one canonical form.
  EXPECT_EQ(Client("2001:db8:ff::1", {{"x-forwarded-for", "[2001:DB8::0:7]:4711"}}, trust),
            "2001:db8::7");
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "2001:db8::7"}}, trust), "2001:db8::7");
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", " 203.0.113.7:51234 "}}, trust), "203.0.113.7");
  // An IPv4 peer seen through an IPv6 socket is still the trusted proxy.
  EXPECT_EQ(Client("::ffff:10.0.0.1", {{"x-forwarded-for", "203.0.113.7"}}, trust), "203.0.113.7");
  // Other headers are not read.
  EXPECT_EQ(Client("10.0.0.1", {{"x-real-ip", "203.0.113.7"}}, trust), "10.0.0.1");
}

TEST(ForwardedTest, WithoutABelievableHopTheRequestIsTheProxysOrTheLastTrustedHops) {
  ProxyTrust trust = Trust({"10.0.0.0/24"});
  // Whether a hop named the client, which the server requires of a proxy's requests.
  EXPECT_FALSE(ClientAddress("10.0.0.1", {}, trust).named);
  EXPECT_FALSE(
      ClientAddress("10.0.0.1", {{"x-forwarded-for", "203.0.113.7, unknown"}}, trust).named);
  // A hop naming a proxy is no client: else a client inside a trusted range could pass for one.
  EXPECT_FALSE(ClientAddress("10.0.0.1", {{"x-forwarded-for", "10.0.0.2"}}, trust).named);
  EXPECT_TRUE(ClientAddress("10.0.0.1", {{"x-forwarded-for", "203.0.113.7"}}, trust).named);
  EXPECT_FALSE(ClientAddress("198.51.100.1", {{"x-forwarded-for", "203.0.113.7"}}, trust).named);
  EXPECT_TRUE(IsTrustedProxy("10.0.0.200", trust));
  EXPECT_TRUE(IsTrustedProxy("::ffff:10.0.0.200", trust));
  EXPECT_FALSE(IsTrustedProxy("10.0.1.1", trust));
  EXPECT_FALSE(IsTrustedProxy("proxy", trust));
  // A proxy's own request (a health check) carries no header.
  EXPECT_EQ(Client("10.0.0.1", {}, trust), "10.0.0.1");
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", ""}}, trust), "10.0.0.1");
  // Every hop a proxy: the farthest proxy is the address, and no client is named.
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "10.0.0.3, 10.0.0.2"}}, trust), "10.0.0.3");
  EXPECT_FALSE(ClientAddress("10.0.0.1", {{"x-forwarded-for", "10.0.0.3, 10.0.0.2"}}, trust).named);
  // Garbage stops the walk at the last address believed; what lies beyond it is not read.
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "203.0.113.7, unknown"}}, trust), "10.0.0.1");
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "203.0.113.7, junk, 10.0.0.2"}}, trust),
            "10.0.0.2");
  for (const char* bad : {"1.2.3", "1.2.3.4:", "1.2.3.4:80:90", "[2001:db8::1", "[2001:db8::1]x",
                          "fe80::1%eth0", "1.2.3.4 5.6.7.8", "\"1.2.3.4\""}) {
    EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", bad}}, trust), "10.0.0.1") << bad;
  }
}

TEST(ForwardedTest, AClientsUnterminatedQuoteCannotHideTheHopsAfterIt) {
  // If quotes were honoured, `"` would swallow the proxy's appended hop and leave the request
  // attributed to the proxy, an address no block may cover.
  ProxyTrust xff = Trust({"10.0.0.1"});
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "\"198.51.100.1, 203.0.113.7"}}, xff),
            "203.0.113.7");
  ProxyTrust forwarded = Trust({"10.0.0.1"}, ForwardedHeader::kForwarded);
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "for=\"x, for=203.0.113.7"}}, forwarded),
            "203.0.113.7");
}

TEST(ForwardedTest, Rfc7239ForwardedReadsTheForParameterOfEachElement) {
  ProxyTrust trust = Trust({"10.0.0.0/24"}, ForwardedHeader::kForwarded);
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "for=203.0.113.7;proto=https;by=10.0.0.1"}}, trust),
            "203.0.113.7");
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "For=\"[2001:db8:cafe::17]:4711\""}}, trust),
            "2001:db8:cafe::17");
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "for=192.0.2.60, proto=http;for=10.0.0.4"}}, trust),
            "192.0.2.60");
  // An obfuscated port still names an address; an obfuscated node or "unknown" does not.
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "for=\"203.0.113.7:_p1\""}}, trust), "203.0.113.7");
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "for=_hidden"}}, trust), "10.0.0.1");
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "for=unknown"}}, trust), "10.0.0.1");
  // An element without `for` is a hop with no address.
  EXPECT_EQ(Client("10.0.0.1", {{"forwarded", "for=203.0.113.7, proto=https"}}, trust), "10.0.0.1");
}

// The client's address is written by hand for IPv4, per log line: exactly as inet_ntop does.
TEST(ForwardedTest, Ipv4AddressesAreFormattedAsInetNtopDoes) {
  for (unsigned byte = 0; byte < 256; ++byte) {
    for (size_t position = 0; position < 4; ++position) {
      unsigned char raw[4] = {192, 0, 2, 1};
      raw[position] = static_cast<unsigned char>(byte);
      char want[INET_ADDRSTRLEN];
      ASSERT_NE(inet_ntop(AF_INET, raw, want, sizeof want), nullptr);
      auto ip = ParseIp(want);
      ASSERT_TRUE(ip.has_value()) << want;
      EXPECT_EQ(FormatIp(*ip), want);
    }
  }
  EXPECT_EQ(FormatIp(*ParseIp("::ffff:10.0.0.255")), "10.0.0.255");
  EXPECT_EQ(FormatIp(*ParseIp("2001:DB8:0:0::1")), "2001:db8::1");
}

TEST(ForwardedTest, XRealIpIsOneHop) {
  ProxyTrust trust = Trust({"10.0.0.1"}, ForwardedHeader::kXRealIp);
  EXPECT_EQ(Client("10.0.0.1", {{"x-real-ip", "203.0.113.7"}}, trust), "203.0.113.7");
  EXPECT_EQ(Client("10.0.0.1", {{"x-forwarded-for", "203.0.113.7"}}, trust), "10.0.0.1");
}

}  // namespace
}  // namespace rampart
