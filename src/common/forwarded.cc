#include "common/forwarded.h"

#include <algorithm>
#include <cctype>

namespace rampart {

namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsPortText(std::string_view port) {
  // A number, or RFC 7239's obfuscated port ("_" and letters, digits, '.', '_', '-').
  if (port.empty() || port.size() > 32) return false;
  return std::all_of(port.begin(), port.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

// "192.0.2.1", "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:443".
std::optional<IpAddress> ParseHopAddress(std::string_view hop) {
  hop = TrimSpaces(hop);
  if (hop.empty()) return std::nullopt;
  if (hop.front() == '[') {
    size_t close = hop.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = hop.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !IsPortText(rest.substr(1)))) return std::nullopt;
    return ParseIp(hop.substr(1, close - 1));
  }
  size_t colon = hop.find(':');
  if (colon != std::string_view::npos && hop.find(':', colon + 1) == std::string_view::npos) {
    if (!IsPortText(hop.substr(colon + 1))) return std::nullopt;
    auto ip = ParseIp(hop.substr(0, colon));
    if (!ip || !ip->v4) return std::nullopt;
    return ip;
  }
  return ParseIp(hop);
}

// Calls `visit` with each part of `text` between `separator`s, the last part first, until it
// returns false (and returns false then). Every separator splits, quotes or not: no node an RFC
// 7239 proxy writes holds a comma or a semicolon, and honouring quotes would let a client's
// unterminated quote swallow the hops the proxies append after it, so that its requests were
// the proxy's own. No allocation: a log line's hops are walked for each line.
template <typename Visit>
bool EachPartFromRight(std::string_view text, char separator, Visit&& visit) {
  while (true) {
    size_t at = text.rfind(separator);
    if (at == std::string_view::npos) return visit(text);
    if (!visit(text.substr(at + 1))) return false;
    text = text.substr(0, at);
  }
}

// A quoted node loses its quotes; one holding an escape or a lone quote is not an address, and
// stays as it is to fail the parse.
std::string_view Unquote(std::string_view value) {
  value = TrimSpaces(value);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

bool NameIs(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() &&
         std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// The `for=` node of one RFC 7239 forwarded-element, or "" when it has none.
std::string_view ForwardedFor(std::string_view element) {
  while (true) {
    const size_t semicolon = element.find(';');
    std::string_view pair = element.substr(0, semicolon);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && NameIs(TrimSpaces(pair.substr(0, eq)), "for")) {
      return Unquote(pair.substr(eq + 1));
    }
    if (semicolon == std::string_view::npos) return {};
    element.remove_prefix(semicolon + 1);
  }
}

std::string_view HeaderName(ForwardedHeader header) {
  switch (header) {
    case ForwardedHeader::kForwarded:
      return "forwarded";
    case ForwardedHeader::kXRealIp:
      return "x-real-ip";
    case ForwardedHeader::kXForwardedFor:
      break;
  }
  return "x-forwarded-for";
}

bool Trusted(const IpAddress& ip, const std::vector<IpNetwork>& proxies) {
  return std::any_of(proxies.begin(), proxies.end(),
                     [&](const IpNetwork& net) { return net.Contains(ip); });
}

}  // namespace

std::optional<ForwardedHeader> ForwardedHeaderNamed(std::string_view name) {
  for (auto header :
       {ForwardedHeader::kXForwardedFor, ForwardedHeader::kForwarded, ForwardedHeader::kXRealIp}) {
    if (NameIs(name, HeaderName(header))) return header;
  }
  return std::nullopt;
}

Result<IpNetwork> ParseTrustedProxy(std::string_view entry) {
  auto net = ParseCidr(entry);
  if (!net) {
    return Status::InvalidArgument("'" + std::string(entry) + "' is not an address or CIDR range");
  }
  const IpAddress any_ipv4 = *ParseIp("::ffff:0.0.0.0");
  const bool ipv4_range = net->base.v4 || net->Contains(any_ipv4);
  if (net->prefix < (ipv4_range ? 96 + 8 : 32)) {
    return Status::InvalidArgument("'" + std::string(entry) +
                                   "' is wider than an IPv4 /8 or an IPv6 /32; list the "
                                   "proxies' own addresses");
  }
  return *net;
}

bool IsTrustedProxy(std::string_view peer, const ProxyTrust& trust) {
  auto peer_ip = ParseIp(peer);
  return peer_ip && Trusted(*peer_ip, trust.proxies);
}

ForwardedClient ClientAddressFromValues(std::string_view peer,
                                        std::span<const std::string_view> values,
                                        const ProxyTrust& trust) {
  if (!IsTrustedProxy(peer, trust)) return ForwardedClient{std::string(peer), false, false};
  // The hops are read from the right, where the nearest proxy wrote, over the values in the
  // order they came (the last value's last hop first); a value's hop with no node is "".
  std::optional<IpAddress> believed;
  bool named = false;
  auto visit = [&](std::string_view hop) {
    auto ip = ParseHopAddress(hop);
    if (!ip) return false;
    believed = ip;
    if (Trusted(*ip, trust.proxies)) return true;
    named = true;
    return false;
  };
  for (auto value = values.rbegin(); value != values.rend(); ++value) {
    const bool walk_on = EachPartFromRight(*value, ',', [&](std::string_view element) {
      return visit(trust.header == ForwardedHeader::kForwarded ? ForwardedFor(element) : element);
    });
    if (!walk_on) break;
  }
  return ForwardedClient{believed ? FormatIp(*believed) : std::string(peer), named, true};
}

ForwardedClient ClientAddress(std::string_view peer,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const ProxyTrust& trust) {
  const std::string_view name = HeaderName(trust.header);
  std::vector<std::string_view> values;
  for (const auto& [header_name, value] : headers) {
    if (header_name == name) values.push_back(value);
  }
  return ClientAddressFromValues(peer, values, trust);
}

}  // namespace rampart
