// The built-in detector joining created files with later requests (detect/new_file_use.h), on
// its own and through the live engine.
#include "detect/new_file_use.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "detect/live_engine.h"
#include "detect/log_parser.h"
#include "support/recording_alert_handler.h"

namespace rampart::detect {
namespace {

constexpr int64_t kT0 = 1'769'760'000'000;  // 2026-01-30, ms
constexpr int64_t kDay = 24 * 3600 * 1000;

TEST(NewFileUseTest, ParametersOnANewScriptAndLargeDownloadsOfNewFiles) {
  NewFileUseDetector d(NewFileUseOptions{});
  d.FileCreated("/opt/epmm/webapps/mifs/403.jsp", kT0);
  d.FileCreated("/opt/epmm/webapps/mifs/css/mibasecss.css", kT0);
  using Kind = NewFileUse::Kind;
  NewFileUse shell = d.Request("/mifs/403.jsp", true, 12, kT0 + 1000);
  EXPECT_EQ(shell.kind, Kind::kScriptCalled);
  EXPECT_EQ(shell.file, "/opt/epmm/webapps/mifs/403.jsp");
  EXPECT_EQ(d.Request("/mifs/403.jsp", false, 12, kT0).kind, Kind::kNone)
      << "a script fetched without parameters is not yet a call";
  EXPECT_EQ(d.Request("/mifs/css/mibasecss.css", false, 5 << 20, kT0).kind, Kind::kLargeDownload);
  EXPECT_EQ(d.Request("/mifs/css/mibasecss.css", false, 2000, kT0).kind, Kind::kNone);
  // Another file of the same name, a partial name, a relative path: not the created file.
  EXPECT_EQ(d.Request("/other/403.jsp", true, 12, kT0).kind, Kind::kNone);
  EXPECT_EQ(d.Request("/ifs/403.jsp", true, 12, kT0).kind, Kind::kNone);
  EXPECT_EQ(d.Request("403.jsp", true, 12, kT0).kind, Kind::kNone);
  // The context root may be mapped away: the file's path still ends with the URL path.
  EXPECT_EQ(d.Request("/403.jsp", true, 12, kT0).kind, Kind::kScriptCalled);
  // Spelled as a server would still resolve it (review: these were missed).
  for (const char* spelled : {"/mifs//403.jsp", "/mifs/./403.jsp", "/mifs/css/../403.jsp",
                              "/mifs/403.jsp;jsessionid=0A1B", "//mifs/403.jsp"}) {
    EXPECT_EQ(d.Request(spelled, true, 12, kT0).kind, Kind::kScriptCalled) << spelled;
  }
  EXPECT_EQ(d.Request("/../403.jsp", true, 12, kT0).kind, Kind::kNone) << "above the root";
  // Extensions are compared without case; a large response from a new script is a call first.
  d.FileCreated("/srv/www/Dump.PHP", kT0);
  EXPECT_EQ(d.Request("/Dump.PHP", true, 9 << 20, kT0).kind, Kind::kScriptCalled);
}

TEST(NewFileUseTest, DeletedForgottenAndBounded) {
  NewFileUseOptions opt;
  opt.max_files = 3;
  NewFileUseDetector d(opt);
  d.FileCreated("/w/a.jsp", kT0);
  d.FileDeleted("/w/a.jsp");
  EXPECT_EQ(d.Request("/a.jsp", true, 1, kT0).kind, NewFileUse::Kind::kNone);
  // Past a week, forgotten.
  d.FileCreated("/w/b.jsp", kT0);
  EXPECT_EQ(d.Request("/b.jsp", true, 1, kT0 + 7 * kDay - 1).kind, NewFileUse::Kind::kScriptCalled);
  EXPECT_EQ(d.Request("/b.jsp", true, 1, kT0 + 7 * kDay).kind, NewFileUse::Kind::kNone);
  EXPECT_EQ(d.files(), 0u);
  // Past max_files, the oldest goes first; re-creating a file renews it.
  const int64_t t = kT0 + 8 * kDay;
  d.FileCreated("/w/1.jsp", t);
  d.FileCreated("/w/2.jsp", t + 1);
  d.FileCreated("/w/1.jsp", t + 2);
  d.FileCreated("/w/3.jsp", t + 3);
  d.FileCreated("/w/4.jsp", t + 4);
  EXPECT_EQ(d.files(), 3u);
  EXPECT_EQ(d.Request("/2.jsp", true, 1, t + 5).kind, NewFileUse::Kind::kNone);
  EXPECT_EQ(d.Request("/1.jsp", true, 1, t + 5).kind, NewFileUse::Kind::kScriptCalled);
  EXPECT_EQ(d.Request("/4.jsp", true, 1, t + 5).kind, NewFileUse::Kind::kScriptCalled);
  // One path created again and again keeps its bookkeeping bounded (review: 200 MB after 2 M).
  for (int i = 0; i < 100000; ++i) d.FileCreated("/w/again.jsp", t + 10);
  EXPECT_EQ(d.files(), 3u);
  EXPECT_LE(d.bookkeeping_entries(), 2 * d.files() + 65);
  EXPECT_EQ(d.Request("/again.jsp", true, 1, t + 11).kind, NewFileUse::Kind::kScriptCalled);
}

SecurityEvent Request(const std::string& method, const std::string& path, const std::string& query,
                      const std::string& bytes) {
  SecurityEvent ev("http.request");
  ev.Set("source.ip", "203.0.113.9").Set("http.request.method", method).Set("url.path", path);
  ev.Set("url.original", query.empty() ? path : path + "?" + query);
  if (!query.empty()) ev.Set("url.query", query);
  ev.Set("http.response.status_code", "200").Set("http.response.body.bytes", bytes);
  return ev;
}

TEST(NewFileUseTest, TheLiveEngineRaisesBothAlertsByFile) {
  ManualClock clock(kT0);
  testing::RecordingAlertHandler rec;
  auto engine = LiveEngine::Create(LiveEngineOptions{}, &clock, &rec);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto emit = [&](SecurityEvent ev) {
    ev.timestamp_millis = clock.NowMillis();
    (*engine)->Emit(std::move(ev));
    (*engine)->ProcessPending();
  };
  for (const char* path : {"/opt/epmm/webapps/mifs/k.jsp", "/opt/epmm/webapps/mifs/css/x.css"}) {
    SecurityEvent created("file.created");
    created.Set("file.path", path).Set("file.extension", "jsp");
    emit(std::move(created));
  }
  // A followed log line or a syslog sender cannot tell the detector a file went away (a
  // webshell would hide itself so).
  Event forged;
  ASSERT_TRUE(ParseJsonLine(
      R"({"event.action":"file.deleted","file.path":"/opt/epmm/webapps/mifs/k.jsp"})", &forged));
  emit(ExternalSecurityEvent(forged));
  // Before its creation is known, the same request to an old file says nothing; a request the
  // server refused did not reach the new one, and a 404 for the staged file is no download.
  emit(Request("GET", "/mifs/login.jsp", "u=a", "900"));
  SecurityEvent refused = Request("POST", "/mifs/k.jsp", "", "0");
  refused.Set("http.response.status_code", "403");
  emit(std::move(refused));
  SecurityEvent missing = Request("GET", "/mifs/css/x.css", "", "7340032");
  missing.Set("http.response.status_code", "404");
  emit(std::move(missing));
  emit(Request("POST", "/mifs/k.jsp", "", "120"));
  emit(Request("GET", "/mifs/css/x.css", "", "7340032"));
  auto alerts = rec.Take();
  ASSERT_EQ(alerts.size(), 2u);
  // A page that throws has run: a 500 counts. A 503 came from the proxy for a back end that
  // was down: the page did not run.
  SecurityEvent unavailable = Request("POST", "/mifs/k.jsp", "", "0");
  unavailable.Set("http.response.status_code", "503");
  emit(std::move(unavailable));
  EXPECT_TRUE(rec.Take().empty());
  SecurityEvent failed = Request("POST", "/mifs/k.jsp", "", "0");
  failed.Set("http.response.status_code", "500");
  emit(std::move(failed));
  auto again = rec.Take();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].rule_id, "rampart-new-script-called");
  EXPECT_EQ(again[0].entity, "file.path=/opt/epmm/webapps/mifs/k.jsp");
  // A webshell answering its own requests with 404 is on disk all the same; without
  // parameters a 404 says nothing.
  SecurityEvent hiding = Request("GET", "/mifs/k.jsp", "cmd=id", "196");
  hiding.Set("http.response.status_code", "404");
  emit(std::move(hiding));
  SecurityEvent plain_404 = Request("GET", "/mifs/k.jsp", "", "196");
  plain_404.Set("http.response.status_code", "404");
  emit(std::move(plain_404));
  auto hidden = rec.Take();
  ASSERT_EQ(hidden.size(), 1u);
  EXPECT_EQ(hidden[0].rule_id, "rampart-new-script-called");
  EXPECT_NE(hidden[0].evidence[0].find("cmd=id"), std::string::npos);
  EXPECT_EQ(alerts[0].rule_id, "rampart-new-script-called");
  EXPECT_EQ(alerts[0].severity, "critical");
  EXPECT_EQ(alerts[0].entity, "file.path=/opt/epmm/webapps/mifs/k.jsp");
  EXPECT_EQ(alerts[0].attack, (std::vector<std::string>{"T1505.003", "T1190"}));
  EXPECT_NE(alerts[0].evidence[0].find("\"url.path\":\"/mifs/k.jsp\""), std::string::npos);
  EXPECT_EQ(alerts[1].rule_id, "rampart-new-file-large-download");
  EXPECT_EQ(alerts[1].severity, "high");
  EXPECT_EQ(alerts[1].entity, "file.path=/opt/epmm/webapps/mifs/css/x.css");

  // Turned off, nothing.
  LiveEngineOptions off;
  off.new_file_use.enabled = false;
  auto quiet = LiveEngine::Create(off, &clock, &rec);
  ASSERT_TRUE(quiet.ok());
  SecurityEvent created("file.created");
  created.Set("file.path", "/w/k.jsp");
  created.timestamp_millis = kT0;
  (*quiet)->Emit(std::move(created));
  SecurityEvent call = Request("POST", "/k.jsp", "", "1");
  call.timestamp_millis = kT0;
  (*quiet)->Emit(std::move(call));
  (*quiet)->ProcessPending();
  EXPECT_TRUE(rec.Take().empty());
}

}  // namespace
}  // namespace rampart::detect
