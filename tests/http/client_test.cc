// HttpClient against a small blocking Beast server written here, so that the client is tested
// independently of HttpServer (server_test covers the two together).
#include "http/client.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/crypto.h"
#include "http/tls_files.h"
#include "tests/http/test_util.h"

namespace rampart::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using testing::TempDir;

enum class Mode {
  kEcho,             // answers every request, keep-alive
  kCloseAfterFirst,  // answers one request per connection, then drops it silently
  kNeverAnswer,      // reads the request and then waits
};

// Serves one connection at a time on 127.0.0.1:0 from a background thread.
class TestServer {
 public:
  TestServer(Mode mode, const TlsFiles* tls) : mode_(mode), acceptor_(ioc_) {
    if (tls != nullptr) {
      ctx_.emplace(ssl::context::tls_server);
      ctx_->use_certificate_chain_file(tls->server_cert);
      ctx_->use_private_key_file(tls->server_key, ssl::context::pem);
    }
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestServer() {
    stopping_ = true;
    boost::system::error_code ec;
    // Wake accept() with a throwaway connection, then let the loop see stopping_.
    tcp::socket poke(ioc_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    poke.close(ec);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void Loop() {
    while (!stopping_) {
      tcp::socket sock(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stopping_) break;
      ++connections_;
      if (ctx_) {
        beast::ssl_stream<tcp::socket> stream(std::move(sock), *ctx_);
        stream.handshake(ssl::stream_base::server, ec);
        if (!ec) Serve(stream);
      } else {
        Serve(sock);
      }
    }
  }

  template <typename Stream>
  void Serve(Stream& stream) {
    beast::flat_buffer buffer;
    while (!stopping_) {
      bhttp::request<bhttp::string_body> req;
      boost::system::error_code ec;
      bhttp::read(stream, buffer, req, ec);
      if (ec) return;
      if (mode_ == Mode::kNeverAnswer) {
        // Hold the connection until the client gives up and closes it.
        char byte;
        stream.read_some(asio::buffer(&byte, 1), ec);
        return;
      }
      nlohmann::json echo;
      echo["method"] = std::string(req.method_string());
      echo["target"] = std::string(req.target());
      echo["body"] = req.body();
      echo["host"] = std::string(req[bhttp::field::host]);
      echo["x_test"] = std::string(req["X-Test"]);
      echo["peer"] = beast::get_lowest_layer(stream).remote_endpoint(ec).address().to_string();
      bhttp::response<bhttp::string_body> res(bhttp::status::ok, 11);
      res.set(bhttp::field::content_type, "application/json");
      res.set("X-Served-By", "test");
      res.body() = echo.dump();
      res.keep_alive(true);
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      if (ec || mode_ == Mode::kCloseAfterFirst) return;
    }
  }

  Mode mode_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::optional<ssl::context> ctx_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Issues, with the CA in `tls`, a server certificate that names only `san` (e.g.
// "DNS:other.example"), to check that the client verifies names and not just the chain.
bool IssueCertFor(const TlsFiles& tls, const std::string& san, const std::string& cert_out,
                  const std::string& key_out) {
  BIO* b = BIO_new_file(tls.ca_cert.c_str(), "r");
  X509* ca = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  std::string ca_key_path = tls.ca_cert.substr(0, tls.ca_cert.size() - 3) + "key";
  b = BIO_new_file(ca_key_path.c_str(), "r");
  EVP_PKEY* ca_key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  bool ok = ca != nullptr && ca_key != nullptr && key != nullptr && cert != nullptr;
  if (ok) {
    X509_set_version(cert, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("other"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(ca));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    ok = ext != nullptr && X509_add_ext(cert, ext, -1) == 1 &&
         X509_sign(cert, ca_key, EVP_sha256()) > 0;
    X509_EXTENSION_free(ext);
  }
  if (ok) {
    b = BIO_new_file(cert_out.c_str(), "w");
    ok = b != nullptr && PEM_write_bio_X509(b, cert) == 1;
    BIO_free(b);
    b = BIO_new_file(key_out.c_str(), "w");
    ok = ok && b != nullptr &&
         PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    BIO_free(b);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  X509_free(ca);
  return ok;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    auto files = EnsureServerCertificate(tmp_.path() + "/tls");
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    tls_ = *files;
  }
  std::string Url(bool tls, const std::string& host, uint16_t port) {
    return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
  }
  TempDir tmp_;
  TlsFiles tls_;
};

TEST(ParseUrlTest, AcceptsSchemeHostPort) {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseUrl("https://127.0.0.1:8443", &tls, &host, &port).ok());
  EXPECT_TRUE(tls);
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8443);
  ASSERT_TRUE(ParseUrl("http://localhost:80/", &tls, &host, &port).ok());
  EXPECT_FALSE(tls);
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 80);
  ASSERT_TRUE(ParseUrl("https://[::1]:9000", &tls, &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9000);
  ASSERT_TRUE(ParseUrl("https://mdm.example.org", &tls, &host, &port).ok());
  EXPECT_EQ(port, 443);
}

TEST(ParseUrlTest, RejectsOtherShapes) {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  for (const char* url :
       {"", "ftp://h:1", "https://", "https://:80", "https://h:", "https://h:0", "https://h:65536",
        "https://h:12a", "https://h:80/path", "https://user@h:80", "https://h:80?x",
        "https://::1:80", "https://[::1", "https://[::1]x", "https://[host]:1", "https://h h:1",
        "https://h\r\n:1"}) {
    EXPECT_FALSE(ParseUrl(url, &tls, &host, &port).ok()) << url;
  }
}

TEST_F(ClientTest, PlainKeepAliveReusesOneConnection) {
  TestServer server(Mode::kEcho, nullptr);
  auto client = HttpClient::Connect({.url = Url(false, "127.0.0.1", server.port()), .ca_file = ""});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (int i = 0; i < 3; ++i) {
    auto r = (*client)->Send("POST", "/api/v1/x?i=" + std::to_string(i), {{"X-Test", "yes"}},
                             "{\"n\":1}");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("x-served-by"), "test");
    EXPECT_EQ(r->Header("content-type"), "application/json");
    auto echo = nlohmann::json::parse(r->body);
    EXPECT_EQ(echo["method"], "POST");
    EXPECT_EQ(echo["target"], "/api/v1/x?i=" + std::to_string(i));
    EXPECT_EQ(echo["body"], "{\"n\":1}");
    EXPECT_EQ(echo["x_test"], "yes");
    EXPECT_EQ(echo["host"], "127.0.0.1:" + std::to_string(server.port()));
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(ClientTest, ConnectsFromTheLocalAddressAskedFor) {
  TestServer server(Mode::kEcho, nullptr);
  // Any 127.0.0.0/8 address is loopback on Linux: a second "host" without a second machine.
  auto client = HttpClient::Connect({.url = Url(false, "127.0.0.1", server.port()),
                                     .ca_file = "",
                                     .timeout_ms = 5000,
                                     .local_address = "127.0.0.66"});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto r = (*client)->Send("GET", "/who", {}, "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(nlohmann::json::parse(r->body)["peer"], "127.0.0.66");

  auto bad = HttpClient::Connect({.url = Url(false, "127.0.0.1", server.port()),
                                  .ca_file = "",
                                  .timeout_ms = 5000,
                                  .local_address = "not-an-address"});
  if (bad.ok()) {
    auto refused = (*bad)->Send("GET", "/who", {}, "");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  } else {
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  }
}

TEST_F(ClientTest, TlsWithPinnedCaByIpAndByName) {
  TestServer server(Mode::kEcho, &tls_);
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto client =
        HttpClient::Connect({.url = Url(true, host, server.port()), .ca_file = tls_.ca_cert});
    ASSERT_TRUE(client.ok()) << host << ": " << client.status().ToString();
    auto r = (*client)->Send("GET", "/healthz", {}, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(nlohmann::json::parse(r->body)["target"], "/healthz");
  }
}

TEST_F(ClientTest, RefusesServerNotSignedByPinnedCa) {
  auto other = EnsureServerCertificate(tmp_.path() + "/other");
  ASSERT_TRUE(other.ok());
  TestServer server(Mode::kEcho, &*other);
  auto client =
      HttpClient::Connect({.url = Url(true, "127.0.0.1", server.port()), .ca_file = tls_.ca_cert});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
}

TEST_F(ClientTest, RefusesPinnedCaCertificateForAnotherName) {
  TlsFiles other = tls_;
  other.server_cert = tmp_.path() + "/other.pem";
  other.server_key = tmp_.path() + "/other.key";
  ASSERT_TRUE(IssueCertFor(tls_, "DNS:other.example", other.server_cert, other.server_key));
  TestServer server(Mode::kEcho, &other);
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto client =
        HttpClient::Connect({.url = Url(true, host, server.port()), .ca_file = tls_.ca_cert});
    EXPECT_EQ(client.status().code(), Code::kUnavailable) << host;
  }
  // The same CA with a matching name is accepted, so the refusal above is the name check.
  TlsFiles named = tls_;
  named.server_cert = tmp_.path() + "/named.pem";
  named.server_key = tmp_.path() + "/named.key";
  ASSERT_TRUE(IssueCertFor(tls_, "IP:127.0.0.1", named.server_cert, named.server_key));
  TestServer named_server(Mode::kEcho, &named);
  auto ok = HttpClient::Connect(
      {.url = Url(true, "127.0.0.1", named_server.port()), .ca_file = tls_.ca_cert});
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST_F(ClientTest, HttpsNeedsCaFile) {
  auto client = HttpClient::Connect({.url = "https://127.0.0.1:1", .ca_file = ""});
  EXPECT_EQ(client.status().code(), Code::kInvalidArgument);
  auto bad_ca =
      HttpClient::Connect({.url = "https://127.0.0.1:1", .ca_file = tmp_.path() + "/missing.pem"});
  EXPECT_EQ(bad_ca.status().code(), Code::kInvalidArgument);
}

TEST_F(ClientTest, ReconnectsOnceWhenServerDroppedIdleConnection) {
  for (bool tls : {false, true}) {
    TestServer server(Mode::kCloseAfterFirst, tls ? &tls_ : nullptr);
    auto client =
        HttpClient::Connect({.url = Url(tls, "127.0.0.1", server.port()), .ca_file = tls_.ca_cert});
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    for (int i = 0; i < 3; ++i) {
      auto r = (*client)->Send("GET", "/n/" + std::to_string(i), {}, "");
      ASSERT_TRUE(r.ok()) << "tls=" << tls << " i=" << i << ": " << r.status().ToString();
      EXPECT_EQ(nlohmann::json::parse(r->body)["target"], "/n/" + std::to_string(i));
    }
    EXPECT_EQ(server.connections(), 3);
  }
}

TEST_F(ClientTest, TimesOutWhenServerNeverAnswers) {
  TestServer server(Mode::kNeverAnswer, nullptr);
  auto client = HttpClient::Connect(
      {.url = Url(false, "127.0.0.1", server.port()), .ca_file = "", .timeout_ms = 200});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send("GET", "/slow", {}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

TEST_F(ClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t port;
  {
    // A port that was free a moment ago and now has no listener.
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  auto client = HttpClient::Connect({.url = Url(false, "127.0.0.1", port), .ca_file = ""});
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
}

TEST_F(ClientTest, RejectsHeaderInjection) {
  TestServer server(Mode::kEcho, nullptr);
  auto client = HttpClient::Connect({.url = Url(false, "127.0.0.1", server.port()), .ca_file = ""});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send("GET", "/", {{"X-A", "1\r\nX-B: 2"}}, "");
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  auto ok = (*client)->Send("GET", "/", {}, "");
  EXPECT_TRUE(ok.ok());
}

}  // namespace
}  // namespace rampart::http
