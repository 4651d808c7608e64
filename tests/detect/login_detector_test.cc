// rampart-admin-login-new-address: working hours arithmetic, the per-user address memory
// (first login, bounds, restart), and the alert raised by the live engine over a ManualClock.
#include "detect/login_detector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "common/clock.h"
#include "detect/live_engine.h"
#include "support/recording_alert_handler.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kFri1000Utc = 1769767200000;  // Friday 2026-01-30 10:00 UTC
constexpr int64_t kFri2200Utc = 1769810400000;  // Friday 22:00 UTC
constexpr int64_t kSat1000Utc = 1769853600000;  // Saturday 10:00 UTC
constexpr int64_t kFri0630Utc = 1769754600000;  // Friday 06:30 UTC
constexpr int64_t kFri1830Utc = 1769797800000;  // Friday 18:30 UTC
constexpr int64_t kMon0500Utc = 1770008400000;  // Monday 2026-02-02 05:00 UTC
constexpr int64_t kHour = 3600000;

TEST(WorkingHoursTest, DaysAndHoursInLocalTime) {
  WorkingHours h;  // mon-fri 07:00-19:00, UTC
  EXPECT_TRUE(h.Contains(kFri1000Utc));
  EXPECT_FALSE(h.Contains(kFri2200Utc));
  EXPECT_FALSE(h.Contains(kSat1000Utc));
  EXPECT_FALSE(h.Contains(kFri0630Utc));
  EXPECT_TRUE(h.Contains(kFri1830Utc));
  EXPECT_FALSE(h.Contains(kFri1830Utc + kHour / 2)) << "end is exclusive";
  h.utc_offset_minutes = 60;  // 06:30 UTC is 07:30 local; 18:30 UTC is 19:30 local
  EXPECT_TRUE(h.Contains(kFri0630Utc));
  EXPECT_FALSE(h.Contains(kFri1830Utc));
  h.utc_offset_minutes = -360;  // Monday 05:00 UTC is Sunday 23:00 local
  h.start_minute = 0;
  h.end_minute = 24 * 60;
  EXPECT_FALSE(h.Contains(kMon0500Utc));
}

TEST(WorkingHoursTest, ShiftAcrossMidnightBelongsToTheDayItStarts) {
  WorkingHours night;
  night.days = 0x1f;  // shifts start mon-fri
  night.start_minute = 22 * 60;
  night.end_minute = 6 * 60;
  EXPECT_TRUE(night.Contains(kFri2200Utc));
  EXPECT_TRUE(night.Contains(kFri2200Utc + 7 * kHour)) << "Saturday 05:00, Friday's shift";
  EXPECT_FALSE(night.Contains(kSat1000Utc));
  EXPECT_FALSE(night.Contains(kMon0500Utc)) << "Sunday's shift: Sunday is not a working day";
}

class LoginDetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("rampart_login_" + std::to_string(rd()));
    fs::create_directories(dir_);
    options_.state_file = (dir_ / "login_addresses.json").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
  NewAddressLoginOptions options_;
};

TEST_F(LoginDetectorTest, FirstLoginLearnsThenNewAddressAlertsOnlyOutsideHours) {
  NewAddressLoginDetector d(options_);
  ASSERT_TRUE(d.Load().ok());
  EXPECT_EQ(d.Observe("usr_a", "192.0.2.1", kFri2200Utc), LoginVerdict::kFirstLogin)
      << "a first login outside hours learns without alerting";
  EXPECT_EQ(d.Observe("usr_a", "192.0.2.1", kSat1000Utc), LoginVerdict::kKnown);
  EXPECT_EQ(d.Observe("usr_a", "198.51.100.7", kFri1000Utc), LoginVerdict::kNewInHours);
  EXPECT_EQ(d.Observe("usr_a", "203.0.113.66", kSat1000Utc), LoginVerdict::kAlert);
  EXPECT_EQ(d.Observe("usr_a", "203.0.113.66", kSat1000Utc + kHour), LoginVerdict::kKnown)
      << "an address that alerted once is learned";
  EXPECT_EQ(d.Observe("usr_b", "203.0.113.66", kSat1000Utc), LoginVerdict::kFirstLogin)
      << "memory is per user";
}

TEST_F(LoginDetectorTest, MemorySurvivesARestartInAPrivateFile) {
  {
    NewAddressLoginDetector d(options_);
    ASSERT_TRUE(d.Load().ok());
    d.Observe("usr_a", "192.0.2.1", kFri1000Utc);
  }
  struct stat st;
  ASSERT_EQ(::stat(options_.state_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  NewAddressLoginDetector again(options_);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Observe("usr_a", "192.0.2.1", kSat1000Utc), LoginVerdict::kKnown);
  EXPECT_EQ(again.Observe("usr_a", "192.0.2.2", kSat1000Utc), LoginVerdict::kAlert)
      << "not a first login any more after the restart";
}

TEST_F(LoginDetectorTest, CorruptStateFileIsReportedAndMemoryStartsEmpty) {
  {
    std::ofstream out(options_.state_file);
    out << "{not json";
  }
  NewAddressLoginDetector d(options_);
  EXPECT_FALSE(d.Load().ok());
  EXPECT_EQ(d.users(), 0u);
  EXPECT_EQ(d.Observe("usr_a", "192.0.2.1", kSat1000Utc), LoginVerdict::kFirstLogin);
}

TEST_F(LoginDetectorTest, MemoryIsBounded) {
  options_.max_users = 2;
  options_.max_addresses_per_user = 2;
  NewAddressLoginDetector d(options_);
  d.Observe("usr_a", "192.0.2.1", kFri1000Utc);
  d.Observe("usr_a", "192.0.2.2", kFri1000Utc + 1);
  d.Observe("usr_a", "192.0.2.3", kFri1000Utc + 2);  // drops 192.0.2.1, the least recent
  EXPECT_EQ(d.Observe("usr_a", "192.0.2.1", kSat1000Utc), LoginVerdict::kAlert);
  d.Observe("usr_b", "192.0.2.9", kFri1000Utc + 3);
  d.Observe("usr_c", "192.0.2.9", kFri1000Utc + 4);  // drops usr_b, the least recently active
  EXPECT_EQ(d.users(), 2u);
  EXPECT_EQ(d.Observe("usr_b", "192.0.2.9", kSat1000Utc), LoginVerdict::kFirstLogin);
}

SecurityEvent Login(const std::string& user, const std::string& ip, int64_t ts = 0) {
  SecurityEvent ev("auth.login");
  ev.Set("user.name", user).Set("source.ip", ip).Set("user.roles", "admin");
  ev.institution_id = "ins_1";
  ev.timestamp_millis = ts;
  return ev;
}

TEST_F(LoginDetectorTest, LiveEngineRaisesTheBuiltInRuleOnTheEventTime) {
  ManualClock clock(kFri1000Utc);
  testing::RecordingAlertHandler recorder;
  LiveEngineOptions o;
  o.login_detector = options_;
  o.login_detector.hours.utc_offset_minutes = 60;
  auto engine = LiveEngine::Create(o, &clock, &recorder);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  (*engine)->Emit(Login("usr_a", "192.0.2.1"));     // first login: learned
  (*engine)->Emit(Login("usr_a", "198.51.100.7"));  // Friday 11:00 local: in hours
  (*engine)->ProcessPending();
  EXPECT_TRUE(recorder.Take().empty());

  clock.SetMillis(kFri2200Utc);  // 23:00 local
  (*engine)->Emit(Login("usr_a", "203.0.113.66"));
  SecurityEvent failed("auth.login_failed");
  failed.Set("user.name", "usr_a").Set("source.ip", "203.0.113.67");
  (*engine)->Emit(std::move(failed));  // a failure teaches nothing and raises nothing here
  (*engine)->ProcessPending();
  auto alerts = recorder.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "rampart-admin-login-new-address");
  EXPECT_EQ(alerts[0].entity, "user.name=usr_a");
  EXPECT_EQ(alerts[0].severity, "high");
  EXPECT_EQ(alerts[0].institution_id, "ins_1");
  EXPECT_EQ(alerts[0].attack, std::vector<std::string>{"T1078"});
  ASSERT_EQ(alerts[0].evidence.size(), 1u);
  auto evidence = nlohmann::json::parse(alerts[0].evidence[0]);
  EXPECT_EQ(evidence["source.ip"], "203.0.113.66");
  EXPECT_EQ(alerts[0].first_seen, kFri2200Utc / 1000);

  // An event carrying its own time is judged on it, not on the clock: 10:00 local Friday.
  (*engine)->Emit(Login("usr_a", "203.0.113.99", kFri1000Utc - kHour));
  (*engine)->ProcessPending();
  EXPECT_TRUE(recorder.Take().empty());

  o.login_detector.enabled = false;
  auto off = LiveEngine::Create(o, &clock, &recorder);
  ASSERT_TRUE(off.ok());
  (*off)->Emit(Login("usr_a", "203.0.113.200"));
  (*off)->ProcessPending();
  EXPECT_TRUE(recorder.Take().empty());
}

}  // namespace
}  // namespace rampart::detect
