#include "detect/alert_sinks.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/text.h"
#include "http/webhook_sender.h"

namespace rampart::detect {

std::string RenderAlertJson(const core::Alert& a, bool with_evidence) {
  using nlohmann::json;
  json evidence = json::array();
  for (const auto& e : with_evidence ? a.evidence : std::vector<std::string>()) {
    json parsed = json::parse(e, nullptr, false);
    evidence.push_back(parsed.is_discarded() ? json(e) : parsed);
  }
  json j = {{"id", a.id},
            {"institution_id", a.institution_id.empty() ? json(nullptr) : json(a.institution_id)},
            {"rule", a.rule_id},
            {"title", a.rule_title},
            {"entity", a.entity},
            {"severity", a.severity},
            {"attack", a.attack},
            {"count", a.count},
            {"first_seen", FormatRfc3339(a.first_seen)},
            {"last_seen", FormatRfc3339(a.last_seen)},
            {"status", core::ToString(a.status)},
            {"evidence", std::move(evidence)}};
  if (!with_evidence) j["evidence_omitted"] = a.evidence.size();
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// --- JSON lines file ---------------------------------------------------------------------------

namespace {

int OpenAlertFile(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

class JsonLinesOutput final : public AlertOutput {
 public:
  JsonLinesOutput(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~JsonLinesOutput() override { ::close(fd_); }
  std::string_view name() const override { return "file"; }
  Status Deliver(const core::Alert&, const std::string& json) override {
    FollowRotation();
    std::string line = json + "\n";
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::Internal("alert file write failed");
      }
      off += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

 private:
  // logrotate moves the file away (or deletes it): the next alert goes to a new file at the
  // path, not on into the rotated one.
  void FollowRotation() {
    struct stat at_path {
    }, open_file{};
    if (::stat(path_.c_str(), &at_path) == 0 && ::fstat(fd_, &open_file) == 0 &&
        at_path.st_dev == open_file.st_dev && at_path.st_ino == open_file.st_ino) {
      return;
    }
    int fd = OpenAlertFile(path_);
    if (fd < 0) return;  // kept writing where it was; the next alert tries again
    ::close(fd_);
    fd_ = fd;
  }

  int fd_;
  std::string path_;
};

// --- syslog ------------------------------------------------------------------------------------

constexpr size_t kSyslogMessageBytes = 2048;

class SyslogOutput final : public AlertOutput {
 public:
  SyslogOutput(int fd, std::string hostname) : fd_(fd), hostname_(std::move(hostname)) {}
  ~SyslogOutput() override { ::close(fd_); }
  std::string_view name() const override { return "syslog"; }
  Status Deliver(const core::Alert& alert, const std::string& json) override {
    std::string msg = FormatSyslog5424(alert, json, hostname_, SystemClock::Instance().NowMillis());
    if (msg.size() > kSyslogMessageBytes) {
      // Receivers need only accept 2,048 bytes (RFC 5424 section 6.1): the evidence is left
      // out (the alert's id finds it through the API) rather than the message cut.
      msg = FormatSyslog5424(alert, RenderAlertJson(alert, /*with_evidence=*/false), hostname_,
                             SystemClock::Instance().NowMillis());
    }
    if (::send(fd_, msg.data(), msg.size(), 0) < 0) {
      return Status::Unavailable("syslog send failed");
    }
    return Status::Ok();
  }

 private:
  int fd_;
  std::string hostname_;
};

// RFC 5424 section 6.3.3: PARAM-VALUE is UTF-8 (invalid bytes become U+FFFD), and inside it
// '"', '\' and ']' are escaped with '\'.
std::string SdEscape(std::string_view v) {
  std::string out;
  for (char c : ValidUtf8(v)) {
    if (c == '"' || c == '\\' || c == ']') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

int SyslogSeverity(std::string_view s) {
  switch (core::SeverityRank(s)) {
    case 4:
      return 2;  // critical
    case 3:
      return 3;  // error
    case 2:
      return 4;  // warning
    case 1:
      return 5;  // notice
    default:
      return 6;  // informational
  }
}

// --- webhook -----------------------------------------------------------------------------------

// The signing, retries and backoff are http::WebhookPoster's, shared with the decision webhooks.
class WebhookOutput final : public AlertOutput {
 public:
  explicit WebhookOutput(std::unique_ptr<http::WebhookPoster> poster)
      : poster_(std::move(poster)) {}
  std::string_view name() const override { return "webhook"; }
  Status Deliver(const core::Alert&, const std::string& json) override {
    return poster_->Post(json);
  }
  void Cancel() override { poster_->Cancel(); }

 private:
  std::unique_ptr<http::WebhookPoster> poster_;
};

}  // namespace

Result<std::unique_ptr<AlertOutput>> OpenJsonLinesOutput(const std::string& path) {
  int fd = OpenAlertFile(path);
  if (fd < 0) return Status::InvalidArgument("cannot open alert file " + path);
  return std::unique_ptr<AlertOutput>(new JsonLinesOutput(fd, path));
}

std::string FormatSyslog5424(const core::Alert& a, const std::string& json,
                             const std::string& hostname, int64_t now_millis) {
  constexpr int kLocal0 = 16;
  int pri = kLocal0 * 8 + SyslogSeverity(a.severity);
  std::string ts = FormatRfc3339(now_millis / 1000);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(now_millis % 1000));
  ts.insert(ts.size() - 1, frac);  // before the 'Z'
  std::string host = hostname.empty() ? "-" : hostname.substr(0, 255);
  std::string out = "<" + std::to_string(pri) + ">1 " + ts + " " + host + " rampart - ALERT ";
  out += "[rampart@32473 id=\"" + SdEscape(a.id) + "\" rule=\"" + SdEscape(a.rule_id) +
         "\" severity=\"" + SdEscape(a.severity) + "\" entity=\"" + SdEscape(a.entity) +
         "\" count=\"" + std::to_string(a.count) + "\"] ";
  out += json;
  return out;
}

Result<std::unique_ptr<AlertOutput>> OpenSyslogOutput(const std::string& host_port) {
  std::string host;
  uint16_t port = 0;
  RAMPART_RETURN_IF_ERROR(ParseHostPort(host_port, &host, &port));
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  if (::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res) != 0 || res == nullptr) {
    return Status::InvalidArgument("syslog host " + host + " does not resolve");
  }
  int fd = ::socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(res);
    return Status::InvalidArgument("cannot open a UDP socket to " + host_port);
  }
  ::freeaddrinfo(res);
  char name[256] = {0};
  ::gethostname(name, sizeof name - 1);
  return std::unique_ptr<AlertOutput>(new SyslogOutput(fd, name));
}

Result<std::unique_ptr<AlertOutput>> OpenWebhookOutput(const WebhookOptions& options) {
  http::WebhookOptions w;
  w.url = options.url;
  w.ca_file = options.ca_file;
  w.secret = options.secret;
  w.max_attempts = options.max_attempts;
  w.initial_backoff_ms = options.initial_backoff_ms;
  w.timeout_ms = options.timeout_ms;
  w.user_agent = "rampart-alerts/1";
  RAMPART_ASSIGN_OR_RETURN(auto poster, http::WebhookPoster::Create(w));
  return std::unique_ptr<AlertOutput>(new WebhookOutput(std::move(poster)));
}

// --- AsyncAlertSink ----------------------------------------------------------------------------

AsyncAlertSink::AsyncAlertSink(std::unique_ptr<AlertOutput> output, size_t capacity)
    : output_(std::move(output)), capacity_(std::max<size_t>(capacity, 1)) {
  thread_ = std::thread([this] { Run(); });
}

AsyncAlertSink::~AsyncAlertSink() {
  Stop();
}

void AsyncAlertSink::Submit(const core::Alert& alert) {
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // An alert that is still waiting is replaced by its newer state (a higher count, later
    // last_seen), in its place: a storm of updates to one alert takes one slot, not the
    // queue.
    if (auto waiting = queued_.find(alert.id); !stop_ && waiting != queued_.end()) {
      *waiting->second = alert;
      return;
    }
    if (stop_ || queue_.size() >= capacity_) {
      dropped = ++dropped_;
    } else {
      queue_.push_back(alert);
      queued_[alert.id] = std::prev(queue_.end());
    }
  }
  if (dropped == 0) {
    cv_.notify_one();
  } else if ((dropped & (dropped - 1)) == 0) {  // the 1st, 2nd, 4th, 8th...: said, not flooded
    log::Warn("alerts.sink_dropped", {{"sink", output_->name()}, {"dropped_total", dropped}});
  }
}

void AsyncAlertSink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_one();
  // What is queued still gets one attempt each; retry waits end now, so shutdown is bounded.
  output_->Cancel();
  if (thread_.joinable()) thread_.join();
}

SinkStats AsyncAlertSink::stats() const {
  return {delivered_.load(), failed_.load(), dropped_.load()};
}

void AsyncAlertSink::Run() {
  for (;;) {
    core::Alert alert;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      alert = std::move(queue_.front());
      queued_.erase(alert.id);
      queue_.pop_front();
    }
    Status s = output_->Deliver(alert, RenderAlertJson(alert));
    if (s.ok()) {
      ++delivered_;
    } else {
      ++failed_;
    }
  }
}

}  // namespace rampart::detect
