// The January 30 replay end to end: runs `rampart demo breach --json` (the real server, the real
// keeper, a simulated fleet as `rampart-agent simulate` children) at a size that keeps it quick
// under AddressSanitizer, and asserts what the server recorded: exploit requests refused and
// alerted and their address blocked at the front door, staff records read within the stolen
// token's budget and a canary among them, the token revoked and its institution in lockdown by
// the bundled playbooks, no device executing the attacker's wipe, and incidents whose drafted
// reports carry the same figures as the incident JSON. Times are printed, never asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

constexpr char kFobInjectionRule[] = "3b672e5c-3104-49c7-bfeb-7d14e1035b40";
constexpr char kFob404Rule[] = "3fe778f1-3ab5-4259-b9c3-e2e3a80fc417";
constexpr char kCanaryReadRule[] = "5d0f6c1e-8a43-4f6b-9a51-2f1c7e0b9d11";
constexpr char kReportKinds[][24] = {"early-warning", "notification", "final",
                                     "personal-data-breach"};

// 350 staff per institution: more than the admin role's 300 decrypts a minute, so the budget
// is what stops the harvest. 50 devices each keep the fleet's check-ins light enough for
// AddressSanitizer builds on two cores (about 11 s in a normal build, 55 s under ASan on a
// loaded build machine).
constexpr int64_t kStaff = 700;
constexpr int64_t kDevices = 100;

const json* FindAlert(const json& alerts, const std::string& rule) {
  for (const auto& a : alerts) {
    if (a.value("rule", std::string()) == rule) return &a;
  }
  return nullptr;
}

class BreachReplay : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart) && fs::exists(kAgent)) << "binaries are not built";
    reports_ = new fs::path(fs::temp_directory_path() /
                            ("rampart_breach_reports_" + crypto::RandomHex(6)));
    result_ = new ProcResult(
        e2e::Run({kRampart, "demo", "breach", "--json", "--staff", std::to_string(kStaff),
                  "--devices", std::to_string(kDevices), "--reports", reports_->string()}));
    summary_ = new json(json::parse(result_->out, nullptr, false));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (reports_ != nullptr) fs::remove_all(*reports_, ec);
    delete reports_;
    delete result_;
    delete summary_;
  }
  void SetUp() override {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    ASSERT_TRUE(summary_->is_object()) << "not JSON: " << result_->out << "\n" << result_->err;
  }
  const json& S() { return *summary_; }

  // The incident of the attack whose entity is `entity`; with an empty entity, the one of
  // institution `institution_id` that counts the most staff records read (the canary read and
  // the bulk read may make two, one per entity).
  const json* Incident(const std::string& entity, const std::string& institution_id = "") {
    const json* found = nullptr;
    for (const auto& i : S()["incidents"]) {
      if (!entity.empty() && i["entity"] == entity) return &i;
      if (entity.empty() && i["institution_id"] == institution_id &&
          (found == nullptr || i["figures"]["staff_records_read"].get<int64_t>() >
                                   (*found)["figures"]["staff_records_read"].get<int64_t>())) {
        found = &i;
      }
    }
    return found;
  }

  static fs::path* reports_;
  static ProcResult* result_;
  static json* summary_;
};

fs::path* BreachReplay::reports_ = nullptr;
ProcResult* BreachReplay::result_ = nullptr;
json* BreachReplay::summary_ = nullptr;

TEST_F(BreachReplay, StandsUpTwoInstitutionsAndTheWholeFleet) {
  ASSERT_EQ(S()["institutions"].size(), 2u);
  EXPECT_EQ(S()["institutions"][0]["staff"].get<int64_t>() +
                S()["institutions"][1]["staff"].get<int64_t>(),
            kStaff);
  EXPECT_EQ(S()["wipe"]["devices_active"], kDevices);
  const json& setup = S()["setup"];
  std::printf(
      "replay %.1f s; %lld staff created in %.2f s; %lld devices enrolled in %.2f s, "
      "checked in by %.2f s\n",
      S()["duration_seconds"].get<double>(), static_cast<long long>(kStaff),
      setup["staff_seconds"].get<double>(), static_cast<long long>(kDevices),
      setup["enroll_seconds"].get<double>(), setup["first_checkins_seconds"].get<double>());
}

TEST_F(BreachReplay, ExploitRequestsAreRefusedAndAlerted) {
  const json& ex = S()["exploits"];
  // How far the sequence gets depends on how fast the playbook blocks the address (a loaded or
  // sanitizer build plays fewer requests first); every request it played is checked.
  ASSERT_GE(ex["requests"].size(), 1u);
  if (ex["unanswered"] == 0) {
    EXPECT_EQ(ex["requests"].size(), 6u) << "the whole sequence played";
  }
  bool appstore = false, aftstore = false;
  int64_t fob_answered = 0;
  for (const auto& r : ex["requests"]) {
    // 0: the connection was closed once the playbook had blocked the address.
    int status = r["status"];
    EXPECT_TRUE(status == 0 || (status >= 400 && status < 500))
        << r["target"] << " answered " << status;
    std::string target = r["target"];
    const bool fob = target.rfind("/mifs/c/appstore/fob/", 0) == 0 ||
                     target.rfind("/mifs/c/aftstore/fob/", 0) == 0;
    appstore |= target.rfind("/mifs/c/appstore/fob/", 0) == 0;
    aftstore |= target.rfind("/mifs/c/aftstore/fob/", 0) == 0;
    if (fob && status != 0) ++fob_answered;
  }
  EXPECT_TRUE(appstore) << "CVE-2026-1281 paths are played";
  // The block may cut the sequence short; until then every request was played.
  if (ex["unanswered"] == 0) {
    EXPECT_TRUE(aftstore) << "CVE-2026-1340 paths are played";
  }
  EXPECT_EQ(ex["answered_2xx"], 0);
  EXPECT_EQ(ex["source_address"], "127.0.0.66");

  const json* injection = FindAlert(S()["alerts"], kFobInjectionRule);
  ASSERT_NE(injection, nullptr) << S()["alerts"].dump(2);
  EXPECT_EQ((*injection)["severity"], "critical");
  // Every fob request of the sequence carries a shell or arithmetic-expansion payload.
  EXPECT_GE((*injection)["count"].get<int64_t>(), std::max<int64_t>(fob_answered, 1))
      << "every fob injection request that reached the server is counted";
  // The attacker connects from its own loopback address; the alert names it, not the fleet's.
  EXPECT_EQ((*injection)["entity"], "source.ip=127.0.0.66");
  const json& det = S()["detection"];
  ASSERT_TRUE(det["first_alert_id"].is_string());
  std::string first_rule = det["first_alert_rule"];
  EXPECT_TRUE(first_rule == kFobInjectionRule || first_rule == kFob404Rule) << first_rule;
  std::printf("first exploit request -> alert visible through GET /api/v1/alerts: %.1f ms\n",
              det["exploit_to_alert_visible_ms"].get<double>());
}

TEST_F(BreachReplay, ExploitAddressIsBlockedAtTheFrontDoor) {
  const json& block = S()["containment"]["exploit_address"];
  ASSERT_TRUE(block["blocked"].get<bool>()) << block.dump(2);
  EXPECT_EQ(block["address"], "127.0.0.66");
  EXPECT_EQ(block["origin"], "playbook");
  EXPECT_EQ(block["scenario"], "rampart/epmm-exploit-block");
  // The playbook blocks for a day. A later alert on the same address runs it again and extends
  // the block to a day from then, so the span may exceed a day by up to the replay's length.
  const int64_t span = block["duration_seconds"].get<int64_t>();
  EXPECT_GE(span, 86400);
  EXPECT_LE(span, 86400 + static_cast<int64_t>(S()["duration_seconds"].get<double>()) + 1);
  EXPECT_TRUE(block["connection_refused"].get<bool>())
      << "a connection from the blocked address: " << block["connection_outcome"];
  // The attacker moved on to another address with the stolen token.
  EXPECT_EQ(S()["containment"]["stolen_token"]["source_address"], "127.0.0.67");
  std::printf("first exploit request -> block visible through GET /api/v1/blocks: %.1f ms\n",
              block["exploit_to_block_visible_ms"].get<double>());
}

TEST_F(BreachReplay, StolenTokenIsRevokedAndItsInstitutionLockedDown) {
  const json& ct = S()["containment"];
  EXPECT_TRUE(ct["stolen_token"]["revoked"].get<bool>()) << ct.dump(2);
  EXPECT_EQ(ct["stolen_token"]["status"], 401);
  EXPECT_EQ(ct["stolen_token"]["id"], S()["stolen_token"]["id"]);
  const json& lock = ct["institution_lockdown"];
  EXPECT_TRUE(lock["locked"].get<bool>()) << lock.dump(2);
  EXPECT_EQ(lock["institution_id"], S()["institutions"][0]["id"]);
  EXPECT_FALSE(ct["other_institution_locked"].get<bool>()) << "Directorate B carries on";
  auto ms = [](const json& v) { return v.is_number() ? v.get<double>() : -1.0; };
  std::printf("harvest start -> token revoked seen %.1f ms, lockdown seen %.1f ms\n",
              ms(ct["stolen_token"]["harvest_to_revoked_seen_ms"]),
              ms(lock["harvest_to_lockdown_seen_ms"]));
}

TEST_F(BreachReplay, StolenTokenReadsNoMoreThanItsBudget) {
  const json& read = S()["staff_read"];
  const int64_t count = read["count"];
  EXPECT_EQ(read["ids"].size(), static_cast<size_t>(count));
  EXPECT_GT(count, 0) << "the harvest read something: the budget is what limits it";
  EXPECT_LE(count, read["budget_allows"].get<int64_t>());
  const int64_t directory = S()["institutions"][0]["staff"].get<int64_t>();
  EXPECT_LT(count, directory) << "the budget stopped the harvest before the whole directory";
  // The harvest ended on a refusal: the keeper's budget (429), or the containment that revoked
  // the token (401) or locked the institution down (423), whichever came first.
  const json& view = read["attacker_view"];
  const int64_t ended = view["refused_429"].get<int64_t>() +
                        view["other_statuses"].value("401", int64_t{0}) +
                        view["other_statuses"].value("423", int64_t{0});
  EXPECT_GE(ended, 1) << view.dump(2);
  for (const auto& [status, n] : view["other_statuses"].items()) {
    EXPECT_TRUE(status == "401" || status == "423") << status << " x" << n;
  }
  EXPECT_EQ(read["other_institutions"], 0) << "Directorate B stays out of the token's reach";
  EXPECT_EQ(read["attacker_view"]["other_institution_records"], 0);
  // Everything the attacker saw in clear is on the audit record; the log itself verifies.
  EXPECT_EQ(read["attacker_view"]["not_in_audit_log"], 0);
  EXPECT_EQ(read["attacker_view"]["records"].get<int64_t>(), count);
  EXPECT_TRUE(S()["audit"]["verified"].get<bool>()) << S()["audit"]["problem"];
  std::printf("stolen token: %lld records decrypted (budget allows %lld over %lld s)\n",
              static_cast<long long>(count),
              static_cast<long long>(read["budget_allows"].get<int64_t>()),
              static_cast<long long>(read["window_seconds"].get<int64_t>()));
}

TEST_F(BreachReplay, CanaryReadRaisesACriticalAlertInTheVictimInstitution) {
  EXPECT_GE(S()["staff_read"]["canary_reads"].get<int64_t>(), 1);
  const json* canary = FindAlert(S()["alerts"], kCanaryReadRule);
  ASSERT_NE(canary, nullptr) << S()["alerts"].dump(2);
  EXPECT_EQ((*canary)["severity"], "critical");
  EXPECT_EQ((*canary)["institution_id"], S()["institutions"][0]["id"]);
}

TEST_F(BreachReplay, NoDeviceExecutesTheWipe) {
  const json& wipe = S()["wipe"];
  const json& attempt = wipe["attempt"];
  EXPECT_EQ(attempt["devices_targeted"], S()["institutions"][0]["devices"]);
  // Containment usually comes before the wipe: refused as revoked (401) or locked down (423).
  // A wipe created before it waits for a second admin, which the same token cannot be.
  for (const auto& [status, n] : attempt["http_statuses"].items()) {
    EXPECT_TRUE(status == "201" || status == "401" || status == "423") << status << " x" << n;
  }
  if (attempt["http_statuses"].value("201", int64_t{0}) > 0) {
    const int approve = attempt["self_approval_status"];
    EXPECT_TRUE(approve == 403 || approve == 401 || approve == 423) << approve;
  }
  for (const auto& [state, n] : attempt["states_when_created"].items()) {
    EXPECT_EQ(state, "awaiting_approval") << n;
  }
  for (const auto& [state, n] : wipe["server_records"]["attacker_commands_by_state"].items()) {
    EXPECT_TRUE(state == "awaiting_approval" || state == "canceled") << state << " x" << n;
  }
  EXPECT_EQ(wipe["server_records"]["devices_handed_attacker_command"], 0);
  // The devices had the chance: each checked in after the last wipe was requested.
  EXPECT_EQ(wipe["devices_checked_in_after_attempt"], wipe["devices_active"]);
  EXPECT_EQ(wipe["device_records"]["devices_executed_attacker_command"], 0);
  EXPECT_TRUE(wipe["device_records"]["commands_executed"].empty()) << wipe["device_records"].dump();
}

TEST_F(BreachReplay, IncidentsRecordDetectionContainmentAndImpact) {
  const json* exploit = Incident("source.ip=127.0.0.66");
  ASSERT_NE(exploit, nullptr) << S()["incidents"].dump(2);
  const std::string victim = S()["institutions"][0]["id"];
  const json* harvest = Incident("", victim);
  ASSERT_NE(harvest, nullptr) << S()["incidents"].dump(2);
  for (const json* inc : {exploit, harvest}) {
    const json& f = (*inc)["figures"];
    EXPECT_TRUE(f["contained"].get<bool>()) << (*inc)["id"] << " " << f.dump(2);
    const int64_t detect_ms = f["time_to_detect_ms"].get<int64_t>();
    const int64_t contain_ms = f["time_to_contain_ms"].get<int64_t>();
    EXPECT_GE(detect_ms, 0);
    EXPECT_GE(contain_ms, 0);
    EXPECT_EQ(f["time_to_detect_seconds"].get<int64_t>(), detect_ms / 1000);
    EXPECT_EQ(f["time_to_contain_seconds"].get<int64_t>(), contain_ms / 1000);
    EXPECT_EQ(f["devices_reached"], 0);
    const std::string verdict = f["device_verdict"];
    EXPECT_TRUE(verdict == "no device reached" || verdict == "no commands") << verdict;
    std::printf("incident %s [%s]: detect %lld ms, contain %lld ms, %lld records read, %s\n",
                (*inc)["id"].get<std::string>().c_str(),
                (*inc)["entity"].get<std::string>().c_str(), static_cast<long long>(detect_ms),
                static_cast<long long>(contain_ms),
                static_cast<long long>(f["staff_records_read"].get<int64_t>()), verdict.c_str());
  }
  // The victim institution's incident names the records the audit log shows the token read,
  // no more than the budget allows.
  const json& read = S()["staff_read"];
  const json& hf = (*harvest)["figures"];
  EXPECT_GT(hf["staff_data_subjects"].get<int64_t>(), 0);
  EXPECT_LE(hf["staff_data_subjects"].get<int64_t>(), read["budget_allows"].get<int64_t>());
  EXPECT_EQ(hf["staff_data_subjects"], read["count"]);
  std::set<std::string> from_log(read["ids"].begin(), read["ids"].end());
  std::set<std::string> from_incident((*harvest)["staff_ids"].begin(),
                                      (*harvest)["staff_ids"].end());
  EXPECT_EQ(from_incident, from_log);
  EXPECT_EQ((*harvest)["staff_institutions"], json::array({victim}));
}

TEST_F(BreachReplay, ReportsCarryTheIncidentFigures) {
  ASSERT_FALSE(S()["incidents"].empty());
  EXPECT_EQ(S()["reports_dir"], reports_->string());
  for (const auto& inc : S()["incidents"]) {
    const json& f = inc["figures"];
    const json& paths = inc["reports"];
    // The incident JSON as the server answered it, and the JSON final report.
    json incident = json::parse(ReadFile(paths["incident"]), nullptr, false);
    ASSERT_TRUE(incident.is_object()) << paths["incident"];
    EXPECT_EQ(incident["figures"], f);
    json final_report = json::parse(ReadFile(paths["final.json"]), nullptr, false);
    ASSERT_TRUE(final_report.is_object()) << paths["final.json"];
    EXPECT_EQ(final_report["figures"], incident["figures"]);
    json stix = json::parse(ReadFile(paths["stix"]), nullptr, false);
    ASSERT_TRUE(stix.is_object()) << paths["stix"];
    EXPECT_EQ(stix["type"], "bundle");
    bool stix_figures = false;
    for (const auto& o : stix["objects"]) {
      if (o["type"] == "report") stix_figures = o["x_rampart_figures"] == incident["figures"];
    }
    EXPECT_TRUE(stix_figures) << paths["stix"];
    // Every Markdown report states the records-read count and the devices verdict.
    for (const char* kind : kReportKinds) {
      std::string key = std::string(kind) == "final" ? "final.md" : kind;
      ASSERT_TRUE(paths.contains(key)) << key;
      std::string md = ReadFile(paths[key]);
      EXPECT_EQ(md.rfind("# ", 0), 0u) << paths[key];
      EXPECT_NE(md.find("| Staff records read | " + f["staff_records_read"].dump() + " |"),
                std::string::npos)
          << paths[key];
      EXPECT_NE(md.find("| Devices reached | " + f["devices_reached"].dump() + " |"),
                std::string::npos)
          << paths[key];
      EXPECT_NE(md.find("| Device verdict | " + f["device_verdict"].get<std::string>() + " |"),
                std::string::npos)
          << paths[key];
    }
  }
}

TEST(BreachReplayInput, RefusesADataDirectoryThatIsNotEmpty) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  fs::path dir = fs::temp_directory_path() / ("rampart_breach_input_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  { std::ofstream(dir / "rampart.db") << "not a fresh server"; }
  ProcResult r = e2e::Run(
      {kRampart, "demo", "breach", "--data", dir.string(), "--staff", "10", "--devices", "10"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile((dir / "rampart.db").string()), "not a fresh server");
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace rampart::e2e
