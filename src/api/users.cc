// /api/v1/users: console users of an institution (or, for a superadmin, of every institution).
// The same rules as API tokens: nobody creates a role stronger than their own, and an admin
// reaches only users of their own institution. Nobody resets their own second factor.
#include "api/credentials.h"
#include "api/identity.h"
#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

Result<core::Role> ReadRole(const json& body) {
  std::string name;
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "role", &name, true, 32));
  auto role = core::ParseRole(name);
  if (!role) {
    return Status::InvalidArgument("role must be superadmin, admin, helpdesk, analyst or auditor");
  }
  return *role;
}

// Only a cross-institution caller may hand out a cross-institution role.
Status MayGrant(const Call& call, core::Role role) {
  if (core::IsCrossInstitution(role) && !core::IsCrossInstitution(call.principal.role)) {
    return Status::PermissionDenied("only a superadmin may grant the superadmin role");
  }
  return Status::Ok();
}

http::Response CreateUser(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"username", "role", "institution_id"}));
  std::string username;
  RAMPART_API_CHECK(jsonutil::GetString(body, "username", &username, true, 64));
  RAMPART_API_CHECK(CheckUsername(username));
  RAMPART_API_ASSIGN(core::Role role, ReadRole(body));
  RAMPART_API_CHECK(MayGrant(call, role));
  std::string institution_id;
  if (core::IsCrossInstitution(role)) {
    if (jsonutil::Has(body, "institution_id")) {
      return ErrorResponse(
          Status::InvalidArgument("a superadmin spans all institutions: omit institution_id"));
    }
  } else {
    RAMPART_API_ASSIGN(institution_id, TargetInstitution(call, c, body));
  }
  RAMPART_API_ASSIGN(auto issued,
                     IssueAdminUser(*c.store, *c.clock, username, role, institution_id));
  log::Info(
      "admin_user.created",
      {{"user_id", issued.user.id}, {"role", core::ToString(role)}, {"by", call.principal.id}});
  RecordAudit(c, call, "user.create", issued.user.id, "success",
              json{{"role", core::ToString(role)}, {"institution_id", institution_id}});
  json out = ToJson(issued.user);
  out["password"] = issued.password;  // shown once; only its argon2id hash is stored
  return JsonResponse(201, out);
}

http::Response UpdateUser(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(auto scope, ReadScope(call));
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"role", "disabled"}));
  const std::string& id = call.Param("id");
  RAMPART_API_ASSIGN(auto user, c.store->GetAdminUser(scope, id));
  core::Role role = user.role;
  bool disabled = user.disabled;
  if (jsonutil::Has(body, "role")) {
    RAMPART_API_ASSIGN(role, ReadRole(body));
  }
  RAMPART_API_CHECK(jsonutil::GetBool(body, "disabled", &disabled, false));
  RAMPART_API_CHECK(MayGrant(call, role));
  // The user's own API token is the user too.
  if ((id == call.principal.id || id == call.principal.person_id) &&
      (role != user.role || disabled)) {
    // A slip here could leave an institution without anyone able to administer it.
    return ErrorResponse(
        Status::PermissionDenied("you cannot change your own role or disable yourself"));
  }
  RAMPART_API_CHECK(c.store->UpdateAdminUserAccess(scope, id, role, disabled, c.Now()));
  json details = json::object();
  if (role != user.role) {
    details["role"] = {{"from", core::ToString(user.role)}, {"to", core::ToString(role)}};
  }
  if (disabled != user.disabled) details["disabled"] = disabled;
  log::Info("admin_user.updated", {{"user_id", id}, {"by", call.principal.id}});
  RecordAudit(c, call, disabled && !user.disabled ? "user.disable" : "user.update", id, "success",
              details, disabled && !user.disabled ? "warning" : "info");
  RAMPART_API_ASSIGN(auto updated, c.store->GetAdminUser(scope, id));
  return JsonResponse(200, ToJson(updated));
}

http::Response ResetMfa(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(auto scope, ReadScope(call));
  const std::string& id = call.Param("id");
  RAMPART_API_ASSIGN(auto user, c.store->GetAdminUser(scope, id));
  if (id == call.principal.id || id == call.principal.person_id) {
    // Otherwise a stolen session could swap in the thief's own authenticator (also through a
    // token the session mints: that token is the same person).
    return ErrorResponse(
        Status::PermissionDenied("another admin must reset your two-factor authentication"));
  }
  RAMPART_API_CHECK(c.store->ResetAdminMfa(scope, id, c.Now()));
  log::Info("admin_user.mfa_reset", {{"user_id", id}, {"by", call.principal.id}});
  RecordAudit(c, call, "user.mfa_reset", id, "success", json{{"had_totp", user.totp_enabled()}},
              "warning");
  return JsonResponse(200, json{{"id", id}, {"totp_enabled", false}, {"sessions_ended", true}});
}

http::Response RevokeSessions(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(auto scope, ReadScope(call));
  const std::string& id = call.Param("id");
  RAMPART_API_ASSIGN(int64_t ended, c.store->DeleteAdminSessionsOfUser(scope, id));
  log::Info("admin_user.sessions_revoked",
            {{"user_id", id}, {"count", ended}, {"by", call.principal.id}});
  RecordAudit(c, call, "session.revoke", id, "success", json{{"count", ended}});
  return JsonResponse(200, json{{"id", id}, {"sessions_ended", ended}});
}

}  // namespace

void RegisterUserRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/users", "users.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListAdminUsers(scope, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });
  t.Add("POST", "/api/v1/users", "users.write",
        [&c](const Call& call) { return CreateUser(c, call); });
  t.Add("GET", "/api/v1/users/{id}", "users.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto user, c.store->GetAdminUser(scope, call.Param("id")));
    return JsonResponse(200, ToJson(user));
  });
  t.Add("PATCH", "/api/v1/users/{id}", "users.write",
        [&c](const Call& call) { return UpdateUser(c, call); });
  t.Add("POST", "/api/v1/users/{id}/mfa-reset", "users.write",
        [&c](const Call& call) { return ResetMfa(c, call); });
  t.Add("DELETE", "/api/v1/users/{id}/sessions", "users.write",
        [&c](const Call& call) { return RevokeSessions(c, call); });
}

}  // namespace rampart::api::internal
