// libFuzzer target: the forwarded client address (http/forwarded.h) on arbitrary header values.
// Input: a first byte choosing the header, then lines: the peer address, then one header value
// per line. Aborts unless the answer is the peer itself, or a canonical address when the peer
// is a trusted proxy.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/forwarded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rampart::http::ForwardedHeader;
  if (size == 0) return 0;
  static const ForwardedHeader kHeaders[] = {ForwardedHeader::kXForwardedFor,
                                             ForwardedHeader::kForwarded, ForwardedHeader::kXRealIp};
  static const char* kNames[] = {"x-forwarded-for", "forwarded", "x-real-ip"};
  const size_t which = data[0] % 3;
  rampart::http::ProxyTrust trust;
  trust.header = kHeaders[which];
  for (const char* proxy : {"10.0.0.0/8", "127.0.0.1", "2001:db8::/32"}) {
    trust.proxies.push_back(*rampart::ParseCidr(proxy));
  }

  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t eol = text.find('\n');
  std::string peer(text.substr(0, eol));
  std::vector<std::pair<std::string, std::string>> headers;
  while (eol != std::string_view::npos) {
    text.remove_prefix(eol + 1);
    eol = text.find('\n');
    headers.emplace_back(kNames[which], std::string(text.substr(0, eol)));
  }

  std::string client = rampart::http::ClientAddress(peer, headers, trust);
  if (client == peer) return 0;
  auto peer_ip = rampart::ParseIp(peer);
  bool peer_trusted = false;
  for (const auto& net : trust.proxies) peer_trusted |= peer_ip && net.Contains(*peer_ip);
  auto client_ip = rampart::ParseIp(client);
  if (!peer_trusted || !client_ip || rampart::FormatIp(*client_ip) != client) std::abort();
  return 0;
}
