// In-process fixture for the application layer: a real App over an in-memory SQLite store and a
// manual clock, driven with http::Request values exactly as the HTTP server would hand them in.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../support/memory_trail.h"
#include "api/app.h"
#include "api/credentials.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "core/device_signing.h"
#include "keeper/service.h"
#include "store/store.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/fake_keeper.h"

namespace rampart::api::testing {

using nlohmann::json;

struct Reply {
  int status = 0;
  json body;
  std::string raw;
  std::string ErrorCode() const {
    return body.is_object() && body.contains("error") ? body["error"].value("code", "") : "";
  }
};

struct SimDevice {
  std::string id;
  crypto::Ed25519KeyPair key;
};

// For the route walks (openapi_test, route_walk_test): the kind of object a route pattern
// names ("group" for /api/v1/groups/{id}/...), the last matching prefix of the list winning;
// empty for none.
inline std::string RouteObjectKind(const std::string& pattern) {
  static const std::vector<std::pair<std::string, std::string>> kPrefixes = {
      {"/api/v1/institutions/", "inst"},    {"/api/v1/staff/exports/", "export"},
      {"/api/v1/staff/", "staff"},          {"/api/v1/devices/", "device"},
      {"/api/v1/groups/", "group"},         {"/api/v1/enrollment-tokens/", "enrollment"},
      {"/api/v1/policies/", "policy"},      {"/api/v1/apps/", "app"},
      {"/api/v1/tokens/", "token"},         {"/api/v1/users/", "user"},
      {"/api/v1/alerts/", "alert"},         {"/device/v1/commands/", "command"},
      {"/api/v1/commands/", "pending"},     {"/api/v1/incidents/", "incident"},
      {"/api/v1/command-batches/", "batch"}};
  std::string kind;
  for (const auto& [prefix, k] : kPrefixes) {
    if (pattern.rfind(prefix, 0) == 0) kind = k;
  }
  return kind;
}

// The body the containment routes accept ({"reason"}) for the route walks; empty for any other
// route.
inline std::string ContainmentWalkBody(const std::string& pattern) {
  if (pattern.rfind("/api/v1/command-batches/", 0) == 0 ||
      pattern == "/api/v1/apps/{id}/quarantine" || pattern == "/api/v1/apps/{id}/release") {
    return nlohmann::json{{"reason", "Walk"}}.dump();
  }
  return "";
}

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    apps_dir_ =
        std::filesystem::temp_directory_path() / ("rampart-api-test-" + crypto::RandomHex(6));
    std::filesystem::create_directories(apps_dir_);
    auto s = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    options_.apps_dir = apps_dir_.string();
    options_.server_identity_key = crypto::GenerateEd25519().public_key;
    options_.tls_ca_fingerprint = "00";
    options_.config.not_now_retry_seconds = 60;
    options_.config.max_not_now = 3;
    options_.config.keeper.canary_staff_per_institution = canaries_;
    // Staff data goes through the real keeper rules in-process (audit trail in memory); commands
    // are signed by a fake with real keys that tests can inspect, forge with, or take down.
    keeper::KeeperOptions keeper_options;
    keeper_options.key_dir = (apps_dir_ / "keeper").string();
    auto k = keeper::KeeperService::Open(keeper_options, &trail_, &clock_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    vault_ = std::move(k).value();
    keeper_.set_vault(vault_.get());
    options_.keeper = &keeper_;
    options_.events = &events_;
    app_ = std::make_unique<App>(options_, store_.get(), &clock_);
    superadmin_ = Issue(core::Role::kSuperAdmin, "");
  }

  void TearDown() override { std::filesystem::remove_all(apps_dir_); }

  std::string Issue(core::Role role, const std::string& institution) {
    auto issued = IssueApiToken(*store_, clock_, role, institution, "test", 0);
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    return issued.ok() ? issued->secret : "";
  }

  http::Request MakeRequest(const std::string& method, const std::string& target,
                            const std::string& body) {
    http::Request r;
    r.method = method;
    r.target = target;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    r.body = body;
    r.remote_ip = "127.0.0.1";
    r.request_id = crypto::RandomHex(8);
    return r;
  }

  static Reply ToReply(const http::Response& resp) {
    Reply reply;
    reply.status = resp.status;
    reply.raw = resp.body;
    reply.body = json::parse(resp.body, nullptr, false);
    return reply;
  }

  Reply Send(const std::string& method, const std::string& target, const std::string& token,
             const std::string& body = "") {
    http::Request r = MakeRequest(method, target, body);
    if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
    return ToReply(app_->Handle(r));
  }
  Reply Send(const std::string& method, const std::string& target, const std::string& token,
             const json& body) {
    return Send(method, target, token, body.dump());
  }

  // Signed device request; `tweak` lets a test corrupt one part after signing.
  // `signed_target` and `signed_body` sign something other than what is sent when not empty.
  Reply DeviceSend(const SimDevice& d, const std::string& method, const std::string& target,
                   const std::string& body, int64_t ts_offset = 0, std::string nonce = "",
                   bool corrupt_signature = false, const std::string& signed_target = "",
                   const std::string* signed_body = nullptr) {
    http::Request r = MakeRequest(method, target, body);
    int64_t ts = clock_.NowSeconds() + ts_offset;
    if (nonce.empty()) nonce = crypto::RandomHex(16);
    std::string msg =
        core::DeviceSigningString(method, signed_target.empty() ? target : signed_target, ts, nonce,
                                  crypto::Sha256Hex(signed_body ? *signed_body : body), d.id);
    std::string sig = *crypto::SignEd25519(d.key.secret_key, msg);
    if (corrupt_signature) sig[5] ^= 0x10;
    r.headers.emplace_back("x-rampart-device", d.id);
    r.headers.emplace_back("x-rampart-timestamp", std::to_string(ts));
    r.headers.emplace_back("x-rampart-nonce", nonce);
    r.headers.emplace_back("x-rampart-signature", crypto::Base64Encode(sig));
    return ToReply(app_->Handle(r));
  }

  std::string CreateInstitution(const std::string& name) {
    Reply r = Send("POST", "/api/v1/institutions", superadmin_, json{{"name", name}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  std::string CreateEnrollmentToken(const std::string& admin_token, int max_uses = 50) {
    Reply r = Send("POST", "/api/v1/enrollment-tokens", admin_token, json{{"max_uses", max_uses}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("token", "");
  }

  SimDevice Enroll(const std::string& enrollment_token, const std::string& platform = "android",
                   const std::string& os = "14") {
    SimDevice d;
    d.key = crypto::GenerateEd25519();
    std::string pub = crypto::Base64Encode(d.key.public_key);
    std::string proof = crypto::Base64Encode(
        *crypto::SignEd25519(d.key.secret_key, core::EnrollmentProofString(enrollment_token, pub)));
    Reply r = Send("POST", "/device/v1/enroll", "",
                   json{{"enrollment_token", enrollment_token},
                        {"public_key", pub},
                        {"proof", proof},
                        {"platform", platform},
                        {"model", "Test Phone"},
                        {"serial", "SN" + crypto::RandomHex(4)},
                        {"os_version", os}});
    EXPECT_EQ(r.status, 201) << r.raw;
    d.id = r.body.value("device_id", "");
    return d;
  }

  static json GoodState(const std::string& os = "14") {
    return json{{"os_version", os},
                {"passcode_set", true},
                {"passcode_length", 6},
                {"storage_encrypted", true},
                {"compromised", false},
                {"battery_percent", 80},
                {"installed_apps", json::array()}};
  }

  Reply Checkin(const SimDevice& d, const json& state) {
    return DeviceSend(d, "POST", "/device/v1/checkin", json{{"state", state}}.dump());
  }

  ManualClock clock_{1769760000000};  // 2026-01-30T08:00:00Z
  ::rampart::testing::FakeKeeper keeper_;
  AppOptions options_;
  std::filesystem::path apps_dir_;
  std::unique_ptr<store::Store> store_;
  int canaries_ = 0;  // canary staff per institution; a test fixture may set it before SetUp
  keeper::testing::MemoryTrail trail_{&clock_};
  ::rampart::testing::CapturingSink events_;  // what the app hands the detection engine
  std::unique_ptr<keeper::KeeperService> vault_;
  std::unique_ptr<App> app_;
  std::string superadmin_;
};

}  // namespace rampart::api::testing
