#include "audit/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"

namespace rampart::audit {

namespace {

constexpr int kFacilityLogAudit = 13;

int SyslogSeverity(StreamKind kind, std::string_view severity) {
  if (kind == StreamKind::kCheckpoint) return 5;  // notice
  if (severity == "critical") return 2;
  if (severity == "warning") return 4;
  return 6;  // info
}

// RFC 5424 header fields are PRINTUSASCII (33..126) with a maximum length; an empty field is
// the NILVALUE "-".
std::string HeaderField(std::string_view value, size_t max_len) {
  std::string out;
  for (char c : value) {
    if (out.size() == max_len) break;
    if (c >= 33 && c <= 126) out.push_back(c);
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string FormatSyslog(const SyslogHeader& header, StreamKind kind, std::string_view severity,
                         int64_t unix_seconds, std::string_view json_line) {
  std::string m = "<" + std::to_string(kFacilityLogAudit * 8 + SyslogSeverity(kind, severity)) +
                  ">1 " + FormatRfc3339(unix_seconds) + " " + HeaderField(header.hostname, 255) +
                  " " + HeaderField(header.app_name, 48) + " " +
                  (header.procid > 0 ? std::to_string(header.procid) : std::string("-")) + " " +
                  (kind == StreamKind::kRecord ? "audit.record" : "audit.checkpoint") + " - ";
  m += "\xEF\xBB\xBF";
  m.append(json_line);
  return m;
}

Streamer::~Streamer() {
  if (mirror_fd_ >= 0) ::close(mirror_fd_);
  if (udp_fd_ >= 0) ::close(udp_fd_);
}

Status Streamer::Open(const std::string& mirror_path, const std::string& syslog_target) {
  if (!syslog_target.empty()) {
    auto colon = syslog_target.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return Status::InvalidArgument("syslog target must be HOST:PORT with a numeric address");
    }
    std::string host = syslog_target.substr(0, colon);
    std::string_view port_text = std::string_view(syslog_target).substr(colon + 1);
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return Status::InvalidArgument("syslog target port must be 1..65535");
    }
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(static_cast<uint16_t>(port));
      if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6->sin6_addr) != 1) {
        return Status::InvalidArgument("syslog target address is not a numeric IPv6 address");
      }
      addr_len = sizeof(sockaddr_in6);
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
      a4->sin_family = AF_INET;
      a4->sin_port = htons(static_cast<uint16_t>(port));
      if (::inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) {
        return Status::InvalidArgument("syslog target address is not a numeric IPv4 address");
      }
      addr_len = sizeof(sockaddr_in);
    }
    int fd = ::socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::Internal("cannot create the syslog socket");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
      ::close(fd);
      return Status::Internal("cannot address the syslog target");
    }
    udp_fd_ = fd;
    char host_name[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host_name, sizeof host_name - 1) == 0) header_.hostname = host_name;
    header_.procid = ::getpid();
  }
  if (!mirror_path.empty()) {
    mirror_fd_ =
        ::open(mirror_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (mirror_fd_ < 0) return Status::Internal("cannot open the audit mirror file");
  }
  return Status::Ok();
}

void Streamer::Send(StreamKind kind, std::string_view severity, int64_t unix_seconds,
                    std::string_view json_line) {
  if (mirror_fd_ >= 0) {
    std::string line(json_line);
    line.push_back('\n');
    // O_APPEND and one write per line: concurrent writers never interleave inside a line.
    ssize_t n = ::write(mirror_fd_, line.data(), line.size());
    if (n == static_cast<ssize_t>(line.size())) {
      ++mirror_lines_;
    } else {
      // Logged at the 1st, 2nd, 4th, 8th... failure: visible without flooding the process log.
      if (std::has_single_bit(++mirror_failures_))
        log::Warn("audit.mirror_failed", {{"errno", errno}});
    }
  }
  if (udp_fd_ >= 0) {
    std::string msg = FormatSyslog(header_, kind, severity, unix_seconds, json_line);
    ssize_t n = ::send(udp_fd_, msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(msg.size())) {
      ++syslog_sent_;
    } else {
      if (std::has_single_bit(++syslog_failures_))
        log::Warn("audit.syslog_failed", {{"errno", errno}});
    }
  }
}

StreamStats Streamer::stats() const {
  return {mirror_lines_.load(), mirror_failures_.load(), syslog_sent_.load(),
          syslog_failures_.load()};
}

}  // namespace rampart::audit
