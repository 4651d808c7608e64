#include "server/alert_pipeline.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/log.h"

namespace rampart::server {

namespace {

// The webhook sink's options, its secret read from webhook_secret_file.
Result<detect::WebhookOptions> WebhookOptionsOf(const DetectionConfig& config) {
  detect::WebhookOptions w;
  w.url = config.webhook_url;
  w.ca_file = config.webhook_ca_file;
  w.max_attempts = static_cast<int>(config.webhook_max_attempts);
  w.initial_backoff_ms = static_cast<int>(config.webhook_initial_backoff_ms);
  std::ifstream in(config.webhook_secret_file, std::ios::binary);
  if (config.webhook_secret_file.empty() || !in) {
    return Status::InvalidArgument("detection.webhook_secret_file cannot be read");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  w.secret = ss.str();
  while (!w.secret.empty() && (w.secret.back() == '\n' || w.secret.back() == '\r')) {
    w.secret.pop_back();
  }
  return w;
}

}  // namespace

Status CheckAlertSinks(const DetectionConfig& config) {
  if (!config.alerts_file.empty()) {
    // Create opens it with O_CREAT; a check must not create it, so an absent file's folder must
    // let the server create it there.
    const std::string& path = config.alerts_file;
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
    } else {
      const int open_error = errno;
      std::string folder = std::filesystem::path(path).parent_path().string();
      if (folder.empty()) folder = ".";
      if (open_error != ENOENT || ::access(folder.c_str(), W_OK | X_OK) != 0) {
        return Status::InvalidArgument("detection.alerts_file: cannot open alert file " + path);
      }
    }
  }
  if (!config.syslog.empty()) {
    if (auto out = detect::OpenSyslogOutput(config.syslog); !out.ok()) {
      return Status::InvalidArgument("detection.syslog: " + out.status().message());
    }
  }
  if (!config.webhook_url.empty()) {
    RAMPART_ASSIGN_OR_RETURN(detect::WebhookOptions w, WebhookOptionsOf(config));
    if (auto out = detect::OpenWebhookOutput(w); !out.ok()) {
      return Status::InvalidArgument("detection.webhook_url: " + out.status().message());
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<AlertPipeline>> AlertPipeline::Create(const DetectionConfig& config,
                                                             store::Store* store,
                                                             const Clock* clock) {
  std::unique_ptr<AlertPipeline> p(
      new AlertPipeline(store, static_cast<int>(config.max_evidence), clock));
  const size_t capacity = config.sink_queue_capacity;
  if (!config.alerts_file.empty()) {
    RAMPART_ASSIGN_OR_RETURN(auto out, detect::OpenJsonLinesOutput(config.alerts_file));
    p->sinks_.push_back(std::make_unique<detect::AsyncAlertSink>(std::move(out), capacity));
  }
  if (!config.syslog.empty()) {
    RAMPART_ASSIGN_OR_RETURN(auto out, detect::OpenSyslogOutput(config.syslog));
    p->sinks_.push_back(std::make_unique<detect::AsyncAlertSink>(std::move(out), capacity));
  }
  if (!config.webhook_url.empty()) {
    RAMPART_ASSIGN_OR_RETURN(detect::WebhookOptions w, WebhookOptionsOf(config));
    RAMPART_ASSIGN_OR_RETURN(auto out, detect::OpenWebhookOutput(w));
    p->sinks_.push_back(std::make_unique<detect::AsyncAlertSink>(std::move(out), capacity));
  }
  return p;
}

AlertPipeline::~AlertPipeline() {
  Stop();
}

void AlertPipeline::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ || stopping_) return;  // running, or stopped for good
  running_ = true;
  writer_ = std::thread([this] { WriterLoop(); });
}

void AlertPipeline::Stop() {
  // A second Stop (the destructor's, or a concurrent one) waits for the first to finish.
  std::lock_guard<std::mutex> stopping(stop_mu_);
  std::thread writer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    writer = std::move(writer_);
  }
  work_cv_.notify_all();
  if (writer.joinable()) writer.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }
  done_cv_.notify_all();
  for (auto& s : sinks_) s->Stop();
}

void AlertPipeline::OnAlert(const core::Alert& observation) {
  // Detected now, whenever the event happened: a log line read late or a queue that backed up
  // shows as time to detect. The store keeps the first stamp when the alert grows.
  core::Alert stamped = observation;
  stamped.created_at_ms = clock_->NowMillis();
  stamped.created_at = stamped.created_at_ms / 1000;
  std::unique_lock<std::mutex> lock(mu_);
  // Queued while a writer will still read the queue (also while it drains at Stop, so alerts
  // keep their order and one thread delivers them); inline otherwise.
  if (!running_ || writer_exited_) {
    lock.unlock();
    StoreAndDeliver({std::move(stamped)}, 1);
    return;
  }
  if (queue_.size() >= kMaxQueued) {
    ++queue_waits_;
    room_cv_.wait(lock, [&] { return queue_.size() < kMaxQueued; });
  }
  queue_.push_back(std::move(stamped));
  ++queued_total_;
  lock.unlock();
  work_cv_.notify_one();
}

void AlertPipeline::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = queued_total_;
  done_cv_.wait(lock, [&] { return delivered_total_ >= target || !running_; });
}

void AlertPipeline::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything is written
    const size_t n = std::min(queue_.size(), kMaxBatch);
    std::vector<core::Alert> batch(std::make_move_iterator(queue_.begin()),
                                   std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
    const int attempts = stopping_ ? 1 : kBusyAttempts;  // (read under mu_)
    lock.unlock();
    room_cv_.notify_all();
    StoreAndDeliver(batch, attempts);
    lock.lock();
    delivered_total_ += n;
    done_cv_.notify_all();
  }
  writer_exited_ = true;  // under mu_: from now on OnAlert stores inline
}

void AlertPipeline::StoreAndDeliver(const std::vector<core::Alert>& batch, int attempts) {
  std::vector<core::Alert> stored;
  std::vector<uint8_t> first;  // per stored alert: this observation opened it
  auto all = store_->RecordAlerts(batch, max_evidence_);
  // A busy or locked database (another process holding the write lock past the busy timeout)
  // rolled the whole batch back: the same batch is tried again after a pause, rather than
  // losing up to kMaxBatch alerts to one long transaction elsewhere.
  for (int attempt = 1, pause_ms = kFirstBusyPauseMs;
       attempt < attempts && !all.ok() && all.status().code() == Code::kUnavailable;
       ++attempt, pause_ms *= 4) {
    {
      // Stop() cuts the pause short, and then no further try is made: a database locked for
      // good must not hold the shutdown for minutes.
      std::unique_lock<std::mutex> lock(mu_);
      if (work_cv_.wait_for(lock, std::chrono::milliseconds(pause_ms), [&] { return stopping_; })) {
        break;
      }
    }
    ++busy_retries_;
    log::Warn("alert.store_busy", {{"alerts", static_cast<int64_t>(batch.size())},
                                   {"retry", attempt},
                                   {"after_ms", pause_ms},
                                   {"error", all.status().message()}});
    all = store_->RecordAlerts(batch, max_evidence_);
  }
  auto failed = [&](const core::Alert& obs, const Status& status) {
    ++store_failures_;
    log::Error("alert.store_failed", {{"rule", obs.rule_id}, {"error", status.message()}});
  };
  if (all.ok() && all->size() == batch.size()) {
    stored = std::move(all).value();
    for (size_t i = 0; i < stored.size(); ++i) first.push_back(stored[i].count == batch[i].count);
  } else if (all.ok()) {
    // Cannot happen; storing them again would count them twice.
    for (const core::Alert& obs : batch) failed(obs, Status::Internal("batch answer incomplete"));
    return;
  } else if (batch.size() == 1 || all.status().code() == Code::kUnavailable) {
    // Alone already, or the database itself is busy or locked: trying each alert would wait
    // the busy timeout once per alert.
    for (const core::Alert& obs : batch) failed(obs, all.status());
    return;
  } else {
    // One by one, so that an observation the store refuses costs only itself.
    for (const core::Alert& obs : batch) {
      auto one = store_->RecordAlert(obs, max_evidence_);
      if (!one.ok()) {
        failed(obs, one.status());
        continue;
      }
      first.push_back(one->count == obs.count);
      stored.push_back(std::move(one).value());
    }
  }
  for (size_t i = 0; i < stored.size(); ++i) {
    // The first occurrence is logged; repeats only raise the stored count.
    if (first[i]) {
      log::Warn("alert.raised", {{"alert_id", stored[i].id},
                                 {"rule", stored[i].rule_id},
                                 {"severity", stored[i].severity},
                                 {"entity", stored[i].entity}});
    }
    for (auto& s : sinks_) s->Submit(stored[i]);
  }
  if (stored.empty()) return;
  for (auto& listener : stored_listeners_) listener(stored);
}

std::string AlertPipeline::RenderMetrics(const detect::LiveEngine& engine) const {
  detect::LiveEngineStats s = engine.stats();
  std::string out;
  auto metric = [&](const char* type, const char* name, uint64_t v) {
    out +=
        std::string("# TYPE ") + name + " " + type + "\n" + name + " " + std::to_string(v) + "\n";
  };
  auto counter = [&](const char* name, uint64_t v) { metric("counter", name, v); };
  auto gauge = [&](const char* name, uint64_t v) { metric("gauge", name, v); };
  counter("rampart_detect_events_total", s.processed);
  counter("rampart_detect_events_dropped_total", s.dropped);
  counter("rampart_detect_alerts_total", s.alerts);
  counter("rampart_detect_keys_evicted_total", s.evicted_keys);
  counter("rampart_detect_alert_store_failures_total", store_failures_.load());
  counter("rampart_detect_alert_queue_waits_total", queue_waits_.load());
  counter("rampart_detect_alert_store_busy_retries_total", busy_retries_.load());
  gauge("rampart_detect_tracked_keys", s.tracked_keys);
  gauge("rampart_detect_rules", s.rules);
  gauge("rampart_detect_correlation_rules", s.correlations);
  gauge("rampart_detect_ioc_indicators", s.indicators);
  out += "# TYPE rampart_detect_reloads_total counter\n";
  auto reloads = [&](const char* set, const char* outcome, uint64_t v) {
    out += std::string("rampart_detect_reloads_total{set=\"") + set + "\",outcome=\"" + outcome +
           "\"} " + std::to_string(v) + "\n";
  };
  reloads("rules", "accepted", s.rules_reloads);
  reloads("rules", "refused", s.rules_reloads_refused);
  reloads("iocs", "accepted", s.ioc_reloads);
  reloads("iocs", "refused", s.ioc_reloads_refused);
  out += "# TYPE rampart_alert_sink_total counter\n";
  for (const auto& sink : sinks_) {
    detect::SinkStats st = sink->stats();
    std::string n(sink->name());
    out += "rampart_alert_sink_total{sink=\"" + n + "\",outcome=\"delivered\"} " +
           std::to_string(st.delivered) + "\n";
    out += "rampart_alert_sink_total{sink=\"" + n + "\",outcome=\"failed\"} " +
           std::to_string(st.failed) + "\n";
    out += "rampart_alert_sink_total{sink=\"" + n + "\",outcome=\"dropped\"} " +
           std::to_string(st.dropped) + "\n";
  }
  return out;
}

detect::LiveEngineOptions EngineOptions(const DetectionConfig& config,
                                        const std::string& bundled_rules_dir) {
  detect::LiveEngineOptions o;
  if (!bundled_rules_dir.empty()) o.rule_dirs.push_back(bundled_rules_dir);
  o.rule_dirs.insert(o.rule_dirs.end(), config.rule_dirs.begin(), config.rule_dirs.end());
  o.ioc_files = config.ioc_files;
  o.queue_capacity = config.queue_capacity;
  o.max_tracked_keys = config.max_tracked_keys;
  o.correlation_checkpoint_millis = int64_t{config.correlation_checkpoint_seconds} * 1000;
  o.max_evidence = static_cast<int>(config.max_evidence);
  o.canary_paths = config.canary_paths;
  o.canary_token_ids = config.canary_token_ids;
  o.new_file_use.enabled = config.new_file_use;
  o.new_file_use.large_response_bytes = uint64_t{config.staged_download_kib} * 1024;
  o.login_detector.enabled = config.admin_login_new_address;
  o.login_detector.hours.days = config.working_hours.days;
  o.login_detector.hours.start_minute = static_cast<int>(config.working_hours.start_minute);
  o.login_detector.hours.end_minute = static_cast<int>(config.working_hours.end_minute);
  o.login_detector.hours.utc_offset_minutes = config.working_hours.utc_offset_minutes;
  return o;
}

}  // namespace rampart::server
