// Server configuration: defaults here, overridden by a YAML file (`--config FILE`) and then by
// command-line flags. Every option is documented in docs/operations.md; an unknown key or a
// value of the wrong type is an error naming the key, so a typo never silently falls back to a
// default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// The live detection engine and its alert sinks (`detection:`; docs/operations.md).
struct DetectionConfig {
  bool enabled = true;
  uint32_t queue_capacity = 65536;     // events waiting for the engine; more are dropped
  uint32_t max_tracked_keys = 100000;  // per correlation rule; the least recent is evicted
  uint32_t max_evidence = 10;          // evidence events kept per alert
  std::vector<std::string> rule_dirs;  // besides the bundled rules
  std::vector<std::string> ioc_files;
  std::vector<std::string> canary_paths;      // exact request paths
  std::vector<std::string> canary_token_ids;  // API token ids (tok_...)
  std::string alerts_file;                    // JSON lines; empty: none
  std::string syslog;                         // "host:port" (UDP, RFC 5424); empty: none
  std::string webhook_url;                    // empty: none
  std::string webhook_secret_file;            // HMAC key, read at start
  std::string webhook_ca_file;                // PEM CA to pin for an https webhook
  uint32_t webhook_max_attempts = 5;
  uint32_t webhook_initial_backoff_ms = 500;
  uint32_t sink_queue_capacity = 1024;  // alerts waiting per sink; more are dropped
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

  // Compliance.
  uint32_t compliance_grace_seconds = 24 * 3600;  // default when a policy names none

  DetectionConfig detection;

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
