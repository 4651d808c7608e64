// The TLS half of the syslog receiver (RFC 5425): an OpenSSL server context loaded from PEM
// files and non-blocking server sessions driven by the receiver's poll loop. Internal to
// detect/syslog.cc; OpenSSL types appear only as forward declarations so that no OpenSSL header
// reaches the code that includes this file.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"

struct ssl_ctx_st;
struct ssl_st;

namespace rampart::detect::internal {

struct TlsServerFiles {
  std::string cert;       // PEM: the server certificate first, then its chain
  std::string key;        // PEM: the private key of that certificate (unencrypted)
  std::string client_ca;  // PEM CA certificates; empty: clients are not asked for a certificate
};

// What a step of a non-blocking session needs next.
enum class TlsStep {
  kDone,       // the handshake finished, or Read returned bytes
  kWantRead,   // call again once the socket is readable
  kWantWrite,  // call again once the socket is writable
  kClosed,     // the peer closed the connection (close_notify or end of stream)
  kFailed,     // protocol or certificate error: drop the connection
};

// One server-side session over a connected non-blocking socket it does not own. Writes use
// MSG_NOSIGNAL, so a peer that went away cannot kill the process with SIGPIPE. Not thread-safe.
class TlsSession {
 public:
  explicit TlsSession(ssl_st* ssl);  // takes ownership
  // Sends close_notify once, without waiting, when the session was established and did not fail.
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  TlsStep Handshake();
  // Decrypted bytes into buf (at most cap); *n is set when the result is kDone.
  TlsStep Read(char* buf, size_t cap, size_t* n);
  // Decrypted bytes are buffered inside the session: poll would not report them.
  bool HasPending() const;
  // Why the last step failed (OpenSSL's reason, no peer data), for the log.
  const std::string& failure() const { return failure_; }
  // The verified client certificate's subject (RFC 2253) and common name; empty without one.
  const std::string& client_subject() const { return client_subject_; }
  const std::string& client_common_name() const { return client_cn_; }

 private:
  TlsStep Classify(int ret);

  ssl_st* ssl_;
  bool established_ = false;
  bool failed_ = false;
  std::string failure_;
  std::string client_subject_;
  std::string client_cn_;
};

class TlsServerContext {
 public:
  // Loads and checks the files: TLS 1.2 or later, no renegotiation, no session resumption (the
  // connections are long-lived). Errors are InvalidArgument and start with the configuration
  // key at fault (syslog_tls_cert, syslog_tls_key, syslog_tls_client_ca): a file that cannot be
  // read, that holds no PEM certificate or key, or a key that does not match the certificate.
  static Result<std::unique_ptr<TlsServerContext>> Create(const TlsServerFiles& files);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // A session for an accepted socket; null when OpenSSL cannot allocate one.
  std::unique_ptr<TlsSession> NewSession(int fd);
  bool mutual() const { return mutual_; }

 private:
  TlsServerContext(ssl_ctx_st* ctx, bool mutual) : ctx_(ctx), mutual_(mutual) {}
  ssl_ctx_st* ctx_;
  bool mutual_;
};

}  // namespace rampart::detect::internal
