// libFuzzer target: the forwarded client address (common/forwarded.h) on arbitrary header values.
// Input: a first byte of flags, then lines.
// - Raw mode: the first line is the peer, each other line one value of the header. The answer
//   must be the peer itself; or, when the peer is a trusted proxy, a named client that is a
//   canonical address and no trusted proxy, or unnamed, a trusted proxy's address.
// - Proxy mode (flag 0x04, X-Forwarded-For or Forwarded): every line is a value the client
//   sent, and the harness appends the client's address as a proxy does, to the last value or
//   as a header of its own, in one of several spellings (ports, brackets, quotes, IPv6),
//   optionally followed by an inner trusted proxy's hop. Whatever the client wrote, the answer
//   must be the address the proxy appended.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/forwarded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rampart::ForwardedHeader;
  if (size == 0) return 0;
  static const ForwardedHeader kHeaders[] = {
      ForwardedHeader::kXForwardedFor, ForwardedHeader::kForwarded, ForwardedHeader::kXRealIp};
  static const char* kNames[] = {"x-forwarded-for", "forwarded", "x-real-ip"};
  const uint8_t flags = data[0];
  const size_t which = flags % 3;
  rampart::ProxyTrust trust;
  trust.header = kHeaders[which];
  for (const char* proxy : {"10.0.0.0/8", "127.0.0.1", "2001:db8::/32"}) {
    trust.proxies.push_back(*rampart::ParseCidr(proxy));
  }

  std::vector<std::string> lines;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  for (size_t eol = text.find('\n');; eol = text.find('\n')) {
    lines.emplace_back(text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  std::vector<std::pair<std::string, std::string>> headers;

  if ((flags & 0x04) != 0 && trust.header != ForwardedHeader::kXRealIp) {
    // What the proxy appends, as written, and the address it must come out as.
    struct Hop {
      const char* xff;
      const char* forwarded;
      const char* address;
    };
    static const Hop kHops[] = {
        {"192.0.2.77", "for=192.0.2.77", "192.0.2.77"},
        {"192.0.2.77:4711", "For=\"192.0.2.77:4711\";proto=https", "192.0.2.77"},
        {"[2001:DB9::7]:443", "for=\"[2001:db9::7]:443\"", "2001:db9::7"},
        {"2001:db9:0::7", "by=10.0.0.1;for=\"[2001:db9::7]\"", "2001:db9::7"},
    };
    const Hop& hop = kHops[(flags >> 5) & 3];
    const bool forwarded = trust.header == ForwardedHeader::kForwarded;
    const std::string client_hop = forwarded ? hop.forwarded : hop.xff;
    for (const std::string& line : lines) headers.emplace_back(kNames[which], line);
    if ((flags & 0x08) != 0) {
      headers.back().second += ", " + client_hop;
    } else {
      headers.emplace_back(kNames[which], client_hop);
    }
    if ((flags & 0x10) != 0) headers.back().second += forwarded ? ", for=10.1.1.1" : ", 10.1.1.1";
    auto client = rampart::ClientAddress("10.0.0.1", headers, trust);
    if (client.address != hop.address || !client.named) std::abort();
    return 0;
  }

  const std::string peer = lines.front();
  for (size_t i = 1; i < lines.size(); ++i) headers.emplace_back(kNames[which], lines[i]);
  auto client = rampart::ClientAddress(peer, headers, trust);
  const bool peer_trusted = rampart::IsTrustedProxy(peer, trust);
  if (!peer_trusted && (client.address != peer || client.named)) std::abort();
  if (!client.named) {
    // The request is a proxy's: the peer's, or the farthest trusted hop believed.
    if (client.address != peer && !rampart::IsTrustedProxy(client.address, trust)) {
      std::abort();
    }
    return 0;
  }
  // A named client is never a trusted proxy, and always an address in canonical form.
  auto client_ip = rampart::ParseIp(client.address);
  if (!client_ip || rampart::FormatIp(*client_ip) != client.address) std::abort();
  if (rampart::IsTrustedProxy(client.address, trust)) std::abort();
  return 0;
}
