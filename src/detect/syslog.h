// Syslog input for the live engine: a pure parser for RFC 5424 and RFC 3164 messages, and a
// receiver on one address for UDP and TCP (RFC 6587 octet counting or LF-terminated framing)
// and, optionally, on another for syslog over TLS (RFC 5425).
//
//   auto msg = ParseSyslog("<165>1 2026-01-30T09:15:00Z mdm httpd - - - GET ...", now_ms);
//   if (msg.ok()) SecurityEvent ev = SyslogToEvent(*msg, "udp", "192.0.2.1:514");
//
//   SyslogReceiverOptions opt;
//   opt.listen = "127.0.0.1:5514";
//   auto receiver = SyslogReceiver::Create(opt, engine);  // binds UDP and TCP
//   (*receiver)->Start();                                 // its own thread
//   (*receiver)->Stop();
//
// A message whose MSG is an access-log line the log parser understands (Apache/nginx, EPMM,
// JSON lines) becomes that access-log event, so web rules fire on logs shipped by syslog;
// anything else becomes `event.action: syslog.message` with host.name, process.name,
// log.syslog.severity.code and message. Every event names where it came from:
// `log.source.address` (the sender) and `network.transport` ("udp", "tcp" or "tls"). Over mutual
// TLS the client certificate's subject is added as `tls.client.subject` (RFC 2253 form) and its
// common name as `tls.client.x509.subject.common_name`.
//
//   opt.tls_listen = "0.0.0.0:6514";          // RFC 5425: MSG-LEN SP SYSLOG-MSG over TLS 1.2+
//   opt.tls_cert_file = "/etc/rampart/syslog.pem";
//   opt.tls_key_file = "/etc/rampart/syslog.key";
//   opt.tls_client_ca_file = "/etc/rampart/collectors-ca.pem";  // optional: mutual TLS
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/event_sink.h"
#include "common/forwarded.h"
#include "common/status.h"
#include "detect/log_parser.h"
#include "detect/readability.h"

namespace rampart::detect {

struct SyslogMessage {
  int facility = 0;
  int severity = 0;
  int version = 0;               // 1 for RFC 5424, 0 for RFC 3164 (BSD)
  int64_t timestamp_millis = 0;  // 0 when the message had none ("-")
  // Views into the parsed text; empty when absent or NILVALUE.
  std::string_view hostname;
  std::string_view app_name;  // RFC 3164: the TAG
  std::string_view procid;
  std::string_view msgid;
  std::string_view structured_data;  // RFC 5424 SD elements as sent, "" for "-"
  std::string_view message;          // MSG, without a leading UTF-8 BOM or trailing CR/LF
};

// Parses one message (no transport framing). RFC 3164 timestamps carry no year or zone: they
// are read as the sender's local time, UTC + `bsd_utc_offset_minutes`, in the year that puts
// them closest before `now_millis` (a message up to a day in the future is taken as this year). A
// 3164 message whose header is not recognisable after the PRI keeps the rest as MSG (RFC 3164
// §4.3.3). InvalidArgument, with the reason, for a missing or out-of-range PRI, a bad 5424 header
// or unterminated structured data. Safe on any bytes (fuzzed: fuzz/detect_syslog_fuzz.cc).
Result<SyslogMessage> ParseSyslog(std::string_view text, int64_t now_millis,
                                  int bsd_utc_offset_minutes = 0);

// The event for a parsed message (see the file comment). `transport` is "udp" or "tcp".
// `log_proxies`: reverse proxies in front of the senders' web servers; an access-log line from
// one of them is attributed to the forwarded client (AttributeToForwardedClient), and
// *attribution, when given, says how. `layout`, when given, is the declared layout of the
// sender's lines (SyslogReceiverOptions::layouts): the message is read in it alone.
// *read_as_log_line, when given, says whether the message was read as a log line (in the
// layout, or in a built-in format) rather than kept as a syslog.message.
SecurityEvent SyslogToEvent(const SyslogMessage& msg, std::string_view transport,
                            std::string_view peer, const ProxyTrust& log_proxies = {},
                            Attribution* attribution = nullptr,
                            const CustomLogFormat* layout = nullptr,
                            bool* read_as_log_line = nullptr);

struct SyslogReceiverOptions {
  std::string listen;  // "HOST:PORT"; port 0 picks one free for both UDP and TCP
  size_t max_message_bytes = 64 * 1024;
  size_t max_connections = 64;  // TCP; more are refused at accept
  // TCP connections from one peer address (any port); more are refused at accept, so that one
  // sender holding idle connections cannot take every slot from the others.
  size_t max_connections_per_peer = 8;
  // A TCP connection with no complete message for this long is closed (bytes that never finish
  // one do not count), and one that has sent no complete message at all after
  // first_message_timeout_millis: a sender cannot hold its per-peer slots by trickling.
  int64_t idle_timeout_millis = 300000;
  int64_t first_message_timeout_millis = 30000;

  // Syslog over TLS (RFC 5425) on its own TCP address ("HOST:PORT", port 0 picks a free one);
  // empty: off. At least one of `listen` and `tls_listen` must be set. A TLS connection is
  // framed like TCP (octet counting as RFC 5425 requires, LF framing accepted too) and has the
  // same caps as TCP, counted apart: max_connections and max_connections_per_peer apply to the
  // TLS connections on their own, so plain TCP senders cannot take the TLS slots.
  std::string tls_listen;
  std::string tls_cert_file;  // PEM: server certificate, then its chain
  std::string tls_key_file;   // PEM: its private key, unencrypted
  // PEM CA certificates; when set, a client must present a certificate that chains to one of
  // them (mutual TLS, RFC 5425 §5), else the handshake fails.
  std::string tls_client_ca_file;
  // A handshake not finished this long after accept is dropped.
  int64_t tls_handshake_timeout_millis = 10000;
  // Handshakes in progress at once; a connection accepted beyond that is closed at once, so
  // that clients opening connections and never finishing the handshake hold few slots and
  // only for tls_handshake_timeout_millis.
  size_t max_tls_handshakes = 16;
  // RFC 3164 senders stamp their local time without a zone: theirs is UTC + this (-840..840).
  int bsd_utc_offset_minutes = 0;
  // Reverse proxies in front of the senders' web servers (SyslogToEvent).
  ProxyTrust log_proxies;
  // Messages whose APP-NAME (the tag: nginx's `access_log syslog:...,tag=NAME`) is a key here
  // carry access-log lines in that declared layout (custom_log_format.h), and are read in it.
  std::map<std::string, std::shared_ptr<const CustomLogFormat>, std::less<>> layouts;
  // The messages of each program in `layouts` are judged in windows (readability.h): a window
  // where half or more of them were not in the layout emits detection.log_unreadable with
  // `process.name` set to the APP-NAME.
  ReadabilityOptions readability;
};

struct SyslogStats {
  uint64_t messages = 0;            // parsed and emitted
  uint64_t malformed = 0;           // not syslog
  uint64_t oversized = 0;           // over max_message_bytes (the TCP connection is closed)
  uint64_t udp_kernel_dropped = 0;  // datagrams the kernel dropped, its socket buffer full
  uint64_t connections = 0;         // TCP connections accepted
  uint64_t refused = 0;             // TCP connections over max_connections or the per-peer cap
  uint64_t refused_per_peer = 0;    // of those, refused for the per-peer cap
  // TLS: connections over max_tls_handshakes are in `refused` and here too.
  uint64_t refused_tls_handshakes = 0;
  uint64_t tls_connections = 0;  // TLS handshakes completed
  uint64_t tls_handshake_failures =
      0;  // failed (not TLS, no or bad client certificate) or timed out
  // Access-log lines from a proxy in log_proxies: attributed to the client it named, or naming
  // none.
  uint64_t forwarded_clients = 0;
  uint64_t forwarded_unnamed = 0;
  // Windows of a declared program's messages where half or more were not in its layout.
  uint64_t unreadable_windows = 0;
};

class SyslogReceiver {
 public:
  // Binds UDP and TCP on `listen` and TLS on `tls_listen`, after loading the TLS files.
  // InvalidArgument for a bad address or TLS file, Unavailable when a port cannot be bound; the
  // message starts with the configuration key at fault (syslog_listen, syslog_tls_listen,
  // syslog_tls_cert, syslog_tls_key, syslog_tls_client_ca). `sink` must outlive the receiver.
  static Result<std::unique_ptr<SyslogReceiver>> Create(SyslogReceiverOptions options,
                                                        EventSink* sink);
  ~SyslogReceiver();
  SyslogReceiver(const SyslogReceiver&) = delete;
  SyslogReceiver& operator=(const SyslogReceiver&) = delete;

  uint16_t port() const;      // UDP and TCP; 0 when `listen` is empty
  uint16_t tls_port() const;  // 0 when `tls_listen` is empty
  // Starts the receiving thread; Stop() joins it and closes the TCP connections (the listening
  // sockets close with the receiver). Idempotent.
  void Start();
  void Stop();
  SyslogStats stats() const;

 private:
  class Impl;
  explicit SyslogReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::detect
