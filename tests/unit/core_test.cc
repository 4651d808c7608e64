#include <gtest/gtest.h>
#include <chrono>
#include <cstdint>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "core/commands.h"
#include "core/compliance.h"
#include "core/device_signing.h"
#include "core/permissions.h"

namespace rampart::core {
namespace {

Policy MakePolicy(std::string id, PolicyRules rules) {
  Policy p;
  p.id = std::move(id);
  p.rules = std::move(rules);
  return p;
}

DeviceState GoodState() {
  DeviceState s;
  s.os_version = "17.4";
  s.passcode_set = true;
  s.passcode_length = 6;
  s.storage_encrypted = true;
  s.installed_apps = {"com.example.mail"};
  return s;
}

TEST(Compliance, NoPolicyMeansCompliant) {
  auto v = EvaluateCompliance(Platform::kIos, DeviceState{}, {});
  EXPECT_EQ(v.state, ComplianceState::kCompliant);
  EXPECT_TRUE(v.reasons.empty());
}

TEST(Compliance, ListsEveryReason) {
  PolicyRules r;
  r.passcode_min_length = 8;
  r.require_storage_encryption = true;
  r.min_os_version_ios = "17.10";
  r.block_compromised = true;
  r.camera_allowed = false;
  r.required_apps = {"org.example.vpn"};
  r.forbidden_apps = {"com.example.mail"};
  DeviceState s = GoodState();
  s.storage_encrypted = false;
  s.compromised = true;
  auto v = EvaluateCompliance(Platform::kIos, s, {MakePolicy("pol_a", r)});
  EXPECT_EQ(v.state, ComplianceState::kNonCompliant);
  std::vector<std::string> codes;
  for (const auto& reason : v.reasons) {
    codes.push_back(reason.code);
    EXPECT_EQ(reason.policy_id, "pol_a");
    EXPECT_FALSE(reason.message.empty());
  }
  EXPECT_EQ(codes,
            (std::vector<std::string>{"passcode_too_short", "storage_not_encrypted", "os_too_old",
                                      "device_compromised", "camera_not_disabled",
                                      "required_app_missing", "forbidden_app_installed"}));
}

TEST(Compliance, PlatformSpecificMinimumOs) {
  PolicyRules r;
  r.min_os_version_android = "14";
  DeviceState s = GoodState();
  s.os_version = "13.1";
  EXPECT_EQ(EvaluateCompliance(Platform::kAndroid, s, {MakePolicy("p", r)}).state,
            ComplianceState::kNonCompliant);
  EXPECT_EQ(EvaluateCompliance(Platform::kIos, s, {MakePolicy("p", r)}).state,
            ComplianceState::kCompliant);
}

TEST(Compliance, MissingPasscode) {
  PolicyRules r;
  r.passcode_min_length = 4;
  DeviceState s = GoodState();
  s.passcode_set = false;
  auto v = EvaluateCompliance(Platform::kAndroid, s, {MakePolicy("p", r)});
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0].code, "passcode_missing");
}

TEST(Compliance, CompareVersions) {
  EXPECT_LT(CompareVersions("17.4", "17.10"), 0);
  EXPECT_EQ(CompareVersions("17.0", "17"), 0);
  EXPECT_GT(CompareVersions("18", "17.9.9"), 0);
  EXPECT_EQ(CompareVersions("", ""), 0);
  EXPECT_LT(CompareVersions("abc", "1"), 0);
}

TEST(Compliance, ActionFiresOnceAfterGrace) {
  PolicyRules notify;
  notify.passcode_min_length = 8;
  notify.action = NonComplianceAction::kNotify;
  notify.grace_seconds = 100;
  PolicyRules lock = notify;
  lock.action = NonComplianceAction::kLock;
  lock.grace_seconds = 1000;
  std::vector<Policy> policies{MakePolicy("pol_n", notify), MakePolicy("pol_l", lock)};
  auto v = EvaluateCompliance(Platform::kIos, GoodState(), policies);
  ASSERT_EQ(v.state, ComplianceState::kNonCompliant);
  EXPECT_EQ(DueComplianceAction(v, policies, 5000, 0, 5050).action, NonComplianceAction::kNone);
  auto due = DueComplianceAction(v, policies, 5000, 0, 5100);
  EXPECT_EQ(due.action, NonComplianceAction::kNotify);
  EXPECT_EQ(due.policy_id, "pol_n");
  due = DueComplianceAction(v, policies, 5000, 0, 6000);
  EXPECT_EQ(due.action, NonComplianceAction::kLock);
  EXPECT_EQ(due.policy_id, "pol_l");
  // Already acted after every due time: nothing more.
  EXPECT_EQ(DueComplianceAction(v, policies, 5000, 6000, 9000).action, NonComplianceAction::kNone);
  // The notify fired at 5100: nothing more until the lock's grace runs out, then the lock.
  EXPECT_EQ(DueComplianceAction(v, policies, 5000, 5100, 5500).action, NonComplianceAction::kNone);
  due = DueComplianceAction(v, policies, 5000, 5100, 6000);
  EXPECT_EQ(due.action, NonComplianceAction::kLock) << "an early notify must not prevent the lock";
  // A compliant device never gets an action.
  ComplianceVerdict ok{ComplianceState::kCompliant, {}};
  EXPECT_EQ(DueComplianceAction(ok, policies, 5000, 0, 9000).action, NonComplianceAction::kNone);
}

TEST(Commands, StateMachine) {
  using S = CommandState;
  EXPECT_TRUE(IsAllowedTransition(S::kQueued, S::kSent));
  EXPECT_TRUE(IsAllowedTransition(S::kSent, S::kNotNow));
  EXPECT_TRUE(IsAllowedTransition(S::kNotNow, S::kSent));
  EXPECT_FALSE(IsAllowedTransition(S::kQueued, S::kAcknowledged));
  EXPECT_TRUE(IsAllowedTransition(S::kSent, S::kSent)) << "redelivery after a lost response";
  EXPECT_FALSE(IsAllowedTransition(S::kQueued, S::kNotNow));
  for (S final_state : {S::kAcknowledged, S::kError, S::kCanceled, S::kExpired}) {
    EXPECT_TRUE(IsFinal(final_state));
    for (S to : {S::kQueued, S::kSent, S::kAcknowledged, S::kError, S::kNotNow, S::kCanceled,
                 S::kExpired}) {
      EXPECT_FALSE(IsAllowedTransition(final_state, to));
    }
  }
}

TEST(Commands, ValidatesPayloads) {
  using nlohmann::json;
  EXPECT_EQ(*ValidateCommandPayload(CommandType::kWipe, json::object()), R"({"mode":"full"})");
  EXPECT_FALSE(ValidateCommandPayload(CommandType::kWipe, json{{"mode", "half"}}).ok());
  EXPECT_FALSE(ValidateCommandPayload(CommandType::kLock, json{{"colour", "red"}}).ok());
  EXPECT_FALSE(ValidateCommandPayload(CommandType::kLostMode, json{{"message", "x"}}).ok());
  EXPECT_FALSE(ValidateCommandPayload(CommandType::kLostMode,
                                      json{{"message", "x"}, {"phone", "1; rm -rf /"}})
                   .ok());
  auto lost = ValidateCommandPayload(CommandType::kLostMode,
                                     json{{"message", "Call IT"}, {"phone", "+32 2 555 0100"}});
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(json::parse(*lost)["phone"], "+32 2 555 0100");
  EXPECT_FALSE(ValidateCommandPayload(CommandType::kRestart, json{{"now", true}}).ok());
  EXPECT_FALSE(ValidateCommandPayload(CommandType::kRemoveApp, json::object()).ok());
  EXPECT_TRUE(IsDestructive(CommandType::kWipe));
  EXPECT_FALSE(IsDestructive(CommandType::kLock));
}

TEST(Permissions, RolesAndUnknownPermissionsFailClosed) {
  EXPECT_TRUE(RoleHasPermission(Role::kSuperAdmin, "institutions.write"));
  EXPECT_FALSE(RoleHasPermission(Role::kAdmin, "institutions.write"));
  EXPECT_TRUE(RoleHasPermission(Role::kHelpdesk, "devices.command"));
  EXPECT_FALSE(RoleHasPermission(Role::kHelpdesk, "devices.wipe"));
  EXPECT_FALSE(RoleHasPermission(Role::kAuditor, "devices.command"));
  EXPECT_FALSE(RoleHasPermission(Role::kAnalyst, "staff.read"));
  EXPECT_FALSE(RoleHasPermission(Role::kSuperAdmin, "no.such.permission"));
  EXPECT_TRUE(IsCrossInstitution(Role::kSuperAdmin));
  EXPECT_FALSE(IsCrossInstitution(Role::kAdmin));
}

TEST(Model, NamesRoundTrip) {
  for (auto s : {CommandState::kQueued, CommandState::kSent, CommandState::kAcknowledged,
                 CommandState::kError, CommandState::kNotNow, CommandState::kCanceled,
                 CommandState::kExpired}) {
    EXPECT_EQ(ParseCommandState(ToString(s)), s);
  }
  EXPECT_EQ(ToString(CommandType::kLostMode), "lost_mode");
  EXPECT_FALSE(ParseCommandType("format_c").has_value());
  EXPECT_EQ(ParseRole("superadmin"), Role::kSuperAdmin);
  auto a = NewId("dev");
  EXPECT_EQ(a.size(), 4u + 24u);
  EXPECT_NE(a, NewId("dev"));
}

// Alert ids: the same shape as the random ones, sorting in the order they were made (from one
// millisecond to the next), and distinct within one millisecond.
TEST(Ids, TimeOrderedIdsSortByCreationAndStayDistinct) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  const std::string first = NewTimeOrderedId("alr");
  ASSERT_EQ(first.size(), 4u + 24u);
  EXPECT_EQ(first.substr(0, 4), "alr_");
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  // The time part is now, in milliseconds.
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t id_ms = std::stoll(first.substr(4, 12), nullptr, 16);
  EXPECT_LE(id_ms, now_ms);
  EXPECT_GE(id_ms, now_ms - 60'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  EXPECT_LT(first, NewTimeOrderedId("alr"));
  std::set<std::string> burst;
  for (int i = 0; i < 2000; ++i) burst.insert(NewTimeOrderedId("alr"));
  EXPECT_EQ(burst.size(), 2000u);
}

TEST(DeviceSigning, StringIsStableAndSignable) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  std::string s =
      DeviceSigningString("POST", "/device/v1/checkin", 1769770000, "00ff", "ab", "dev_1");
  EXPECT_EQ(s, "RAMPART-DEVICE-V1\nPOST\n/device/v1/checkin\n1769770000\n00ff\nab\ndev_1");
  auto kp = crypto::GenerateEd25519();
  auto sig = crypto::SignEd25519(kp.secret_key, s);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(kp.public_key, s, *sig));
}

}  // namespace
}  // namespace rampart::core
