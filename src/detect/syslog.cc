#include "detect/syslog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <list>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "detect/custom_log_format.h"
#include "detect/event.h"
#include "detect/log_parser.h"
#include "detect/syslog_tls.h"

namespace rampart::detect {
namespace {

constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr int64_t kDayMillis = 86400000;

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Splits off the next token up to a space (RFC 5424 header fields are PRINTUSASCII).
bool NextToken(std::string_view* rest, size_t max_len, std::string_view* out) {
  size_t sp = rest->find(' ');
  std::string_view tok = rest->substr(0, sp);
  if (tok.empty() || tok.size() > max_len) return false;
  for (unsigned char c : tok) {
    if (c < 33 || c > 126) return false;
  }
  *out = tok == "-" ? std::string_view() : tok;
  rest->remove_prefix(sp == std::string_view::npos ? rest->size() : sp + 1);
  return true;
}

std::string_view StripBom(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  return s;
}

Status Bad(std::string_view why) {
  return Status::InvalidArgument("syslog: " + std::string(why));
}

Result<SyslogMessage> Parse5424(SyslogMessage m, std::string_view rest) {
  size_t v = 0;
  m.version = 0;
  while (v < rest.size() && v < 3 && IsDigit(rest[v]))
    m.version = m.version * 10 + (rest[v++] - '0');
  rest.remove_prefix(v + 1);
  std::string_view ts;
  if (!NextToken(&rest, 64, &ts)) return Bad("bad RFC 5424 timestamp");
  if (!ts.empty()) {
    auto t = ParseLogTime(ts);
    if (!t) return Bad("bad RFC 5424 timestamp");
    m.timestamp_millis = *t;
  }
  if (!NextToken(&rest, 255, &m.hostname)) return Bad("bad RFC 5424 hostname");
  if (!NextToken(&rest, 48, &m.app_name)) return Bad("bad RFC 5424 app-name");
  if (!NextToken(&rest, 128, &m.procid)) return Bad("bad RFC 5424 procid");
  if (!NextToken(&rest, 32, &m.msgid)) return Bad("bad RFC 5424 msgid");
  if (rest.empty()) return Bad("RFC 5424 message ends before its structured data");
  size_t end = 0;
  if (rest[0] == '-') {
    end = 1;
  } else {
    while (end < rest.size() && rest[end] == '[') {
      // One SD-ELEMENT: ']' ends it unless inside a quoted PARAM-VALUE, where '\' escapes.
      bool quoted = false;
      size_t i = end + 1;
      for (; i < rest.size(); ++i) {
        char c = rest[i];
        if (quoted && c == '\\') {
          ++i;
        } else if (c == '"') {
          quoted = !quoted;
        } else if (!quoted && c == ']') {
          break;
        }
      }
      if (i >= rest.size()) return Bad("unterminated RFC 5424 structured data");
      end = i + 1;
    }
    if (end == 0) return Bad("bad RFC 5424 structured data");
    m.structured_data = rest.substr(0, end);
  }
  rest.remove_prefix(end);
  if (!rest.empty()) {
    if (rest[0] != ' ') return Bad("RFC 5424 structured data is not followed by a space");
    m.message = StripBom(rest.substr(1));
  }
  return m;
}

// "Mmm dd hh:mm:ss" (day space-padded) in the year that puts it at most a day after now.
bool ParseBsdTime(std::string_view s, int64_t now_millis, int64_t* out) {
  if (s.size() < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':') return false;
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(0, 3) == kMonths[i]) month = i;
  }
  if (month < 0) return false;
  auto two = [&](size_t at, bool space_ok, int* v) {
    char a = s[at], b = s[at + 1];
    if (!IsDigit(b) || !(IsDigit(a) || (space_ok && a == ' '))) return false;
    *v = (a == ' ' ? 0 : (a - '0') * 10) + (b - '0');
    return true;
  };
  int day, hh, mm, ss;
  if (!two(4, true, &day) || !two(7, false, &hh) || !two(10, false, &mm) || !two(13, false, &ss)) {
    return false;
  }
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return false;
  time_t now_s = static_cast<time_t>(now_millis / 1000);
  std::tm now_tm{};
  gmtime_r(&now_s, &now_tm);
  std::tm tm{};
  tm.tm_year = now_tm.tm_year;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  int64_t t = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (t > now_millis + kDayMillis) {
    tm = std::tm{};
    tm.tm_year = now_tm.tm_year - 1;
    tm.tm_mon = month;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    t = static_cast<int64_t>(timegm(&tm)) * 1000;
  }
  *out = t;
  return true;
}

// TAG[PID]: (RFC 3164 §4.1.3). Only taken as a tag when it ends with ':' or "[pid]:", so that a
// message with no tag (an access-log line after the hostname) is not cut.
bool ParseTag(std::string_view* rest, SyslogMessage* m) {
  size_t i = 0;
  while (i < rest->size() && i < 48) {
    char c = (*rest)[i];
    if (c == '[' || c == ':' || c == ' ') break;
    ++i;
  }
  if (i == 0 || i >= rest->size()) return false;
  std::string_view tag = rest->substr(0, i);
  std::string_view pid;
  size_t j = i;
  if ((*rest)[j] == '[') {
    size_t close = rest->find(']', j);
    if (close == std::string_view::npos || close - j > 129) return false;
    pid = rest->substr(j + 1, close - j - 1);
    j = close + 1;
  }
  if (j >= rest->size() || (*rest)[j] != ':') return false;
  ++j;
  if (j < rest->size() && (*rest)[j] == ' ') ++j;
  m->app_name = tag;
  m->procid = pid;
  rest->remove_prefix(j);
  return true;
}

SyslogMessage Parse3164(SyslogMessage m, std::string_view rest, int64_t now_millis,
                        int64_t offset_millis) {
  int64_t t = 0;
  bool have_time = false;
  // The year is chosen on the sender's clock; the result goes back to UTC.
  if (ParseBsdTime(rest, now_millis + offset_millis, &t) &&
      (rest.size() == 15 || rest[15] == ' ')) {
    t -= offset_millis;
    have_time = true;
    rest.remove_prefix(std::min<size_t>(rest.size(), 16));
  } else {
    // Many senders put an RFC 3339 time in the BSD header.
    size_t sp = rest.find(' ');
    std::string_view first = rest.substr(0, sp);
    if (first.size() >= 20 && first.find('T') == 10) {
      if (auto parsed = ParseLogTime(first)) {
        t = *parsed;
        have_time = true;
        rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
      }
    }
  }
  if (have_time) {
    m.timestamp_millis = t;
    if (!ParseTag(&rest, &m)) {
      size_t sp = rest.find(' ');
      std::string_view host = rest.substr(0, sp);
      bool printable = !host.empty() && host.size() <= 255;
      for (unsigned char c : host) printable = printable && c > 32 && c < 127;
      if (printable) {
        m.hostname = host;
        rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
        ParseTag(&rest, &m);
      }
    }
  }
  m.message = StripBom(rest);
  return m;
}

}  // namespace

Result<SyslogMessage> ParseSyslog(std::string_view text, int64_t now_millis,
                                  int bsd_utc_offset_minutes) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '\0')) {
    text.remove_suffix(1);
  }
  if (text.empty() || text[0] != '<') return Bad("message does not start with <PRI>");
  size_t i = 1;
  int pri = 0;
  while (i < text.size() && i <= 3 && IsDigit(text[i])) pri = pri * 10 + (text[i++] - '0');
  if (i == 1 || i >= text.size() || text[i] != '>') return Bad("bad PRI");
  if (pri > 191) return Bad("PRI out of range");
  SyslogMessage m;
  m.facility = pri / 8;
  m.severity = pri % 8;
  std::string_view rest = text.substr(i + 1);
  // RFC 5424: VERSION (a non-zero digit, up to three) and a space. A BSD header starts with a
  // month name, so a digit here can only be a version.
  size_t v = 0;
  while (v < rest.size() && v < 3 && IsDigit(rest[v])) ++v;
  if (v > 0 && rest[0] != '0' && v < rest.size() && rest[v] == ' ') {
    return Parse5424(m, rest);
  }
  return Parse3164(m, rest, now_millis, int64_t{bsd_utc_offset_minutes} * 60 * 1000);
}

SecurityEvent SyslogToEvent(const SyslogMessage& msg, std::string_view transport,
                            std::string_view peer, const ProxyTrust& log_proxies,
                            Attribution* attribution, const CustomLogFormat* layout,
                            bool* read_as_log_line) {
  SecurityEvent se;
  bool parsed = false;
  if (!msg.message.empty() && msg.message.size() <= kMaxLineBytes) {
    Event ev;
    bool json = layout == nullptr && msg.message.front() == '{';
    bool ok = layout != nullptr ? layout->Parse(msg.message, &ev)
              : json            ? ParseJsonLine(msg.message, &ev)
                                : ParseAccessLogLine(msg.message, &ev);
    // Any JSON object parses; only one that reads as a request or an action is taken as such.
    if (ok && (!json || ev.Has(Field::kUrlOriginal) || ev.Has(Field::kEventAction))) {
      const Attribution how = AttributeToForwardedClient(log_proxies, &ev);
      if (attribution != nullptr) *attribution = how;
      se = ExternalSecurityEvent(ev);
      // What only the receiver knows (who connected, how, the syslog header) is not the
      // sender's to claim in its JSON: those fields are the receiver's own or absent.
      std::erase_if(se.fields, [](const auto& field) {
        const std::string& k = field.first;
        return k.starts_with("tls.") || k.starts_with("log.syslog.") || k == "log.source.address" ||
               k == "network.transport" || k == "process.name";
      });
      parsed = true;
    }
  }
  if (read_as_log_line != nullptr) *read_as_log_line = parsed;
  if (!parsed) {
    se.Set("event.action", "syslog.message");
    se.Set("message", msg.message);
    // Keyword rules search event.original.
    se.Set("event.original", msg.message);
    if (!msg.app_name.empty()) se.Set("process.name", msg.app_name);
    if (!msg.procid.empty()) se.Set("process.pid", msg.procid);
    if (!msg.msgid.empty()) se.Set("log.syslog.msgid", msg.msgid);
  }
  if (se.timestamp_millis == 0) se.timestamp_millis = msg.timestamp_millis;
  if (!msg.hostname.empty() && se.Get("host.name").empty()) se.Set("host.name", msg.hostname);
  if (parsed && !msg.app_name.empty()) se.Set("process.name", msg.app_name);
  se.Set("log.syslog.severity.code", std::to_string(msg.severity));
  se.Set("log.syslog.facility.code", std::to_string(msg.facility));
  if (!msg.structured_data.empty()) se.Set("log.syslog.structured_data", msg.structured_data);
  se.Set("log.source.address", peer);
  se.Set("network.transport", transport);
  return se;
}

// ---------------------------------------------------------------------------------------------

namespace {

// The peer's address without its port: what the per-peer connection cap counts.
std::string PeerAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::string PeerName(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unknown";
}

// "192.0.2.1:514" -> "192.0.2.1", "[2001:db8::1]:514" -> "2001:db8::1".
std::string_view AddressOfPeer(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    const size_t close = peer.find(']');
    return close == std::string_view::npos ? peer : peer.substr(1, close - 1);
  }
  const size_t colon = peer.rfind(':');
  return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}

// Readability windows (program, sender address) a receiver keeps at most.
constexpr size_t kMaxReadabilityWindows = 4096;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace

class SyslogReceiver::Impl {
 public:
  Impl(SyslogReceiverOptions options, EventSink* sink)
      : options_(std::move(options)), sink_(sink) {}
  ~Impl() { Stop(); }

  Status Bind();
  void Start();
  void Stop();
  uint16_t port() const { return port_; }
  uint16_t tls_port() const { return tls_port_; }
  SyslogStats stats() const {
    SyslogStats s;
    s.messages = messages_.load();
    s.malformed = malformed_.load();
    s.oversized = oversized_.load();
    s.udp_kernel_dropped = udp_kernel_dropped_.load();
    s.connections = connections_.load();
    s.refused = refused_.load();
    s.refused_per_peer = refused_per_peer_.load();
    s.refused_tls_handshakes = refused_tls_handshakes_.load();
    s.tls_connections = tls_connections_.load();
    s.tls_handshake_failures = tls_handshake_failures_.load();
    s.forwarded_clients = forwarded_clients_.load();
    s.forwarded_unnamed = forwarded_unnamed_.load();
    s.unreadable_windows = unreadable_windows_.load();
    return s;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn {
    Fd fd;
    std::string peer;
    std::string address;  // peer without the port
    std::string buf;
    // At accept, then at each complete message: bytes that never finish one (a sender holding
    // a slot by trickling) do not keep the connection.
    Clock::time_point last_active;
    bool framed = false;  // a complete message has arrived
    // TLS only. Declared after the socket, so destroyed first: its close_notify goes out
    // before the socket closes.
    std::unique_ptr<internal::TlsSession> tls;
    bool handshaking = false;
    bool want_write = false;  // the session waits for the socket to take bytes
    Clock::time_point handshake_deadline;
  };

  Status BindPlain();
  Status BindTls();
  void Run();
  int PollTimeoutMillis(Clock::time_point now) const;
  // How long a connection may go without a complete message: idle_timeout_millis once one
  // came, first_message_timeout_millis before.
  std::chrono::milliseconds IdleLimit(const Conn& c) const {
    return std::chrono::milliseconds(std::max<int64_t>(
        c.framed ? options_.idle_timeout_millis : options_.first_message_timeout_millis, 1));
  }
  void ReadUdp();
  void CountKernelDrops();
  void Accept(int listener, bool tls);
  // False when the connection must be closed.
  bool ReadTcp(Conn& c);
  bool ServiceTls(Conn& c);
  bool Frames(Conn& c, bool at_eof);
  // True when `text` was a syslog message (parsed and emitted).
  bool Handle(std::string_view text, const Conn* conn, std::string_view peer);
  // Closes the declared programs' readability windows that are old enough (readability.h).
  void CheckWindows();
  // key: a program in options_.layouts and a sender's address (WindowKey).
  void ReportWindow(const std::string& key, const ReadabilityVerdict& v);
  // The program's messages from one address are judged apart from another's: a sender's
  // garbage must not hide another's broken format, nor one broken host hide among healthy ones.
  static std::string WindowKey(std::string_view app_name, std::string_view address) {
    std::string key(app_name);
    key.push_back('\0');
    key.append(address);
    return key;
  }
  // The declared layout of the sender's program, by the message's APP-NAME, or null.
  const CustomLogFormat* LayoutFor(const SyslogMessage& msg) const {
    if (options_.layouts.empty() || msg.app_name.empty()) return nullptr;
    auto it = options_.layouts.find(msg.app_name);
    return it == options_.layouts.end() ? nullptr : it->second.get();
  }

  SyslogReceiverOptions options_;
  EventSink* sink_;
  Fd udp_, tcp_, tls_, wake_;
  std::unique_ptr<internal::TlsServerContext> tls_ctx_;
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  std::list<Conn> conns_;
  std::vector<char> rbuf_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  uint32_t kernel_drops_seen_ = 0;  // the UDP socket's SO_MEMINFO drop counter, last read
  std::atomic<uint64_t> udp_kernel_dropped_{0};
  std::atomic<uint64_t> messages_{0}, malformed_{0}, oversized_{0}, connections_{0}, refused_{0},
      refused_per_peer_{0}, refused_tls_handshakes_{0}, tls_connections_{0},
      tls_handshake_failures_{0}, forwarded_clients_{0}, forwarded_unnamed_{0},
      unreadable_windows_{0};
  // Per program in options_.layouts and sender address, at most kMaxReadabilityWindows: a
  // sender cannot grow it past that by changing its address.
  std::map<std::string, ReadabilityWindow, std::less<>> windows_;
  bool warned_windows_full_ = false;
};

namespace {

// A numeric address for bind(); InvalidArgument for a host name.
Status NumericAddress(const std::string& host, uint16_t port, sockaddr_storage* addr,
                      socklen_t* len) {
  *addr = sockaddr_storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
  } else {
    return Status::InvalidArgument("syslog listen address must be a numeric IP: " + host);
  }
  return Status::Ok();
}

// The port a bound socket got (the one picked when it asked for port 0).
uint16_t BoundPort(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  return ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                          : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
}

// Binding fails only as InvalidArgument (the address) or Unavailable (the port).
Status Named(std::string_view key, const Status& s) {
  std::string msg = std::string(key) + ": " + s.message();
  return s.code() == Code::kInvalidArgument ? Status::InvalidArgument(std::move(msg))
                                            : Status::Unavailable(std::move(msg));
}

}  // namespace

Status SyslogReceiver::Impl::Bind() {
  if (options_.listen.empty() && options_.tls_listen.empty()) {
    return Status::InvalidArgument("syslog_listen: neither a plain nor a TLS address is set");
  }
  if (options_.bsd_utc_offset_minutes < -14 * 60 || options_.bsd_utc_offset_minutes > 14 * 60) {
    return Status::InvalidArgument("syslog_bsd_utc_offset_minutes: must be within -840..840");
  }
  if (!options_.listen.empty()) {
    if (Status s = BindPlain(); !s.ok()) return Named("syslog_listen", s);
  }
  if (!options_.tls_listen.empty()) {
    // The files are checked before the port is taken: a bad file names its own key.
    auto ctx = internal::TlsServerContext::Create(
        {options_.tls_cert_file, options_.tls_key_file, options_.tls_client_ca_file});
    if (!ctx.ok()) return ctx.status();
    tls_ctx_ = std::move(ctx).value();
    if (Status s = BindTls(); !s.ok()) return Named("syslog_tls_listen", s);
  }
  wake_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake_.get() < 0) return Status::Unavailable("syslog: cannot create eventfd");
  rbuf_.resize(std::max<size_t>(options_.max_message_bytes, 64 * 1024) + 1);
  return Status::Ok();
}

Status SyslogReceiver::Impl::BindTls() {
  std::string host;
  uint16_t port = 0;
  RAMPART_RETURN_IF_ERROR(ParseHostPort(options_.tls_listen, &host, &port));
  sockaddr_storage addr{};
  socklen_t len = 0;
  RAMPART_RETURN_IF_ERROR(NumericAddress(host, port, &addr, &len));
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Unavailable("cannot create socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return Status::Unavailable("cannot bind TCP " + options_.tls_listen + ": " +
                               std::strerror(errno));
  }
  if (::listen(fd.get(), 64) != 0) {
    return Status::Unavailable("cannot listen on " + options_.tls_listen);
  }
  tls_port_ = BoundPort(fd.get());
  tls_ = std::move(fd);
  return Status::Ok();
}

Status SyslogReceiver::Impl::BindPlain() {
  std::string host;
  uint16_t port = 0;
  RAMPART_RETURN_IF_ERROR(ParseHostPort(options_.listen, &host, &port));
  sockaddr_storage addr{};
  socklen_t len = 0;
  RAMPART_RETURN_IF_ERROR(NumericAddress(host, port, &addr, &len));
  const int family = addr.ss_family;
  auto set_port = [&](uint16_t p) {
    if (family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(p);
    } else {
      reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(p);
    }
  };
  // With port 0 the TCP port is picked first and UDP must get the same number; another
  // process may hold it for UDP, so a few picks are tried.
  for (int attempt = 0; attempt < 20; ++attempt) {
    Fd tcp(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    Fd udp(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (tcp.get() < 0 || udp.get() < 0) return Status::Unavailable("cannot create sockets");
    int one = 1;
    ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    set_port(port);
    if (::bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      return Status::Unavailable("cannot bind TCP " + options_.listen + ": " +
                                 std::strerror(errno));
    }
    uint16_t chosen = BoundPort(tcp.get());
    set_port(chosen);
    if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      if (port == 0 && errno == EADDRINUSE) continue;
      return Status::Unavailable("cannot bind UDP " + options_.listen + ": " +
                                 std::strerror(errno));
    }
    if (::listen(tcp.get(), 64) != 0) {
      return Status::Unavailable("cannot listen on " + options_.listen);
    }
    int rcvbuf = 1 << 20;  // absorbs bursts while the thread parses
    ::setsockopt(udp.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    tcp_ = std::move(tcp);
    udp_ = std::move(udp);
    port_ = chosen;
    return Status::Ok();
  }
  return Status::Unavailable("no port free for both UDP and TCP on " + host);
}

void SyslogReceiver::Impl::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void SyslogReceiver::Impl::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  thread_.join();
  conns_.clear();
}

bool SyslogReceiver::Impl::Handle(std::string_view text, const Conn* conn, std::string_view peer) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto msg = ParseSyslog(text, now, options_.bsd_utc_offset_minutes);
  if (!msg.ok()) {
    // Counted; logged only now and then so that a noisy sender cannot flood the log.
    uint64_t n = ++malformed_;
    if (n <= 5 || n % 10000 == 0) {
      log::Warn("detect.syslog_malformed",
                {{"peer", peer}, {"reason", msg.status().message()}, {"malformed_total", n}});
    }
    return false;
  }
  const bool tls = conn != nullptr && conn->tls != nullptr;
  Attribution attribution = Attribution::kNotFromProxy;
  const CustomLogFormat* layout = LayoutFor(*msg);
  bool read = false;
  SecurityEvent ev = SyslogToEvent(*msg,
                                   conn == nullptr ? "udp"
                                   : tls           ? "tls"
                                                   : "tcp",
                                   peer, options_.log_proxies, &attribution, layout, &read);
  if (attribution == Attribution::kForwardedClient) ++forwarded_clients_;
  if (attribution == Attribution::kNoClientNamed) ++forwarded_unnamed_;
  if (tls && !conn->tls->client_subject().empty()) {
    ev.Set("tls.client.subject", conn->tls->client_subject());
    if (!conn->tls->client_common_name().empty()) {
      ev.Set("tls.client.x509.subject.common_name", conn->tls->client_common_name());
    }
  }
  sink_->Emit(std::move(ev));
  ++messages_;
  // An empty message is no line of the sender's log, as a blank line in a file is not.
  if (layout != nullptr && msg->message.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    std::string key = WindowKey(msg->app_name, AddressOfPeer(peer));
    auto window = windows_.find(key);
    if (window == windows_.end() && windows_.size() < kMaxReadabilityWindows) {
      window = windows_.try_emplace(std::move(key)).first;
    } else if (window == windows_.end() && !warned_windows_full_) {
      warned_windows_full_ = true;
      log::Warn("detect.syslog_readability_windows_full",
                {{"windows", static_cast<int64_t>(kMaxReadabilityWindows)}});
    }
    if (window != windows_.end()) {
      if (auto v = window->second.Count(read, 0, SteadyMillis(), options_.readability)) {
        ReportWindow(window->first, *v);
      }
    }
  }
  return true;
}

void SyslogReceiver::Impl::CheckWindows() {
  const int64_t now = SteadyMillis();
  for (auto& [key, window] : windows_) {
    if (auto v = window.Check(now, options_.readability)) ReportWindow(key, *v);
  }
}

void SyslogReceiver::Impl::ReportWindow(const std::string& key, const ReadabilityVerdict& v) {
  const size_t nul = key.find('\0');
  const std::string_view app_name = std::string_view(key).substr(0, nul);
  const std::string_view address =
      nul == std::string::npos ? std::string_view() : std::string_view(key).substr(nul + 1);
  if (v.changed) {
    if (v.unreadable_window()) {
      log::Warn("detect.syslog_unreadable", {{"app_name", app_name},
                                             {"sender", address},
                                             {"messages", v.lines},
                                             {"unreadable", v.unreadable}});
    } else {
      log::Info("detect.syslog_readable_again", {{"app_name", app_name}, {"sender", address}});
    }
  }
  if (!v.unreadable_window()) return;
  ++unreadable_windows_;
  SecurityEvent ev = UnreadableLogEvent(v, LogFormatName(LogFormat::kCustom));
  // The address without a port: a window spans the sender's connections.
  ev.Set("process.name", app_name).Set("log.source.address", address);
  sink_->Emit(std::move(ev));
}

void SyslogReceiver::Impl::ReadUdp() {
  for (int i = 0; i < 1024; ++i) {
    sockaddr_storage from{};
    socklen_t flen = sizeof from;
    ssize_t n = ::recvfrom(udp_.get(), rbuf_.data(), rbuf_.size(), MSG_TRUNC,
                           reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) break;  // EAGAIN, or an error poll will show again
    if (static_cast<size_t>(n) > options_.max_message_bytes) {
      ++oversized_;
      continue;
    }
    Handle(std::string_view(rbuf_.data(), static_cast<size_t>(n)), nullptr, PeerName(from));
  }
  CountKernelDrops();
}

// Datagrams the kernel dropped because the socket's buffer was full never reach Handle: read
// the socket's drop counter (SO_MEMINFO) and report them with the engine's own drops, so a UDP
// flood that hides an exploit line is not silent.
void SyslogReceiver::Impl::CountKernelDrops() {
  uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof meminfo;
  if (::getsockopt(udp_.get(), SOL_SOCKET, SO_MEMINFO, meminfo, &len) != 0 ||
      len < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) {
    return;
  }
  const uint32_t total = meminfo[SK_MEMINFO_DROPS];
  const uint32_t delta = total - kernel_drops_seen_;  // the counter wraps at 2^32
  if (delta == 0) return;
  kernel_drops_seen_ = total;
  const uint64_t dropped = udp_kernel_dropped_ += delta;
  sink_->ReportLost(delta);
  log::Warn("detect.syslog_udp_dropped", {{"dropped", static_cast<int64_t>(delta)},
                                          {"dropped_total", static_cast<int64_t>(dropped)}});
}

void SyslogReceiver::Impl::Accept(int listener, bool tls) {
  for (;;) {
    sockaddr_storage from{};
    socklen_t flen = sizeof from;
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&from), &flen,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    const std::string address = PeerAddress(from);
    // TCP and TLS connections are counted apart (see SyslogReceiverOptions::tls_listen).
    size_t total = 0, from_peer = 0, handshakes = 0;
    for (const auto& open : conns_) {
      if ((open.tls != nullptr) != tls) continue;
      ++total;
      from_peer += open.address == address ? 1 : 0;
      handshakes += open.handshaking ? 1 : 0;
    }
    const bool peer_full = from_peer >= options_.max_connections_per_peer;
    const bool handshakes_full = tls && handshakes >= options_.max_tls_handshakes;
    std::unique_ptr<internal::TlsSession> session;
    if (tls && !peer_full && !handshakes_full && total < options_.max_connections) {
      session = tls_ctx_->NewSession(fd);
    }
    if (peer_full || handshakes_full || total >= options_.max_connections || (tls && !session)) {
      // Counted before the close, so that whoever sees the close sees the count.
      uint64_t n = ++refused_;
      if (peer_full) ++refused_per_peer_;
      if (handshakes_full) ++refused_tls_handshakes_;
      ::close(fd);
      if (n <= 5 || n % 1000 == 0) {
        const char* reason = peer_full                           ? "per_peer_limit"
                             : handshakes_full                   ? "tls_handshake_limit"
                             : total >= options_.max_connections ? "limit"
                                                                 : "tls_session";
        log::Warn("detect.syslog_connection_refused", {{"total", n}, {"reason", reason}});
      }
      continue;
    }
    ++connections_;
    Conn c;
    c.fd = Fd(fd);
    c.peer = PeerName(from);
    c.address = address;
    c.last_active = Clock::now();
    if (tls) {
      c.tls = std::move(session);
      c.handshaking = true;
      c.handshake_deadline = c.last_active + std::chrono::milliseconds(std::max<int64_t>(
                                                 options_.tls_handshake_timeout_millis, 1));
    }
    conns_.push_back(std::move(c));
  }
}

bool SyslogReceiver::Impl::ServiceTls(Conn& c) {
  auto failed = [&](std::string_view why) {
    // Throttled: scanners and plain-TCP senders on the TLS port fail handshakes all day.
    if (uint64_t n = ++tls_handshake_failures_; n <= 5 || n % 1000 == 0) {
      log::Warn("detect.syslog_tls_handshake_failed",
                {{"peer", c.peer}, {"reason", why}, {"failures_total", n}});
    }
    return false;
  };
  if (c.handshaking) {
    switch (c.tls->Handshake()) {
      case internal::TlsStep::kDone:
        c.handshaking = false;
        c.want_write = false;
        c.last_active = Clock::now();
        ++tls_connections_;
        break;
      case internal::TlsStep::kWantRead:
        c.want_write = false;
        return true;
      case internal::TlsStep::kWantWrite:
        c.want_write = true;
        return true;
      case internal::TlsStep::kClosed:
      case internal::TlsStep::kFailed:
        return failed(c.tls->failure());
    }
  }
  for (int i = 0; i < 64; ++i) {
    size_t n = 0;
    switch (c.tls->Read(rbuf_.data(), rbuf_.size(), &n)) {
      case internal::TlsStep::kDone:
        c.want_write = false;
        c.buf.append(rbuf_.data(), n);
        if (!Frames(c, false)) return false;
        break;
      case internal::TlsStep::kWantRead:
        c.want_write = false;
        return true;
      case internal::TlsStep::kWantWrite:
        c.want_write = true;
        return true;
      case internal::TlsStep::kClosed:
      case internal::TlsStep::kFailed:
        Frames(c, true);
        return false;
    }
  }
  return true;
}

bool SyslogReceiver::Impl::Frames(Conn& c, bool at_eof) {
  size_t pos = 0;
  bool keep = true;
  bool message = false;  // a syslog message parsed: what keeps the connection
  while (pos < c.buf.size()) {
    std::string_view rest(c.buf.data() + pos, c.buf.size() - pos);
    if (IsDigit(rest[0])) {
      // RFC 6587 §3.4.1 octet counting: MSG-LEN SP SYSLOG-MSG.
      size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) {
        if (rest.size() > 10) keep = false;  // no length is that long
        break;
      }
      uint64_t n = 0;
      bool digits = sp > 0 && sp <= 10;
      for (size_t i = 0; i < sp && digits; ++i) {
        digits = IsDigit(rest[i]);
        n = n * 10 + static_cast<uint64_t>(rest[i] - '0');
      }
      if (!digits) {
        ++malformed_;
        keep = false;
        break;
      }
      if (n > options_.max_message_bytes) {
        // Throttled like malformed messages: a sender looping on this must not flood the log.
        if (uint64_t total = ++oversized_; total <= 5 || total % 10000 == 0) {
          log::Warn("detect.syslog_oversized", {{"peer", c.peer}, {"bytes", n}});
        }
        keep = false;
        break;
      }
      if (rest.size() < sp + 1 + n) break;
      message = Handle(rest.substr(sp + 1, n), &c, c.peer) || message;
      pos += sp + 1 + n;
    } else {
      // RFC 6587 §3.4.2 non-transparent framing: LF ends the message.
      size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) {
        if (rest.size() > options_.max_message_bytes) {
          if (uint64_t total = ++oversized_; total <= 5 || total % 10000 == 0) {
            log::Warn("detect.syslog_oversized", {{"peer", c.peer}, {"bytes", rest.size()}});
          }
          keep = false;
        } else if (at_eof) {
          message = Handle(rest, &c, c.peer) || message;
          pos = c.buf.size();
        }
        break;
      }
      std::string_view m = rest.substr(0, nl);
      if (!m.empty() && m.find_first_not_of("\r\0", 0, 2) != std::string_view::npos) {
        message = Handle(m, &c, c.peer) || message;
      }
      pos += nl + 1;
    }
  }
  if (message) {
    c.last_active = Clock::now();
    c.framed = true;
  }
  c.buf.erase(0, pos);
  return keep;
}

bool SyslogReceiver::Impl::ReadTcp(Conn& c) {
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::recv(c.fd.get(), rbuf_.data(), rbuf_.size(), 0);
    if (n == 0) {
      Frames(c, true);
      return false;
    }
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.buf.append(rbuf_.data(), static_cast<size_t>(n));
    if (!Frames(c, false)) return false;
  }
  return true;
}

// Until the next handshake deadline or idle timeout, at most a second; 0 when a TLS session
// holds decrypted bytes that poll cannot see.
int SyslogReceiver::Impl::PollTimeoutMillis(Clock::time_point now) const {
  auto next = now + std::chrono::seconds(1);
  for (const auto& c : conns_) {
    if (c.tls && !c.handshaking && c.tls->HasPending()) return 0;
    next = std::min(next, c.last_active + IdleLimit(c));
    if (c.handshaking) next = std::min(next, c.handshake_deadline);
  }
  if (next <= now) return 0;
  // Rounded up, so that the deadline has passed when poll returns.
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(next - now).count());
}

void SyslogReceiver::Impl::Run() {
  // Slots 0..3 hold the eventfd and the listeners; poll skips a negative descriptor, so a
  // listener that is off keeps its slot.
  constexpr size_t kFirstConn = 4;
  std::vector<pollfd> fds;
  std::vector<std::list<Conn>::iterator> order;
  while (!stop_.load()) {
    fds.clear();
    order.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({udp_.get(), POLLIN, 0});
    fds.push_back({tcp_.get(), POLLIN, 0});
    fds.push_back({tls_.get(), POLLIN, 0});
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
      fds.push_back({it->fd.get(), static_cast<short>(it->want_write ? POLLOUT : POLLIN), 0});
      order.push_back(it);
    }
    int ready = ::poll(fds.data(), fds.size(), PollTimeoutMillis(Clock::now()));
    if (ready < 0 && errno != EINTR) break;
    if (stop_.load()) break;
    if (fds[1].revents & POLLIN) ReadUdp();
    for (size_t i = 0; i < order.size(); ++i) {
      Conn& c = *order[i];
      const bool ready_fd = fds[kFirstConn + i].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR);
      const bool pending = c.tls && !c.handshaking && c.tls->HasPending();
      if (!ready_fd && !pending) continue;
      if (!(c.tls ? ServiceTls(c) : ReadTcp(c))) conns_.erase(order[i]);
    }
    if (fds[2].revents & POLLIN) Accept(tcp_.get(), false);
    if (fds[3].revents & POLLIN) Accept(tls_.get(), true);
    if (!windows_.empty()) CheckWindows();
    auto now = Clock::now();
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->handshaking && now >= it->handshake_deadline) {
        if (uint64_t n = ++tls_handshake_failures_; n <= 5 || n % 1000 == 0) {
          log::Warn("detect.syslog_tls_handshake_failed",
                    {{"peer", it->peer}, {"reason", "timeout"}, {"failures_total", n}});
        }
        it = conns_.erase(it);
      } else {
        it = now - it->last_active > IdleLimit(*it) ? conns_.erase(it) : std::next(it);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<SyslogReceiver>> SyslogReceiver::Create(SyslogReceiverOptions options,
                                                               EventSink* sink) {
  auto impl = std::make_unique<Impl>(std::move(options), sink);
  RAMPART_RETURN_IF_ERROR(impl->Bind());
  return std::unique_ptr<SyslogReceiver>(new SyslogReceiver(std::move(impl)));
}

SyslogReceiver::SyslogReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SyslogReceiver::~SyslogReceiver() = default;

uint16_t SyslogReceiver::port() const {
  return impl_->port();
}
uint16_t SyslogReceiver::tls_port() const {
  return impl_->tls_port();
}
void SyslogReceiver::Start() {
  impl_->Start();
}
void SyslogReceiver::Stop() {
  impl_->Stop();
}
SyslogStats SyslogReceiver::stats() const {
  return impl_->stats();
}

}  // namespace rampart::detect
