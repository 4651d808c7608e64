#include "server/config_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/forwarded.h"
#include "common/log.h"
#include "common/text.h"
#include "detect/custom_log_format.h"
#include "detect/file_integrity.h"
#include "detect/live_engine.h"
#include "detect/log_follower.h"
#include "detect/syslog_tls.h"
#include "respond/decision_webhooks.h"
#include "respond/denylist.h"
#include "server/alert_pipeline.h"
#include "server/startup_checks.h"

namespace rampart::server {
namespace {

// Prints the rows and counts what they found.
class Report {
 public:
  explicit Report(std::ostream& out) : out_(out) {}
  void Ok(std::string_view key, std::string_view what) { Row("ok", key, what); }
  void Warn(std::string_view key, std::string_view what) {
    ++warnings_;
    Row("warn", key, what);
  }
  void Error(std::string_view key, std::string_view what) {
    ++errors_;
    Row("error", key, what);
  }
  // An error whose message starts with the configuration key at fault ("syslog_tls_key: ...",
  // "detection.syslog: ..."): the row names that key, under `section` when the message leaves
  // it out; else the row is `fallback_key`'s.
  void ErrorAt(std::string_view section, std::string_view fallback_key,
               const std::string& message) {
    const size_t colon = message.find(": ");
    const std::string_view head = std::string_view(message).substr(0, colon);
    const bool is_key =
        colon != std::string::npos && !head.empty() &&
        head.find_first_not_of("abcdefghijklmnopqrstuvwxyz_.") == std::string_view::npos;
    if (!is_key) {
      Error(fallback_key, message);
    } else if (head.starts_with(section)) {
      Error(head, message.substr(colon + 2));
    } else {
      Error(std::string(section) + std::string(head), message.substr(colon + 2));
    }
  }
  // Ok with `what`, or Error with the status's message.
  void Check(std::string_view key, const Status& s, std::string_view what) {
    if (s.ok()) {
      Ok(key, what);
    } else {
      Error(key, s.message());
    }
  }
  int errors() const { return errors_; }
  int warnings() const { return warnings_; }
  void Summary() {
    out_ << errors_ << (errors_ == 1 ? " error, " : " errors, ") << warnings_
         << (warnings_ == 1 ? " warning\n" : " warnings\n");
  }

 private:
  void Row(std::string_view level, std::string_view key, std::string_view what) {
    // What the rows hold comes from files an attacker may have written (rule titles, feed
    // errors): shown so that it cannot drive the terminal.
    out_ << level << "\t" << key << "\t" << TerminalSafe(what) << "\n";
  }
  std::ostream& out_;
  int errors_ = 0;
  int warnings_ = 0;
};

// Takes the engine's alerts, of which a check raises none: it never starts the engine.
class NoAlerts final : public detect::AlertHandler {
 public:
  void OnAlert(const core::Alert&) override {}
};

std::string Count(size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

void CheckDetection(const Config& config, const ConfigCheckOptions& opt, Report* report) {
  const DetectionConfig& d = config.detection;
  auto log_proxies = ReadProxyList(d.log_trusted_proxies, "detection.log_trusted_proxies");
  if (!log_proxies.ok()) {
    report->Error("detection.log_trusted_proxies", log_proxies.status().message());
  } else if (!d.log_trusted_proxies.empty()) {
    report->Ok("detection.log_trusted_proxies",
               Count(log_proxies->proxies.size(), "proxy", "proxies"));
  }
  // The engine as serve makes it: the bundled rules and rule_dirs compiled, every IoC feed
  // read. Not started, and without the state files serve gives it, so it reads nothing else.
  NoAlerts no_alerts;
  auto engine = detect::LiveEngine::Create(EngineOptions(d, opt.bundled_rules_dir),
                                           &SystemClock::Instance(), &no_alerts);
  if (!engine.ok()) {
    report->Error("detection", engine.status().message());
  } else {
    const detect::LiveEngineStats stats = (*engine)->stats();
    report->Ok("detection", Count(stats.rules, "rule", "rules") + ", " +
                                Count(stats.correlations, "correlation", "correlations") + ", " +
                                Count(stats.indicators, "indicator", "indicators"));
    for (const auto& skipped : (*engine)->skipped()) {
      report->Warn("detection.rule_dirs", skipped.file + ": " +
                                              (skipped.title.empty() ? "" : skipped.title + ": ") +
                                              skipped.reason + " (left out)");
    }
    for (const auto& feed : (*engine)->unusable_feeds()) {
      report->Warn("detection.ioc_files", feed.file + ": " + feed.error + " (left out)");
    }
  }
  if (!d.follow.empty()) {
    std::map<std::string, std::shared_ptr<const detect::CustomLogFormat>> layouts;
    const Status compiled = CompileLayouts(d.follow_formats, &layouts);
    report->Check("detection.follow_formats", compiled,
                  Count(d.follow.size(), "followed file", "followed files") + ", " +
                      Count(layouts.size(), "declared layout", "declared layouts"));
    for (const auto& path : d.follow) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        // Not an error: a followed file is read from its start once it appears.
        report->Warn("detection.follow", path + ": not there yet");
      } else if (!S_ISREG(st.st_mode)) {
        report->Warn("detection.follow", path + ": not a regular file; it will not be read");
      }
    }
  }
  if (!d.syslog_formats.empty()) {
    std::map<std::string, std::shared_ptr<const detect::CustomLogFormat>, std::less<>> layouts;
    const Status compiled = CompileLayouts(d.syslog_formats, &layouts);
    report->Check("detection.syslog_formats", compiled,
                  Count(layouts.size(), "declared layout", "declared layouts"));
  }
  if (!d.syslog_tls_listen.empty()) {
    auto tls = detect::internal::TlsServerContext::Create(
        {d.syslog_tls_cert, d.syslog_tls_key, d.syslog_tls_client_ca});
    if (tls.ok()) {
      report->Ok("detection.syslog_tls_cert", (*tls)->mutual()
                                                  ? "certificate, key and client CA read"
                                                  : "certificate and key read");
    } else {
      report->ErrorAt("detection.", "detection.syslog_tls_cert", tls.status().message());
    }
  }
  if (Status sinks = CheckAlertSinks(d); !sinks.ok()) {
    report->ErrorAt("detection.", "detection.alerts_file", sinks.message());
  } else if (!d.alerts_file.empty() || !d.syslog.empty() || !d.webhook_url.empty()) {
    report->Ok("detection.alert_outputs", std::string(d.alerts_file.empty() ? "" : "file ") +
                                              (d.syslog.empty() ? "" : "syslog ") +
                                              (d.webhook_url.empty() ? "" : "webhook"));
  }
  if (opt.data_dir.empty()) return;
  // What serve reads in the data directory: the followed files' positions, the baseline.
  if (!d.follow.empty()) {
    const std::string positions = opt.data_dir + "/detect/positions.json";
    report->Check("detection.follow", detect::CheckPositionsFile(positions),
                  "positions in " + positions + " readable");
  }
  if (!d.integrity_paths.empty()) {
    auto baseline = detect::LoadBaselineFile(detect::BaselinePath(opt.data_dir));
    if (!baseline.ok() && baseline.status().code() == Code::kNotFound) {
      report->Ok("detection.integrity_paths", Count(d.integrity_paths.size(), "folder", "folders") +
                                                  "; no baseline yet: serve makes one at start");
    } else if (!baseline.ok()) {
      report->Error(
          "detection.integrity_paths",
          baseline.status().message() + " (re-create it with `rampart integrity baseline`)");
    } else {
      report->Ok("detection.integrity_paths", Count(d.integrity_paths.size(), "folder", "folders") +
                                                  ", baseline of " +
                                                  Count(baseline->files.size(), "file", "files"));
    }
  }
}

}  // namespace

int RunConfigCheck(const ConfigCheckOptions& opt) {
  std::ostream& out = opt.out != nullptr ? *opt.out : std::cout;
  Report report(out);
  // The parts tried here log as they do in serve; the rows say what matters, so the log lines
  // go nowhere while they run.
  struct QuietLog {
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    int previous_fd = null_fd >= 0 ? log::SetOutputFd(null_fd) : -1;
    ~QuietLog() {
      if (null_fd < 0) return;
      log::SetOutputFd(previous_fd);
      ::close(null_fd);
    }
  } quiet;
  if (!crypto::InitCrypto().ok()) {
    report.Error("crypto", "cannot initialise cryptography");
    report.Summary();
    return 1;
  }
  Config config;
  if (Status s = LoadConfigFile(opt.config_file, &config); !s.ok()) {
    report.Error("config", s.message());
    report.Summary();
    return 1;
  }
  report.Ok("config", opt.config_file);
  if (!opt.listen.empty()) config.listen = opt.listen;  // serve's --listen, given to both

  std::string host;
  uint16_t port = 0;
  Status listen = ParseHostPort(config.listen, &host, &port);
  report.Check("listen", listen, config.listen);
  if (listen.ok() && !config.http_forwarding.metrics_listen.empty()) {
    std::string metrics_host;
    uint16_t metrics_port = 0;
    report.Check("http.metrics_listen",
                 CheckMetricsListen(config.http_forwarding.metrics_listen, host, port,
                                    &metrics_host, &metrics_port),
                 config.http_forwarding.metrics_listen);
  }
  auto http_proxies = ReadProxyList(config.http_forwarding.trusted_proxies, "http.trusted_proxies");
  if (!http_proxies.ok()) {
    report.Error("http.trusted_proxies", http_proxies.status().message());
  } else if (!config.http_forwarding.trusted_proxies.empty()) {
    report.Ok("http.trusted_proxies", Count(http_proxies->proxies.size(), "proxy", "proxies"));
  }
  if (!ForwardedHeaderNamed(config.http_forwarding.client_address_header)) {
    report.Error("http.client_address_header",
                 "unknown header: " + config.http_forwarding.client_address_header);
  }
  if (auto never_block = respond::ParseNeverBlock(config.response.never_block); !never_block.ok()) {
    report.Error("response.never_block", never_block.status().message());
  }
  if (!config.response.decision_webhooks.empty()) {
    auto hooks = respond::DecisionWebhooks::Create(config.response.decision_webhooks);
    if (hooks.ok()) {
      report.Ok("response.decision_webhooks", Count((*hooks)->size(), "receiver", "receivers"));
      (*hooks)->Stop(0);
    } else {
      report.Error("response.decision_webhooks", hooks.status().message());
    }
  }
  if (config.detection.enabled) {
    CheckDetection(config, opt, &report);
  } else {
    report.Ok("detection", "off");
  }
  if (config.response.playbooks) {
    respond::PlaybookLoad load =
        LoadPlaybooks(opt.bundled_playbooks_dir, config.response.playbook_dirs);
    for (const auto& error : load.errors) report.Warn("response.playbook_dirs", error);
    report.Ok("response.playbooks", Count(load.playbooks.size(), "playbook", "playbooks"));
  }
  if (!config.keeper.socket.empty()) {
    struct stat st {};
    if (::stat(config.keeper.socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
      // serve starts all the same, and answers 503 for staff data until the keeper is there.
      report.Warn("keeper.socket", config.keeper.socket + ": no keeper listening there now");
    } else {
      report.Ok("keeper.socket", config.keeper.socket);
    }
  }
  report.Summary();
  if (report.errors() > 0) return 1;
  return opt.strict && report.warnings() > 0 ? 1 : 0;
}

}  // namespace rampart::server
