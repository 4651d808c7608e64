// Walks every route of App::Routes() with bearer tokens and with session cookies and proves
// that each non-public route refuses (a) an unauthenticated caller with 401, (b) a caller whose
// role lacks the route's permission with 403, and (c) a caller of another institution: 404 for
// a route naming one of institution A's objects, and for a list route a response holding none
// of A's ids. New routes are walked without touching this file; a route naming a kind of object
// the walk cannot fill fails the test until it is taught the kind.
#include "identity_fixture.h"

#include "core/permissions.h"

namespace rampart::api::testing {
namespace {

const std::vector<core::Role> kInstitutionRoles = {core::Role::kAdmin, core::Role::kHelpdesk,
                                                   core::Role::kAnalyst, core::Role::kAuditor};

// One way of presenting credentials.
struct Caller {
  std::string label;
  std::string token;  // bearer secret, or empty
  Session session;    // used when token is empty
};

class AuthzWalk : public IdentityFixture {
 protected:
  void SetUp() override {
    IdentityFixture::SetUp();
    inst_a_ = CreateInstitution("A");
    inst_b_ = CreateInstitution("B");
    admin_a_ = Issue(core::Role::kAdmin, inst_a_);
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
    ids_["command"] =
        created("/api/v1/devices/" + device_a_.id + "/commands", json{{"type", "restart"}})["id"];
    Reply app = Send("POST", "/api/v1/apps?name=A&bundle_id=a.a&version=1&platform=android",
                     admin_a_, std::string("package-a"));
    ids_["app"] = app.body["id"];
    app_sha_ = app.body["sha256"];
    ids_["user"] =
        created("/api/v1/users", json{{"username", "a-helper"}, {"role", "helpdesk"}})["id"];
    // A wipe waits for a second admin: the approval routes name it.
    ids_["pending"] =
        created("/api/v1/devices/" + device_a_.id + "/commands", json{{"type", "wipe"}})["id"];
    {
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
    }
    // A front-door block of A's. Its id is a number, so it stays out of ids_ (whose values the
    // list check searches for in B's answers).
    block_a_ = std::to_string(
        created("/api/v1/blocks", json{{"value", "192.0.2.200"}})["id"].get<int64_t>());
    {
      // A wipe of a group of two waits for a second admin as one batch.
      std::string enroll = CreateEnrollmentToken(admin_a_);
      std::string wiped = created("/api/v1/groups", json{{"name", "W"}})["id"];
      for (int i = 0; i < 2; ++i) {
        SimDevice d = Enroll(enroll);
        EXPECT_EQ(Send("PUT", "/api/v1/groups/" + wiped + "/devices/" + d.id, admin_a_).status,
                  200);
      }
      ids_["batch"] =
          created("/api/v1/groups/" + wiped + "/commands", json{{"type", "wipe"}})["batch_id"];
    }
    ids_["device"] = device_a_.id;
    ids_["inst"] = inst_a_;

    // Callers of institution A, one per role, each as a token and as a signed-in user.
    for (auto role : kInstitutionRoles) {
      std::string name(core::ToString(role));
      callers_a_[role].push_back({name + " token", Issue(role, inst_a_), {}});
      TestUser u = MakeUser(role, inst_a_, NeedsMfa(role));
      callers_a_[role].push_back({name + " session", "", Login(u)});
    }
    // Institution B's admin, both ways, and an object of B's for bodies that name a group.
    admin_b_ = Issue(core::Role::kAdmin, inst_b_);
    callers_b_.push_back({"B admin token", admin_b_, {}});
    callers_b_.push_back(
        {"B admin session", "", Login(MakeUser(core::Role::kAdmin, inst_b_, true))});
    group_b_ = Send("POST", "/api/v1/groups", admin_b_, json{{"name", "GB"}}).body["id"];
  }

  static bool NeedsMfa(core::Role role) {
    return role == core::Role::kAdmin || role == core::Role::kSuperAdmin;
  }

  Reply Call(const Caller& c, const std::string& method, const std::string& target,
             const std::string& body) {
    if (!c.token.empty()) return Send(method, target, c.token, body);
    return SessionSend(method, target, c.session, body);
  }

  // Fills a route pattern with institution A's ids; empty when the walk does not know the
  // kind of object the pattern names.
  std::string Fill(const std::string& pattern) {
    const std::string kind = RouteObjectKind(pattern);
    std::map<std::string, std::string> values = {{"{command_id}", ids_["command"]},
                                                 {"{device_id}", device_a_.id},
                                                 {"{assignment_id}", ids_["assignment"]},
                                                 {"{sha256}", app_sha_},
                                                 {"{kind}", "early-warning"},
                                                 {"{block_id}", block_a_},
                                                 {"{pending_id}", "pnd_none"},
                                                 {"{bundle_id}", "evb_000000000000"}};
    if (!kind.empty()) values["{id}"] = ids_[kind];
    std::string out = pattern;
    for (const auto& [placeholder, value] : values) {
      auto pos = out.find(placeholder);
      if (pos != std::string::npos) out.replace(pos, placeholder.size(), value);
    }
    return out.find('{') == std::string::npos ? out : "";
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

  std::string inst_a_, inst_b_, admin_a_, admin_b_, group_b_, app_sha_, block_a_;
  SimDevice device_a_;
  std::map<std::string, std::string> ids_;
  std::map<core::Role, std::vector<Caller>> callers_a_;
  std::vector<Caller> callers_b_;
};

TEST_F(AuthzWalk, EveryRouteRefusesStrangersWrongRolesAndOtherInstitutions) {
  int forbidden_checked = 0, object_checked = 0, list_checked = 0;
  for (const auto& route : app_->Routes()) {
    SCOPED_TRACE(route.method + " " + route.pattern);
    if (route.permission == core::kPublic) continue;
    std::string target = Fill(route.pattern);
    if (target.empty()) {
      ADD_FAILURE() << "the walk cannot name an object for this route: teach Fill() its kind";
      continue;
    }
    std::string body = BodyFor(route.method, route.pattern);
    // (a) No credentials, or forged ones, of either kind.
    EXPECT_EQ(Send(route.method, target, "", body).status, 401);
    EXPECT_EQ(Send(route.method, target, "rmp_forged", body).status, 401);
    EXPECT_EQ(SessionSend(route.method, target, Session{"rms_forged", "x", ""}, body).status, 401);
    if (route.permission == core::kDevice) {
      for (const auto& c : callers_a_[core::Role::kAdmin]) {
        EXPECT_EQ(Call(c, route.method, target, body).status, 401)
            << c.label << " is not a device credential";
      }
      continue;
    }
    // (b) Every role of A that lacks the permission, as a token and as a session.
    for (auto role : kInstitutionRoles) {
      if (core::RoleHasPermission(role, route.permission)) continue;
      for (const auto& c : callers_a_[role]) {
        EXPECT_EQ(Call(c, route.method, target, body).status, 403) << c.label;
        ++forbidden_checked;
      }
    }
    // (c) Institution B's admin.
    bool names_object = route.pattern.find('{') != std::string::npos;
    for (const auto& c : callers_b_) {
      if (!core::RoleHasPermission(core::Role::kAdmin, route.permission)) break;
      if (names_object) {
        Reply r = Call(c, route.method, target, body);
        EXPECT_EQ(r.status, 404) << c.label << ": " << r.raw;
        ++object_checked;
      } else if (route.method == "GET") {
        Reply r = Call(c, route.method, target, "");
        EXPECT_LT(r.status, 500) << c.label;
        for (const auto& [kind, id] : ids_) {
          EXPECT_EQ(r.raw.find(id), std::string::npos)
              << c.label << " listed institution A's " << kind;
        }
        ++list_checked;
      }
    }
  }
  EXPECT_GT(forbidden_checked, 40);
  EXPECT_GT(object_checked, 40);
  EXPECT_GT(list_checked, 15);

  // B's attempts changed nothing of A's.
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + ids_["staff"] + "?reveal=true", admin_a_).body["name"],
            "Alice A");
  EXPECT_EQ(Send("GET", "/api/v1/devices/" + device_a_.id, admin_a_).body["status"], "active");
  EXPECT_EQ(Send("GET", "/api/v1/policies/" + ids_["policy"], admin_a_).body["name"], "P");
  EXPECT_EQ(Send("GET", "/api/v1/apps/" + ids_["app"], admin_a_).body["quarantined"], false);
  EXPECT_EQ(Send("GET", "/api/v1/users/" + ids_["user"], admin_a_).body["disabled"], false);
  EXPECT_EQ(Send("GET", "/api/v1/blocks", admin_a_).body["items"].size(), 1u);
  EXPECT_EQ(Send("GET", "/api/v1/institutions/" + inst_a_ + "/lockdown", admin_a_).body["locked"],
            false);
  Reply commands = Send("GET", "/api/v1/devices/" + device_a_.id + "/commands", admin_a_);
  EXPECT_EQ(commands.body["items"].size(), 3u) << "apply_policy, restart and the pending wipe only";
  for (auto role : kInstitutionRoles) {
    EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", callers_a_[role][1].session).status, 200)
        << "A's sessions survive B's revocation attempts";
  }
}

}  // namespace
}  // namespace rampart::api::testing
