#include "http/forwarded.h"

#include <algorithm>
#include <cctype>

namespace rampart::http {

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

// Splits at every `separator`, quotes or not. No node an RFC 7239 proxy writes holds a comma or a
// semicolon, and honouring quotes would let a client's unterminated quote swallow the hops the
// proxies append after it, so that its requests were the proxy's own.
std::vector<std::string_view> SplitAt(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = text.find(separator); i != std::string_view::npos;
       i = text.find(separator, start)) {
    parts.push_back(text.substr(start, i - start));
    start = i + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
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
  for (std::string_view pair : SplitAt(element, ';')) {
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (NameIs(TrimSpaces(pair.substr(0, eq)), "for")) return Unquote(pair.substr(eq + 1));
  }
  return {};
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

bool IsTrustedProxy(std::string_view peer, const ProxyTrust& trust) {
  auto peer_ip = ParseIp(peer);
  return peer_ip && Trusted(*peer_ip, trust.proxies);
}

ForwardedClient ClientAddress(std::string_view peer,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const ProxyTrust& trust) {
  ForwardedClient client{std::string(peer), false};
  if (!IsTrustedProxy(peer, trust)) return client;

  // Hops in the order they were written, the nearest proxy's last; "" for a hop with no node.
  std::vector<std::string_view> hops;
  const std::string_view name = HeaderName(trust.header);
  for (const auto& [header_name, value] : headers) {
    if (header_name != name) continue;
    if (trust.header == ForwardedHeader::kForwarded) {
      for (std::string_view element : SplitAt(value, ',')) hops.push_back(ForwardedFor(element));
    } else {
      for (std::string_view hop : SplitAt(value, ',')) hops.push_back(hop);
    }
  }

  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    auto ip = ParseHopAddress(*hop);
    if (!ip) break;
    client.address = FormatIp(*ip);
    if (!Trusted(*ip, trust.proxies)) {
      client.named = true;
      break;
    }
  }
  return client;
}

}  // namespace rampart::http
