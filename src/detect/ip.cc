#include "detect/ip.h"

#include <arpa/inet.h>

#include <cstring>

namespace rampart::detect {

namespace {

// Dotted quad as inet_pton(AF_INET) reads it: four decimal octets, no leading zeros. Every
// log line carries an address, so this skips inet_pton's copy into a C string.
bool ParseIpv4(std::string_view text, uint8_t out[4]) {
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

}  // namespace

std::optional<IpAddress> ParseIp(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  IpAddress ip;
  if (text.find(':') == std::string_view::npos) {
    if (!ParseIpv4(text, ip.bytes.data() + 12)) return std::nullopt;
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

std::optional<IpNetwork> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = ParseIp(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int max = ip->v4 ? 32 : 128;
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
  IpNetwork net;
  net.prefix = ip->v4 ? prefix + 96 : prefix;
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
    inet_ntop(AF_INET, ip.bytes.data() + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof(buf));
  }
  return buf;
}

}  // namespace rampart::detect
