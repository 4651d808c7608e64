// Syslog over TLS (RFC 5425): a CA, a server certificate and client certificates are made here
// with OpenSSL, written to a temporary folder, and an OpenSSL client talks to the receiver on
// 127.0.0.1. Covers framing over TLS, mutual TLS, plain TCP on the TLS port, the size cap, the
// handshake cap and timeout, Stop() with connections open, and bad TLS files.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "common/crypto.h"
#include "detect/syslog.h"
#include "support/loopback.h"
#include "tests/support/capturing_sink.h"

namespace rampart::detect::syslog_tls_test {
namespace {

namespace fs = std::filesystem;
using rampart::testing::CapturingSink;

constexpr char kClientName[] = "collector-1.example.eu";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

PkeyPtr NewKey() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

enum class Role { kCa, kServer, kClient };

// A certificate for `key` named `cn`, signed by issuer (self-signed when issuer is null).
X509Ptr Issue(EVP_PKEY* key, const std::string& cn, Role role, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(role) + 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Rampart Test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    std::unique_ptr<X509_EXTENSION, ExtFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    ASSERT_TRUE(ext != nullptr);
    X509_add_ext(cert.get(), ext.get(), -1);
  };
  switch (role) {
    case Role::kCa:
      add(NID_basic_constraints, "critical,CA:TRUE");
      add(NID_key_usage, "critical,keyCertSign,cRLSign");
      break;
    case Role::kServer:
      add(NID_basic_constraints, "CA:FALSE");
      add(NID_ext_key_usage, "serverAuth");
      add(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
      break;
    case Role::kClient:
      add(NID_basic_constraints, "CA:FALSE");
      add(NID_ext_key_usage, "clientAuth");
      break;
  }
  X509_sign(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  if (cert != nullptr) PEM_write_X509(f, cert);
  if (key != nullptr) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// The test PKI in a temporary folder: ca.pem signs server.pem and client.pem; other-ca.pem
// signs stranger.pem, a client certificate the receiver must not accept.
class TlsFiles {
 public:
  TlsFiles() {
    dir_ = fs::temp_directory_path() / ("rampart_syslog_tls_" + crypto::RandomHex(6));
    fs::create_directories(dir_);
    PkeyPtr ca_key = NewKey(), server_key = NewKey(), client_key = NewKey();
    PkeyPtr other_ca_key = NewKey(), stranger_key = NewKey();
    X509Ptr ca = Issue(ca_key.get(), "Rampart Test CA", Role::kCa, nullptr, ca_key.get());
    X509Ptr other_ca =
        Issue(other_ca_key.get(), "Other CA", Role::kCa, nullptr, other_ca_key.get());
    X509Ptr server = Issue(server_key.get(), "localhost", Role::kServer, ca.get(), ca_key.get());
    X509Ptr client = Issue(client_key.get(), kClientName, Role::kClient, ca.get(), ca_key.get());
    X509Ptr stranger = Issue(stranger_key.get(), "stranger.example", Role::kClient, other_ca.get(),
                             other_ca_key.get());
    WritePem(Path("ca.pem"), ca.get(), nullptr);
    WritePem(Path("server.pem"), server.get(), nullptr);
    WritePem(Path("server.key"), nullptr, server_key.get());
    WritePem(Path("client.pem"), client.get(), nullptr);
    WritePem(Path("client.key"), nullptr, client_key.get());
    WritePem(Path("stranger.pem"), stranger.get(), nullptr);
    WritePem(Path("stranger.key"), nullptr, stranger_key.get());
  }
  ~TlsFiles() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

SyslogReceiverOptions TlsOptions(const TlsFiles& files) {
  SyslogReceiverOptions o;
  o.tls_listen = "127.0.0.1:0";
  o.tls_cert_file = files.Path("server.pem");
  o.tls_key_file = files.Path("server.key");
  return o;
}

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = rampart::testing::LoopbackAddress(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  // Every blocking read and write below ends within the deadline, whatever the receiver does.
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

// True when the peer closes the connection (end of stream or reset) before the deadline; bytes
// it sends first (a TLS alert, say) are skipped.
bool RawClosedByPeer(int fd) {
  char buf[256];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  }
  return false;
}

// A blocking OpenSSL client that checks the server against ca.pem and the name localhost.
class Client {
 public:
  // Connects and runs the handshake; a client certificate when cert is given; only TLS
  // `version` (TLS1_2_VERSION, say) when it is not 0.
  Client(const TlsFiles& files, uint16_t port, const std::string& cert = "",
         const std::string& key = "", int version = 0) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (version != 0) {
      // Level 0 lets this client offer versions the system policy forbids, to prove that the
      // receiver refuses them itself.
      SSL_CTX_set_security_level(ctx_.get(), 0);
      SSL_CTX_set_min_proto_version(ctx_.get(), version);
      SSL_CTX_set_max_proto_version(ctx_.get(), version);
    }
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    EXPECT_EQ(SSL_CTX_load_verify_locations(ctx_.get(), files.Path("ca.pem").c_str(), nullptr), 1);
    if (!cert.empty()) {
      EXPECT_EQ(SSL_CTX_use_certificate_file(ctx_.get(), cert.c_str(), SSL_FILETYPE_PEM), 1);
      EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx_.get(), key.c_str(), SSL_FILETYPE_PEM), 1);
    }
    fd_ = ConnectLoopback(port);
    if (fd_ < 0) return;
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_);
    SSL_set1_host(ssl_.get(), "localhost");
    handshake_ok_ = SSL_connect(ssl_.get()) == 1;
    ERR_clear_error();
  }
  ~Client() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  // With TLS 1.3 the client's handshake ends before the server has checked the client's
  // certificate: a refusal then shows as the connection closing.
  bool handshake_ok() const { return handshake_ok_; }

  bool Write(const std::string& data) {
    if (!handshake_ok_) return false;
    size_t done = 0;
    int r = SSL_write_ex(ssl_.get(), data.data(), data.size(), &done);
    ERR_clear_error();
    return r == 1 && done == data.size();
  }
  // True when the server ends the session (close_notify, an alert, or the socket closing)
  // before the deadline.
  bool ClosedByServer() {
    if (!handshake_ok_) return true;
    char buf[256];
    size_t n = 0;
    int r = SSL_read_ex(ssl_.get(), buf, sizeof buf, &n);
    int err = SSL_get_error(ssl_.get(), r);
    ERR_clear_error();
    // A receive timeout surfaces as SSL_ERROR_SYSCALL with EAGAIN: not a close.
    return r != 1 && !(err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

 private:
  CtxPtr ctx_;
  SslPtr ssl_;
  int fd_ = -1;
  bool handshake_ok_ = false;
};

std::string Framed(const std::string& msg) {
  return std::to_string(msg.size()) + " " + msg;
}

template <typename Pred>
bool PollUntil(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class SyslogTlsTest : public ::testing::Test {
 protected:
  // The test's clients write to connections the receiver may have closed; without this the
  // write would raise SIGPIPE and end the test binary. The receiver itself never needs it.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  std::unique_ptr<SyslogReceiver> Start(const SyslogReceiverOptions& o) {
    auto r = SyslogReceiver::Create(o, &sink_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    (*r)->Start();
    return std::move(r).value();
  }

  TlsFiles files_;
  CapturingSink sink_;
};

TEST_F(SyslogTlsTest, OctetCountedMessagesOverTlsBecomeEvents) {
  auto r = Start(TlsOptions(files_));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->port(), 0) << "no plain listener was asked for";
  ASSERT_NE(r->tls_port(), 0);

  Client client(files_, r->tls_port());
  ASSERT_TRUE(client.handshake_ok());
  const std::string first = "<38>1 2026-01-30T09:15:00Z fw sshd 77 - - Accepted publickey";
  const std::string access =
      "<190>1 2026-01-30T09:15:00Z mdm httpd - - - mdm.example.eu:443 203.0.113.50 - - "
      "[30/Jan/2026:09:15:00 +0100] \"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,"
      "et=1337133713,h=gPath%5B%60id%60%5D/a.ipa HTTP/1.1\" 404 196 \"-\" "
      "\"python-requests/2.31.0\"";
  const std::string split = Framed("<13>1 - host app - - - split across writes");
  // Two whole messages and the start of a third in one write; the rest of the third once the
  // first two are in (so the receiver has surely read the partial frame by then).
  ASSERT_TRUE(client.Write(Framed(first) + Framed(access) + split.substr(0, 9)));
  ASSERT_EQ(sink_.WaitFor(2).size(), 2u);
  ASSERT_TRUE(client.Write(split.substr(9)));
  auto events = sink_.WaitFor(3);
  ASSERT_EQ(events.size(), 3u);

  EXPECT_EQ(events[0].Get("event.action"), "syslog.message");
  EXPECT_EQ(events[0].Get("message"), "Accepted publickey");
  EXPECT_EQ(events[0].Get("network.transport"), "tls");
  EXPECT_TRUE(events[0].Get("log.source.address").starts_with("127.0.0.1:"));
  EXPECT_EQ(events[0].Get("tls.client.subject"), "") << "no client certificate was asked for";

  EXPECT_EQ(events[1].Get("event.action"), "") << "the access-log event, not a syslog message";
  EXPECT_EQ(events[1].Get("source.ip"), "203.0.113.50");
  EXPECT_EQ(events[1].Get("http.response.status_code"), "404");
  EXPECT_NE(events[1].Get("url.original").find("/mifs/c/appstore/fob/"), std::string::npos);
  EXPECT_EQ(events[1].Get("network.transport"), "tls");

  EXPECT_EQ(events[2].Get("message"), "split across writes");
  r->Stop();
  EXPECT_EQ(r->stats().messages, 3u);
  EXPECT_EQ(r->stats().tls_connections, 1u);
  EXPECT_EQ(r->stats().tls_handshake_failures, 0u);
}

TEST_F(SyslogTlsTest, PlainTcpOnTheTlsPortIsDroppedAndTlsStillWorks) {
  auto r = Start(TlsOptions(files_));
  ASSERT_NE(r, nullptr);
  int raw = ConnectLoopback(r->tls_port());
  ASSERT_GE(raw, 0);
  const std::string plain = Framed("<13>1 - host app - - - not encrypted");
  ASSERT_EQ(::send(raw, plain.data(), plain.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(plain.size()));
  EXPECT_TRUE(RawClosedByPeer(raw));
  ::close(raw);

  Client client(files_, r->tls_port());
  ASSERT_TRUE(client.handshake_ok());
  ASSERT_TRUE(client.Write(Framed("<13>1 - host app - - - after the plain one")));
  auto events = sink_.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("message"), "after the plain one");
  r->Stop();
  EXPECT_EQ(r->stats().tls_handshake_failures, 1u);
  EXPECT_EQ(r->stats().messages, 1u);
}

TEST_F(SyslogTlsTest, MutualTlsRefusesClientsWithoutAnAcceptedCertificate) {
  SyslogReceiverOptions o = TlsOptions(files_);
  o.tls_client_ca_file = files_.Path("ca.pem");
  auto r = Start(o);
  ASSERT_NE(r, nullptr);
  const std::string msg = Framed("<13>1 - host app - - - must not arrive");
  {
    SCOPED_TRACE("no client certificate");
    Client anonymous(files_, r->tls_port());
    anonymous.Write(msg);
    EXPECT_TRUE(anonymous.ClosedByServer());
  }
  {
    SCOPED_TRACE("a client certificate from another CA");
    Client stranger(files_, r->tls_port(), files_.Path("stranger.pem"),
                    files_.Path("stranger.key"));
    stranger.Write(msg);
    EXPECT_TRUE(stranger.ClosedByServer());
  }
  Client collector(files_, r->tls_port(), files_.Path("client.pem"), files_.Path("client.key"));
  ASSERT_TRUE(collector.handshake_ok());
  ASSERT_TRUE(collector.Write(Framed("<13>1 - host app - - - from a known collector")));
  auto events = sink_.WaitFor(1);
  r->Stop();
  // The refused clients' sessions ended before the collector connected: nothing else came.
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("message"), "from a known collector");
  EXPECT_EQ(events[0].Get("network.transport"), "tls");
  EXPECT_EQ(events[0].Get("tls.client.x509.subject.common_name"), kClientName);
  EXPECT_NE(events[0].Get("tls.client.subject").find(std::string("CN=") + kClientName),
            std::string::npos)
      << events[0].Get("tls.client.subject");
  EXPECT_EQ(r->stats().tls_handshake_failures, 2u);
  EXPECT_EQ(r->stats().tls_connections, 1u);
}

TEST_F(SyslogTlsTest, Tls12WorksWithMutualTlsAndOlderVersionsAreRefused) {
  SyslogReceiverOptions o = TlsOptions(files_);
  o.tls_client_ca_file = files_.Path("ca.pem");
  auto r = Start(o);
  ASSERT_NE(r, nullptr);
  {
    // Before TLS 1.3 the server checks the client's certificate before the client's
    // handshake ends, so the refusal shows in the handshake itself.
    Client anonymous(files_, r->tls_port(), "", "", TLS1_2_VERSION);
    EXPECT_FALSE(anonymous.handshake_ok());
  }
  {
    Client old(files_, r->tls_port(), files_.Path("client.pem"), files_.Path("client.key"),
               TLS1_1_VERSION);
    EXPECT_FALSE(old.handshake_ok());
  }
  Client collector(files_, r->tls_port(), files_.Path("client.pem"), files_.Path("client.key"),
                   TLS1_2_VERSION);
  ASSERT_TRUE(collector.handshake_ok());
  ASSERT_TRUE(collector.Write(Framed("<13>1 - host app - - - over TLS 1.2")));
  auto events = sink_.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("tls.client.x509.subject.common_name"), kClientName);
  r->Stop();
  EXPECT_EQ(r->stats().tls_handshake_failures, 2u);
}

TEST_F(SyslogTlsTest, OversizedMessageClosesTheConnection) {
  SyslogReceiverOptions o = TlsOptions(files_);
  o.max_message_bytes = 1024;
  auto r = Start(o);
  ASSERT_NE(r, nullptr);
  Client client(files_, r->tls_port());
  ASSERT_TRUE(client.handshake_ok());
  ASSERT_TRUE(client.Write("99999 <13>1 - h a - - - x"));
  EXPECT_TRUE(client.ClosedByServer());
  r->Stop();
  EXPECT_EQ(r->stats().oversized, 1u);
  EXPECT_EQ(sink_.size(), 0u);
}

TEST_F(SyslogTlsTest, HandshakesOverTheCapAreRefused) {
  SyslogReceiverOptions o = TlsOptions(files_);
  o.max_tls_handshakes = 1;
  o.tls_handshake_timeout_millis = 600000;  // the silent connection holds its slot throughout
  auto r = Start(o);
  ASSERT_NE(r, nullptr);
  int silent = ConnectLoopback(r->tls_port());
  ASSERT_GE(silent, 0);
  ASSERT_TRUE(PollUntil([&] { return r->stats().connections == 1; }));
  int second = ConnectLoopback(r->tls_port());
  ASSERT_GE(second, 0);
  EXPECT_TRUE(RawClosedByPeer(second));
  ::close(second);
  EXPECT_EQ(r->stats().refused_tls_handshakes, 1u);
  // Once the slot is free, a real client gets in.
  ::close(silent);
  ASSERT_TRUE(PollUntil([&] { return r->stats().tls_handshake_failures == 1; }));
  Client client(files_, r->tls_port());
  ASSERT_TRUE(client.handshake_ok());
  ASSERT_TRUE(client.Write(Framed("<13>1 - host app - - - after the slow one")));
  ASSERT_EQ(sink_.WaitFor(1).size(), 1u);
  r->Stop();
}

TEST_F(SyslogTlsTest, StalledHandshakeTimesOut) {
  SyslogReceiverOptions o = TlsOptions(files_);
  o.tls_handshake_timeout_millis = 100;
  auto r = Start(o);
  ASSERT_NE(r, nullptr);
  int silent = ConnectLoopback(r->tls_port());
  ASSERT_GE(silent, 0);
  EXPECT_TRUE(RawClosedByPeer(silent));
  ::close(silent);
  r->Stop();
  EXPECT_EQ(r->stats().tls_handshake_failures, 1u);
  EXPECT_EQ(r->stats().tls_connections, 0u);
}

TEST_F(SyslogTlsTest, StopReturnsWithConnectionsOpenAndClosesThem) {
  SyslogReceiverOptions o = TlsOptions(files_);
  o.listen = "127.0.0.1:0";  // plain and TLS listeners in one receiver
  auto r = Start(o);
  ASSERT_NE(r, nullptr);
  ASSERT_NE(r->port(), 0);
  ASSERT_NE(r->tls_port(), r->port());
  Client a(files_, r->tls_port());
  Client b(files_, r->tls_port());
  ASSERT_TRUE(a.handshake_ok());
  ASSERT_TRUE(b.handshake_ok());
  ASSERT_TRUE(a.Write(Framed("<13>1 - host app - - - a")));
  ASSERT_TRUE(b.Write("70 <13>1 -"));  // part of a frame
  int handshaking = ConnectLoopback(r->tls_port());
  int tcp = ConnectLoopback(r->port());
  ASSERT_GE(handshaking, 0);
  ASSERT_GE(tcp, 0);
  ASSERT_EQ(sink_.WaitFor(1).size(), 1u);
  ASSERT_TRUE(PollUntil([&] { return r->stats().connections == 4; }));
  r->Stop();  // would hang the test (and trip its timeout) if it waited on a peer
  EXPECT_TRUE(a.ClosedByServer());
  EXPECT_TRUE(b.ClosedByServer());
  EXPECT_TRUE(RawClosedByPeer(handshaking));
  EXPECT_TRUE(RawClosedByPeer(tcp));
  ::close(handshaking);
  ::close(tcp);
}

class SyslogTlsConfigTest : public SyslogTlsTest {
 protected:
  // The error of Create, or "" when it succeeded.
  std::string CreateError(const SyslogReceiverOptions& o) {
    auto r = SyslogReceiver::Create(o, &sink_);
    return r.ok() ? "" : r.status().message();
  }
};

TEST_F(SyslogTlsConfigTest, BadTlsFilesAreRefusedNamingTheirKey) {
  SyslogReceiverOptions o = TlsOptions(files_);
  EXPECT_EQ(CreateError(o), "");

  SyslogReceiverOptions missing_cert = o;
  missing_cert.tls_cert_file = "";
  EXPECT_TRUE(CreateError(missing_cert).starts_with("syslog_tls_cert:"));

  SyslogReceiverOptions missing_key = o;
  missing_key.tls_key_file = files_.Path("nonexistent.key");
  std::string e = CreateError(missing_key);
  EXPECT_TRUE(e.starts_with("syslog_tls_key:")) << e;
  EXPECT_NE(e.find("cannot be read"), std::string::npos) << e;

  SyslogReceiverOptions not_a_cert = o;
  not_a_cert.tls_cert_file = files_.Path("server.key");
  e = CreateError(not_a_cert);
  EXPECT_TRUE(e.starts_with("syslog_tls_cert:")) << e;

  SyslogReceiverOptions not_a_key = o;
  not_a_key.tls_key_file = files_.Path("server.pem");
  e = CreateError(not_a_key);
  EXPECT_TRUE(e.starts_with("syslog_tls_key:")) << e;

  SyslogReceiverOptions mismatch = o;
  mismatch.tls_key_file = files_.Path("client.key");
  e = CreateError(mismatch);
  EXPECT_TRUE(e.starts_with("syslog_tls_key:")) << e;
  EXPECT_NE(e.find("does not match"), std::string::npos) << e;

  SyslogReceiverOptions bad_ca = o;
  bad_ca.tls_client_ca_file = files_.Path("missing-ca.pem");
  e = CreateError(bad_ca);
  EXPECT_TRUE(e.starts_with("syslog_tls_client_ca:")) << e;
  bad_ca.tls_client_ca_file = files_.Path("server.key");
  e = CreateError(bad_ca);
  EXPECT_TRUE(e.starts_with("syslog_tls_client_ca:")) << e;

  SyslogReceiverOptions bad_address = o;
  bad_address.tls_listen = "localhost:6514";
  e = CreateError(bad_address);
  EXPECT_TRUE(e.starts_with("syslog_tls_listen:")) << e;

  SyslogReceiverOptions nothing;
  EXPECT_NE(CreateError(nothing), "");
}

}  // namespace
}  // namespace rampart::detect::syslog_tls_test
