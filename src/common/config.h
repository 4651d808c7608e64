// Server configuration: defaults here, overridden by a YAML file (`--config FILE`) and then by
// command-line flags. Every option is documented in docs/operations.md; an unknown key or a
// value of the wrong type is an error naming the key, so a typo never silently falls back to a
// default.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace rampart {

struct HttpLimits {
  uint32_t max_header_bytes = 16 * 1024;
  uint64_t max_body_bytes = 1024 * 1024;             // JSON requests
  uint64_t max_upload_bytes = 256ull * 1024 * 1024;  // app package uploads
  uint32_t max_connections = 20000;
  uint32_t idle_timeout_seconds = 60;  // keep-alive connection with no request in flight
  uint32_t read_timeout_seconds = 15;  // from first byte of a request to its last
  uint32_t requests_per_second_per_connection = 200;  // token bucket, burst = 2 x rate
};

struct Config {
  std::string data_dir = "var";
  std::string listen = "127.0.0.1:8443";
  bool tls = true;
  uint32_t threads = 0;  // 0: one per core
  std::string log_level = "info";
  HttpLimits http;

  // Device protocol.
  uint32_t device_clock_skew_seconds = 300;
  uint32_t checkin_interval_seconds = 900;

  // Command queue.
  uint32_t command_expiry_seconds = 7 * 24 * 3600;
  uint32_t not_now_retry_seconds = 300;
  uint32_t max_not_now = 24;
  // A command delivered but never reported on (the response carrying it was lost) is
  // delivered again after this long.
  uint32_t command_redeliver_seconds = 1800;
  // An admin action that targets more devices than this waits for a second admin's approval
  // before any of its commands is signed (wipe and retire always wait).
  uint32_t mass_command_threshold = 10;

  // Compliance.
  uint32_t compliance_grace_seconds = 24 * 3600;  // default when a policy names none

  // Demo seeding (`serve --demo`).
  uint32_t demo_staff = 200;
};

// Reads YAML from `path` and applies it over `config`. Keys are the field names above, with the
// HTTP limits under `http:`.
Status LoadConfigFile(const std::string& path, Config* config);
// Same, from text (used by tests and fuzzing).
Status ApplyConfigYaml(const std::string& yaml_text, Config* config);

// Splits "HOST:PORT" ("[::1]:8443" for IPv6).
Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port);

}  // namespace rampart
