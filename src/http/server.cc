#include "http/server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/text.h"

namespace rampart::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadChunk = 4096;
// Writes get a floor well above the read timeout: a large download to a slow device is not an
// attack, and max_connections bounds how many such writers can exist.
constexpr std::chrono::seconds kMinWriteTimeout{60};
// How long a connection being closed after an error response keeps swallowing the client's
// unread request bytes, so that the kernel does not answer them with a reset that destroys the
// error response before the client reads it.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerMaxBytes = 1024 * 1024;
// Mozilla "intermediate" TLS 1.2 suites; TLS 1.3 suites are OpenSSL's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool IsDisconnect(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == ssl::error::stream_truncated;
}

std::string IpString(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

// Requests per second per connection with a burst of twice the rate.
class TokenBucket {
 public:
  explicit TokenBucket(uint32_t rate)
      : rate_(rate), capacity_(2.0 * rate), tokens_(2.0 * rate), last_(SteadyClock::now()) {}
  bool Take() {
    if (rate_ == 0) return true;
    auto now = SteadyClock::now();
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  uint32_t rate_;
  double capacity_;
  double tokens_;
  SteadyClock::time_point last_;
};

// Token buckets of the clients that trusted proxies forward, one each: a proxy's connection
// carries many clients, so its own bucket would let one of them exhaust it for the others and
// blame whoever came next. Bounded: past the cap, the least recently seen client's bucket goes
// (it comes back full).
class ForwardedClientBuckets {
 public:
  static constexpr size_t kMaxClients = 65536;

  bool Take(const std::string& client, uint32_t rate) {
    if (rate == 0) return true;
    const std::string key = BucketKey(client);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_client_.find(key);
    if (it == by_client_.end()) {
      if (by_client_.size() >= kMaxClients) {
        by_client_.erase(recent_.front().first);
        recent_.pop_front();
      }
      recent_.emplace_back(key, TokenBucket(rate));
      it = by_client_.emplace(key, std::prev(recent_.end())).first;
    } else {
      recent_.splice(recent_.end(), recent_, it->second);
    }
    return it->second->second.Take();
  }

 private:
  // An IPv6 client holds a whole /64 (one host may take any address in it): its addresses
  // share one bucket, else each new one would come with a full burst and push out the others.
  static std::string BucketKey(const std::string& client) {
    auto ip = ParseIp(client);
    if (!ip || ip->v4) return client;
    std::fill(ip->bytes.begin() + 8, ip->bytes.end(), uint8_t{0});
    return FormatIp(*ip) + "/64";
  }

  std::mutex mu_;
  std::list<std::pair<std::string, TokenBucket>> recent_;  // least recently seen first
  std::unordered_map<std::string, std::list<std::pair<std::string, TokenBucket>>::iterator>
      by_client_;
};

}  // namespace

class SessionBase;

// What sessions need from the server; outlives every session.
struct ServerShared {
  ServerOptions options;
  HttpServer::RequestHandler handler;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> open_connections{0};

  std::mutex mu;
  std::condition_variable cv;  // signalled whenever a connection ends
  uint64_t next_session_id = 0;
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> sessions;
  ForwardedClientBuckets forwarded_buckets;

  void Violation(const std::string& ip, std::string_view reason, int status = 0) {
    if (options.on_violation) options.on_violation(ip, reason, status);
  }
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Close now if idle; otherwise after the response in progress.
  virtual void RequestStop() = 0;
  virtual void ForceClose() = 0;
};

template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(ServerShared* shared, tcp::socket socket, ssl::context* ssl_ctx)
      : shared_(shared),
        stream_(MakeStream(std::move(socket), ssl_ctx)),
        bucket_(Limits().requests_per_second_per_connection) {
    error_code ec;
    tcp::endpoint remote = Lowest().socket().remote_endpoint(ec);
    if (!ec) {
      remote_ip_ = IpString(remote.address());
      remote_port_ = remote.port();
    }
    from_proxy_ = !shared_->options.proxy_trust.proxies.empty() &&
                  IsTrustedProxy(remote_ip_, shared_->options.proxy_trust);
  }

  ~Session() override {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->sessions.erase(id_);
      shared_->open_connections.fetch_sub(1);
    }
    shared_->cv.notify_all();
  }

  void Start(uint64_t id) {
    id_ = id;
    if constexpr (kTls) {
      Lowest().expires_after(ReadTimeout());
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](error_code ec) { self->OnHandshake(ec); });
    } else {
      WaitForRequest();
    }
  }

  void RequestStop() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stop_requested_ = true;
      if (self->phase_ == Phase::kIdle || self->phase_ == Phase::kHandshake) self->CloseNow();
    });
  }

  void ForceClose() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->CloseNow(); });
  }

 private:
  enum class Phase { kHandshake, kIdle, kReading, kHandling, kWriting, kClosing };

  static Stream MakeStream(tcp::socket socket, ssl::context* ssl_ctx) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *ssl_ctx);
    } else {
      (void)ssl_ctx;
      return Stream(std::move(socket));
    }
  }

  const HttpLimits& Limits() const { return shared_->options.limits; }
  std::chrono::seconds ReadTimeout() const {
    return std::chrono::seconds(std::max<uint32_t>(1, Limits().read_timeout_seconds));
  }
  std::chrono::seconds IdleTimeout() const {
    return std::chrono::seconds(std::max<uint32_t>(1, Limits().idle_timeout_seconds));
  }
  std::chrono::seconds WriteTimeout() const { return std::max(ReadTimeout(), kMinWriteTimeout); }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        shared_->Violation(remote_ip_, "read_timeout");
      } else if (!IsDisconnect(ec)) {
        shared_->Violation(remote_ip_, "tls_handshake");
      }
      CloseNow();
      return;
    }
    WaitForRequest();
  }

  // Keep-alive wait for the first byte of the next request, under the idle timeout. The read
  // timeout starts only once a byte has arrived.
  void WaitForRequest() {
    if (stop_requested_ || shared_->stopping.load()) {
      CloseNow();
      return;
    }
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    phase_ = Phase::kIdle;
    Lowest().expires_after(IdleTimeout());
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = this->shared_from_this()](error_code ec, size_t n) { self->OnFirstBytes(ec, n); });
  }

  void OnFirstBytes(error_code ec, size_t n) {
    if (ec) {
      // Idle timeout, the client going away, or Stop(): none is a violation.
      CloseNow();
      return;
    }
    buffer_.commit(n);
    ReadHeader();
  }

  void ReadHeader() {
    phase_ = Phase::kReading;
    first_byte_ms_ = SystemClock::Instance().NowMillis();
    started_ = SteadyClock::now();
    parser_.emplace();
    parser_->header_limit(Limits().max_header_bytes);
    // The real body limit depends on the route, known only once the header is in; it is
    // checked by hand in OnHeader, so the parser must not apply its 1 MB default first.
    parser_->body_limit(boost::none);
    // One deadline for the whole request, header and body: a client trickling bytes cannot
    // extend it (slowloris).
    Lowest().expires_after(ReadTimeout());
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    auto& msg = parser_->get();
    FillRequestHead(msg);
    auto content_length = parser_->content_length();
    bool has_body = parser_->chunked() || (content_length && *content_length > 0);
    // Beast reads a request whose Transfer-Encoding does not end in "chunked" as bodiless and
    // would parse its body as the next request; RFC 9112 section 6.3 says to reject it, and so
    // does request-smuggling hygiene. HTTP/1.1 also requires exactly one Host.
    bool bad_framing = msg.count(bhttp::field::transfer_encoding) > 0 && !parser_->chunked();
    bool bad_host = msg.version() >= 11 && msg.count(bhttp::field::host) != 1;
    if (bad_framing || bad_host) {
      shared_->Violation(ViolatorIp(), "bad_request", 400);
      SendError(400, "invalid_argument", "malformed HTTP request", true);
      return;
    }

    // A trusted proxy names the client of every request it forwards. One that does not (a
    // client that made it drop the header, a hop that is not an address) would be served as
    // the proxy, an address no block may cover; only its own health check needs no client.
    // The connection is closed: each refusal is a violation event, and a client that can make
    // the proxy drop the header must not send them without end on one connection.
    if (from_proxy_ && !forwarded_named_ && request_.path != "/healthz") {
      shared_->Violation(remote_ip_, "forwarded_client_missing", 400);
      SendError(400, "invalid_argument", "a request through a trusted proxy must name its client",
                /*close=*/true);
      return;
    }

    uint64_t limit = Limits().max_body_bytes;
    if (shared_->options.body_limit)
      limit = shared_->options.body_limit(request_.method, request_.path);
    // The connection was admitted for the proxy; a blocked client behind it is refused here.
    // With a body unread the connection cannot be reused, as for the 429 below.
    if (forwarded_named_ && shared_->options.admit && !shared_->options.admit(request_.remote_ip)) {
      SendError(403, "permission_denied", "address blocked", has_body);
      return;
    }
    if (content_length && *content_length > limit) {
      shared_->Violation(ViolatorIp(), "body_too_large", 413);
      SendError(413, "payload_too_large", "request body too large", /*close=*/true);
      return;
    }
    parser_->body_limit(limit);

    // A client a proxy forwards has its own rate, over all the proxy's connections; the proxy's
    // own health checks use the connection's.
    const bool per_client = forwarded_named_;
    const bool allowed = per_client
                             ? shared_->forwarded_buckets.Take(
                                   request_.remote_ip, Limits().requests_per_second_per_connection)
                             : bucket_.Take();
    if (!allowed) {
      shared_->Violation(ViolatorIp(), "rate_limited", 429);
      // Without a body the connection stays usable; with one, the unread body would have to be
      // consumed first, so the connection is closed instead.
      SendError(429, "resource_exhausted",
                per_client ? "too many requests from this client"
                           : "too many requests on this connection",
                has_body, /*retry_after=*/true);
      return;
    }

    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    if (beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      continue_.emplace(bhttp::status::continue_, msg.version());
      phase_ = Phase::kWriting;
      Lowest().expires_after(WriteTimeout());
      bhttp::async_write(stream_, *continue_,
                         [self = this->shared_from_this()](error_code ec, size_t) {
                           if (ec) {
                             self->CloseNow();
                             return;
                           }
                           self->phase_ = Phase::kReading;
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    // The deadline set in ReadHeader still runs, except after a 100 Continue.
    if (continue_) Lowest().expires_after(ReadTimeout());
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    Dispatch();
  }

  // Whom a violation is counted against: the request's client once its header is read (behind
  // a trusted proxy, the client the proxy forwarded, never the proxy), the TCP peer before.
  const std::string& ViolatorIp() const {
    return have_request_head_ ? request_.remote_ip : remote_ip_;
  }

  void OnReadError(error_code ec) {
    if (ec == bhttp::error::header_limit) {
      shared_->Violation(ViolatorIp(), "header_too_large", 431);
      SendError(431, "payload_too_large", "request header too large", true);
    } else if (ec == bhttp::error::body_limit) {
      shared_->Violation(ViolatorIp(), "body_too_large", 413);
      SendError(413, "payload_too_large", "request body too large", true);
    } else if (ec == beast::error::timeout) {
      shared_->Violation(ViolatorIp(), "read_timeout");
      CloseNow();
    } else if (IsDisconnect(ec)) {
      CloseNow();
    } else {
      shared_->Violation(ViolatorIp(), "bad_request", 400);
      SendError(400, "invalid_argument", "malformed HTTP request", true);
    }
  }

  void FillRequestHead(const bhttp::request<bhttp::string_body>& msg) {
    request_ = Request();
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    size_t q = request_.target.find('?');
    request_.path = request_.target.substr(0, q);
    if (q != std::string::npos) request_.query = request_.target.substr(q + 1);
    for (const auto& field : msg) {
      request_.headers.emplace_back(AsciiLower(field.name_string()), std::string(field.value()));
    }
    request_.remote_ip = remote_ip_;
    forwarded_named_ = false;
    if (from_proxy_) {
      ForwardedClient client =
          ClientAddress(remote_ip_, request_.headers, shared_->options.proxy_trust);
      request_.remote_ip = std::move(client.address);
      forwarded_named_ = client.named;
    }
    request_.peer_ip = remote_ip_;
    request_.remote_port = remote_port_;
    request_.request_id = crypto::RandomHex(16);
    request_.received_at_ms = first_byte_ms_;
    version_ = msg.version();
    client_keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    have_request_head_ = true;
  }

  void Dispatch() {
    phase_ = Phase::kHandling;
    request_.body = std::move(parser_->get().body());
    parser_.reset();
    continue_.reset();
    Response response;
    try {
      response = shared_->handler(request_);
    } catch (const std::exception&) {
      // The message of a library exception may quote request content, so only ids are logged.
      log::Error("http.handler_exception",
                 {{"request_id", request_.request_id}, {"method", request_.method}});
      response = Response::Error(500, "internal", "internal error");
    } catch (...) {
      log::Error("http.handler_exception",
                 {{"request_id", request_.request_id}, {"method", request_.method}});
      response = Response::Error(500, "internal", "internal error");
    }
    if (response.status < 100 || response.status > 999) {
      log::Error("http.bad_status", {{"request_id", request_.request_id}});
      response = Response::Error(500, "internal", "internal error");
    }
    Write(std::move(response), /*close=*/false, /*retry_after=*/false);
  }

  void SendError(int status, std::string_view code, std::string_view message, bool close,
                 bool retry_after = false) {
    if (!have_request_head_) {
      request_ = Request();
      request_.remote_ip = remote_ip_;
      request_.peer_ip = remote_ip_;
      request_.remote_port = remote_port_;
      request_.request_id = crypto::RandomHex(16);
      request_.received_at_ms = first_byte_ms_;
    }
    parser_.reset();
    Write(Response::Error(status, code, message), close, retry_after);
  }

  void Write(Response response, bool close, bool retry_after) {
    phase_ = Phase::kWriting;
    bool keep_alive = !close && client_keep_alive_ && !stop_requested_ &&
                      !shared_->stopping.load() && have_request_head_;
    close_after_write_ = !keep_alive;
    linger_ = close;

    res_.emplace();
    auto& res = *res_;
    res.version(version_);
    res.result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers) {
      std::string lower = AsciiLower(name);
      if (name.empty() || HasLineBreakOrNul(name) || name.find(':') != std::string::npos ||
          HasLineBreakOrNul(value) || lower == "content-length" || lower == "transfer-encoding" ||
          lower == "connection" || lower == "server" || lower == "x-request-id") {
        continue;
      }
      res.insert(name, value);
    }
    if (!response.content_type.empty() && !HasLineBreakOrNul(response.content_type)) {
      res.set(bhttp::field::content_type, response.content_type);
    }
    res.set(bhttp::field::server, "rampart");
    res.set("X-Request-Id", request_.request_id);
    res.set("X-Content-Type-Options", "nosniff");
    if (res.find(bhttp::field::cache_control) == res.end()) {
      res.set(bhttp::field::cache_control, "no-store");
    }
    if (res.find("X-Frame-Options") == res.end()) res.set("X-Frame-Options", "DENY");
    if (res.find("Referrer-Policy") == res.end()) res.set("Referrer-Policy", "no-referrer");
    if (kTls && res.find(bhttp::field::strict_transport_security) == res.end()) {
      res.set(bhttp::field::strict_transport_security, "max-age=31536000");
    }
    if (retry_after) res.set(bhttp::field::retry_after, "1");
    res.keep_alive(keep_alive);

    unsigned status = res.result_int();
    bool bodiless_status = (status >= 100 && status < 200) || status == 204 || status == 304;
    if (bodiless_status) {
      response.body.clear();
      res.body().clear();
      res.erase(bhttp::field::content_length);
    } else if (head_) {
      // HEAD answers with the length the GET body would have, and no body.
      res.content_length(response.body.size());
    } else {
      res.body() = response.body;
      res.prepare_payload();
    }
    response_ = std::move(response);

    Lowest().expires_after(WriteTimeout());
    bhttp::async_write(stream_, res, [self = this->shared_from_this()](error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(error_code ec) {
    res_.reset();
    if (shared_->options.on_response) {
      auto micros =
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started_);
      try {
        shared_->options.on_response(request_, response_, micros.count());
      } catch (const std::exception&) {
        log::Error("http.on_response_exception", {{"request_id", request_.request_id}});
      }
    }
    have_request_head_ = false;
    head_ = false;
    if (ec) {
      CloseNow();
      return;
    }
    if (close_after_write_) {
      if (linger_) {
        LingerClose();
      } else {
        CloseNow();
      }
      return;
    }
    WaitForRequest();
  }

  // Half-closes and discards what the client still sends, for a bounded time and amount.
  void LingerClose() {
    phase_ = Phase::kClosing;
    error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().expires_after(kLingerTime);
    Drain();
  }

  void Drain() {
    Lowest().async_read_some(asio::buffer(drain_),
                             [self = this->shared_from_this()](error_code ec, size_t n) {
                               self->drained_ += n;
                               if (ec || self->drained_ > kLingerMaxBytes) {
                                 self->CloseNow();
                                 return;
                               }
                               self->Drain();
                             });
  }

  void CloseNow() {
    if (phase_ == Phase::kClosing && closed_) return;
    phase_ = Phase::kClosing;
    closed_ = true;
    error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

  ServerShared* shared_;
  Stream stream_;
  TokenBucket bucket_;
  uint64_t id_ = 0;
  std::string remote_ip_;
  uint16_t remote_port_ = 0;
  bool from_proxy_ = false;       // the peer is a trusted proxy (ServerOptions::proxy_trust)
  bool forwarded_named_ = false;  // a trusted proxy named this request's client (never the proxy)
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  Request request_;
  Response response_;
  bool have_request_head_ = false;
  bool client_keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
  int64_t first_byte_ms_ = 0;
  SteadyClock::time_point started_ = SteadyClock::now();
  Phase phase_ = Phase::kHandshake;
  bool stop_requested_ = false;
  bool close_after_write_ = false;
  bool linger_ = false;
  bool closed_ = false;
  std::array<char, 4096> drain_{};
  size_t drained_ = 0;
};

class HttpServer::Impl {
 public:
  Impl(ServerOptions options, RequestHandler handler) : acceptor_(asio::make_strand(ioc_)) {
    shared_.options = std::move(options);
    shared_.handler = std::move(handler);
  }

  ~Impl() { Stop(0); }

  Status Start() {
    std::lock_guard<std::mutex> lock(control_mu_);
    if (started_) return Status::InvalidArgument("server already started");
    try {
      if (shared_.options.tls) RAMPART_RETURN_IF_ERROR(LoadTls());
      RAMPART_RETURN_IF_ERROR(Bind());
    } catch (const std::exception&) {
      return Status::Internal("cannot set up listener");
    }
    port_ = acceptor_.local_endpoint().port();
    started_ = true;
    DoAccept();
    uint32_t threads = shared_.options.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    for (uint32_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        // Handlers catch their own exceptions; this keeps a stray one from killing the worker.
        while (true) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception&) {
            log::Error("http.worker_exception");
          }
        }
      });
    }
    log::Info("http.listening", {{"host", shared_.options.host},
                                 {"port", static_cast<int>(port_)},
                                 {"tls", shared_.options.tls}});
    return Status::Ok();
  }

  uint16_t port() const { return port_; }
  uint64_t open_connections() const { return shared_.open_connections.load(); }

  void Stop(int grace_ms) {
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      if (stop_begun_) {
        // A second caller waits for the first to finish.
      } else {
        stop_begun_ = true;
        StopLocked(grace_ms);
        std::lock_guard<std::mutex> done_lock(done_mu_);
        stopped_ = true;
      }
    }
    done_cv_.notify_all();
    Wait();
  }

  void Wait() {
    std::unique_lock<std::mutex> lock(done_mu_);
    done_cv_.wait(lock, [this] { return stopped_; });
  }

 private:
  Status LoadTls() {
    ssl_ctx_.emplace(ssl::context::tls_server);
    SSL_CTX* ctx = ssl_ctx_->native_handle();
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
      return Status::Internal("cannot configure TLS");
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, shared_.options.cert_file.c_str()) != 1) {
      ERR_clear_error();
      return Status::InvalidArgument("cannot load TLS certificate chain");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, shared_.options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      ERR_clear_error();
      return Status::InvalidArgument("cannot load TLS private key or it does not match");
    }
    return Status::Ok();
  }

  Status Bind() {
    error_code ec;
    tcp::endpoint endpoint;
    asio::ip::address address = asio::ip::make_address(shared_.options.host, ec);
    if (ec) {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(shared_.options.host, std::to_string(shared_.options.port),
                                      tcp::resolver::passive, ec);
      if (ec || results.empty()) return Status::InvalidArgument("cannot resolve listen host");
      endpoint = results.begin()->endpoint();
    } else {
      endpoint = tcp::endpoint(address, shared_.options.port);
    }
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return Status::Unavailable("cannot open listening socket");
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_.bind(endpoint, ec);
    if (ec)
      return Status::Unavailable("cannot bind " + shared_.options.host + ":" +
                                 std::to_string(shared_.options.port) + ": " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("cannot listen: " + ec.message());
    return Status::Ok();
  }

  void DoAccept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(error_code ec, tcp::socket socket) {
    if (shared_.stopping.load() || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors and similar: back off briefly instead of spinning.
      backoff_.emplace(acceptor_.get_executor());
      backoff_->expires_after(std::chrono::milliseconds(50));
      backoff_->async_wait([this](error_code wait_ec) {
        if (!wait_ec && !shared_.stopping.load()) DoAccept();
      });
      return;
    }
    HandleAccepted(std::move(socket));
    DoAccept();
  }

  void HandleAccepted(tcp::socket socket) {
    error_code ec;
    tcp::endpoint remote = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    std::string ip = IpString(remote.address());
    uint64_t max = shared_.options.limits.max_connections;
    if (max > 0 && shared_.open_connections.load() >= max) {
      shared_.Violation(ip, "too_many_connections");
      socket.close(ec);
      return;
    }
    if (shared_.options.admit && !shared_.options.admit(ip)) {
      socket.close(ec);
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::shared_ptr<SessionBase> session;
    uint64_t id;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      id = ++shared_.next_session_id;
      shared_.open_connections.fetch_add(1);
    }
    if (ssl_ctx_) {
      auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          &shared_, std::move(socket), &*ssl_ctx_);
      Register(id, s);
      s->Start(id);
    } else {
      auto s = std::make_shared<Session<beast::tcp_stream>>(&shared_, std::move(socket), nullptr);
      Register(id, s);
      s->Start(id);
    }
  }

  void Register(uint64_t id, const std::shared_ptr<SessionBase>& s) {
    std::lock_guard<std::mutex> lock(shared_.mu);
    shared_.sessions.emplace(id, s);
  }

  std::vector<std::shared_ptr<SessionBase>> LiveSessions() {
    std::vector<std::shared_ptr<SessionBase>> out;
    std::lock_guard<std::mutex> lock(shared_.mu);
    for (auto& [id, weak] : shared_.sessions) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }

  bool WaitForConnections(SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(shared_.mu);
    return shared_.cv.wait_until(lock, deadline,
                                 [this] { return shared_.open_connections.load() == 0; });
  }

  void StopLocked(int grace_ms) {
    if (!started_) return;
    shared_.stopping = true;
    // Close the listener on its strand and wait, so that no connection is accepted after this.
    std::promise<void> closed;
    asio::dispatch(acceptor_.get_executor(), [this, &closed] {
      error_code ignored;
      acceptor_.close(ignored);
      if (backoff_) backoff_->cancel();
      closed.set_value();
    });
    closed.get_future().wait();

    for (auto& s : LiveSessions()) s->RequestStop();
    auto deadline = SteadyClock::now() + std::chrono::milliseconds(std::max(0, grace_ms));
    if (!WaitForConnections(deadline)) {
      for (auto& s : LiveSessions()) s->ForceClose();
      // Sessions whose handler is still running finish it first: a synchronous handler cannot be
      // interrupted, so this waits for it.
      WaitForConnections(SteadyClock::now() + std::chrono::seconds(1));
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    log::Info("http.stopped", {{"port", static_cast<int>(port_)}});
  }

  ServerShared shared_;
  std::optional<ssl::context> ssl_ctx_;
  // Declared after everything sessions use, so that handlers destroyed with it still find them.
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::optional<asio::steady_timer> backoff_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;

  std::mutex control_mu_;
  bool started_ = false;
  bool stop_begun_ = false;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool stopped_ = false;  // guarded by done_mu_
};

HttpServer::HttpServer(ServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}
HttpServer::~HttpServer() = default;
Status HttpServer::Start() {
  return impl_->Start();
}
uint16_t HttpServer::port() const {
  return impl_->port();
}
void HttpServer::Stop(int grace_ms) {
  impl_->Stop(grace_ms);
}
void HttpServer::Wait() {
  impl_->Wait();
}
uint64_t HttpServer::open_connections() const {
  return impl_->open_connections();
}

}  // namespace rampart::http
