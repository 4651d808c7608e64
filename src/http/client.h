// A small blocking HTTP/1.1 client with keep-alive, used by the device agent, the CLI and tests.
// With TLS it verifies the server against a pinned CA file (no system trust store) and the
// host name. Beast stays inside client.cc.
//
//   auto c = HttpClient::Connect({.url = "https://127.0.0.1:8443", .ca_file = "var/tls/ca.pem"});
//   auto r = (*c)->Send("GET", "/healthz", {}, "");
//
// Not thread-safe: one client per thread. Reconnects once if the server closed an idle
// keep-alive connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rampart::http {

struct ClientOptions {
  std::string url;      // "https://host:port" or "http://host:port"
  std::string ca_file;  // PEM CA to pin; required for https
  int timeout_ms = 10000;
  // Source IP address to connect from (e.g. another loopback address, so that a test's or a
  // demo's clients look like different hosts to the server); empty: chosen by the kernel.
  std::string local_address = {};
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> Connect(const ClientOptions& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Unavailable on connection or TLS failure, or timeout.
  Result<ClientResponse> Send(const std::string& method, const std::string& target,
                              const HeaderList& headers, const std::string& body);

 private:
  class Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "https://host:port" into its parts; InvalidArgument otherwise.
Status ParseUrl(const std::string& url, bool* tls, std::string* host, uint16_t* port);

}  // namespace rampart::http
