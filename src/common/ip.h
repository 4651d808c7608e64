// IPv4/IPv6 addresses and CIDR networks as 16-byte values (IPv4 mapped into ::ffff:0:0/96), so
// one comparison path serves both families.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rampart {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;
  auto operator<=>(const IpAddress&) const = default;
};

struct IpNetwork {
  IpAddress base;  // host bits cleared
  int prefix = 0;  // 0..128 on the mapped form (an IPv4 /24 is stored as /120)
  bool Contains(const IpAddress& ip) const;
};

// Parses "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "[2001:db8::1]" (brackets allowed).
std::optional<IpAddress> ParseIp(std::string_view text);
// A URL's host read as an IPv4 address the way inet_aton, browsers and curl read it (the WHATWG
// URL standard's IPv4 parser): one to four dot-separated numbers, each decimal, hex ("0x", not
// empty) or octal (a leading "0"), the last filling the bytes left, and one trailing dot
// ("3232235777", "0xc0a80001", "0300.0250.1", "192.168.1.", "192.0.2.1"). Payloads write
// addresses so to slip past filters that look for dotted quads. Nothing for anything else.
std::optional<IpAddress> ParseUrlHostIpv4(std::string_view host);
// Parses "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128). The prefix is in
// the bits of the address's notation: "::ffff:192.0.2.0/120" is 192.0.2.0/24; an IPv4-mapped
// network shorter than /96 is refused.
std::optional<IpNetwork> ParseCidr(std::string_view text);
std::string FormatIp(const IpAddress& ip);

}  // namespace rampart
