// The router and docs/openapi.yaml describe the same routes with the same permissions, and
// every route refuses an unauthenticated caller, a caller whose role lacks the permission and a
// caller of another institution.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "api_fixture.h"
#include "core/permissions.h"

namespace rampart::api::testing {
namespace {

using RouteKey = std::pair<std::string, std::string>;  // (METHOD, pattern)

std::map<RouteKey, std::string> SpecRoutes() {
  YAML::Node doc = YAML::LoadFile(std::string(RAMPART_SOURCE_DIR) + "/docs/openapi.yaml");
  std::map<RouteKey, std::string> out;
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      std::string method = op.first.as<std::string>();
      std::transform(method.begin(), method.end(), method.begin(), ::toupper);
      out[{method, path.first.as<std::string>()}] = op.second["x-permission"].as<std::string>("");
    }
  }
  return out;
}

TEST(OpenApi, RouterAndSpecAgree) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  auto store = store::OpenStore("sqlite::memory:");
  ASSERT_TRUE(store.ok());
  ManualClock clock(0);
  App app(AppOptions{}, store->get(), &clock);
  std::map<RouteKey, std::string> router;
  for (const auto& r : app.Routes()) {
    EXPECT_TRUE(router.emplace(RouteKey{r.method, r.pattern}, r.permission).second)
        << "duplicate route " << r.method << " " << r.pattern;
  }
  auto spec = SpecRoutes();
  for (const auto& [key, perm] : router) {
    auto it = spec.find(key);
    if (it == spec.end()) {
      ADD_FAILURE() << key.first << " " << key.second << " is served but not in docs/openapi.yaml";
      continue;
    }
    EXPECT_EQ(it->second, perm) << key.first << " " << key.second << ": permission differs";
  }
  for (const auto& [key, perm] : spec) {
    EXPECT_TRUE(router.count(key))
        << key.first << " " << key.second << " is in docs/openapi.yaml but not served";
  }
  EXPECT_GT(router.size(), 40u);
}

class RouteWalk : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    inst_a_ = CreateInstitution("A");
    inst_b_ = CreateInstitution("B");
    admin_a_ = Issue(core::Role::kAdmin, inst_a_);
    admin_b_ = Issue(core::Role::kAdmin, inst_b_);
    device_a_ = Enroll(CreateEnrollmentToken(admin_a_));
    auto created = [&](const std::string& target, const json& body) {
      Reply r = Send("POST", target, admin_a_, body);
      EXPECT_EQ(r.status, 201) << target << " " << r.raw;
      return r.body;
    };
    ids_["staff"] = created("/api/v1/staff", json{{"name", "Alice A"}})["id"];
    ids_["export"] =
        created("/api/v1/staff/exports", json{{"reason", "Audit of the directory"}})["id"];
    ids_["group"] = created("/api/v1/groups", json{{"name", "G"}})["id"];
    ids_["policy"] = created("/api/v1/policies", json{{"name", "P"}})["id"];
    ids_["assignment"] = created("/api/v1/policies/" + ids_["policy"] + "/assignments",
                                 json{{"target", "institution"}})["id"];
    ids_["enrollment"] = created("/api/v1/enrollment-tokens", json::object())["id"];
    ids_["token"] = created("/api/v1/tokens", json{{"role", "auditor"}})["id"];
    ids_["user"] =
        created("/api/v1/users", json{{"username", "a-user"}, {"role", "auditor"}})["id"];
    ids_["command"] =
        created("/api/v1/devices/" + device_a_.id + "/commands", json{{"type", "restart"}})["id"];
    // A wipe waits for approval: the approval routes address it.
    ids_["pending"] =
        created("/api/v1/devices/" + device_a_.id + "/commands", json{{"type", "wipe"}})["id"];
    Reply app = Send("POST", "/api/v1/apps?name=A&bundle_id=a.a&version=1&platform=android",
                     admin_a_, std::string("package-a"));
    ids_["app"] = app.body["id"];
    app_sha_ = app.body["sha256"];
    core::Alert alert;
    alert.institution_id = inst_a_;
    alert.rule_id = "rule";
    alert.rule_title = "Rule";
    alert.entity = "source.ip=192.0.2.1";
    alert.severity = "high";
    alert.first_seen = alert.last_seen = alert.created_at = 1;
    alert.count = 1;
    auto stored = store_->RecordAlert(alert, 5);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    ids_["alert"] = stored->id;
    auto incident = store_->AttachAlertToIncident(stored->id, 86400, 1);
    ASSERT_TRUE(incident.ok()) << incident.status().ToString();
    ids_["incident"] = incident->id;
    // A well-formed batch id: the refusals come before the batch is looked up (route_walk_test
    // walks a real batch of A's).
    ids_["batch"] = "bat_" + std::string(24, '0');
    device_b_ = Enroll(CreateEnrollmentToken(admin_b_));
    group_b_ = Send("POST", "/api/v1/groups", admin_b_, json{{"name", "GB"}}).body["id"];
  }

  // Fills a route pattern with institution A's ids.
  std::string Fill(const std::string& pattern) {
    const std::string kind = RouteObjectKind(pattern);
    std::map<std::string, std::string> values = {{"{command_id}", ids_["command"]},
                                                 {"{device_id}", device_a_.id},
                                                 {"{assignment_id}", ids_["assignment"]},
                                                 {"{sha256}", app_sha_},
                                                 {"{kind}", "early-warning"},
                                                 {"{bundle_id}", "evb_000000000000"}};
    values["{id}"] = kind == "inst" ? inst_a_ : kind == "device" ? device_a_.id : ids_[kind];
    std::string out = pattern;
    for (const auto& [placeholder, value] : values) {
      auto pos = out.find(placeholder);
      if (pos != std::string::npos) out.replace(pos, placeholder.size(), value);
    }
    return out;
  }

  // A body that would succeed if the caller were allowed to touch the object.
  std::string BodyFor(const std::string& method, const std::string& pattern) {
    if (method == "GET" || method == "DELETE") return "";
    if (pattern == "/api/v1/devices/{id}/commands") return json{{"type", "lock"}}.dump();
    if (pattern == "/api/v1/policies/{id}/assignments")
      return json{{"target", "institution"}}.dump();
    if (pattern == "/api/v1/apps/{id}/assignments") return json{{"group_id", group_b_}}.dump();
    if (pattern == "/api/v1/apps") return "package";
    if (pattern == "/api/v1/tokens") return json{{"role", "auditor"}}.dump();
    if (pattern == "/api/v1/users") return json{{"username", "walker"}, {"role", "auditor"}}.dump();
    if (pattern == "/api/v1/users/{id}") return json{{"disabled", true}}.dump();
    if (pattern == "/api/v1/devices/{id}") return json{{"ownership", "personal"}}.dump();
    if (pattern == "/api/v1/incidents/{id}/transition") return json{{"state", "triaged"}}.dump();
    if (pattern == "/api/v1/incidents/{id}/notes") return json{{"text", "Looked at it"}}.dump();
    if (std::string reason = ContainmentWalkBody(pattern); !reason.empty()) return reason;
    return json{{"name", "Changed"}}.dump();
  }

  std::string inst_a_, inst_b_, admin_a_, admin_b_, group_b_, app_sha_;
  SimDevice device_b_;
  SimDevice device_a_;
  std::map<std::string, std::string> ids_;
};

TEST_F(RouteWalk, EveryRouteRefusesTheWrongCaller) {
  const std::vector<core::Role> roles = {core::Role::kAdmin, core::Role::kHelpdesk,
                                         core::Role::kAnalyst, core::Role::kAuditor};
  std::map<core::Role, std::string> tokens_a;
  for (auto role : roles) tokens_a[role] = Issue(role, inst_a_);
  int checked_cross_tenant = 0;
  for (const auto& route : app_->Routes()) {
    SCOPED_TRACE(route.method + " " + route.pattern);
    if (route.permission == core::kPublic) continue;
    std::string target = Fill(route.pattern);
    std::string body = BodyFor(route.method, route.pattern);
    if (route.permission == core::kDevice) {
      EXPECT_EQ(Send(route.method, target, "", body).status, 401);
      EXPECT_EQ(Send(route.method, target, admin_a_, body).status, 401)
          << "an admin token is not a device credential";
      if (route.pattern.find('{') != std::string::npos) {
        std::string device_body =
            route.method == "POST" ? json{{"status", "acknowledged"}}.dump() : "";
        EXPECT_EQ(DeviceSend(device_b_, route.method, target, device_body).status, 404)
            << "a device of institution B reached A's command or package";
        ++checked_cross_tenant;
      }
      continue;
    }
    EXPECT_EQ(Send(route.method, target, "", body).status, 401);
    EXPECT_EQ(Send(route.method, target, "rmp_forged", body).status, 401);
    for (auto role : roles) {
      if (core::RoleHasPermission(role, route.permission)) continue;
      EXPECT_EQ(Send(route.method, target, tokens_a[role], body).status, 403)
          << core::ToString(role);
    }
    if (route.pattern.find('{') != std::string::npos) {
      Reply r = Send(route.method, target, admin_b_, body);
      EXPECT_EQ(r.status, 404) << "another institution's admin: " << r.raw;
      ++checked_cross_tenant;
    }
  }
  EXPECT_GT(checked_cross_tenant, 20);
  // Institution B's attempts changed nothing of A's.
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + ids_["staff"] + "?reveal=true", admin_a_).body["name"],
            "Alice A");
  EXPECT_EQ(Send("GET", "/api/v1/devices/" + device_a_.id, admin_a_).body["status"], "active");
  Reply commands = Send("GET", "/api/v1/devices/" + device_a_.id + "/commands", admin_a_);
  ASSERT_EQ(commands.body["items"].size(), 3u) << "apply_policy, restart and the wipe only";
  EXPECT_EQ(commands.body["items"][2]["state"], "awaiting_approval")
      << "B's approval attempts did not approve A's wipe";
  EXPECT_EQ(Send("GET", "/api/v1/policies/" + ids_["policy"], admin_a_).body["name"], "P");
  EXPECT_EQ(Send("GET", "/api/v1/apps/" + ids_["app"], admin_a_).body["quarantined"], false);
}

}  // namespace
}  // namespace rampart::api::testing
