#include "common/ip.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/crypto.h"

namespace rampart {

namespace {

// Dotted quad as inet_pton(AF_INET) reads it: four decimal octets, no leading zeros. Every
// log line carries an address, so this skips inet_pton's copy into a C string.
bool ParseIpv4(std::string_view text, uint8_t out[4]) {
  const char* p = text.data();
  const char* end = p + text.size();
  auto digit = [&](unsigned* d) {
    if (p == end) return false;
    *d = static_cast<unsigned char>(*p - '0');
    return *d <= 9;
  };
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (p == end || *p != '.') return false;
      ++p;
    }
    unsigned d;
    if (!digit(&d)) return false;
    unsigned value = d;
    ++p;
    if (digit(&d)) {
      if (value == 0) return false;  // a leading zero
      value = value * 10 + d;
      ++p;
      if (digit(&d)) {
        value = value * 10 + d;
        ++p;
      }
    }
    if (value > 255) return false;
    out[octet] = static_cast<uint8_t>(value);
  }
  return p == end;
}

}  // namespace

std::optional<IpAddress> ParseIp(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  IpAddress ip;
  // A dotted quad holds no ':', so trying it first gives what the ':' test used to decide, without
  // a search through the text: most addresses looked up are IPv4.
  if (ParseIpv4(text, ip.bytes.data() + 12)) {
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    ip.v4 = true;
    return ip;
  }
  // inet_pton(AF_INET6) takes only hex digits, ':' and '.': a host name is turned away here.
  char c = text[0];
  bool v6_start =
      (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':';
  if (!v6_start || text.find(':') == std::string_view::npos) return std::nullopt;
  ip.bytes = {};
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

std::optional<IpAddress> ParseUrlHostIpv4(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return std::nullopt;
  uint64_t parts[4];
  size_t count = 0;
  size_t pos = 0;
  while (true) {
    if (count == 4) return std::nullopt;
    size_t dot = host.find('.', pos);
    std::string_view part = host.substr(pos, dot == std::string_view::npos ? dot : dot - pos);
    if (part.empty()) return std::nullopt;
    unsigned radix = 10;
    if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
      radix = 16;
      part.remove_prefix(2);
      if (part.empty()) return std::nullopt;  // "0x" alone, as inet_aton (WHATWG reads 0)
    } else if (part.size() >= 2 && part[0] == '0') {
      radix = 8;
      part.remove_prefix(1);
    }
    uint64_t value = 0;
    for (char c : part) {
      const int digit = crypto::HexDigitValue(c);
      if (digit < 0 || static_cast<unsigned>(digit) >= radix) return std::nullopt;
      value = value * radix + static_cast<unsigned>(digit);
      if (value > 0xffffffffULL) return std::nullopt;
    }
    parts[count++] = value;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  // Every number but the last is one byte; the last fills the bytes left.
  uint64_t address = 0;
  for (size_t i = 0; i + 1 < count; ++i) {
    if (parts[i] > 255) return std::nullopt;
    address |= parts[i] << (8 * (3 - i));
  }
  const uint64_t last = parts[count - 1];
  if (last >= (uint64_t{1} << (8 * (5 - count)))) return std::nullopt;
  address |= last;
  IpAddress ip;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  for (int i = 0; i < 4; ++i)
    ip.bytes[static_cast<size_t>(12 + i)] = (address >> (8 * (3 - i))) & 0xff;
  ip.v4 = true;
  return ip;
}

std::optional<IpNetwork> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view address = text.substr(0, slash);
  auto ip = ParseIp(address);
  if (!ip) return std::nullopt;
  // The prefix counts the bits of the notation the address is written in: an IPv4-mapped
  // network in IPv6 notation ("::ffff:192.0.2.0/120") is the IPv4 /24.
  bool v6_notation = address.find(':') != std::string_view::npos;
  int max = v6_notation ? 128 : 32;
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  // A mapped network shorter than /96 would reach past the IPv4 addresses into IPv6 ones,
  // which the families kept apart cannot express.
  if (ip->v4 && v6_notation && prefix < 96) return std::nullopt;
  IpNetwork net;
  net.prefix = v6_notation ? prefix : prefix + 96;
  net.base = *ip;
  for (int bit = net.prefix; bit < 128; ++bit) {
    net.base.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return net;
}

bool IpNetwork::Contains(const IpAddress& ip) const {
  int full = prefix / 8;
  if (std::memcmp(ip.bytes.data(), base.bytes.data(), full) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff00u >> rest);
  return (ip.bytes[full] & mask) == base.bytes[full];
}

std::string FormatIp(const IpAddress& ip) {
  char buf[INET6_ADDRSTRLEN];
  if (ip.v4) {
    // inet_ntop's "%u.%u.%u.%u" by hand: it goes through the stdio machinery, and a log line
    // attributed to its forwarded client is formatted per line.
    char* out = buf;
    for (size_t i = 12; i < 16; ++i) {
      const unsigned byte = ip.bytes[i];
      if (byte >= 100) *out++ = static_cast<char>('0' + byte / 100);
      if (byte >= 10) *out++ = static_cast<char>('0' + byte / 10 % 10);
      *out++ = static_cast<char>('0' + byte % 10);
      if (i < 15) *out++ = '.';
    }
    return std::string(buf, out);
  }
  inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace rampart
