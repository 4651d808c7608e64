// The client a request came from when a reverse proxy forwarded it: to Rampart's own server
// (`http.trusted_proxies`), or to a web server whose access log Rampart reads
// (`detection.log_trusted_proxies`, `rampart scan --trusted-proxy`). Behind a proxy the TCP peer of
// every request is the proxy: rules keyed by address, blocks and the sign-in records would all name
// it. The proxy says who its client was in a header; that header is believed only from a peer
// listed as a trusted proxy, and only as far as the proxies themselves wrote it.
//
//   ProxyTrust trust{.proxies = {*ParseCidr("10.0.0.0/24")}};  // X-Forwarded-For
//   ForwardedClient client = ClientAddress(peer, request.headers, trust);
//   if (!client.named) ...;  // no client named: the request is the proxy's
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ip.h"
#include "common/status.h"

namespace rampart {

enum class ForwardedHeader {
  kXForwardedFor,  // X-Forwarded-For: client, proxy1, proxy2 (nginx, HAProxy, most balancers)
  kForwarded,      // RFC 7239 Forwarded: for=client, for="[2001:db8::1]:4711"
  kXRealIp,        // X-Real-IP: client (one address, nginx's proxy_set_header habit)
};

// "x-forwarded-for", "forwarded" or "x-real-ip" (any case); nullopt for anything else.
std::optional<ForwardedHeader> ForwardedHeaderNamed(std::string_view name);

struct ProxyTrust {
  std::vector<IpNetwork> proxies;  // peers whose forwarded header is believed; empty: none
  ForwardedHeader header = ForwardedHeader::kXForwardedFor;
};

// One entry of a trusted proxy list: an address or a range no wider than an IPv4 /8 or an IPv6
// /32. A client inside a trusted range may write any address into the header and is never
// blocked itself, so a wide one (0.0.0.0/1, 2000::/3, or an IPv6 range holding every
// IPv4-mapped address, as ::/80 does) would hand that to much of the Internet.
// InvalidArgument, quoting the entry, otherwise.
Result<IpNetwork> ParseTrustedProxy(std::string_view entry);

// Whether `peer` (a TCP peer's address) lies in one of the trusted proxies.
bool IsTrustedProxy(std::string_view peer, const ProxyTrust& trust);

struct ForwardedClient {
  std::string address;
  // True when the walk ended at a hop that is not a trusted proxy: a client. False when the peer
  // is no trusted proxy (the address is the peer's), or it found none (no header, the nearest
  // hop not an address, or every hop a trusted proxy's): the address is then a proxy's.
  bool named = false;
  // True when the peer is a trusted proxy, so that the header was read.
  bool from_proxy = false;
};

// The address a request is attributed to. `peer` is the TCP peer, returned as it is unless it
// lies in a trusted proxy. Otherwise the header's hops are read from the right, where the
// nearest proxy wrote: a hop that is a trusted proxy is passed over, and the first that is not
// is the client. Hops left of it are whatever the client itself sent and are never believed. A
// hop that is not an address ("unknown", an RFC 7239 obfuscated name, garbage) ends the walk at
// the last address believed, and so does a missing header (a proxy's own health check): then
// the request is a proxy's, and `named` is false. Every instance of the header counts, in
// order, as one list. `headers` are (lower-case name, value) pairs, as http::Request holds them.
ForwardedClient ClientAddress(std::string_view peer,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const ProxyTrust& trust);
// The same, over the header's values already picked out, in the order its lines came: what a
// web server wrote of it into its access log ($http_x_forwarded_for), for a log line's client.
ForwardedClient ClientAddressFromValues(std::string_view peer,
                                        std::span<const std::string_view> values,
                                        const ProxyTrust& trust);

}  // namespace rampart
