// Off-box copies of the audit log as it is written: a JSON-lines mirror file (a path on
// another disk or a mount a log shipper watches) and RFC 5424 syslog over UDP to a collector.
// An attacker who later gains the box can rewrite the local files, but not what already left.
//
// Sending never blocks an append for long: the UDP socket is non-blocking and a datagram that
// cannot be sent at once is dropped and counted; the mirror is one write(2) of one line.
// Failures are counted (Stats), logged without content, and never fail the append: the
// local, fsynced log is the record of truth, the copies are witnesses.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rampart::audit {

// What a stream line is: a record (records.jsonl line) or a checkpoint (checkpoints.jsonl
// line). Syslog tells them apart by MSGID; the mirror by their keys ("index" vs "tree_size").
enum class StreamKind { kRecord, kCheckpoint };

struct SyslogHeader {
  std::string hostname = "-";  // RFC 5424 NILVALUE when unknown
  std::string app_name = "rampart";
  int64_t procid = 0;  // 0 renders as "-"
};

// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM MSG`.
// Facility 13 ("log audit"); severity 6 (info), 4 (warning), 2 (critical) from the record,
// 5 (notice) for checkpoints. MSGID is "audit.record" or "audit.checkpoint"; no structured
// data; MSG is the JSON line, preceded by the UTF-8 BOM as RFC 5424 section 6.4 asks of UTF-8
// messages. Header fields are cut to the RFC's lengths and stripped to printable US-ASCII.
std::string FormatSyslog(const SyslogHeader& header, StreamKind kind, std::string_view severity,
                         int64_t unix_seconds, std::string_view json_line);

struct StreamStats {
  uint64_t mirror_lines = 0;
  uint64_t mirror_failures = 0;
  uint64_t syslog_sent = 0;
  uint64_t syslog_failures = 0;
};

// Both sinks. Thread-safe (each send is one system call; counters are atomic).
class Streamer {
 public:
  Streamer() = default;
  ~Streamer();
  Streamer(const Streamer&) = delete;
  Streamer& operator=(const Streamer&) = delete;

  // mirror_path "" or syslog_target "" disables that sink. syslog_target is "HOST:PORT" or
  // "[V6]:PORT" with a numeric address (no DNS lookup on the keeper's path). InvalidArgument
  // for a malformed target, Internal when the mirror cannot be opened.
  Status Open(const std::string& mirror_path, const std::string& syslog_target);
  void Send(StreamKind kind, std::string_view severity, int64_t unix_seconds,
            std::string_view json_line);
  StreamStats stats() const;

 private:
  int mirror_fd_ = -1;
  int udp_fd_ = -1;
  SyslogHeader header_;
  std::atomic<uint64_t> mirror_lines_{0}, mirror_failures_{0}, syslog_sent_{0}, syslog_failures_{0};
};

}  // namespace rampart::audit
