// The HTTPS front door: Boost.Beast/Asio, asynchronous, with limits on header size, body size,
// per-connection request rate, idle and read timeouts and connection count. Beast stays inside
// server.cc; this header is light.
//
//   HttpServer server(options, [&](Request& req) { return app.Handle(req); });
//   RAMPART_RETURN_IF_ERROR(server.Start());   // binds; port() is known afterwards
//   ...
//   server.Stop();                              // graceful: in-flight requests finish
//
// Thread safety: Start/Stop from one controlling thread; the handler runs on the server's
// worker threads concurrently and must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/forwarded.h"
#include "http/message.h"

namespace rampart::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;  // 0: pick a free port
  bool tls = true;
  std::string cert_file;  // PEM chain, server certificate first
  std::string key_file;   // PEM private key
  uint32_t threads = 0;   // 0: hardware concurrency
  HttpLimits limits;
  // Body limit for a request whose headers have been read; defaults to limits.max_body_bytes.
  std::function<uint64_t(std::string_view method, std::string_view path)> body_limit;
  // Reverse proxies whose forwarded client address is believed (common/forwarded.h). A request
  // from one must name its client (else 400, but for /healthz), and is rate-limited per client
  // rather than per connection.
  ProxyTrust proxy_trust;
  // Consulted for each accepted connection before any byte is parsed; false closes it at once.
  // A request forwarded by a trusted proxy is consulted again with its client's address, and
  // refused with 403 when that is false: the proxy's connection serves everyone else too.
  std::function<bool(std::string_view remote_ip)> admit;
  // Called after each response is written (metrics, detection events). Must not block.
  std::function<void(const Request&, const Response&, int64_t duration_us)> on_response;
  // Called when a client is cut off for a protocol or limit violation before a handler ran
  // ("header_too_large", "body_too_large", "rate_limited", "bad_request", "read_timeout", ...),
  // with the status it was answered (0 when the connection was closed without an answer). The
  // address is the request's client once its header is read, the TCP peer's before.
  std::function<void(std::string_view remote_ip, std::string_view reason, int status)> on_violation;
};

class HttpServer {
 public:
  using RequestHandler = std::function<Response(Request&)>;
  HttpServer(ServerOptions options, RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the worker threads. Unavailable if the address is taken;
  // InvalidArgument if the TLS files cannot be loaded.
  Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Stops accepting, lets in-flight requests finish for up to `grace_ms`, then closes the rest
  // and joins the threads. Idempotent.
  void Stop(int grace_ms = 5000);
  // Blocks until Stop() has completed (used by `rampart serve` after installing signal handling).
  void Wait();
  // Live connection count (for /metrics).
  uint64_t open_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::http
