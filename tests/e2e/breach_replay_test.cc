// The January 30 replay end to end: runs `rampart demo breach --json` (the real server, the real
// keeper, a simulated fleet as `rampart-agent simulate` children) at a size that keeps it quick
// under AddressSanitizer, and asserts what the server recorded: exploit requests refused and
// alerted, staff records read within the stolen token's budget and a canary among them, and no
// device executing the attacker's wipe. Times are printed, never asserted.
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
    result_ =
        new ProcResult(e2e::Run({kRampart, "demo", "breach", "--json", "--staff",
                                 std::to_string(kStaff), "--devices", std::to_string(kDevices)}));
    summary_ = new json(json::parse(result_->out, nullptr, false));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete summary_;
  }
  void SetUp() override {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    ASSERT_TRUE(summary_->is_object()) << "not JSON: " << result_->out << "\n" << result_->err;
  }
  const json& S() { return *summary_; }

  static ProcResult* result_;
  static json* summary_;
};

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
  ASSERT_GE(ex["requests"].size(), 4u);
  bool appstore = false, aftstore = false;
  for (const auto& r : ex["requests"]) {
    int status = r["status"];
    EXPECT_TRUE(status >= 400 && status < 500) << r["target"] << " answered " << status;
    std::string target = r["target"];
    appstore |= target.rfind("/mifs/c/appstore/fob/", 0) == 0;
    aftstore |= target.rfind("/mifs/c/aftstore/fob/", 0) == 0;
  }
  EXPECT_TRUE(appstore && aftstore) << "both CVE-2026-1281 and CVE-2026-1340 paths are played";
  EXPECT_EQ(ex["answered_2xx"], 0);

  const json* injection = FindAlert(S()["alerts"], kFobInjectionRule);
  ASSERT_NE(injection, nullptr) << S()["alerts"].dump(2);
  EXPECT_EQ((*injection)["severity"], "critical");
  EXPECT_GE((*injection)["count"].get<int64_t>(), 3) << "every fob injection request counted";
  // The attacker connects from its own loopback address; the alert names it, not the fleet's.
  EXPECT_EQ((*injection)["entity"], "source.ip=127.0.0.66");
  const json& det = S()["detection"];
  ASSERT_TRUE(det["first_alert_id"].is_string());
  std::string first_rule = det["first_alert_rule"];
  EXPECT_TRUE(first_rule == kFobInjectionRule || first_rule == kFob404Rule) << first_rule;
  std::printf("first exploit request -> alert visible through GET /api/v1/alerts: %.1f ms\n",
              det["exploit_to_alert_visible_ms"].get<double>());
}

TEST_F(BreachReplay, StolenTokenReadsNoMoreThanItsBudget) {
  const json& read = S()["staff_read"];
  const int64_t count = read["count"];
  EXPECT_EQ(read["ids"].size(), static_cast<size_t>(count));
  EXPECT_GT(count, 0) << "the harvest read something: the budget is what limits it";
  EXPECT_LE(count, read["budget_allows"].get<int64_t>());
  const int64_t directory = S()["institutions"][0]["staff"].get<int64_t>();
  EXPECT_LT(count, directory) << "the budget stopped the harvest before the whole directory";
  EXPECT_GE(read["denied_requests"].get<int64_t>(), 1) << "the keeper refused and audited";
  EXPECT_GE(read["attacker_view"]["refused_429"].get<int64_t>(), 1);
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
  EXPECT_EQ(attempt["self_approval_status"], 403) << "four eyes: not the creator";
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
