#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <chrono>
#include <exception>
#include <optional>

namespace rampart::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

// Large enough for an app package download, small enough that a misbehaving peer cannot make
// the client allocate without bound.
constexpr uint64_t kMaxResponseBody = 1ull << 30;
constexpr uint32_t kMaxResponseHeader = 64 * 1024;

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool ValidHostChars(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool ClosedByPeer(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

Status ParseUrl(const std::string& url, bool* tls, std::string* host, uint16_t* port) {
  std::string_view rest = url;
  uint16_t default_port = 0;
  if (rest.substr(0, 8) == "https://") {
    *tls = true;
    default_port = 443;
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    *tls = false;
    default_port = 80;
    rest.remove_prefix(7);
  } else {
    return Status::InvalidArgument("URL must start with https:// or http://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return Status::InvalidArgument("URL must be scheme://host[:port] only");
  }
  std::string_view h;
  std::string_view p;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("URL: unclosed '['");
    h = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("URL: junk after ']'");
      p = after.substr(1);
      if (p.empty()) return Status::InvalidArgument("URL: empty port");
    }
    if (!IsIpLiteral(std::string(h)) || h.find(':') == std::string_view::npos) {
      return Status::InvalidArgument("URL: bracketed host must be an IPv6 address");
    }
  } else {
    size_t colon = rest.find(':');
    h = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      p = rest.substr(colon + 1);
      if (p.empty()) return Status::InvalidArgument("URL: empty port");
    }
    if (h.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("URL: IPv6 hosts must be bracketed");
    }
  }
  if (!ValidHostChars(h)) return Status::InvalidArgument("URL: bad host");
  uint32_t value = default_port;
  if (!p.empty()) {
    if (p.size() > 5) return Status::InvalidArgument("URL: bad port");
    value = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return Status::InvalidArgument("URL: bad port");
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value == 0 || value > 65535) return Status::InvalidArgument("URL: port out of range");
  }
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

std::string ClientResponse::Header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

class HttpClient::Impl {
 public:
  Impl(ClientOptions options, bool tls, std::string host, uint16_t port)
      : options_(std::move(options)),
        tls_(tls),
        host_(std::move(host)),
        port_(port),
        ssl_ctx_(ssl::context::tls_client) {}

  ~Impl() { Close(); }

  Status Init() {
    if (options_.timeout_ms <= 0) return Status::InvalidArgument("timeout must be positive");
    bool ipv6 = host_.find(':') != std::string::npos;
    host_header_ = (ipv6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
    if (!tls_) return Status::Ok();
    if (options_.ca_file.empty()) return Status::InvalidArgument("https needs a pinned CA file");
    // Only the pinned CA is trusted: the system store is never loaded.
    SSL_CTX* ctx = ssl_ctx_.native_handle();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
      return Status::Internal("cannot require TLS 1.2");
    }
    if (SSL_CTX_load_verify_locations(ctx, options_.ca_file.c_str(), nullptr) != 1) {
      return Status::InvalidArgument("cannot load pinned CA file");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    return Status::Ok();
  }

  Status EnsureConnected() {
    if (connected_) return Status::Ok();
    return ConnectFresh();
  }

  Result<ClientResponse> Send(const std::string& method, const std::string& target,
                              const HeaderList& headers, const std::string& body) {
    if (method.empty() || target.empty() || target.front() != '/') {
      return Status::InvalidArgument("request needs a method and an origin-form target");
    }
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, host_header_);
    req.set(bhttp::field::user_agent, "rampart");
    for (const auto& [name, value] : headers) {
      if (name.find_first_of("\r\n:") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        return Status::InvalidArgument("header contains a line break");
      }
      req.set(name, value);
    }
    req.keep_alive(true);
    req.body() = body;
    bool has_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    if (has_body) {
      req.prepare_payload();
    } else {
      req.erase(bhttp::field::content_length);
      req.erase(bhttp::field::transfer_encoding);
    }

    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = connected_;
      RAMPART_RETURN_IF_ERROR(EnsureConnected());
      bool peer_closed = false;
      Result<ClientResponse> r = RoundTrip(req, method == "HEAD", &peer_closed);
      if (r.ok()) return r;
      Close();
      // A keep-alive connection the server closed while idle fails before any response byte;
      // that, and only that, is worth one more try on a fresh connection. A timeout is not.
      if (!reused || !peer_closed) return r;
    }
    return Status::Unavailable("connection closed by server");
  }

 private:
  using PlainStream = beast::tcp_stream;
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  beast::tcp_stream& Lowest() {
    return tls_ ? beast::get_lowest_layer(*tls_stream_) : *plain_stream_;
  }

  // Runs the asynchronous operations started by `start` until they finish; the stream's expiry
  // bounds how long that can take.
  template <typename Start>
  boost::system::error_code Run(Start&& start) {
    boost::system::error_code result = asio::error::would_block;
    ioc_.restart();
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    ioc_.run();
    return result;
  }

  std::chrono::milliseconds Timeout() const {
    return std::chrono::milliseconds(options_.timeout_ms);
  }

  Status ConnectFresh() {
    Close();
    boost::system::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    if (IsIpLiteral(host_)) {
      endpoints.emplace_back(asio::ip::make_address(host_), port_);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(host_, std::to_string(port_), ec);
      if (ec) return Status::Unavailable("cannot resolve server host");
      for (const auto& e : results) endpoints.push_back(e.endpoint());
    }
    if (tls_) {
      tls_stream_.emplace(ioc_, ssl_ctx_);
    } else {
      plain_stream_.emplace(ioc_);
    }
    Lowest().expires_after(Timeout());
    if (options_.local_address.empty()) {
      ec = Run([&](auto handler) { Lowest().async_connect(endpoints, std::move(handler)); });
    } else {
      // A bound socket connects to one endpoint of the same family: trying the next endpoint
      // would reopen the socket and lose the binding.
      auto local = asio::ip::make_address(options_.local_address, ec);
      if (ec) return Status::InvalidArgument("local address is not an IP address");
      auto target = std::find_if(endpoints.begin(), endpoints.end(), [&](const tcp::endpoint& e) {
        return e.address().is_v4() == local.is_v4();
      });
      if (target == endpoints.end()) {
        return Status::Unavailable("server has no address of the local address's family");
      }
      tcp::socket& socket = Lowest().socket();
      socket.open(target->protocol(), ec);
      if (!ec) socket.bind(tcp::endpoint(local, 0), ec);
      if (ec) {
        Close();
        return Status::Unavailable("cannot bind to the local address");
      }
      tcp::endpoint one = *target;
      ec = Run([&](auto handler) { Lowest().async_connect(one, std::move(handler)); });
    }
    if (ec) {
      Close();
      return Status::Unavailable(ec == beast::error::timeout ? "connect timed out"
                                                             : "cannot connect to server");
    }
    if (tls_) {
      SSL* ssl = tls_stream_->native_handle();
      if (IsIpLiteral(host_)) {
        // RFC 6066 forbids IP literals in SNI; the certificate must carry the IP instead.
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str()) != 1) {
          Close();
          return Status::Internal("cannot set expected server IP");
        }
      } else {
        if (SSL_set_tlsext_host_name(ssl, host_.c_str()) != 1 ||
            SSL_set1_host(ssl, host_.c_str()) != 1) {
          Close();
          return Status::Internal("cannot set expected server name");
        }
      }
      Lowest().expires_after(Timeout());
      ec = Run([&](auto handler) {
        tls_stream_->async_handshake(ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        Close();
        if (ec == beast::error::timeout) return Status::Unavailable("TLS handshake timed out");
        return Status::Unavailable("TLS handshake failed (server certificate not trusted?)");
      }
    }
    connected_ = true;
    return Status::Ok();
  }

  // *peer_closed: the server closed the connection before sending any byte of a response.
  Result<ClientResponse> RoundTrip(bhttp::request<bhttp::string_body>& req, bool head,
                                   bool* peer_closed) {
    Lowest().expires_after(Timeout());
    boost::system::error_code ec = Run([&](auto handler) {
      if (tls_) {
        bhttp::async_write(*tls_stream_, req, std::move(handler));
      } else {
        bhttp::async_write(*plain_stream_, req, std::move(handler));
      }
    });
    if (ec) {
      *peer_closed = ClosedByPeer(ec);
      return Status::Unavailable("cannot send request");
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxResponseHeader);
    parser.body_limit(kMaxResponseBody);
    parser.skip(head);
    ec = Run([&](auto handler) {
      if (tls_) {
        bhttp::async_read(*tls_stream_, buffer_, parser, std::move(handler));
      } else {
        bhttp::async_read(*plain_stream_, buffer_, parser, std::move(handler));
      }
    });
    if (ec) {
      *peer_closed = ClosedByPeer(ec) && !parser.got_some() && buffer_.size() == 0;
      if (ec == beast::error::timeout) return Status::Unavailable("request timed out");
      return Status::Unavailable("cannot read response");
    }
    auto& res = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) Close();
    return out;
  }

  void Close() {
    boost::system::error_code ignored;
    if (tls_stream_) {
      // No close_notify round trip: the connection is dropped either way and waiting for the
      // peer could block past the timeout.
      beast::get_lowest_layer(*tls_stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(*tls_stream_).socket().close(ignored);
      tls_stream_.reset();
    }
    if (plain_stream_) {
      plain_stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      plain_stream_->socket().close(ignored);
      plain_stream_.reset();
    }
    buffer_.clear();
    connected_ = false;
    // Drain handlers that the close cancelled so the io_context holds no stale work.
    ioc_.restart();
    ioc_.poll();
  }

  ClientOptions options_;
  bool tls_;
  std::string host_;
  uint16_t port_;
  std::string host_header_;
  asio::io_context ioc_;
  ssl::context ssl_ctx_;
  std::optional<PlainStream> plain_stream_;
  std::optional<TlsStream> tls_stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

Result<std::unique_ptr<HttpClient>> HttpClient::Connect(const ClientOptions& options) {
  try {
    bool tls = false;
    std::string host;
    uint16_t port = 0;
    RAMPART_RETURN_IF_ERROR(ParseUrl(options.url, &tls, &host, &port));
    auto impl = std::make_unique<Impl>(options, tls, std::move(host), port);
    RAMPART_RETURN_IF_ERROR(impl->Init());
    RAMPART_RETURN_IF_ERROR(impl->EnsureConnected());
    return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
  } catch (const std::exception&) {
    return Status::Internal("HTTP client setup failed");
  }
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<ClientResponse> HttpClient::Send(const std::string& method, const std::string& target,
                                        const HeaderList& headers, const std::string& body) {
  try {
    return impl_->Send(method, target, headers, body);
  } catch (const std::exception&) {
    return Status::Unavailable("HTTP request failed");
  }
}

}  // namespace rampart::http
