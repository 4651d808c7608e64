// The IPv4 loopback address with a port, for tests that talk to a listener on 127.0.0.1 with
// raw sockets (syslog over UDP and TCP, for instance).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>

namespace rampart::testing {

inline sockaddr_in LoopbackAddress(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace rampart::testing
