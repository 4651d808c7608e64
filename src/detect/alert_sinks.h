// Where stored alerts go besides the database: a JSON-lines file, syslog (RFC 5424 over UDP)
// and a webhook (HTTP(S) POST signed with HMAC-SHA256). Each output runs behind its own
// AsyncAlertSink: a bounded queue and a thread, so a slow or dead receiver never holds up the
// detection engine (when the queue is full the alert is dropped for that sink and counted; it
// is still in the database).
//
//   auto file = OpenJsonLinesOutput("/var/log/rampart/alerts.jsonl");
//   AsyncAlertSink sink(std::move(*file), 1024);
//   sink.Submit(alert);     // never blocks
//   sink.Stop();            // delivers what is queued (bounded by the output's own retries)
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "core/alert.h"

namespace rampart::detect {

// The JSON object every sink carries (the same fields as GET /api/v1/alerts/{id}).
std::string RenderAlertJson(const core::Alert& alert, bool with_evidence = true);

// One delivery channel. Deliver() runs on the sink's thread only.
class AlertOutput {
 public:
  virtual ~AlertOutput() = default;
  virtual std::string_view name() const = 0;
  // Delivers one alert (the JSON text from RenderAlertJson plus the alert itself). A failure is
  // counted by the caller; retries, if any, happen inside.
  virtual Status Deliver(const core::Alert& alert, const std::string& json) = 0;
  // Asks a Deliver() that is waiting to retry to give up soon (called from another thread).
  virtual void Cancel() {}
};

// Appends one line per alert to a file (created 0600 if missing), flushing each line.
Result<std::unique_ptr<AlertOutput>> OpenJsonLinesOutput(const std::string& path);

// RFC 5424 messages over UDP to "host:port" ("[::1]:514" for IPv6): PRI from facility local0
// and the alert's severity, APP-NAME "rampart", MSGID "ALERT", structured data
// [rampart@32473 id rule severity entity count], the JSON as MSG.
Result<std::unique_ptr<AlertOutput>> OpenSyslogOutput(const std::string& host_port);
// The message for one alert (pure; tests check it).
std::string FormatSyslog5424(const core::Alert& alert, const std::string& json,
                             const std::string& hostname, int64_t now_millis);

struct WebhookOptions {
  std::string url;       // "https://host:port/path" or "http://..."
  std::string ca_file;   // PEM CA to pin for https
  std::string secret;    // HMAC key: X-Rampart-Signature and -Timed-Signature (webhook_sender.h)
  int max_attempts = 5;  // first try included
  int initial_backoff_ms = 500;  // doubled after each failure
  int timeout_ms = 5000;
};
// POSTs the JSON; a 2xx answer is success, anything else (or no answer) is retried with
// exponential backoff up to max_attempts.
Result<std::unique_ptr<AlertOutput>> OpenWebhookOutput(const WebhookOptions& options);

struct SinkStats {
  uint64_t delivered = 0;
  uint64_t failed = 0;
  uint64_t dropped = 0;
};

class AsyncAlertSink {
 public:
  AsyncAlertSink(std::unique_ptr<AlertOutput> output, size_t capacity);
  ~AsyncAlertSink();
  AsyncAlertSink(const AsyncAlertSink&) = delete;
  AsyncAlertSink& operator=(const AsyncAlertSink&) = delete;

  // Never blocks for long (a short lock on the queue). An alert already waiting is replaced by
  // this newer state of it; otherwise, when full, drops and counts (logged at powers of two).
  void Submit(const core::Alert& alert);
  // Delivers what is queued, then joins. Idempotent.
  void Stop();
  SinkStats stats() const;
  std::string_view name() const { return output_->name(); }

 private:
  void Run();
  std::unique_ptr<AlertOutput> output_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::list<core::Alert> queue_;  // guarded by mu_
  // The waiting alerts by id, to replace one with its newer state; guarded by mu_.
  std::unordered_map<std::string, std::list<core::Alert>::iterator> queued_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<uint64_t> delivered_{0}, failed_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace rampart::detect
