#include "server/serve.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <set>

#include "api/app.h"
#include "api/demo.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/file_tree.h"
#include "common/files.h"
#include "common/forwarded.h"
#include "common/ip.h"
#include "common/log.h"
#include "common/text.h"
#include "detect/custom_log_format.h"
#include "detect/file_integrity.h"
#include "detect/log_follower.h"
#include "detect/reload_watch.h"
#include "detect/syslog.h"
#include "http/server.h"
#include "http/tls_files.h"
#include "keeper/client.h"
#include "respond/actions.h"
#include "respond/decision_webhooks.h"
#include "respond/incident.h"
#include "respond/master_key_rewrap.h"
#include "respond/playbook.h"
#include "respond/playbook_runner.h"
#include "server/alert_pipeline.h"
#include "server/keeper_process.h"
#include "server/startup_checks.h"
#include "store/store.h"

namespace rampart::server {
namespace {

int Fail(const std::string& message) {
  std::cerr << "rampart: " << message << "\n";
  log::Error("serve.failed", {{"reason", message}});
  return 1;
}

// The server's Ed25519 identity, created on first start (mode 0600). Devices receive its public
// half at enrollment.
Result<crypto::Ed25519KeyPair> LoadOrCreateIdentity(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    std::string secret(crypto::kEd25519SecretKeyBytes, '\0');
    ssize_t n = ::read(fd, secret.data(), secret.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(secret.size())) {
      return Status::Internal("identity key file " + path + " is damaged");
    }
    crypto::Ed25519KeyPair kp;
    kp.secret_key = secret;
    kp.public_key = secret.substr(32);  // libsodium layout: seed || public key
    return kp;
  }
  crypto::Ed25519KeyPair kp = crypto::GenerateEd25519();
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot create identity key " + path);
  bool ok = ::write(fd, kp.secret_key.data(), kp.secret_key.size()) ==
            static_cast<ssize_t>(kp.secret_key.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return Status::Internal("cannot write identity key " + path);
  return kp;
}

log::Level ParseLevel(const std::string& s) {
  if (s == "debug") return log::Level::kDebug;
  if (s == "warn") return log::Level::kWarn;
  if (s == "error") return log::Level::kError;
  return log::Level::kInfo;
}

// Prometheus text for the log sources' counters (absent sources print nothing).
std::string SourceMetrics(const detect::LogFollower* follower,
                          const detect::SyslogReceiver* receiver) {
  std::string out;
  auto line = [&out](std::string_view name, std::string_view labels, uint64_t v) {
    out.append(name).append(labels).append(" ").append(std::to_string(v)).append("\n");
  };
  if (follower) {
    detect::FollowerStats s = follower->stats();
    out += "# TYPE rampart_detect_follow_lines_total counter\n";
    line("rampart_detect_follow_lines_total", "", s.lines);
    out += "# TYPE rampart_detect_follow_skipped_total counter\n";
    line("rampart_detect_follow_skipped_total", "{reason=\"oversized\"}", s.oversized);
    line("rampart_detect_follow_skipped_total", "{reason=\"binary\"}", s.binary);
    line("rampart_detect_follow_skipped_total", "{reason=\"parse_error\"}", s.parse_errors);
    out += "# TYPE rampart_detect_follow_rotations_total counter\n";
    line("rampart_detect_follow_rotations_total", "", s.rotations);
    out += "# TYPE rampart_detect_follow_unread_rotations_total counter\n";
    line("rampart_detect_follow_unread_rotations_total", "", s.unread_rotations);
    out += "# TYPE rampart_detect_follow_truncations_total counter\n";
    line("rampart_detect_follow_truncations_total", "", s.truncations);
    out += "# TYPE rampart_detect_follow_backpressure_waits_total counter\n";
    line("rampart_detect_follow_backpressure_waits_total", "", s.backpressure_waits);
    out += "# TYPE rampart_detect_follow_proxy_lines_total counter\n";
    line("rampart_detect_follow_proxy_lines_total", "{client=\"forwarded\"}", s.forwarded_clients);
    line("rampart_detect_follow_proxy_lines_total", "{client=\"missing\"}", s.forwarded_unnamed);
    out += "# TYPE rampart_detect_follow_unreadable_windows_total counter\n";
    line("rampart_detect_follow_unreadable_windows_total", "", s.unreadable_windows);
  }
  if (receiver) {
    detect::SyslogStats s = receiver->stats();
    out += "# TYPE rampart_detect_syslog_messages_total counter\n";
    line("rampart_detect_syslog_messages_total", "", s.messages);
    out += "# TYPE rampart_detect_syslog_rejected_total counter\n";
    line("rampart_detect_syslog_rejected_total", "{reason=\"malformed\"}", s.malformed);
    line("rampart_detect_syslog_rejected_total", "{reason=\"oversized\"}", s.oversized);
    line("rampart_detect_syslog_rejected_total", "{reason=\"udp_buffer_full\"}",
         s.udp_kernel_dropped);
    line("rampart_detect_syslog_rejected_total", "{reason=\"connection_refused\"}", s.refused);
    out += "# TYPE rampart_detect_syslog_tls_connections_total counter\n";
    line("rampart_detect_syslog_tls_connections_total", "", s.tls_connections);
    out += "# TYPE rampart_detect_syslog_tls_handshake_failures_total counter\n";
    line("rampart_detect_syslog_tls_handshake_failures_total", "", s.tls_handshake_failures);
    out += "# TYPE rampart_detect_syslog_proxy_lines_total counter\n";
    line("rampart_detect_syslog_proxy_lines_total", "{client=\"forwarded\"}", s.forwarded_clients);
    line("rampart_detect_syslog_proxy_lines_total", "{client=\"missing\"}", s.forwarded_unnamed);
    out += "# TYPE rampart_detect_syslog_unreadable_windows_total counter\n";
    line("rampart_detect_syslog_unreadable_windows_total", "", s.unreadable_windows);
  }
  return out;
}

void LogSkippedRules(const std::vector<detect::SkippedRule>& skipped) {
  for (const auto& s : skipped) {
    log::Warn("detect.rule_skipped", {{"file", s.file}, {"reason", s.reason}});
  }
}

// SIGHUP (an administrator's `systemctl reload` after a rule was added or a feed downloaded),
// or the files changing under the reload watcher: the rules and the IoC feeds read again. Each
// is taken whole or not at all; the engine keeps what it has of the one that fails. Reloads are
// one at a time: the signal thread and the watcher both call this.
void ReloadDetection(detect::LiveEngine* engine, detect::ReloadNeeded what) {
  static std::mutex reload_mu;
  std::lock_guard<std::mutex> lock(reload_mu);
  if (engine == nullptr) {
    log::Warn("detect.not_reloaded", {{"reason", "detection is disabled"}});
    return;
  }
  if (what.rules) {
    if (auto rules = engine->ReloadRules(); !rules.ok()) {
      log::Error("detect.rules_reload_failed", {{"error", rules.status().message()}});
    } else {
      LogSkippedRules(rules->skipped);
      log::Info("detect.rules_reloaded",
                {{"rules", static_cast<int64_t>(rules->rules)},
                 {"correlations", static_cast<int64_t>(rules->correlations)},
                 {"skipped", static_cast<int64_t>(rules->skipped.size())},
                 {"correlations_restarted", Joined(rules->correlations_restarted)}});
    }
  }
  if (!what.iocs) return;
  auto iocs = engine->ReloadIocs();
  if (!iocs.ok()) {
    log::Error("detect.iocs_reload_failed", {{"error", iocs.status().message()}});
    return;
  }
  log::Info("detect.iocs_reloaded", {{"feeds", static_cast<int64_t>(iocs->feeds)},
                                     {"indicators", static_cast<int64_t>(iocs->indicators)}});
}

}  // namespace

int Serve(const ServeOptions& options) {
  // Signals are taken synchronously by this thread only. Blocked before any thread starts
  // (webhook senders, the keeper supervisor, detection), so that every thread inherits the
  // mask and a SIGTERM can never take the default action in one of them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // reload the rules and the IoC feeds
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (!crypto::InitCrypto().ok()) return Fail("cannot initialise cryptography");
  Config config;
  config.data_dir = options.data_dir;
  if (!options.config_file.empty()) {
    Status s = LoadConfigFile(options.config_file, &config);
    if (!s.ok()) return Fail(s.message());
    config.data_dir = options.data_dir;  // the flag names the data directory
  }
  if (!options.listen.empty()) config.listen = options.listen;
  if (options.plain_http) config.tls = false;
  log::SetMinLevel(ParseLevel(config.log_level));

  std::string host;
  uint16_t port = 0;
  Status parsed = ParseHostPort(config.listen, &host, &port);
  if (!parsed.ok()) return Fail(parsed.message());

  // Decision webhooks: every block added or removed is POSTed, signed, to external enforcers.
  // Made before anything starts, so that a bad entry stops serve at once; declared before `app`,
  // whose engine reports to it, so that it outlives the engine.
  auto decision_hooks = respond::DecisionWebhooks::Create(config.response.decision_webhooks);
  if (!decision_hooks.ok()) return Fail(decision_hooks.status().message());
  if (auto never_block = respond::ParseNeverBlock(config.response.never_block); !never_block.ok()) {
    return Fail("config: response.never_block: " + never_block.status().message());
  }

  std::string error;
  if (cli::PrepareDataDir(config.data_dir, &error) != 0) return Fail(error);
  auto store = store::OpenStore("sqlite:" + cli::DatabasePath(config.data_dir));
  if (!store.ok()) return Fail(store.status().message());

  // The keeper holds every secret serve must not: started here as a child process unless the
  // configuration names the socket of one run as its own service.
  KeeperProcessOptions keeper_options{config.data_dir, config.keeper.socket, options.config_file};
  std::unique_ptr<KeeperChild> keeper_child;
  std::string keeper_socket = config.keeper.socket;
  if (keeper_socket.empty()) {
    auto child = KeeperChild::Spawn(keeper_options);
    if (!child.ok()) return Fail("cannot start the keeper: " + child.status().message());
    keeper_child = std::move(child).value();
    keeper_socket = DefaultKeeperSocket(config.data_dir);
  }
  keeper::KeeperClient keeper_client({keeper_socket});
  if (Status ping = keeper_client.Ping(); !ping.ok()) {
    // An external keeper may come later; until then staff data and signing answer 503.
    log::Error("serve.keeper_unreachable", {{"socket", keeper_socket}, {"error", ping.message()}});
  }

  if (options.demo) {
    auto seed = api::SeedDemo(**store, keeper_client, SystemClock::Instance(),
                              static_cast<int>(config.demo_staff),
                              static_cast<int>(config.keeper.canary_staff_per_institution));
    if (!seed.ok()) return Fail("demo seeding failed: " + seed.status().message());
    // Printed once for the operator at the console; never logged.
    std::cout << "demo institution:  " << seed->institution_id
              << (seed->created ? " (created)" : " (existing)") << "\n"
              << "superadmin token:  " << seed->superadmin_token << "\n"
              << "admin token:       " << seed->admin_token << "\n"
              << "enrollment token:  " << seed->enrollment_token << "\n"
              << "admin user:        " << seed->admin_username << "\n"
              << "admin password:    " << seed->admin_password << "\n";
  }

  api::AppOptions app_options;
  app_options.config = config;
  app_options.apps_dir = cli::AppsDir(config.data_dir);
  app_options.keeper = &keeper_client;
  auto identity = LoadOrCreateIdentity(cli::KeysDir(config.data_dir) + "/server_identity.key");
  if (!identity.ok()) return Fail(identity.status().message());
  app_options.server_identity_key = identity->public_key;

  http::ServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  server_options.tls = config.tls;
  server_options.threads = config.threads;
  server_options.limits = config.http;
  auto http_proxies = ReadProxyList(config.http_forwarding.trusted_proxies, "http.trusted_proxies");
  if (!http_proxies.ok()) return Fail("config: " + http_proxies.status().message());
  server_options.proxy_trust.proxies = http_proxies->proxies;
  auto forwarded_header = ForwardedHeaderNamed(config.http_forwarding.client_address_header);
  if (!forwarded_header) return Fail("config: http.client_address_header: unknown header");
  server_options.proxy_trust.header = *forwarded_header;
  if (!server_options.proxy_trust.proxies.empty()) {
    log::Info("http.trusted_proxies",
              {{"proxies", static_cast<int64_t>(server_options.proxy_trust.proxies.size())},
               {"header", config.http_forwarding.client_address_header}});
  }
  if (config.tls) {
    auto tls = http::EnsureServerCertificate(cli::TlsDir(config.data_dir));
    if (!tls.ok()) return Fail("TLS setup failed: " + tls.status().message());
    server_options.cert_file = tls->server_cert;
    server_options.key_file = tls->server_key;
    auto fingerprint = http::CertificateFingerprint(tls->ca_cert);
    if (fingerprint.ok()) app_options.tls_ca_fingerprint = *fingerprint;
  }

  // The live detection engine: every answered request and security action becomes an event;
  // the engine thread matches it and the pipeline stores and forwards alerts.
  // Declared first so that it outlives the pipeline and the engine thread that call it.
  respond::IncidentTracker incidents(store->get(), &SystemClock::Instance(),
                                     config.incidents.group_window_seconds);
  std::unique_ptr<AlertPipeline> pipeline;
  std::unique_ptr<detect::LiveEngine> engine;
  std::unique_ptr<detect::ReloadWatcher> reload_watcher;  // stopped before the engine goes
  std::unique_ptr<detect::LogFollower> follower;
  std::unique_ptr<detect::SyslogReceiver> syslog_receiver;
  if (config.detection.enabled) {
    // The engine's own state (followed-file positions, known login addresses); no tables.
    const std::string detect_dir = config.data_dir + "/detect";
    if (Status s = files::EnsurePrivateDirectory(detect_dir); !s.ok()) {
      return Fail("detection: " + s.message());
    }
    auto p = AlertPipeline::Create(config.detection, store->get());
    if (!p.ok()) return Fail("detection: " + p.status().message());
    pipeline = std::move(p).value();
    // Every stored alert opens or joins an incident (docs/incidents.md).
    pipeline->AddStoredBatchListener(
        [&incidents](const std::vector<core::Alert>& batch) { incidents.OnStoredAlerts(batch); });
    // Checked when the configuration was read (ParseTrustedProxy).
    auto read_log_proxies =
        ReadProxyList(config.detection.log_trusted_proxies, "detection.log_trusted_proxies");
    if (!read_log_proxies.ok()) return Fail("config: " + read_log_proxies.status().message());
    const ProxyTrust log_proxies = *read_log_proxies;
    detect::LiveEngineOptions engine_options =
        EngineOptions(config.detection, options.bundled_rules_dir);
    engine_options.login_detector.state_file = detect_dir + "/login_addresses.json";
    engine_options.correlation_state_file = detect_dir + "/correlations.json";
    if (config.detection.reload_on_change) {
      detect::ReloadWatchOptions watch;
      watch.rule_dirs = engine_options.rule_dirs;
      watch.ioc_files = engine_options.ioc_files;
      watch.settle_millis = config.detection.reload_settle_millis;
      auto w = detect::ReloadWatcher::Create(std::move(watch));  // before the engine reads them
      if (!w.ok()) return Fail("detection.reload_on_change: " + w.status().message());
      reload_watcher = std::move(w).value();
    }
    auto e = detect::LiveEngine::Create(std::move(engine_options), &SystemClock::Instance(),
                                        pipeline.get());
    if (!e.ok()) return Fail("detection: " + e.status().message());
    engine = std::move(e).value();
    LogSkippedRules(engine->skipped());
    for (const auto& feed : engine->unusable_feeds()) {
      std::cerr << "rampart: IoC feed left out: " << feed.file << ": " << feed.error << "\n";
    }
    log::Info("detect.started",
              {{"rules", static_cast<int64_t>(engine->rule_count())},
               {"correlations", static_cast<int64_t>(engine->correlation_count())},
               {"skipped", static_cast<int64_t>(engine->skipped().size())}});
    app_options.events = engine.get();
    if (reload_watcher) {
      reload_watcher->Start([e = engine.get()](detect::ReloadNeeded what) {
        log::Info("detect.files_changed", {{"rules", what.rules}, {"iocs", what.iocs}});
        ReloadDetection(e, what);
      });
    }
    if (!config.detection.follow.empty()) {
      detect::FollowerOptions fo;
      fo.log_proxies = log_proxies;
      fo.paths = config.detection.follow;
      fo.positions_file = detect_dir + "/positions.json";
      fo.poll_millis = config.detection.follow_poll_millis;
      if (Status s = CompileLayouts(config.detection.follow_formats, &fo.layouts); !s.ok()) {
        return Fail("detection.follow_formats: " + s.message());
      }
      auto f = detect::LogFollower::Create(std::move(fo), engine.get());
      if (!f.ok()) return Fail("detection.follow: " + f.status().message());
      follower = std::move(f).value();
      follower->Start();
      log::Info("detect.following",
                {{"files", static_cast<int64_t>(config.detection.follow.size())}});
    }
    if (!config.detection.syslog_listen.empty() || !config.detection.syslog_tls_listen.empty()) {
      detect::SyslogReceiverOptions so;
      so.listen = config.detection.syslog_listen;
      so.tls_listen = config.detection.syslog_tls_listen;
      so.tls_cert_file = config.detection.syslog_tls_cert;
      so.tls_key_file = config.detection.syslog_tls_key;
      so.tls_client_ca_file = config.detection.syslog_tls_client_ca;
      so.bsd_utc_offset_minutes = config.detection.syslog_bsd_utc_offset_minutes;
      so.log_proxies = log_proxies;
      if (Status s = CompileLayouts(config.detection.syslog_formats, &so.layouts); !s.ok()) {
        return Fail("detection.syslog_formats: " + s.message());
      }
      auto r = detect::SyslogReceiver::Create(std::move(so), engine.get());
      // The message starts with the configuration key at fault (syslog_tls_key: ...).
      if (!r.ok()) return Fail("detection." + r.status().message());
      syslog_receiver = std::move(r).value();
      syslog_receiver->Start();
      log::Info("detect.syslog_listening",
                {{"port", static_cast<int>(syslog_receiver->port())},
                 {"tls_port", static_cast<int>(syslog_receiver->tls_port())},
                 {"mutual_tls", !config.detection.syslog_tls_client_ca.empty()}});
    }
    app_options.extra_metrics = [p = pipeline.get(), e = engine.get(), f = follower.get(),
                                 r = syslog_receiver.get()] {
      return p->RenderMetrics(*e) + SourceMetrics(f, r);
    };
  }

  // File integrity monitoring of the install and web-root folders feeds the same engine.
  std::unique_ptr<detect::FileIntegrityMonitor> integrity;
  if (engine && !config.detection.integrity_paths.empty()) {
    detect::FileIntegrityOptions fim;
    fim.roots = config.detection.integrity_paths;
    fim.exclude = config.detection.integrity_exclude;
    fim.exclude.push_back(config.data_dir);  // the baseline itself, the database, the keys
    fim.baseline_file = detect::BaselinePath(config.data_dir);
    fim.rescan_millis = int64_t{config.detection.integrity_rescan_seconds} * 1000;
    auto m = detect::FileIntegrityMonitor::Create(fim, engine.get());
    if (!m.ok()) return Fail("file integrity: " + m.status().message());
    integrity = std::move(m).value();
    if (Status s = integrity->Start(); !s.ok()) return Fail("file integrity: " + s.message());
    app_options.extra_metrics = [engine_metrics = app_options.extra_metrics, m = integrity.get()] {
      return (engine_metrics ? engine_metrics() : std::string()) + m->RenderMetrics();
    };
    app_options.evidence.integrity_baseline_file = fim.baseline_file;
    app_options.evidence.integrity_exclude = fim.exclude;
  }

  // Evidence bundles (DATA/evidence): what the server knows of itself goes in with each one.
  app_options.evidence.data_dir = config.data_dir;
  if (!options.config_file.empty()) {
    app_options.evidence.config_files.push_back(files::AbsolutePath(options.config_file));
  }
  app_options.evidence.incident_window_seconds = config.incidents.group_window_seconds;

  // The decision webhooks' counters go to /metrics beside the engine's.
  if ((*decision_hooks)->size() > 0) {
    app_options.extra_metrics = [metrics = app_options.extra_metrics,
                                 hooks = decision_hooks->get()] {
      return (metrics ? metrics() : std::string()) + hooks->RenderMetrics();
    };
    log::Info("response.decision_webhooks",
              {{"receivers", static_cast<int64_t>((*decision_hooks)->size())}});
  }

  api::App app(app_options, store->get(), &SystemClock::Instance());
  if ((*decision_hooks)->size() > 0) {
    app.response().SetBlockObserver(
        [hooks = decision_hooks->get()](const respond::BlockChange& c) { hooks->Publish(c); });
  }
  // Blocks that ran out while the server was stopped: their unbans go out now, not at the
  // first maintenance pass.
  if (auto ended = app.response().ExpireBlocks(); !ended.ok()) {
    log::Error("response.expiry_failed", {{"error", ended.status().message()}});
  }

  // Playbooks: a broken file is named with its line and skipped; the others still run.
  if (config.response.playbooks) {
    respond::PlaybookLoad load =
        LoadPlaybooks(options.bundled_playbooks_dir, config.response.playbook_dirs);
    for (const auto& error : load.errors) {
      std::cerr << "rampart: playbook refused: " << error << "\n";
      log::Error("response.playbook_refused", {{"error", error}});
    }
    std::vector<respond::Playbook> playbooks = std::move(load.playbooks);
    log::Info("response.playbooks_loaded", {{"playbooks", static_cast<int64_t>(playbooks.size())}});
    app.playbooks().SetPlaybooks(std::move(playbooks));
    app.playbooks().Start();
    if (pipeline) {
      pipeline->AddStoredListener([&app](const core::Alert& a) { app.playbooks().Submit(a); });
    }
  }
  if (pipeline) pipeline->Start();
  if (engine) engine->Start();
  // Resumes a master-key re-wrap that a restart cut off (the rows' key versions say so).
  if (auto* rewrap = app.master_key_rewrap()) rewrap->Start();
  // The denylist is consulted for every accepted connection, before TLS or any parsing.
  server_options.admit = [&app](std::string_view ip) {
    return app.response().denylist().Admit(ip);
  };
  server_options.body_limit = [&app](std::string_view method, std::string_view path) {
    return app.BodyLimit(method, path);
  };
  server_options.on_violation = [&app](std::string_view ip, std::string_view reason, int status) {
    app.RecordViolation(ip, reason, status);
  };

  // Sources first, then the engine, then the pipeline (whose writer thread calls the playbook
  // runner inside `app`) and its sinks: `app` is destroyed before them, so neither thread may
  // outlive this.
  auto stop_detection = [&] {
    if (reload_watcher) reload_watcher->Stop();
    if (syslog_receiver) syslog_receiver->Stop();
    if (follower) follower->Stop();
    if (integrity) integrity->Stop();
    if (engine) engine->Stop();
    if (pipeline) pipeline->Stop();
    app.playbooks().Stop();
    if (auto* rewrap = app.master_key_rewrap()) rewrap->Stop();
  };
  http::HttpServer server(server_options,
                          [&app](http::Request& request) { return app.Handle(request); });
  // The metrics listener: the same front door (denylist, TLS, header limits) and the same token
  // check, but no trusted proxy, no request body, and nothing but /metrics and /healthz behind
  // it (anything else is a 404 that is logged and seen by detection like any request).
  std::unique_ptr<http::HttpServer> metrics_server;
  std::string metrics_host;
  if (!config.http_forwarding.metrics_listen.empty()) {
    http::ServerOptions metrics_options = server_options;
    if (Status s =
            CheckMetricsListen(config.http_forwarding.metrics_listen, server_options.host,
                               server_options.port, &metrics_options.host, &metrics_options.port);
        !s.ok()) {
      stop_detection();
      return Fail("config: " + s.message());
    }
    metrics_host = metrics_options.host;
    metrics_options.proxy_trust = ProxyTrust{};
    metrics_options.threads = 1;
    metrics_options.body_limit = [](std::string_view, std::string_view) { return uint64_t{0}; };
    metrics_server = std::make_unique<http::HttpServer>(
        std::move(metrics_options), [&app](http::Request& request) {
          static constexpr std::string_view kServed[] = {"/metrics", "/healthz"};
          return app.HandleOnly(request, kServed);
        });
    if (Status s = metrics_server->Start(); !s.ok()) {
      stop_detection();
      return Fail("http.metrics_listen: " + s.message());
    }
  }
  Status started = server.Start();
  if (!started.ok()) {
    if (metrics_server) metrics_server->Stop();
    stop_detection();
    return Fail(started.message());
  }
  std::string scheme = config.tls ? "https" : "http";
  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (syslog_receiver) {
    // Printed before the address line, which tools wait for (port 0 picks a free port).
    if (syslog_receiver->port() != 0) {
      std::cout << "syslog listening on udp+tcp port " << syslog_receiver->port() << "\n";
    }
    if (syslog_receiver->tls_port() != 0) {
      std::cout << "syslog listening on tls port " << syslog_receiver->tls_port() << "\n";
    }
  }
  if (metrics_server) {
    std::cout << "metrics listening on " << scheme << "://"
              << (metrics_host.find(':') != std::string::npos ? "[" + metrics_host + "]"
                                                              : metrics_host)
              << ":" << metrics_server->port() << "\n";
  }
  std::cout << "rampart listening on " << scheme << "://" << shown_host << ":" << server.port()
            << std::endl;
  log::Info(
      "serve.started",
      {{"listen", config.listen}, {"port", static_cast<int>(server.port())}, {"tls", config.tls}});

  // Maintenance every 30 s, however many reloads come in between.
  constexpr auto kMaintenancePeriod = std::chrono::seconds(30);
  auto next_maintenance = std::chrono::steady_clock::now() + kMaintenancePeriod;
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(next_maintenance -
                                                             std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    timespec timeout{static_cast<time_t>(left.count() / 1000),
                     static_cast<long>(left.count() % 1000) * 1000000L};
    int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
      log::Info("serve.stopping", {{"signal", sig}});
      break;
    }
    if (sig == SIGHUP) ReloadDetection(engine.get(), {.rules = true, .iocs = true});
    if (std::chrono::steady_clock::now() < next_maintenance) continue;
    next_maintenance = std::chrono::steady_clock::now() + kMaintenancePeriod;
    app.RunMaintenance();
    if (keeper_child && !keeper_child->Alive()) {
      // Decrypts and signing fail closed meanwhile; a new keeper reloads the same keys and log.
      log::Error("serve.keeper_died", {{"pid", static_cast<int64_t>(keeper_child->pid())}});
      auto restarted = KeeperChild::Spawn(keeper_options);
      if (restarted.ok()) {
        keeper_child = std::move(restarted).value();
        log::Info("serve.keeper_restarted", {{"pid", static_cast<int64_t>(keeper_child->pid())}});
      }
    }
  }
  if (metrics_server) metrics_server->Stop(1000);
  server.Stop(10000);
  stop_detection();
  (*decision_hooks)->Stop();
  log::Info("serve.stopped");
  return 0;
}

}  // namespace rampart::server
