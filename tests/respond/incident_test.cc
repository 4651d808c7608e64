// Incidents: grouping through the tracker, the state machine, figures computed from crafted
// audit records (a fake keeper and a manual clock), reports that carry the incident's figures,
// the STIX bundle loading back through detect's importer, and HTML escaping of hostile strings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "../support/captured_log.h"
#include "../support/fake_keeper.h"
#include "common/crypto.h"
#include "core/incident.h"
#include "detect/ioc.h"
#include "respond/impact.h"
#include "respond/incident.h"
#include "respond/report.h"
#include "store/store.h"

namespace rampart::respond {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1769763600;  // 2026-01-30T09:00:00Z
constexpr char kExploitPath[] =
    "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue  ,et=1337133713,h=gPath`bash -c id`/"
    "e2c3f9dd.ipa";

class IncidentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    auto s = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    inst_ = core::Institution{"ins_a", "Agency A", 1};
    ASSERT_TRUE(store_->CreateInstitution(inst_).ok());
  }

  // An alert as the engine stores it, with evidence events at the given times.
  core::Alert Raise(const std::string& institution, const std::string& rule,
                    const std::string& entity, int64_t created_at, std::vector<json> evidence,
                    const std::string& severity = "critical") {
    core::Alert a;
    a.institution_id = institution;
    a.rule_id = rule;
    a.rule_title = "Title of " + rule;
    a.entity = entity;
    a.severity = severity;
    a.attack = {"T1190"};
    for (const auto& e : evidence) a.evidence.push_back(e.dump());
    a.first_seen = a.last_seen = a.created_at = created_at;
    a.count = static_cast<int64_t>(evidence.size());
    auto stored = store_->RecordAlert(a, 10);
    EXPECT_TRUE(stored.ok()) << stored.status().ToString();
    return *stored;
  }

  static json Event(int64_t at, const std::string& ip, const std::string& path = "",
                    const std::string& user = "") {
    json e = {{"@timestamp", FormatRfc3339(at)}, {"source.ip", ip}};
    if (!path.empty()) e["url.path"] = path;
    if (!user.empty()) e["user.name"] = user;
    return e;
  }

  audit::Record Audit(int64_t at, std::string actor, std::string action, std::string target,
                      std::string outcome, json details, std::string ip = "",
                      std::string institution = "ins_a") {
    audit::Record r;
    r.time = at;
    r.actor = std::move(actor);
    r.action = std::move(action);
    r.target = std::move(target);
    r.outcome = std::move(outcome);
    r.source_ip = std::move(ip);
    r.institution_id = std::move(institution);
    r.details_json = details.dump();
    keeper_.InjectAudit(r);
    return r;
  }

  IncidentAnalysis Analyze(const std::string& id, const store::Scope& scope = store::Scope::All()) {
    auto a = AnalyzeIncident(*store_, keeper_, scope, id,
                             keeper::Caller{"tok_analyst", "analyst", "", "req_1", "", "test"},
                             clock_.NowSeconds());
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? *a : IncidentAnalysis{};
  }

  // The Jan 30 shape: exploit probes from one address, then a stolen token from the same
  // address reading staff records and asking for a wipe; a playbook blocks the address.
  std::string Breach() {
    const std::string ip = "203.0.113.7";
    core::Alert exploit = Raise("ins_a", "epmm-cve-2026-1281", "source.ip=" + ip, kT0 + 60,
                                {Event(kT0, ip, kExploitPath), Event(kT0 + 30, ip, kExploitPath)});
    core::Alert reads = Raise("ins_a", "staff-bulk-read", "source.ip=" + ip, kT0 + 300,
                              {Event(kT0 + 200, ip, "/api/v1/staff", "tok_stolen")}, "high");
    IncidentTracker tracker(store_.get(), &clock_, 86400);
    tracker.OnStoredAlert(exploit);
    tracker.OnStoredAlert(reads);
    EXPECT_EQ(tracker.failures(), 0u);

    Audit(kT0 + 210, "tok_stolen", "staff.decrypt", "", "success",
          {{"count", 3},
           {"staff_ids", {"stf_1", "stf_2", "stf_3"}},
           {"purpose", "staff.list_reveal"}},
          ip);
    Audit(kT0 + 220, "tok_stolen", "staff.decrypt", "stf_1", "success",
          {{"count", 1}, {"staff_ids", {"stf_1"}}}, ip);
    // Someone else's read in the same window is not the incident's.
    Audit(kT0 + 230, "tok_helpdesk", "staff.decrypt", "stf_9", "success",
          {{"count", 1}, {"staff_ids", {"stf_9"}}}, "198.51.100.20");
    Audit(kT0 + 240, "keeper", "command.sign", "cmd_x", "denied",
          {{"reason", "needs a second admin"}});
    Audit(kT0 + 400, "system", "response.block_address", ip, "success",
          {{"playbook", "epmm-exploit"},
           {"step", 1},
           {"alert_id", exploit.id},
           {"entity", "source.ip=" + ip},
           {"containment", true}});
    Audit(kT0 + 500, "system", "response.revoke_principal", "tok_stolen", "success",
          {{"playbook", "stolen-token"}, {"step", 1}, {"containment", true}});
    Audit(kT0 + 600, "system", "response.lockdown", "ins_a", "pending_approval",
          {{"playbook", "stolen-token"}, {"step", 2}, {"alert_id", reads.id}});
    // Not linked: another address's block.
    Audit(kT0 + 700, "system", "response.block_address", "192.0.2.99", "success",
          {{"playbook", "scanner"}, {"containment", true}});
    clock_.SetMillis((kT0 + 3600) * 1000);
    auto list = store_->ListIncidents(store::Scope::All(), {}, {50, ""});
    EXPECT_EQ(list->items.size(), 1u);
    return list->items.at(0).id;
  }

  std::unique_ptr<store::Store> store_;
  core::Institution inst_;
  ManualClock clock_{(kT0 + 60) * 1000};
  testing::FakeKeeper keeper_;
  IncidentsConfig org_;
};

TEST(IncidentStateMachine, ForwardOnlyAndClosedFromAnywhere) {
  using S = core::IncidentState;
  EXPECT_TRUE(core::IncidentTransitionAllowed(S::kNew, S::kTriaged));
  EXPECT_TRUE(core::IncidentTransitionAllowed(S::kNew, S::kContained));
  EXPECT_TRUE(core::IncidentTransitionAllowed(S::kRecovered, S::kClosed));
  for (S s : {S::kNew, S::kTriaged, S::kContained, S::kEradicated, S::kRecovered}) {
    EXPECT_TRUE(core::IncidentTransitionAllowed(s, S::kClosed));
    EXPECT_FALSE(core::IncidentTransitionAllowed(s, s));
  }
  EXPECT_FALSE(core::IncidentTransitionAllowed(S::kContained, S::kTriaged));
  EXPECT_FALSE(core::IncidentTransitionAllowed(S::kClosed, S::kClosed));
  EXPECT_FALSE(core::IncidentTransitionAllowed(S::kClosed, S::kNew));
  for (auto name : {"new", "triaged", "contained", "eradicated", "recovered", "closed"}) {
    auto s = core::ParseIncidentState(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(core::ToString(*s), name);
  }
  EXPECT_FALSE(core::ParseIncidentState("reopened").has_value());
}

TEST_F(IncidentTest, TrackerGroupsAlertsOfOneEntityAndKeepsOthersApart) {
  IncidentTracker tracker(store_.get(), &clock_, 3600);
  tracker.OnStoredAlert(Raise("ins_a", "r1", "source.ip=192.0.2.1", kT0, {}));
  tracker.OnStoredAlert(Raise("ins_a", "r2", "source.ip=192.0.2.1", kT0 + 3000, {}));
  tracker.OnStoredAlert(Raise("ins_a", "r3", "source.ip=192.0.2.2", kT0 + 3000, {}));
  tracker.OnStoredAlert(Raise("ins_a", "r4", "source.ip=192.0.2.1", kT0 + 3000 + 3601, {}));
  core::Alert ghost;
  ghost.id = "alr_not_stored";
  tracker.OnStoredAlert(ghost);
  EXPECT_EQ(tracker.failures(), 1u) << "a failure is counted, not thrown";
  auto list = store_->ListIncidents(store::Scope::All(), {}, {50, ""});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->items.size(), 3u);
  std::multiset<size_t> sizes;
  for (const auto& i : list->items) {
    sizes.insert(store_->GetIncident(store::Scope::All(), i.id)->alert_ids.size());
  }
  EXPECT_EQ(sizes, (std::multiset<size_t>{1, 1, 2}));
}

// "incident.opened" is logged once per incident: not again when a repeat of its only alert
// (the same alert, its count grown) is linked, alone or in a batch.
TEST_F(IncidentTest, OpenedIsLoggedOncePerIncident) {
  rampart::testing::CapturedLog captured;
  ASSERT_TRUE(captured.ok());
  IncidentTracker tracker(store_.get(), &clock_, 3600);
  core::Alert first = Raise("ins_a", "r1", "source.ip=192.0.2.1", kT0, {});
  tracker.OnStoredAlert(first);
  core::Alert repeat = Raise("ins_a", "r1", "source.ip=192.0.2.1", kT0 + 10, {});
  EXPECT_EQ(repeat.id, first.id) << "the same alert, grown";
  tracker.OnStoredAlert(repeat);
  core::Alert other = Raise("ins_a", "r2", "source.ip=192.0.2.2", kT0 + 20, {});
  tracker.OnStoredAlerts({Raise("ins_a", "r1", "source.ip=192.0.2.1", kT0 + 30, {}), other});
  EXPECT_EQ(captured.Count("incident.opened"), 2)
      << "one per incident: 192.0.2.1's and 192.0.2.2's";
  EXPECT_EQ(tracker.failures(), 0u);
}

TEST_F(IncidentTest, FiguresComeFromTheRecords) {
  std::string id = Breach();
  IncidentAnalysis a = Analyze(id);
  EXPECT_EQ(a.alerts.size(), 2u);
  EXPECT_EQ(a.figures.first_malicious_event, kT0);
  EXPECT_EQ(a.figures.first_alert, kT0 + 60);
  EXPECT_EQ(a.figures.time_to_detect_seconds, 60);
  EXPECT_TRUE(a.figures.contained);
  EXPECT_EQ(a.figures.contained_at, kT0 + 500) << "the last successful containment action";
  EXPECT_EQ(a.figures.time_to_contain_seconds, 440);
  // Records with whole seconds only (no at_ms detail) count as seconds x 1000.
  EXPECT_EQ(a.figures.time_to_detect_ms, 60000);
  EXPECT_EQ(a.figures.time_to_contain_ms, 440000);
  EXPECT_EQ(a.response_actions.size(), 3u) << "the unrelated block is not the incident's";

  EXPECT_EQ(a.staff.records_read, 4);
  EXPECT_EQ(a.staff.staff_ids, (std::vector<std::string>{"stf_1", "stf_2", "stf_3"}));
  EXPECT_EQ(a.staff.institutions, std::vector<std::string>{"ins_a"});
  EXPECT_EQ(a.staff.categories, (std::vector<std::string>{"name", "mobile number", "email"}));

  EXPECT_EQ(a.commands.refused, 1);
  EXPECT_EQ(a.commands.verdict, "no device reached")
      << "the keeper refused cmd_x and no other command exists in the window";
  EXPECT_TRUE(a.implicated.principals.contains("tok_stolen"));
  EXPECT_TRUE(a.implicated.addresses.contains("203.0.113.7"));
  EXPECT_EQ(a.indicators.addresses, std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(a.indicators.url_paths.size(), 2u);

  // Timeline: first event, both alerts, the linked actions (the lockdown waits for approval).
  ASSERT_FALSE(a.timeline.empty());
  EXPECT_EQ(a.timeline[0].kind, "first_malicious_event");
  int alerts = 0, actions = 0, approvals = 0;
  for (const auto& t : a.timeline) {
    alerts += t.kind == "alert";
    actions += t.kind == "response_action";
    approvals += t.kind == "approval";
  }
  EXPECT_EQ(alerts, 2);
  EXPECT_EQ(actions, 2);
  EXPECT_EQ(approvals, 1);
  for (size_t i = 1; i < a.timeline.size(); ++i) {
    EXPECT_LE(a.timeline[i - 1].at, a.timeline[i].at);
  }
  EXPECT_GE(keeper_.audit_queries(), 3) << "figures come from the keeper's log";

  // Deadlines run from the detection time.
  ASSERT_EQ(a.deadlines.size(), 4u);
  EXPECT_EQ(a.deadlines[0].due_at, kT0 + 60 + 24 * 3600);
  EXPECT_FALSE(a.deadlines[0].overdue);
  clock_.SetMillis((kT0 + 60 + 25 * 3600) * 1000);
  IncidentAnalysis later = Analyze(id);
  EXPECT_TRUE(later.deadlines[0].overdue);
  EXPECT_FALSE(later.deadlines[1].overdue);
}

// Regression (issue 5): alert and response times were whole seconds, so a detection 250 ms after
// the event and a containment well under a second later showed as 0 s and 0 s.
TEST_F(IncidentTest, TimesToDetectAndContainComeFromStoredMilliseconds) {
  const std::string ip = "203.0.113.8";
  const int64_t event_ms = kT0 * 1000 + 100;
  json ev = {{"@timestamp", "2026-01-30T09:00:00.100Z"}, {"source.ip", ip}};
  core::Alert a;
  a.institution_id = "ins_a";
  a.rule_id = "epmm-cve-2026-1281";
  a.rule_title = "EPMM fob injection";
  a.entity = "source.ip=" + ip;
  a.severity = "critical";
  a.evidence = {ev.dump()};
  a.first_seen = a.last_seen = a.created_at = kT0;
  a.first_seen_ms = a.last_seen_ms = event_ms;
  a.created_at_ms = event_ms + 250;  // stored 250 ms after the event, within the same second
  a.count = 1;
  auto stored = store_->RecordAlert(a, 10);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  IncidentTracker(store_.get(), &clock_, 86400).OnStoredAlert(*stored);
  // The block landed 590 ms after the alert; the log itself says only "second kT0 + 0".
  Audit(kT0, "system", "response.block_address", ip, "success",
        {{"alert_id", stored->id}, {"containment", true}, {"at_ms", event_ms + 250 + 590}});
  auto list = store_->ListIncidents(store::Scope::All(), {}, {50, ""});
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].first_alert_at_ms, event_ms + 250);

  IncidentAnalysis an = Analyze(list->items[0].id);
  EXPECT_EQ(an.figures.first_malicious_event_ms, event_ms);
  EXPECT_EQ(an.figures.first_alert_ms, event_ms + 250);
  EXPECT_EQ(an.figures.time_to_detect_ms, 250);
  EXPECT_EQ(an.figures.time_to_detect_seconds, 0) << "the seconds stay whole seconds";
  EXPECT_TRUE(an.figures.contained);
  EXPECT_EQ(an.figures.contained_at_ms, event_ms + 840);
  EXPECT_EQ(an.figures.time_to_contain_ms, 590);
  EXPECT_EQ(an.figures.time_to_contain_seconds, 0);

  // The timeline orders and stamps by the millisecond.
  ASSERT_EQ(an.timeline.size(), 3u);
  EXPECT_EQ(an.timeline[0].kind, "first_malicious_event");
  EXPECT_EQ(an.timeline[0].at_ms, event_ms);
  EXPECT_EQ(an.timeline[1].kind, "alert");
  EXPECT_EQ(an.timeline[1].at_ms, event_ms + 250);
  EXPECT_EQ(an.timeline[2].kind, "response_action");
  EXPECT_EQ(an.timeline[2].at_ms, event_ms + 840);
  EXPECT_EQ(an.timeline[2].at, kT0);

  json j = AnalysisToJson(an);
  EXPECT_EQ(j["figures"]["time_to_detect_ms"], 250);
  EXPECT_EQ(j["figures"]["time_to_contain_ms"], 590);
  EXPECT_EQ(j["figures"]["time_to_detect_seconds"], 0);
  EXPECT_EQ(j["figures"]["time_to_detect"], "0.25 s");
  EXPECT_EQ(j["figures"]["time_to_contain"], "0.59 s");
  EXPECT_EQ(j["timeline"][2]["at_ms"], event_ms + 840);
  for (auto format : {ReportFormat::kMarkdown, ReportFormat::kHtml, ReportFormat::kJson}) {
    RenderedReport r = RenderReport(ReportKind::kNotification, format, an, org_);
    EXPECT_NE(r.body.find("0.25 s"), std::string::npos) << "time to detect";
    EXPECT_NE(r.body.find("0.59 s"), std::string::npos) << "time to contain";
  }
  RenderedReport md = RenderReport(ReportKind::kFinal, ReportFormat::kMarkdown, an, org_);
  EXPECT_NE(md.body.find("2026-01-30T09:00:00.350Z"), std::string::npos) << "detected at";
}

TEST(IncidentMillis, RowsWithoutMillisecondsCountAsWholeSeconds) {
  core::Incident inc;
  inc.entity = "source.ip=192.0.2.1";
  inc.first_alert_at = 1000;  // first_alert_at_ms 0: written before migration 9
  core::Alert a;
  a.id = "alr_old";
  a.first_seen = 990;
  a.created_at = 1000;
  inc.alert_ids = {a.id};
  audit::Record block;
  block.time = 1030;
  block.action = "response.block_address";
  block.outcome = "success";
  block.details_json = json{{"alert_id", a.id}, {"containment", true}}.dump();
  Figures f = ComputeFigures(inc, {a}, {block});
  EXPECT_EQ(f.first_malicious_event_ms, 990000);
  EXPECT_EQ(f.time_to_detect_ms, 10000);
  EXPECT_EQ(f.time_to_detect_seconds, 10);
  EXPECT_EQ(f.time_to_contain_ms, 30000);
  EXPECT_EQ(f.time_to_contain_seconds, 30);
  EXPECT_EQ(RecordTimeMs(block), 1030000);

  // Evidence stamped in whole seconds still counts, and a fraction is kept.
  a.evidence = {json{{"@timestamp", "1970-01-01T00:16:20Z"}}.dump()};
  EXPECT_EQ(FirstMaliciousEventMs({a}), 980000);
  a.evidence = {json{{"@timestamp", "1970-01-01T00:16:20.5Z"}}.dump()};
  EXPECT_EQ(FirstMaliciousEventMs({a}), 980500);
  EXPECT_EQ(FirstMaliciousEvent({a}), 980);
  // A correlation's evidence is the event that completed it: what was read reaches back to the
  // start of its window, while time to detect still runs from the evidence.
  EXPECT_EQ(EarliestCorrelationWindow({a}), 0);
  a.evidence = {json{{"@timestamp", "1970-01-01T00:16:20.5Z"},
                     {"correlation.window_start", "1970-01-01T00:06:20.5Z"}}
                    .dump()};
  EXPECT_EQ(EarliestCorrelationWindow({a}), 380);
  EXPECT_EQ(FirstMaliciousEvent({a}), 980);
}

TEST(IncidentMillis, UtcTimesParseToTheMillisecond) {
  EXPECT_EQ(ParseUtcTimeMillis("2026-01-30T09:00:00Z"), kT0 * 1000);
  EXPECT_EQ(ParseUtcTimeMillis("2026-01-30T09:00:00.25Z"), kT0 * 1000 + 250);
  EXPECT_EQ(ParseUtcTimeMillis("2026-01-30T09:00:00.123456Z"), kT0 * 1000 + 123);
  EXPECT_EQ(ParseUtcTime("2026-01-30T09:00:00.999Z"), kT0);
  EXPECT_EQ(ParseUtcTimeMillis("2026-01-30T09:00:00.Z"), -1);
  EXPECT_EQ(ParseUtcTimeMillis("2026-01-30T09:00:00.5"), -1);
  EXPECT_EQ(ParseUtcTimeMillis("yesterday"), -1);
}

TEST_F(IncidentTest, NotContainedWithoutASuccessfulContainmentAction) {
  core::Alert al = Raise("ins_a", "r1", "source.ip=192.0.2.5", kT0 + 10, {Event(kT0, "192.0.2.5")});
  IncidentTracker(store_.get(), &clock_, 86400).OnStoredAlert(al);
  Audit(kT0 + 20, "system", "response.block_address", "192.0.2.5", "failure",
        {{"alert_id", al.id}, {"containment", true}, {"error", "denylist full"}});
  Audit(kT0 + 30, "system", "response.pause_batch", "bat_1", "success",
        {{"alert_id", al.id}, {"containment", false}});
  auto list = store_->ListIncidents(store::Scope::All(), {}, {50, ""});
  IncidentAnalysis a = Analyze(list->items.at(0).id);
  EXPECT_FALSE(a.figures.contained);
  EXPECT_EQ(a.figures.time_to_contain_seconds, -1);
  EXPECT_EQ(a.staff.records_read, 0);
  EXPECT_TRUE(a.staff.categories.empty());
  EXPECT_EQ(a.commands.verdict, "no commands");
  json j = AnalysisToJson(a);
  EXPECT_EQ(j["figures"]["contained_at"], "not contained");
}

TEST(CommandImpact, NoDeviceReachedOnlyWhenEveryRecordProvesIt) {
  Implicated who;
  who.principals = {"tok_stolen"};
  core::Command waiting;
  waiting.id = "cmd_1";
  waiting.device_id = "dev_1";
  waiting.state = core::CommandState::kAwaitingApproval;
  waiting.created_by = "tok_stolen";
  core::Command canceled = waiting;
  canceled.id = "cmd_2";
  canceled.device_id = "dev_2";
  canceled.state = core::CommandState::kCanceled;
  auto impact = ComputeCommandImpact({waiting, canceled}, {}, who, true);
  EXPECT_EQ(impact.verdict, "no device reached");
  EXPECT_EQ(impact.devices_reached, 0);
  EXPECT_TRUE(impact.commands[0].by_implicated);
  EXPECT_EQ(ComputeCommandImpact({waiting, canceled}, {}, who, false).verdict, "undetermined")
      << "an audit log not read to the end proves nothing";

  core::Command sent = waiting;
  sent.id = "cmd_3";
  sent.state = core::CommandState::kExpired;
  sent.sent_at = 5;  // left the server before it expired
  impact = ComputeCommandImpact({waiting, sent}, {}, who, true);
  EXPECT_EQ(impact.verdict, "devices reached");
  EXPECT_EQ(impact.devices_reached, 1);
  ASSERT_EQ(impact.devices.size(), 1u);
  EXPECT_TRUE(impact.devices[0].received);

  audit::Record signed_elsewhere;
  signed_elsewhere.action = "command.sign";
  signed_elsewhere.outcome = "success";
  signed_elsewhere.target = "cmd_unknown";
  EXPECT_EQ(ComputeCommandImpact({waiting}, {signed_elsewhere}, who, true).verdict, "undetermined");
}

TEST_F(IncidentTest, EveryReportCarriesTheIncidentsFigures) {
  IncidentAnalysis a = Analyze(Breach());
  json incident = AnalysisToJson(a);
  const json& f = incident["figures"];
  for (auto kind : {ReportKind::kEarlyWarning, ReportKind::kNotification, ReportKind::kFinal,
                    ReportKind::kPersonalDataBreach, ReportKind::kStix}) {
    SCOPED_TRACE(std::string(ToString(kind)));
    RenderedReport js = RenderReport(kind, ReportFormat::kJson, a, org_);
    json doc = json::parse(js.body);
    if (kind == ReportKind::kStix) {
      json figures;
      for (const auto& o : doc["objects"]) {
        if (o["type"] == "report") figures = o["x_rampart_figures"];
      }
      EXPECT_EQ(figures, f);
    } else {
      EXPECT_EQ(doc["figures"], f);
    }
    for (auto format : {ReportFormat::kMarkdown, ReportFormat::kHtml}) {
      RenderedReport r = RenderReport(kind, format, a, org_);
      EXPECT_NE(r.body.find("1 min 0 s"), std::string::npos) << "time to detect";
      EXPECT_NE(r.body.find("7 min 20 s"), std::string::npos) << "time to contain";
      EXPECT_NE(r.body.find("Staff records read"), std::string::npos);
      EXPECT_NE(r.body.find(a.commands.verdict), std::string::npos);
    }
  }
  RenderedReport breach =
      RenderReport(ReportKind::kPersonalDataBreach, ReportFormat::kMarkdown, a, org_);
  EXPECT_NE(breach.body.find(org_.dpo_email), std::string::npos);
  EXPECT_NE(breach.body.find("stf_1, stf_2, stf_3"), std::string::npos);
  RenderedReport final_report = RenderReport(ReportKind::kFinal, ReportFormat::kMarkdown, a, org_);
  EXPECT_NE(final_report.body.find("docs/incident-response.md"), std::string::npos);
  EXPECT_NE(final_report.body.find("T1190"), std::string::npos);
}

TEST_F(IncidentTest, StixBundleLoadsBackThroughTheImporter) {
  IncidentAnalysis a = Analyze(Breach());
  a.indicators.file_sha256 = {std::string(64, 'a')};
  a.indicators.url_paths.push_back("/it's\\odd");
  json bundle = StixBundle(a, org_);
  EXPECT_EQ(bundle["type"], "bundle");
  EXPECT_TRUE(bundle["id"].get<std::string>().starts_with("bundle--"));
  int indicators = 0;
  for (const auto& o : bundle["objects"]) {
    std::string id = o["id"];
    std::string type = o["type"];
    ASSERT_TRUE(id.starts_with(type + "--")) << id;
    std::string uuid = id.substr(type.size() + 2);
    ASSERT_EQ(uuid.size(), 36u);
    EXPECT_EQ(uuid[14], '4') << "a version 4 UUID";
    EXPECT_EQ(o["spec_version"], "2.1");
    EXPECT_TRUE(o["created"].get<std::string>().ends_with(".000Z"));
    if (type == "indicator") ++indicators;
  }
  EXPECT_EQ(indicators, 5);  // one address, three paths, one hash

  detect::IocStore iocs;
  auto report = detect::ImportStix(bundle.dump(), "incident", (kT0 + 3600) * 1000, &iocs);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->added, 5u);
  EXPECT_EQ(report->skipped, 0u);
  auto ip = ParseIp("203.0.113.7");
  ASSERT_TRUE(ip.has_value());
  EXPECT_NE(iocs.FindIp(*ip, (kT0 + 3600) * 1000), nullptr);
  EXPECT_NE(iocs.FindHash(std::string(64, 'a'), (kT0 + 3600) * 1000), nullptr);
  EXPECT_NE(iocs.FindUrl("/it's\\odd", (kT0 + 3600) * 1000), nullptr)
      << "quotes and backslashes survive the pattern's escaping";
}

TEST_F(IncidentTest, HtmlReportsEscapeHostileStrings) {
  const std::string hostile = "<script>alert('x')</script>&\"";
  core::Alert al = Raise("ins_a", "r1", "source.ip=192.0.2.7", kT0 + 5,
                         {Event(kT0, "192.0.2.7", "/" + hostile)});
  IncidentTracker(store_.get(), &clock_, 86400).OnStoredAlert(al);
  auto list = store_->ListIncidents(store::Scope::All(), {}, {50, ""});
  ASSERT_TRUE(store_
                  ->AddIncidentNote(store::Scope::All(), list->items.at(0).id, "tok_a",
                                    "note " + hostile, kT0 + 10)
                  .ok());
  IncidentAnalysis a = Analyze(list->items.at(0).id);
  org_.organisation = "<b>Org</b>";
  for (auto kind : {ReportKind::kEarlyWarning, ReportKind::kNotification, ReportKind::kFinal,
                    ReportKind::kPersonalDataBreach, ReportKind::kStix}) {
    RenderedReport r = RenderReport(kind, ReportFormat::kHtml, a, org_);
    EXPECT_EQ(r.body.find("<script>"), std::string::npos) << ToString(kind);
    EXPECT_EQ(r.body.find("<b>Org"), std::string::npos) << ToString(kind);
  }
  RenderedReport final_report = RenderReport(ReportKind::kFinal, ReportFormat::kHtml, a, org_);
  EXPECT_NE(final_report.body.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"),
            std::string::npos);
  EXPECT_EQ(HtmlEscape("a<b>&'\""), "a&lt;b&gt;&amp;&#39;&quot;");
}

// Regression (review): Markdown reports passed attacker-chosen user agents and paths through
// as Markdown, so a pasted report rendered their links, images and HTML.
TEST_F(IncidentTest, MarkdownReportsKeepHostileStringsAsText) {
  const std::string hostile = "![beacon](https://evil.example/x) <img src=x> | cell";
  core::Alert al = Raise("ins_a", "r1", "source.ip=192.0.2.8", kT0 + 5,
                         {Event(kT0, "192.0.2.8", "/" + hostile)});
  IncidentTracker(store_.get(), &clock_, 86400).OnStoredAlert(al);
  auto list = store_->ListIncidents(store::Scope::All(), {}, {50, ""});
  ASSERT_TRUE(list.ok());
  IncidentAnalysis a = Analyze(list->items.at(0).id);
  RenderedReport r = RenderReport(ReportKind::kNotification, ReportFormat::kMarkdown, a, org_);
  EXPECT_EQ(r.body.find("![beacon]("), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(" <img"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\\<img src=x\\> \\| cell"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\\!\\[beacon\\]\\(https://evil.example/x\\)"), std::string::npos)
      << "the indicator is still there, as text: " << r.body;
}

TEST(ReportNames, ParseAndPrint) {
  for (auto name : {"early-warning", "notification", "final", "personal-data-breach", "stix"}) {
    auto k = ParseReportKind(name);
    ASSERT_TRUE(k.has_value()) << name;
    EXPECT_EQ(ToString(*k), name);
  }
  EXPECT_FALSE(ParseReportKind("../etc").has_value());
  EXPECT_TRUE(ParseReportFormat("html").has_value());
  EXPECT_FALSE(ParseReportFormat("pdf").has_value());
  EXPECT_EQ(ParseUtcTime("2026-01-30T09:00:00Z"), kT0);
  EXPECT_EQ(ParseUtcTime("2026-01-30T09:00:00.250Z"), kT0);
  EXPECT_EQ(ParseUtcTime("2026-01-30 09:00:00"), -1);
}

}  // namespace
}  // namespace rampart::respond
