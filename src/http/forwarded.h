// The client a request came from when a reverse proxy forwarded it (`http.trusted_proxies`).
// Behind a proxy the TCP peer of every request is the proxy: rules keyed by address, blocks and
// the sign-in records would all name it. The proxy says who its client was in a header; that
// header is believed only from a peer listed as a trusted proxy, and only as far as the proxies
// themselves wrote it.
//
//   ProxyTrust trust{.proxies = {*ParseCidr("10.0.0.0/24")}};  // X-Forwarded-For
//   ForwardedClient client = ClientAddress(peer, request.headers, trust);
//   if (!client.named) ...;  // no client named: the request is the proxy's
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ip.h"

namespace rampart::http {

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

// Whether `peer` (a TCP peer's address) lies in one of the trusted proxies.
bool IsTrustedProxy(std::string_view peer, const ProxyTrust& trust);

struct ForwardedClient {
  std::string address;
  // True when the walk ended at a hop that is not a trusted proxy: a client. False when it
  // found none (no header, the nearest hop not an address, or every hop a trusted proxy's):
  // the address is then a proxy's.
  bool named = false;
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

}  // namespace rampart::http
