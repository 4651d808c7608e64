// Server configuration: defaults here, overridden by a YAML file (`--config FILE`) and then by
// command-line flags. Every option is documented in docs/operations.md; an unknown key or a
// value of the wrong type is an error naming the key, so a typo never silently falls back to a
// default.
#pragma once

#include <cstdint>
#include <map>
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
  // Token bucket, burst = 2 x rate; through a trusted proxy, per forwarded client instead.
  uint32_t requests_per_second_per_connection = 200;
};

// Reverse proxies in front of the server (`http.trusted_proxies`; common/forwarded.h). A request
// whose TCP peer lies in one is attributed to the client the proxy names in its header.
struct HttpForwarding {
  std::vector<std::string> trusted_proxies;               // addresses or CIDR ranges; [] none
  std::string client_address_header = "x-forwarded-for";  // or "forwarded", "x-real-ip"
  // A second listener ("host:port") that serves only /metrics and /healthz, with no trusted
  // proxy: a Prometheus on a proxy's host can scrape it directly, which the main listener
  // refuses (a request from a trusted proxy must name a client). Empty: none.
  std::string metrics_listen;
};

// The keeper (keeper/keeper.h): where serve finds it and the limits it enforces.
struct KeeperSettings {
  // Unix socket of an externally run keeper (`rampart keeper`). Empty: serve starts its own
  // keeper process on DATA/run/keeper.sock, with its keys in DATA/keeper.
  std::string socket;
  // Staff records each principal may decrypt per minute, by role. A role not listed reads none.
  uint32_t budget_superadmin = 300;
  uint32_t budget_admin = 300;
  uint32_t budget_helpdesk = 60;
  uint32_t budget_analyst = 0;
  uint32_t budget_auditor = 0;
  // Decoy staff records created per institution, indistinguishable through the API; reading one
  // is a critical alert.
  uint32_t canary_staff_per_institution = 3;
  // Staff records an institution may export in clear per day (approved bulk exports).
  uint32_t export_records_per_day = 10000;
  // Wipe and retire signatures per institution per hour, even with approvals.
  uint32_t max_destructive_commands_per_hour = 50;
  // The audit log gets a signed checkpoint at least this often (and on demand).
  uint32_t checkpoint_interval_seconds = 60;
  // true: every audit record (every decrypt, every signature) is fdatasync'ed before the keeper
  // answers. false: synced every 64 records and at each checkpoint, several times faster, and a
  // power cut can lose the last unsynced records (the off-box copies have them only once synced).
  bool audit_sync_each_append = true;
  // Off-box copies of every audit record and checkpoint: a JSON-lines file (ideally on another
  // disk or a network mount) and syslog RFC 5424 over UDP ("HOST:PORT", numeric). "" for none.
  std::string audit_mirror_file;
  std::string audit_syslog;
};

// The live detection engine and its alert sinks (`detection:`; docs/operations.md).
struct DetectionConfig {
  bool enabled = true;
  uint32_t queue_capacity = 65536;     // events waiting for the engine; more are dropped
  uint32_t max_tracked_keys = 100000;  // per correlation rule; the least recent is evicted
  // The open correlation windows are written to DATA/detect/correlations.json this often while
  // they change (and at a clean stop), so that a crash loses at most this much; 0: at stop only.
  uint32_t correlation_checkpoint_seconds = 300;
  uint32_t max_evidence = 10;          // evidence events kept per alert
  std::vector<std::string> rule_dirs;  // besides the bundled rules
  std::vector<std::string> ioc_files;
  // Rules and feeds are read again when their files change (detect/reload_watch.h), once they
  // have stood still this long; SIGHUP reloads them either way.
  bool reload_on_change = true;
  uint32_t reload_settle_millis = 1000;
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
  // Event sources besides the server's own requests (detect/log_follower.h, detect/syslog.h).
  std::vector<std::string> follow;    // absolute paths of log files followed like tail -F
  uint32_t follow_poll_millis = 250;  // how often followed files are looked at
  // Followed files whose lines are in a layout of their own: path (as in `follow`) to
  // "nginx:" + log_format string or "apache:" + LogFormat string (detect/custom_log_format.h).
  // The others' format is recognised from their first lines.
  std::map<std::string, std::string> follow_formats;
  std::string syslog_listen;  // "host:port" for UDP and TCP syslog input; empty: off
  // Reverse proxies in front of the web servers whose access logs are followed or sent over
  // syslog: a line whose client is one of them is attributed to the client its
  // X-Forwarded-For names (common/forwarded.h). Addresses or CIDR ranges; [] none.
  std::vector<std::string> log_trusted_proxies;
  // Syslog over TLS (RFC 5425), "host:port"; empty: off. Needs syslog_tls_cert and
  // syslog_tls_key (PEM files); with syslog_tls_client_ca, clients must present a certificate
  // chaining to it (mutual TLS).
  std::string syslog_tls_listen;
  std::string syslog_tls_cert;
  std::string syslog_tls_key;
  std::string syslog_tls_client_ca;
  // Syslog senders whose access-log lines are in a layout of their own: APP-NAME (the tag, as
  // nginx's `access_log syslog:server=...,tag=NAME` sets it) to "nginx:" + log_format string or
  // "apache:" + LogFormat string (detect/custom_log_format.h).
  std::map<std::string, std::string> syslog_formats;
  // RFC 3164 senders stamp local time without a zone: theirs is UTC + this many minutes.
  int32_t syslog_bsd_utc_offset_minutes = 0;
  // rampart-admin-login-new-address: a console login from an address new for the user,
  // outside these working hours (local time = UTC + utc_offset_minutes).
  bool admin_login_new_address = true;
  // rampart-new-script-called / rampart-new-file-large-download: requests to files the
  // integrity monitor saw created; a "large" response is at least staged_download_kib KiB.
  bool new_file_use = true;
  uint32_t staged_download_kib = 1024;
  struct WorkingHours {
    uint8_t days = 0x1f;  // bit 0 Monday ... bit 6 Sunday
    uint32_t start_minute = 7 * 60;
    uint32_t end_minute = 19 * 60;
    int32_t utc_offset_minutes = 0;
  } working_hours;
  // File integrity monitoring (detect/file_integrity.h): folders (or files) whose regular files
  // are baselined and watched; empty: off. Paths under integrity_exclude are never watched.
  std::vector<std::string> integrity_paths;
  std::vector<std::string> integrity_exclude;
  uint32_t integrity_rescan_seconds = 3600;  // full rescan period, besides inotify
};

// Incidents and the regulator reports drafted from them (`incidents:`; docs/incidents.md).
// The demo values name no real body: replace them before a report leaves the building.
struct IncidentsConfig {
  uint32_t group_window_seconds = 24 * 3600;  // an alert joins an entity's incident this close
  std::string organisation = "Demo Union Agency";
  std::string member_state = "BE";  // ISO 3166-1 alpha-2 of the establishment
  std::string csirt = "CERT-EU";    // who receives the NIS2 notifications
  std::string supervisory_authority = "European Data Protection Supervisor (EDPS)";
  std::string dpo_name = "Data Protection Officer (demo)";
  std::string dpo_email = "dpo@agency.example.eu";
  std::string dpo_phone = "+32 2 000 00 00";
};

// One external enforcer (firewall, WAF, SOAR) told of every block added or removed at the front
// door (`response.decision_webhooks:`; docs/incident-response.md, "Decision webhooks").
struct DecisionWebhookConfig {
  std::string url;             // "https://host:port/path" or "http://..."
  std::string secret;          // HMAC key written in the file; or
  std::string secret_file;     // a file holding it, read at start (exactly one of the two is set)
  std::string ca_file;         // PEM CA to pin; required for https
  uint32_t timeout_ms = 5000;  // per attempt
  uint32_t max_attempts = 5;   // per decision, first included
  uint32_t initial_backoff_ms = 500;  // doubled after each failure, at most 60 s
  uint32_t queue_capacity = 1024;     // decisions waiting; more are dropped and counted
};

// Playbooks and response actions (`response:`; docs/incident-response.md).
struct ResponseConfig {
  bool playbooks = true;                     // run playbooks on stored alerts
  std::vector<std::string> playbook_dirs;    // besides the bundled playbooks
  uint32_t action_max_attempts = 3;          // tries of an action that fails transiently
  uint32_t action_backoff_ms = 200;          // first wait between tries; doubles each time
  uint32_t lift_request_ttl_seconds = 3600;  // a request to leave lockdown expires after this
  // Evidence bundles of an incident are deleted this many days after it was closed; 0 keeps
  // them for ever. Bundles of an open incident are never deleted.
  uint32_t evidence_retention_days = 0;
  std::vector<DecisionWebhookConfig> decision_webhooks;
  // Addresses and CIDR ranges no block may cover, by a playbook or by hand: a reverse proxy or
  // health checker on this host is the peer of every request it forwards.
  std::vector<std::string> never_block = {"127.0.0.1", "::1"};
};

struct Config {
  std::string data_dir = "var";
  std::string listen = "127.0.0.1:8443";
  bool tls = true;
  uint32_t threads = 0;  // 0: one per core
  std::string log_level = "info";
  HttpLimits http;
  HttpForwarding http_forwarding;  // read from the same `http:` mapping
  KeeperSettings keeper;

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

  // Admin sign-in (docs/identity.md).
  uint32_t session_idle_timeout_seconds = 900;    // a session unused this long is over
  uint32_t session_lifetime_seconds = 12 * 3600;  // and every session ends this long after login
  uint32_t max_sessions_per_user = 3;  // a login beyond this ends the user's least recently used
  uint32_t login_max_failures = 3;     // failed logins within the window that lock the account
  uint32_t login_failure_window_seconds = 900;
  uint32_t login_lockout_seconds = 900;

  DetectionConfig detection;
  IncidentsConfig incidents;
  ResponseConfig response;

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
