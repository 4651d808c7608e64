#include "http/webhook_sender.h"

#include <algorithm>
#include <chrono>

#include "common/crypto.h"
#include "http/client.h"

namespace rampart::http {

std::string WebhookSignature(std::string_view secret, std::string_view body) {
  return "sha256=" + crypto::HmacSha256Hex(secret, body);
}

std::string WebhookTimedSignature(std::string_view secret, int64_t unix_seconds,
                                  std::string_view body) {
  std::string signed_text = std::to_string(unix_seconds);
  signed_text.push_back('.');
  signed_text.append(body);
  return "sha256=" + crypto::HmacSha256Hex(secret, signed_text);
}

// --- WebhookPoster -----------------------------------------------------------------------------

WebhookPoster::WebhookPoster(WebhookOptions options, std::string base, std::string target)
    : options_(std::move(options)), base_(std::move(base)), target_(std::move(target)) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
  options_.initial_backoff_ms = std::max(options_.initial_backoff_ms, 1);
  options_.max_backoff_ms = std::max(options_.max_backoff_ms, options_.initial_backoff_ms);
}

WebhookPoster::~WebhookPoster() = default;

Result<std::unique_ptr<WebhookPoster>> WebhookPoster::Create(const WebhookOptions& options) {
  auto scheme_end = options.url.find("://");
  if (scheme_end == std::string::npos) {
    return Status::InvalidArgument("webhook url must look like https://host:port/path");
  }
  auto slash = options.url.find('/', scheme_end + 3);
  std::string base = slash == std::string::npos ? options.url : options.url.substr(0, slash);
  std::string target = slash == std::string::npos ? "/" : options.url.substr(slash);
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  RAMPART_RETURN_IF_ERROR(ParseUrl(base, &tls, &host, &port));
  if (tls && options.ca_file.empty()) {
    return Status::InvalidArgument("an https webhook needs a CA file to pin");
  }
  if (options.secret.empty()) return Status::InvalidArgument("a webhook needs a signing secret");
  if (options.timeout_ms <= 0) return Status::InvalidArgument("webhook timeout must be positive");
  return std::unique_ptr<WebhookPoster>(new WebhookPoster(options, base, target));
}

Status WebhookPoster::Post(const std::string& body) {
  const std::string signature = WebhookSignature(options_.secret, body);
  int backoff = options_.initial_backoff_ms;
  Status last = Status::Unavailable("webhook not attempted");
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    attempts_.fetch_add(1, std::memory_order_relaxed);
    last = Once(body, signature);
    if (last.ok()) return last;
    client_.reset();  // a failed exchange may leave the connection mid-response: reconnect
    if (attempt == options_.max_attempts) break;
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return cancelled_; })) {
      break;
    }
    backoff = std::min(backoff * 2, options_.max_backoff_ms);
  }
  return last;
}

void WebhookPoster::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

Status WebhookPoster::Once(const std::string& body, const std::string& signature) {
  if (!client_) {
    auto c = HttpClient::Connect(
        {.url = base_, .ca_file = options_.ca_file, .timeout_ms = options_.timeout_ms});
    if (!c.ok()) return c.status();
    client_ = std::move(c).value();
  }
  // Each attempt is timed when it leaves: a retry after a minute's backoff is a fresh request,
  // not a stale one.
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto r = client_->Send(
      "POST", target_,
      {{"content-type", "application/json"},
       {std::string(kSignatureHeader), signature},
       {std::string(kTimestampHeader), std::to_string(now)},
       {std::string(kTimedSignatureHeader), WebhookTimedSignature(options_.secret, now, body)},
       {"user-agent", options_.user_agent}},
      body);
  if (!r.ok()) return r.status();
  if (r->status < 200 || r->status > 299) {
    return Status::Unavailable("webhook answered " + std::to_string(r->status));
  }
  return Status::Ok();
}

// --- WebhookSender -----------------------------------------------------------------------------

Result<std::unique_ptr<WebhookSender>> WebhookSender::Create(const WebhookOptions& options,
                                                             size_t capacity) {
  RAMPART_ASSIGN_OR_RETURN(auto poster, WebhookPoster::Create(options));
  return std::unique_ptr<WebhookSender>(new WebhookSender(std::move(poster), capacity));
}

WebhookSender::WebhookSender(std::unique_ptr<WebhookPoster> poster, size_t capacity)
    : poster_(std::move(poster)), capacity_(std::max<size_t>(capacity, 1)) {
  thread_ = std::thread([this] { Run(); });
}

WebhookSender::~WebhookSender() {
  Stop();
}

bool WebhookSender::Submit(std::string body) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(body));
  }
  cv_.notify_one();
  return true;
}

void WebhookSender::Stop(int grace_ms) {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      stop_ = true;
      give_up_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    }
  }
  cv_.notify_one();
  poster_->Cancel();
  if (thread_.joinable()) thread_.join();
}

WebhookStats WebhookSender::stats() const {
  return {delivered_.load(), failed_.load(), dropped_.load(), poster_->attempts()};
}

size_t WebhookSender::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void WebhookSender::Run() {
  for (;;) {
    std::string body;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      if (stop_ && std::chrono::steady_clock::now() >= give_up_at_) {
        dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
        queue_.clear();
        return;
      }
      body = std::move(queue_.front());
      queue_.pop_front();
    }
    if (poster_->Post(body).ok()) {
      delivered_.fetch_add(1, std::memory_order_relaxed);
    } else {
      failed_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace rampart::http
