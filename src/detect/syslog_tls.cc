#include "detect/syslog_tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace rampart::detect::internal {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct NamesFree {
  void operator()(STACK_OF(X509_NAME) * n) const { sk_X509_NAME_pop_free(n, X509_NAME_free); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
using NamesPtr = std::unique_ptr<STACK_OF(X509_NAME), NamesFree>;

int SocketOf(BIO* b) {
  return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses write(), and a
// close_notify or handshake reply to a peer that already left would raise SIGPIPE.
int SocketWrite(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::send(SocketOf(b), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
    return -1;
  }
  return static_cast<int>(n);
}

int SocketRead(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  ssize_t n = ::recv(SocketOf(b), data, static_cast<size_t>(len), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(b);
    return -1;
  }
  return static_cast<int>(n);
}

long SocketCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// Created once and kept for the life of the process (OpenSSL allows no cheaper sharing).
BIO_METHOD* SocketMethod() {
  static BIO_METHOD* const method = [] {
    int index = BIO_get_new_index();
    if (index == -1) return static_cast<BIO_METHOD*>(nullptr);
    BIO_METHOD* m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "rampart syslog socket");
    if (m == nullptr) return m;
    if (BIO_meth_set_write(m, SocketWrite) != 1 || BIO_meth_set_read(m, SocketRead) != 1 ||
        BIO_meth_set_ctrl(m, SocketCtrl) != 1) {
      BIO_meth_free(m);
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;
}

// Encrypted keys are refused rather than prompted for on the terminal of a server.
int NoPassword(char*, int, int, void*) {
  return 0;
}

std::string OpenSslReason() {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  std::string out = reason != nullptr ? reason : "unknown";
  ERR_clear_error();
  return out;
}

Status Bad(std::string_view key, const std::string& path, std::string_view why) {
  ERR_clear_error();
  return Status::InvalidArgument(std::string(key) + ": " + path + " " + std::string(why));
}

Status Readable(std::string_view key, const std::string& path) {
  if (path.empty()) {
    return Status::InvalidArgument(std::string(key) +
                                   ": a PEM file is required for syslog over TLS");
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Bad(key, path, std::string("cannot be read: ") + std::strerror(errno));
  ::close(fd);
  return Status::Ok();
}

std::string NameText(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : "";
}

std::string CommonName(X509_NAME* name) {
  int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return "";
  ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) return "";
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

TlsSession::TlsSession(ssl_st* ssl) : ssl_(ssl) {}

TlsSession::~TlsSession() {
  if (established_ && !failed_) {
    // One attempt on a non-blocking socket: close_notify if the socket takes it, no waiting.
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
  ERR_clear_error();
  SSL_free(ssl_);
}

TlsStep TlsSession::Classify(int ret) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      ERR_clear_error();
      return TlsStep::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      ERR_clear_error();
      return TlsStep::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      if (established_) return TlsStep::kClosed;
      failed_ = true;
      failure_ = "connection closed during the handshake";
      return TlsStep::kFailed;
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      failure_ = ERR_peek_last_error() != 0 ? OpenSslReason()
                 : errno != 0               ? std::strerror(errno)
                                            : "connection closed";
      ERR_clear_error();
      return established_ ? TlsStep::kClosed : TlsStep::kFailed;
    default:
      failed_ = true;
      failure_ = OpenSslReason();
      return TlsStep::kFailed;
  }
}

TlsStep TlsSession::Handshake() {
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(ssl_);
  if (r != 1) return Classify(r);
  established_ = true;
  if (X509* cert = SSL_get0_peer_certificate(ssl_); cert != nullptr) {
    X509_NAME* subject = X509_get_subject_name(cert);
    client_subject_ = NameText(subject);
    client_cn_ = CommonName(subject);
  }
  return TlsStep::kDone;
}

TlsStep TlsSession::Read(char* buf, size_t cap, size_t* n) {
  ERR_clear_error();
  errno = 0;
  size_t got = 0;
  int r = SSL_read_ex(ssl_, buf, cap, &got);
  if (r == 1) {
    *n = got;
    return TlsStep::kDone;
  }
  return Classify(r);
}

bool TlsSession::HasPending() const {
  return SSL_pending(ssl_) > 0;
}

Result<std::unique_ptr<TlsServerContext>> TlsServerContext::Create(const TlsServerFiles& files) {
  RAMPART_RETURN_IF_ERROR(Readable("syslog_tls_cert", files.cert));
  RAMPART_RETURN_IF_ERROR(Readable("syslog_tls_key", files.key));
  if (SocketMethod() == nullptr) return Status::Internal("syslog TLS: cannot create socket BIO");
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::Internal("syslog TLS: cannot create context: " + OpenSslReason());
  // RFC 5425 asks for TLS 1.2 at least (as updated by RFC 9325); renegotiation is refused
  // because a client could make the server redo handshakes on an open connection.
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return Status::Internal("syslog TLS: cannot set the minimum version");
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);

  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1) {
    return Bad("syslog_tls_cert", files.cert, "holds no PEM certificate");
  }
  PkeyPtr key;
  {
    BioPtr bio(BIO_new_file(files.key.c_str(), "r"));
    if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  }
  if (!key) return Bad("syslog_tls_key", files.key, "holds no unencrypted PEM private key");
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return Bad("syslog_tls_key", files.key, "does not match the certificate in syslog_tls_cert");
  }

  const bool mutual = !files.client_ca.empty();
  if (mutual) {
    RAMPART_RETURN_IF_ERROR(Readable("syslog_tls_client_ca", files.client_ca));
    NamesPtr names(SSL_load_client_CA_file(files.client_ca.c_str()));
    if (!names || sk_X509_NAME_num(names.get()) == 0 ||
        SSL_CTX_load_verify_locations(ctx.get(), files.client_ca.c_str(), nullptr) != 1) {
      return Bad("syslog_tls_client_ca", files.client_ca, "holds no PEM certificate");
    }
    // The CA names tell the client which of its certificates to present.
    SSL_CTX_set_client_CA_list(ctx.get(), names.release());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  ERR_clear_error();
  return std::unique_ptr<TlsServerContext>(new TlsServerContext(ctx.release(), mutual));
}

TlsServerContext::~TlsServerContext() {
  SSL_CTX_free(ctx_);
}

std::unique_ptr<TlsSession> TlsServerContext::NewSession(int fd) {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  BIO* bio = BIO_new(SocketMethod());
  if (bio == nullptr) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // the session owns the BIO; the socket stays the caller's
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsSession>(ssl);
}

}  // namespace rampart::detect::internal
