// Live detection end to end: the real `rampart serve` on a free loopback port receives
// CVE-2026-1281-shaped requests and a canary request; the alerts are found through
// GET /api/v1/alerts and in the JSON-lines alert file. The request→alert latency is printed,
// not asserted (the build machine is shared).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

const std::string kBacktickExploit =
    "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60id%60%5D/"
    "e2327851-1e09-4463-9b5a-b524bc71fc07.ipa";

TEST(AlertsE2e, ExploitRequestBecomesAStoredAlertVisibleThroughTheApi) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = fs::temp_directory_path() / ("rampart_alerts_e2e_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  std::string data = (dir / "data").string();
  std::string alerts_file = (dir / "alerts.jsonl").string();
  std::string config = (dir / "rampart.yml").string();
  {
    std::ofstream out(config);
    // The exploit comes from the test's own 127.0.0.1: the bundled playbook would block it and
    // lock this client out (respond_e2e_test covers the playbooks, from 127.0.0.2).
    out << "response:\n"
        << "  playbooks: false\n"
        << "detection:\n"
        << "  canary_paths: [\"/api/v1/staff/export.csv\"]\n"
        << "  alerts_file: \"" << alerts_file << "\"\n";
  }
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;
  const std::string& ca = demo.ca;
  const std::string& superadmin = demo.superadmin;
  const std::string& admin = demo.admin;

  auto sent = std::chrono::steady_clock::now();
  ApiReply probe = CallApi(server.url(), ca, "", "GET", kBacktickExploit);
  EXPECT_EQ(probe.status, 404) << probe.raw;

  // Poll with a deadline: the engine thread stores the alert after the response went out.
  json found;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    ApiReply list =
        CallApi(server.url(), ca, superadmin, "GET", "/api/v1/alerts?severity=critical");
    ASSERT_EQ(list.status, 200) << list.raw;
    for (const auto& a : list.body["items"]) {
      if (a["entity"] == "source.ip=127.0.0.1" &&
          a["evidence"][0]["url.path"] == kBacktickExploit.substr(0, kBacktickExploit.find('?'))) {
        found = a;
      }
    }
    if (!found.is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - sent)
          .count();
  ASSERT_FALSE(found.is_null()) << "no alert for the exploit request; server log:\n"
                                << server.log();
  std::printf("request -> alert visible through GET /api/v1/alerts: %.1f ms (polling included)\n",
              latency / 1000.0);
  EXPECT_TRUE(found["institution_id"].is_null()) << "an unauthenticated probe is server-wide";
  EXPECT_EQ(found["status"], "open");
  EXPECT_NE(std::find(found["attack"].begin(), found["attack"].end(), "T1190"),
            found["attack"].end());

  // The same probe again folds into the same alert.
  EXPECT_EQ(CallApi(server.url(), ca, "", "GET", kBacktickExploit).status, 404);
  std::string id = found["id"];
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int64_t count = 0;
  while (std::chrono::steady_clock::now() < deadline && count < 2) {
    count =
        CallApi(server.url(), ca, superadmin, "GET", "/api/v1/alerts/" + id).body.value("count", 0);
    if (count < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(count, 2);

  // An institution admin does not see server-wide alerts.
  ApiReply admin_view = CallApi(server.url(), ca, admin, "GET", "/api/v1/alerts/" + id);
  EXPECT_EQ(admin_view.status, 404);

  // A canary path, requested with the institution admin's token: critical, in its institution.
  EXPECT_EQ(CallApi(server.url(), ca, admin, "GET", "/api/v1/staff/export.csv").status, 404);
  json canary;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && canary.is_null()) {
    ApiReply list =
        CallApi(server.url(), ca, admin, "GET", "/api/v1/alerts?rule=rampart-canary-path");
    if (list.status == 200 && !list.body["items"].empty()) canary = list.body["items"][0];
    if (canary.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(canary.is_null());
  EXPECT_EQ(canary["severity"], "critical");
  EXPECT_TRUE(canary["institution_id"].is_string());

  ApiReply ack = CallApi(server.url(), ca, admin, "POST",
                         "/api/v1/alerts/" + canary["id"].get<std::string>() + "/acknowledge");
  EXPECT_EQ(ack.status, 200) << ack.raw;
  EXPECT_EQ(ack.body["status"], "acknowledged");

  ApiReply metrics = CallApi(server.url(), ca, superadmin, "GET", "/metrics");
  EXPECT_NE(metrics.raw.find("rampart_detect_events_total "), std::string::npos) << metrics.raw;
  EXPECT_NE(metrics.raw.find("rampart_detect_events_dropped_total 0"), std::string::npos);
  EXPECT_NE(metrics.raw.find("rampart_alert_sink_total{sink=\"file\",outcome=\"delivered\"}"),
            std::string::npos);

  EXPECT_EQ(server.Stop(), 0);
  std::string lines = ReadFile(alerts_file);
  EXPECT_NE(lines.find("\"rampart-canary-path\""), std::string::npos) << lines;
  EXPECT_NE(lines.find(id), std::string::npos) << lines;
  EXPECT_EQ(lines.find(admin), std::string::npos) << "no bearer secret in the alert file";
  std::error_code ec;
  fs::remove_all(dir, ec);
}

size_t CountLog(ServerProcess& server, const std::string& event) {
  const std::string needle = "\"event\":\"" + event + "\"";
  std::string log = server.log();
  size_t seen = 0;
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    ++seen;
  }
  return seen;
}

// Waits until the server has logged `event` `times` times (each reload logs once).
bool WaitForLog(ServerProcess& server, const std::string& event, size_t times) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (CountLog(server, event) >= times) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Six device ids answered 404 to one client, `interrupt` (which ends the server one way or
// another), a restart on the same data, four more: the enumeration rule raises one alert that
// counts all ten, because the windows of the first six outlived the server.
void ExpectEnumerationCaughtAcross(
    const std::string& name, const std::string& config_text,
    const std::function<void(ServerProcess&, const std::string&)>& interrupt) {
  constexpr std::string_view kEnumerationRule = "6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f";
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = FreshTestDir(name);
  std::string data = (dir / "data").string();
  std::string config = (dir / "rampart.yml").string();
  WriteFile(config, config_text);
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;
  auto probe = [&](int n) {
    ApiReply r = CallApi(server.url(), demo.ca, demo.admin, "GET",
                         "/api/v1/devices/dev_missing_" + std::to_string(n));
    EXPECT_EQ(r.status, 404) << r.raw;
  };
  for (int n = 0; n < 6; ++n) probe(n);
  const std::string state = data + "/detect/correlations.json";
  interrupt(server, state);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_TRUE(fs::exists(state)) << server.log();
  EXPECT_EQ(fs::status(state).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  ASSERT_TRUE(server.Start(data, {"--config", config}, &error)) << error;
  EXPECT_TRUE(fs::exists(state)) << "kept until a checkpoint or a stop replaces it";
  for (int n = 6; n < 10; ++n) probe(n);
  ASSERT_TRUE(WaitForAlert(demo, std::string(kEnumerationRule))) << "server log:\n" << server.log();
  const json alert = AlertsOf(demo, std::string(kEnumerationRule))[0];
  EXPECT_EQ(alert["entity"], "source.ip=127.0.0.1");
  EXPECT_EQ(alert["count"], 10) << alert.dump(2);
  EXPECT_NE(server.log().find("detect.correlation_windows_restored"), std::string::npos);
  EXPECT_EQ(server.Stop(), 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// A patient enumeration of device ids that a restart of the server interrupts is still one
// enumeration: the open correlation windows are written at shutdown and taken up at start.
TEST(AlertsE2e, AnEnumerationInterruptedByARestartIsStillCaught) {
  ExpectEnumerationCaughtAcross("rampart_windows_e2e", "response:\n  playbooks: false\n",
                                [](ServerProcess& server, const std::string&) {
                                  ASSERT_EQ(server.Stop(), 0);
                                  EXPECT_NE(server.log().find("detect.correlation_windows_saved"),
                                            std::string::npos);
                                });
}

// The server is killed (a crash, the kernel's out-of-memory killer) in the middle of an
// enumeration: nothing of its shutdown runs, but the windows it checkpointed while they changed
// are taken up at the next start, so the enumeration is still caught as one.
TEST(AlertsE2e, AnEnumerationInterruptedByACrashIsStillCaught) {
  ExpectEnumerationCaughtAcross(
      "rampart_windows_crash_e2e",
      "response:\n  playbooks: false\ndetection:\n  correlation_checkpoint_seconds: 1\n",
      [](ServerProcess& server, const std::string& state) {
        // A checkpoint that holds all six ids (an earlier one may hold fewer).
        auto ids_checkpointed = [&] {
          const json saved = json::parse(ReadFile(state), nullptr, /*allow_exceptions=*/false);
          size_t most = 0;
          if (saved.is_object() && saved.contains("windows")) {
            for (const json& keys : saved["windows"]) {
              for (const json& key : keys) {
                most = std::max(most, key.value("values", json::array()).size());
              }
            }
          }
          return most;
        };
        // The writer's thread logs a checkpoint just after the file is in place.
        auto logged = [&] {
          return server.log().find("detect.correlation_windows_checkpointed") != std::string::npos;
        };
        for (int i = 0; i < 150 && (ids_checkpointed() < 6 || !logged()); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ASSERT_EQ(ids_checkpointed(), 6u) << server.log();
        EXPECT_TRUE(logged()) << server.log();
        server.Kill();
        EXPECT_EQ(server.log().find("detect.correlation_windows_saved"), std::string::npos)
            << "no clean stop ran";
      });
}

// An administrator replaces an IoC feed and sends SIGHUP (`systemctl reload`): the running
// server matches the new indicators. A feed that then breaks keeps them and is raised. A rule
// added to a rule directory is matched after the next SIGHUP.
TEST(AlertsE2e, IocFeedsAndRulesReloadOnSighupWithoutARestart) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  fs::path dir = FreshTestDir("rampart_ioc_reload_e2e");
  std::string data = (dir / "data").string();
  std::string feed = (dir / "cert-eu.csv").string();
  std::string config = (dir / "rampart.yml").string();
  std::string rules_dir = (dir / "rules").string();
  fs::create_directories(rules_dir);
  WriteFile(feed, "type,value,source\nip,192.0.2.55,cert-eu\n");
  {
    std::ofstream out(config);
    out << "response:\n"
        << "  playbooks: false\n"
        << "detection:\n"
        << "  canary_paths: [\"/canary-sync\"]\n"
        << "  ioc_files: [\"" << feed << "\"]\n"
        << "  rule_dirs: [\"" << rules_dir << "\"]\n"
        << "  reload_on_change: false\n";  // SIGHUP only: the next test has the watcher
  }
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;
  auto alerts_of = [&](const std::string& rule) { return AlertsOf(demo, rule); };
  auto wait_for = [&](const std::string& rule) { return WaitForAlert(demo, rule); };
  auto wait_for_log = [&](const std::string& event, size_t times) {
    return WaitForLog(server, event, times);
  };

  // This client (127.0.0.1) is in no feed yet: by the time the canary request after it has
  // its alert, the engine has matched it, and found nothing.
  EXPECT_EQ(CallApi(server.url(), demo.ca, "", "GET", "/mifs/login.jsp").status, 404);
  CallApi(server.url(), demo.ca, "", "GET", "/canary-sync");
  ASSERT_TRUE(wait_for("rampart-canary-path")) << server.log();
  EXPECT_TRUE(alerts_of("rampart-ioc").empty());

  // The feed is replaced as a downloader would (a new file renamed over the old), then SIGHUP.
  WriteFile(feed + ".new", "type,value,source\nip,127.0.0.1,cert-eu\n");
  fs::rename(feed + ".new", feed);
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log("detect.iocs_reloaded", 1)) << server.log();
  EXPECT_EQ(CallApi(server.url(), demo.ca, "", "GET", "/mifs/login.jsp").status, 404);
  ASSERT_TRUE(wait_for("rampart-ioc")) << server.log();
  EXPECT_EQ(alerts_of("rampart-ioc")[0]["entity"], "source.ip=127.0.0.1");

  // A download cut short: the reload is refused, the server keeps serving and says why, and
  // the indicators stay: requests from this client after the refusal add to its IoC alert.
  WriteFile(feed, std::string("\x1f\x8b\x08\0\0\0", 6));
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log("detect.iocs_reload_failed", 1)) << server.log();
  ASSERT_TRUE(wait_for("rampart-detection-ioc-feed-unusable")) << server.log();
  EXPECT_EQ(alerts_of("rampart-detection-ioc-feed-unusable")[0]["entity"], "file.path=" + feed);
  // The housekeeping that raised that alert first handed over the IoC observations folded
  // before the reload, so from here the count grows only by events matched after it.
  const int64_t count_before = alerts_of("rampart-ioc")[0]["count"].get<int64_t>();
  EXPECT_EQ(CallApi(server.url(), demo.ca, "", "GET", "/mifs/login.jsp").status, 404);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (alerts_of("rampart-ioc")[0]["count"].get<int64_t>() <= count_before &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(alerts_of("rampart-ioc")[0]["count"].get<int64_t>(), count_before);

  // A rule dropped into a rule directory is matched after the next SIGHUP (the rules are taken
  // before the first event after the log line).
  WriteFile(rules_dir + "/reload-marker.yml",
            "title: Reload marker\nid: reload-marker\nlogsource: {product: rampart}\n"
            "detection:\n  sel:\n    url.path|endswith: /reload-marker.txt\n"
            "  condition: sel\nlevel: high\n");
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_log("detect.rules_reloaded", 3)) << server.log();
  EXPECT_EQ(CallApi(server.url(), demo.ca, "", "GET", "/reload-marker.txt").status, 404);
  ASSERT_TRUE(wait_for("reload-marker")) << server.log();
  // The third signal's feed reload is refused too (the feed is still cut short).
  ASSERT_TRUE(wait_for_log("detect.iocs_reload_failed", 2)) << server.log();
  ApiReply metrics = CallApi(server.url(), demo.ca, demo.superadmin, "GET", "/metrics");
  for (const char* line : {"rampart_detect_reloads_total{set=\"rules\",outcome=\"accepted\"} 3",
                           "rampart_detect_reloads_total{set=\"rules\",outcome=\"refused\"} 0",
                           "rampart_detect_reloads_total{set=\"iocs\",outcome=\"accepted\"} 1",
                           "rampart_detect_reloads_total{set=\"iocs\",outcome=\"refused\"} 2",
                           "rampart_detect_ioc_indicators 1\n"}) {
    EXPECT_NE(metrics.raw.find(line), std::string::npos) << line << "\n" << metrics.raw;
  }
  EXPECT_EQ(server.Stop(), 0);
  // Files changed and no watcher: nothing was reloaded but on the three signals.
  EXPECT_EQ(CountLog(server, "detect.files_changed"), 0u);
  EXPECT_EQ(CountLog(server, "detect.iocs_reloaded"), 1u);
  fs::remove_all(dir);
}

// The same without a signal: a rule saved into a rule directory and a feed renamed over the
// old one are each reloaded once they stood still, and only the set that changed is read.
TEST(AlertsE2e, RulesAndIocFeedsReloadWhenTheirFilesChange) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  fs::path dir = FreshTestDir("rampart_reload_watch_e2e");
  std::string data = (dir / "data").string();
  std::string feed = (dir / "feeds" / "cert-eu.csv").string();
  std::string config = (dir / "rampart.yml").string();
  std::string rules_dir = (dir / "rules").string();
  fs::create_directories(rules_dir);
  fs::create_directories(dir / "feeds");
  WriteFile(feed, "type,value,source\nip,192.0.2.55,cert-eu\n");
  {
    std::ofstream out(config);
    out << "response:\n"
        << "  playbooks: false\n"
        << "detection:\n"
        << "  ioc_files: [\"" << feed << "\"]\n"
        << "  rule_dirs: [\"" << rules_dir << "\"]\n"
        << "  reload_settle_millis: 100\n";
  }
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;

  // A rule saved as an editor or a deployment does (written aside, renamed into place).
  WriteFile(rules_dir + "/watch-marker.yml.tmp",
            "title: Watch marker\nid: watch-marker\nlogsource: {product: rampart}\n"
            "detection:\n  sel:\n    url.path|endswith: /watch-marker.txt\n"
            "  condition: sel\nlevel: high\n");
  fs::rename(rules_dir + "/watch-marker.yml.tmp", rules_dir + "/watch-marker.yml");
  ASSERT_TRUE(WaitForLog(server, "detect.rules_reloaded", 1)) << server.log();
  EXPECT_EQ(CallApi(server.url(), demo.ca, "", "GET", "/watch-marker.txt").status, 404);
  ASSERT_TRUE(WaitForAlert(demo, "watch-marker")) << server.log();
  EXPECT_EQ(CountLog(server, "detect.iocs_reloaded"), 0u) << "the feeds did not change";

  // The feed replaced: this client (127.0.0.1) becomes an indicator.
  WriteFile(feed + ".new", "type,value,source\nip,127.0.0.1,cert-eu\n");
  fs::rename(feed + ".new", feed);
  ASSERT_TRUE(WaitForLog(server, "detect.iocs_reloaded", 1)) << server.log();
  EXPECT_EQ(CallApi(server.url(), demo.ca, "", "GET", "/mifs/login.jsp").status, 404);
  ASSERT_TRUE(WaitForAlert(demo, "rampart-ioc")) << server.log();
  EXPECT_EQ(AlertsOf(demo, "rampart-ioc")[0]["entity"], "source.ip=127.0.0.1");
  EXPECT_EQ(CountLog(server, "detect.rules_reloaded"), 1u) << "the rules did not change";
  EXPECT_EQ(CountLog(server, "detect.files_changed"), 2u);
  EXPECT_EQ(server.Stop(), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rampart::e2e
