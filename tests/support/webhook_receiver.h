// A webhook receiver on 127.0.0.1 (a free port) for tests of signed webhooks: it records every
// POST (target, raw body, signature header) and answers with scripted statuses, then 200. A
// gate can hold requests inside the handler so that a test knows the sender is busy.
//
//   testing::WebhookReceiver rx;
//   ASSERT_TRUE(rx.Start());
//   rx.AnswerNext({500});                 // the first request fails, later ones succeed
//   ... point a sender at rx.Url("/hook") ...
//   ASSERT_TRUE(rx.WaitForCount(2));
//   EXPECT_TRUE(rx.SignedWith(secret, rx.deliveries()[0]));
//
// Needs rampart_http (the server) and rampart_common (the HMAC).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "http/server.h"

namespace rampart::testing {

class WebhookReceiver {
 public:
  struct Delivery {
    std::string target;
    std::string body;
    std::string signature;
    std::string user_agent;
    std::string timestamp;        // X-Rampart-Timestamp
    std::string timed_signature;  // X-Rampart-Timed-Signature
  };

  WebhookReceiver() : server_(Options(), [this](http::Request& req) { return Handle(req); }) {}
  ~WebhookReceiver() { Stop(); }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  bool Start() { return server_.Start().ok(); }
  void Stop() {
    OpenGate();
    server_.Stop(1000);
  }
  uint16_t port() const { return server_.port(); }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }

  // The next requests are answered with these statuses, in order; after them, `otherwise`.
  void AnswerNext(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.assign(statuses.begin(), statuses.end());
  }
  void AnswerOtherwise(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    otherwise_ = status;
  }
  // While closed, each request is recorded and then held until the gate opens.
  void CloseGate() {
    std::lock_guard<std::mutex> lock(mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }

  std::vector<Delivery> deliveries() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_.size();
  }
  // Polls until at least n requests arrived, for up to `limit`.
  bool WaitForCount(size_t n, std::chrono::seconds limit = std::chrono::seconds(30)) const {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (count() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  // True when the signature header is "sha256=" + HMAC-SHA256(secret, body), recomputed here.
  static bool SignedWith(const std::string& secret, const Delivery& d) {
    return crypto::ConstantTimeEqual(d.signature,
                                     "sha256=" + crypto::HmacSha256Hex(secret, d.body));
  }
  // True when the timed signature is "sha256=" + HMAC-SHA256(secret, timestamp + "." + body),
  // recomputed here as a receiver would.
  static bool TimedSignedWith(const std::string& secret, const Delivery& d) {
    return !d.timestamp.empty() &&
           crypto::ConstantTimeEqual(
               d.timed_signature,
               "sha256=" + crypto::HmacSha256Hex(secret, d.timestamp + "." + d.body));
  }

 private:
  static http::ServerOptions Options() {
    http::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.tls = false;
    so.threads = 1;
    return so;
  }

  http::Response Handle(http::Request& req) {
    std::unique_lock<std::mutex> lock(mu_);
    deliveries_.push_back({req.target, req.body, std::string(req.Header("x-rampart-signature")),
                           std::string(req.Header("user-agent")),
                           std::string(req.Header("x-rampart-timestamp")),
                           std::string(req.Header("x-rampart-timed-signature"))});
    cv_.wait(lock, [&] { return gate_open_; });
    int status = otherwise_;
    if (!script_.empty()) {
      status = script_.front();
      script_.pop_front();
    }
    if (status >= 200 && status <= 299) return http::Response::Json(status, "{}");
    return http::Response::Error(status, "scripted", "scripted failure");
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> deliveries_;
  std::deque<int> script_;
  int otherwise_ = 200;
  bool gate_open_ = true;
  http::HttpServer server_;  // last: destroyed (and stopped) before the state its handler uses
};

}  // namespace rampart::testing
