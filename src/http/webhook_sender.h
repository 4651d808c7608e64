// Signed webhooks: a JSON body POSTed to a receiver with an HMAC-SHA256 signature over the exact
// bytes sent, retried with exponential backoff while the receiver fails. Used for the alert
// webhook (detect/alert_sinks.h) and the decision webhooks (respond/decision_webhooks.h).
//
//   X-Rampart-Signature: sha256=<hex HMAC-SHA256(secret, body)>
//   X-Rampart-Timestamp: <Unix seconds when this attempt was sent>
//   X-Rampart-Timed-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the HMAC over the raw body it read (before any JSON parsing) and compares
// in constant time. The body itself carries an id (for deduplicating retries). The timed
// signature binds the send time to the body, so a receiver that checks it can refuse a captured
// request replayed later (say, older than five minutes) even when the body holds no time of its
// own; the body-only signature stays for receivers written against it.
//
// Two layers: WebhookPoster delivers one body on the calling thread (retries inside), and
// WebhookSender puts a bounded queue and its own thread in front of a poster, so the caller never
// waits for the receiver.
//
//   auto sender = WebhookSender::Create({.url = "https://soar.example:8443/rampart",
//                                        .ca_file = "/etc/rampart/soar-ca.pem",
//                                        .secret = secret}, 1024);
//   (*sender)->Submit(body);  // never blocks; false (and counted) when the queue is full
//   (*sender)->Stop();        // bounded: see Stop()
//
// Beast stays inside the .cc (through http::HttpClient).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"

namespace rampart::http {

class HttpClient;

inline constexpr std::string_view kSignatureHeader = "x-rampart-signature";
inline constexpr std::string_view kTimestampHeader = "x-rampart-timestamp";
inline constexpr std::string_view kTimedSignatureHeader = "x-rampart-timed-signature";

// "sha256=" followed by the lower-case hex HMAC-SHA256 of `body` under `secret`.
std::string WebhookSignature(std::string_view secret, std::string_view body);
// The same over "<unix_seconds>." followed by the body.
std::string WebhookTimedSignature(std::string_view secret, int64_t unix_seconds,
                                  std::string_view body);

struct WebhookOptions {
  std::string url;               // "https://host:port/path" or "http://host:port/path"
  std::string ca_file;           // PEM CA to pin; required for https (no system trust store)
  std::string secret;            // HMAC key; required, never logged
  int max_attempts = 5;          // first try included; at least 1
  int initial_backoff_ms = 500;  // wait after the first failure, doubled after each next one
  int max_backoff_ms = 60000;    // cap of that wait
  int timeout_ms = 5000;         // per attempt: connect, send and read the answer
  std::string user_agent = "rampart-webhook/1";
};

// Delivers bodies one at a time on the calling thread, keeping the connection open between them.
// Not thread-safe, except Cancel() which may be called from any thread.
class WebhookPoster {
 public:
  // InvalidArgument (naming what is wrong, never the secret) for a URL that is not http(s)
  // with a host and port, https without a CA file, or an empty secret.
  static Result<std::unique_ptr<WebhookPoster>> Create(const WebhookOptions& options);
  ~WebhookPoster();
  WebhookPoster(const WebhookPoster&) = delete;
  WebhookPoster& operator=(const WebhookPoster&) = delete;

  // POSTs `body` (content-type application/json) until the receiver answers 2xx or max_attempts
  // are used up. Unavailable with the last failure (no answer, or the status it answered).
  Status Post(const std::string& body);
  // Ends a backoff wait at once and makes every later Post try once only (for shutdown).
  void Cancel();
  // Attempts made so far, over every Post (a counter for metrics and tests).
  uint64_t attempts() const { return attempts_.load(std::memory_order_relaxed); }

 private:
  WebhookPoster(WebhookOptions options, std::string base, std::string target);
  Status Once(const std::string& body, const std::string& signature);

  WebhookOptions options_;
  std::string base_;    // scheme://host:port
  std::string target_;  // /path?query
  std::unique_ptr<HttpClient> client_;
  std::atomic<uint64_t> attempts_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
};

struct WebhookStats {
  uint64_t delivered = 0;  // answered 2xx
  uint64_t failed = 0;     // every attempt failed
  uint64_t dropped = 0;    // refused by a full or stopped queue, or abandoned at Stop()
  uint64_t attempts = 0;   // POSTs tried, retries included
};

// A poster behind a bounded FIFO queue and one thread: bodies are delivered in the order they
// were submitted, each retried before the next is tried. Thread-safe.
class WebhookSender {
 public:
  // As WebhookPoster::Create; capacity >= 1 (0 is taken as 1).
  static Result<std::unique_ptr<WebhookSender>> Create(const WebhookOptions& options,
                                                       size_t capacity);
  ~WebhookSender();  // Stop()
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Queues a body; never waits for the receiver. False, counted in dropped, when the queue is
  // full or the sender is stopping.
  bool Submit(std::string body);
  // Refuses new bodies, ends any backoff wait, gives what is queued one attempt each until
  // `grace_ms` has passed, counts the rest as dropped, and joins the thread. Bounded by grace_ms
  // plus one attempt's timeout_ms. Idempotent.
  void Stop(int grace_ms = 2000);
  WebhookStats stats() const;
  // Bodies waiting (not counting the one being delivered).
  size_t queued() const;

 private:
  WebhookSender(std::unique_ptr<WebhookPoster> poster, size_t capacity);
  void Run();

  std::unique_ptr<WebhookPoster> poster_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  // Past this instant (set by Stop) queued bodies are abandoned. Guarded by mu_.
  std::chrono::steady_clock::time_point give_up_at_ = std::chrono::steady_clock::time_point::max();
  std::atomic<uint64_t> delivered_{0}, failed_{0}, dropped_{0};
  std::mutex join_mu_;  // serialises Stop() callers around the join
  std::thread thread_;
};

}  // namespace rampart::http
