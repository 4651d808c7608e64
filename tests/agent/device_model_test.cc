#include "agent/device_model.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/crypto.h"

namespace rampart::agent {
namespace {

using nlohmann::json;

WireCommand Cmd(std::string type, json payload = json::object()) {
  WireCommand c;
  c.id = "cmd_1";
  c.seq = 1;
  c.type = std::move(type);
  c.payload = std::move(payload);
  return c;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class DeviceModelTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::InitCrypto().ok()); }
  SimDevice dev_ = NewDevice(core::Platform::kAndroid, "14");
};

TEST_F(DeviceModelTest, LockSetsLockedAndMessage) {
  Outcome o = Execute(dev_, Cmd("lock", {{"message", "call IT"}}), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_TRUE(dev_.locked);
  EXPECT_EQ(dev_.lock_message, "call IT");
  EXPECT_EQ(o.effect, Effect::kNone);
}

TEST_F(DeviceModelTest, LostModeLocksWithMessageAndPhone) {
  Outcome o = Execute(
      dev_, Cmd("lost_mode", {{"message", "Please return"}, {"phone", "+32 2 000"}}), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_TRUE(dev_.locked);
  EXPECT_TRUE(dev_.lost_mode);
  EXPECT_EQ(dev_.lock_message, "Please return");
  EXPECT_EQ(dev_.lost_phone, "+32 2 000");
}

TEST_F(DeviceModelTest, LostModeWithoutMessageIsAnError) {
  Outcome o = Execute(dev_, Cmd("lost_mode", {{"phone", "1"}}), nullptr);
  EXPECT_EQ(o.status, "error");
  EXPECT_NE(o.error.find("message"), std::string::npos);
  EXPECT_FALSE(dev_.locked);
}

TEST_F(DeviceModelTest, ClearPasscodeRemovesIt) {
  ASSERT_TRUE(dev_.state.passcode_set);
  Outcome o = Execute(dev_, Cmd("clear_passcode"), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_FALSE(dev_.state.passcode_set);
  EXPECT_EQ(dev_.state.passcode_length, 0);
}

TEST_F(DeviceModelTest, RestartCounts) {
  EXPECT_EQ(Execute(dev_, Cmd("restart"), nullptr).status, "acknowledged");
  EXPECT_EQ(Execute(dev_, Cmd("restart"), nullptr).status, "acknowledged");
  EXPECT_EQ(dev_.restarts, 2);
}

json InstallPayload(const std::string& package, std::string bundle = "org.example.vpn") {
  return {{"app_id", "app_1"},
          {"bundle_id", bundle},
          {"version", "1.0"},
          {"sha256", crypto::Sha256Hex(package)},
          {"size_bytes", package.size()}};
}

TEST_F(DeviceModelTest, InstallAppVerifiesHashAndInstalls) {
  std::string package = "PK\x03\x04 package bytes";
  WireCommand c = Cmd("install_app", InstallPayload(package));
  auto sha = PackageForInstall(c);
  ASSERT_TRUE(sha.has_value());
  EXPECT_EQ(*sha, crypto::Sha256Hex(package));
  Result<std::string> downloaded = package;
  Outcome o = Execute(dev_, c, &downloaded);
  EXPECT_EQ(o.status, "acknowledged") << o.error;
  EXPECT_TRUE(Has(dev_.state.installed_apps, "org.example.vpn"));
  EXPECT_TRUE(Has(dev_.managed_apps, "org.example.vpn"));
}

TEST_F(DeviceModelTest, InstallAppWithHashMismatchIsAnErrorAndInstallsNothing) {
  WireCommand c = Cmd("install_app", InstallPayload("the announced package"));
  Result<std::string> downloaded = std::string("something else entirely");
  Outcome o = Execute(dev_, c, &downloaded);
  EXPECT_EQ(o.status, "error");
  EXPECT_NE(o.error.find("hash mismatch"), std::string::npos);
  EXPECT_FALSE(Has(dev_.state.installed_apps, "org.example.vpn"));
}

TEST_F(DeviceModelTest, InstallAppDownloadFailureIsAnError) {
  WireCommand c = Cmd("install_app", InstallPayload("pkg"));
  Result<std::string> downloaded = Status::PermissionDenied("app download failed: HTTP 403");
  Outcome o = Execute(dev_, c, &downloaded);
  EXPECT_EQ(o.status, "error");
  EXPECT_NE(o.error.find("403"), std::string::npos);
  EXPECT_TRUE(dev_.state.installed_apps.empty());
}

TEST_F(DeviceModelTest, InstallAppWithMalformedHashNeedsNoDownloadAndFails) {
  WireCommand c = Cmd("install_app", {{"bundle_id", "x"}, {"sha256", "../../etc/passwd"}});
  EXPECT_FALSE(PackageForInstall(c).has_value());
  EXPECT_EQ(Execute(dev_, c, nullptr).status, "error");
  EXPECT_FALSE(PackageForInstall(Cmd("lock")).has_value());
}

TEST_F(DeviceModelTest, RemoveAppUninstallsAndIsIdempotent) {
  dev_.state.installed_apps = {"com.a", "com.b"};
  dev_.managed_apps = {"com.a"};
  Outcome o = Execute(dev_, Cmd("remove_app", {{"bundle_id", "com.a"}}), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_EQ(o.result["removed"], true);
  EXPECT_FALSE(Has(dev_.state.installed_apps, "com.a"));
  EXPECT_TRUE(dev_.managed_apps.empty());
  Outcome again = Execute(dev_, Cmd("remove_app", {{"bundle_id", "com.a"}}), nullptr);
  EXPECT_EQ(again.status, "acknowledged");
  EXPECT_EQ(again.result["removed"], false);
  EXPECT_EQ(Execute(dev_, Cmd("remove_app"), nullptr).status, "error");
}

TEST_F(DeviceModelTest, ApplyPolicyStoresItDisablesCameraAndPromptsForPasscode) {
  ASSERT_EQ(dev_.state.passcode_length, 4);
  json payload = {{"policy_id", "pol_1"},
                  {"rules", {{"passcode_min_length", 6}, {"camera_allowed", false}}}};
  Outcome o = Execute(dev_, Cmd("apply_policy", payload), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_EQ(o.result["passcode_prompt"], true);
  EXPECT_EQ(dev_.policies["pol_1"], payload["rules"]);
  EXPECT_TRUE(dev_.state.camera_disabled);
  // The user has not answered the prompt yet: the device still reports its short passcode.
  EXPECT_EQ(dev_.state.passcode_length, 4);
  BeforeCheckin(dev_);
  EXPECT_TRUE(dev_.state.passcode_set);
  EXPECT_EQ(dev_.state.passcode_length, 6);
  EXPECT_EQ(dev_.passcode_prompt_min_length, 0);
}

TEST_F(DeviceModelTest, ApplyPolicyWithSatisfiedPasscodeDoesNotPrompt) {
  json payload = {{"policy_id", "pol_1"}, {"rules", {{"passcode_min_length", 4}}}};
  Outcome o = Execute(dev_, Cmd("apply_policy", payload), nullptr);
  EXPECT_EQ(o.result["passcode_prompt"], false);
  EXPECT_FALSE(dev_.state.camera_disabled);
  BeforeCheckin(dev_);
  EXPECT_EQ(dev_.state.passcode_length, 4);
}

TEST_F(DeviceModelTest, ApplyPolicyWithoutRulesIsAnError) {
  EXPECT_EQ(Execute(dev_, Cmd("apply_policy", {{"policy_id", "pol_1"}}), nullptr).status, "error");
  EXPECT_EQ(
      Execute(dev_, Cmd("apply_policy", {{"policy_id", "p"}, {"rules", {{"camera_allowed", 3}}}}),
              nullptr)
          .status,
      "error");
  EXPECT_TRUE(dev_.policies.empty());
}

TEST_F(DeviceModelTest, MostRestrictiveOfSeveralPoliciesWins) {
  Execute(dev_,
          Cmd("apply_policy", {{"policy_id", "strict"},
                               {"rules", {{"passcode_min_length", 8}, {"camera_allowed", false}}}}),
          nullptr);
  Execute(dev_,
          Cmd("apply_policy", {{"policy_id", "lenient"},
                               {"rules", {{"passcode_min_length", 0}, {"camera_allowed", true}}}}),
          nullptr);
  EXPECT_TRUE(dev_.state.camera_disabled) << "the lenient policy must not re-enable the camera";
  EXPECT_EQ(dev_.passcode_prompt_min_length, 8) << "nor cancel the strict passcode prompt";
  // The strict policy changes to allow the camera: the restriction lifts.
  Execute(dev_,
          Cmd("apply_policy", {{"policy_id", "strict"}, {"rules", {{"camera_allowed", true}}}}),
          nullptr);
  EXPECT_FALSE(dev_.state.camera_disabled);
}

TEST_F(DeviceModelTest, CorporateWipeRemovesOnlyManagedAppsAndPolicy) {
  dev_.state.installed_apps = {"com.personal", "org.corp.mail"};
  dev_.managed_apps = {"org.corp.mail"};
  dev_.policies = {{"pol_1", json::object()}};
  dev_.state.camera_disabled = true;
  Outcome o = Execute(dev_, Cmd("wipe", {{"mode", "corporate"}}), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_EQ(o.effect, Effect::kNone);
  EXPECT_EQ(dev_.state.installed_apps, std::vector<std::string>{"com.personal"});
  EXPECT_TRUE(dev_.managed_apps.empty());
  EXPECT_TRUE(dev_.policies.empty());
  EXPECT_FALSE(dev_.state.camera_disabled);
}

TEST_F(DeviceModelTest, FullWipeResetsTheDeviceAndForgetsEnrollment) {
  dev_.state.installed_apps = {"com.personal"};
  dev_.locked = true;
  dev_.state.compromised = true;
  Outcome o = Execute(dev_, Cmd("wipe", {{"mode", "full"}}), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_EQ(o.effect, Effect::kForgetEnrollment);
  EXPECT_TRUE(dev_.state.installed_apps.empty());
  EXPECT_FALSE(dev_.locked);
  EXPECT_FALSE(dev_.state.passcode_set);
  EXPECT_FALSE(dev_.state.compromised);
  EXPECT_EQ(dev_.state.os_version, "14");
  EXPECT_EQ(dev_.platform, core::Platform::kAndroid);
}

TEST_F(DeviceModelTest, WipeWithUnknownModeIsAnError) {
  dev_.state.installed_apps = {"com.personal"};
  Outcome o = Execute(dev_, Cmd("wipe", {{"mode", "partial"}}), nullptr);
  EXPECT_EQ(o.status, "error");
  EXPECT_EQ(o.effect, Effect::kNone);
  EXPECT_EQ(dev_.state.installed_apps.size(), 1u);
}

TEST_F(DeviceModelTest, RetireAcknowledgesAndStops) {
  dev_.managed_apps = {"org.corp.mail"};
  dev_.state.installed_apps = {"org.corp.mail"};
  Outcome o = Execute(dev_, Cmd("retire"), nullptr);
  EXPECT_EQ(o.status, "acknowledged");
  EXPECT_EQ(o.effect, Effect::kRetire);
  EXPECT_TRUE(dev_.state.installed_apps.empty());
}

TEST_F(DeviceModelTest, UnknownTypeIsRejectedWithoutSideEffects) {
  SimDevice before = dev_;
  Outcome o = Execute(dev_, Cmd("format_c_drive"), nullptr);
  EXPECT_EQ(o.status, "error");
  EXPECT_NE(o.error.find("unknown command type"), std::string::npos);
  EXPECT_EQ(SimDeviceToJson(before), SimDeviceToJson(dev_));
  EXPECT_EQ(Execute(dev_, Cmd("lock", json::array()), nullptr).status, "error");
}

TEST_F(DeviceModelTest, DriftKeepsBatteryWithinBoundsAndMovesIt) {
  std::mt19937_64 rng(42);
  DriftRates always{
      .os_update = 1, .compromise = 0, .install_personal_app = 1, .remove_personal_app = 0.5};
  int min_seen = 100, max_seen = 0;
  bool charged = false, drained = false;
  int previous = dev_.state.battery_percent;
  for (int i = 0; i < 5000; ++i) {
    Drift(dev_, rng, 900, always);
    int b = dev_.state.battery_percent;
    ASSERT_GE(b, 0);
    ASSERT_LE(b, 100);
    if (b > previous) charged = true;
    if (b < previous) drained = true;
    previous = b;
    min_seen = std::min(min_seen, b);
    max_seen = std::max(max_seen, b);
  }
  EXPECT_TRUE(charged);
  EXPECT_TRUE(drained);
  EXPECT_LT(min_seen, 30);
  EXPECT_GT(max_seen, 90);
  EXPECT_FALSE(dev_.state.compromised);
  EXPECT_NE(dev_.state.os_version, "14");
  EXPECT_EQ(dev_.state.os_version.rfind("14.", 0), 0u);
  // Installed apps never repeat and stay within the personal catalogue.
  std::vector<std::string> apps = dev_.state.installed_apps;
  std::sort(apps.begin(), apps.end());
  EXPECT_EQ(std::adjacent_find(apps.begin(), apps.end()), apps.end());
  EXPECT_LE(apps.size(), 12u);
}

TEST_F(DeviceModelTest, DriftNeverRemovesManagedApps) {
  std::mt19937_64 rng(7);
  dev_.state.installed_apps = {"org.corp.mail"};
  dev_.managed_apps = {"org.corp.mail"};
  DriftRates removals{
      .os_update = 0, .compromise = 0, .install_personal_app = 0.3, .remove_personal_app = 1};
  for (int i = 0; i < 500; ++i) Drift(dev_, rng, 60, removals);
  EXPECT_TRUE(Has(dev_.state.installed_apps, "org.corp.mail"));
}

TEST_F(DeviceModelTest, CompromiseSticksUntilWiped) {
  std::mt19937_64 rng(1);
  DriftRates root{
      .os_update = 0, .compromise = 1, .install_personal_app = 0, .remove_personal_app = 0};
  Drift(dev_, rng, 60, root);
  EXPECT_TRUE(dev_.state.compromised);
  Drift(dev_, rng, 60, DriftRates{0, 0, 0, 0});
  EXPECT_TRUE(dev_.state.compromised);
}

TEST_F(DeviceModelTest, JsonRoundTrip) {
  dev_.policies = {{"pol_1", {{"camera_allowed", false}}}};
  dev_.managed_apps = {"a"};
  dev_.state.installed_apps = {"a", "b"};
  dev_.lock_message = "m";
  dev_.passcode_prompt_min_length = 8;
  auto back = SimDeviceFromJson(SimDeviceToJson(dev_));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(SimDeviceToJson(*back), SimDeviceToJson(dev_));
  EXPECT_EQ(back->state.installed_apps, dev_.state.installed_apps);
}

}  // namespace
}  // namespace rampart::agent
