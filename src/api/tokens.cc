#include <algorithm>

#include "api/credentials.h"
#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

void RegisterTokenRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/tokens", "tokens.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListApiTokens(scope, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("POST", "/api/v1/tokens", "tokens.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(
        body, {"name", "role", "institution_id", "expires_in_seconds"}));
    core::ApiToken tok;
    std::string role_name;
    RAMPART_API_CHECK(jsonutil::GetString(body, "name", &tok.name, false, 100));
    RAMPART_API_CHECK(jsonutil::GetString(body, "role", &role_name, true, 32));
    auto role = core::ParseRole(role_name);
    if (!role) {
      return ErrorResponse(
          Status::InvalidArgument("role must be superadmin, admin, helpdesk, analyst or auditor"));
    }
    tok.role = *role;
    // No token can mint a more powerful one than itself.
    if (core::IsCrossInstitution(tok.role) && !core::IsCrossInstitution(call.principal.role)) {
      return ErrorResponse(
          Status::PermissionDenied("only a superadmin may create superadmin tokens"));
    }
    if (core::IsCrossInstitution(tok.role)) {
      if (jsonutil::Has(body, "institution_id")) {
        return ErrorResponse(Status::InvalidArgument(
            "a superadmin token spans all institutions: omit institution_id"));
      }
    } else {
      RAMPART_API_ASSIGN(tok.institution_id, TargetInstitution(call, c, body));
    }
    int64_t expires_in = 90 * 24 * 3600;
    RAMPART_API_CHECK(jsonutil::GetInt(body, "expires_in_seconds", &expires_in, false, 60,
                                       2LL * 365 * 24 * 3600));
    // A minted token never outlives the token that minted it: a stolen token that expires
    // cannot leave behind a longer-lived child.
    if (call.principal.expires_at != 0) {
      expires_in = std::min(expires_in, call.principal.expires_at - c.Now());
      if (expires_in <= 0) return ErrorResponse(Status::Unauthenticated("token has expired"));
    }
    // The new token belongs to the person behind the caller (a token minted by a token belongs
    // to that token's owner), so four-eyes rules see through it.
    RAMPART_API_ASSIGN(auto issued, IssueApiToken(*c.store, *c.clock, tok.role, tok.institution_id,
                                                  tok.name, expires_in, call.principal.person_id));
    log::Info("api_token.created",
              {{"token_id", issued.token.id}, {"role", role_name}, {"by", call.principal.id}});
    RecordAudit(c, call, "api_token.create", issued.token.id, "success",
                json{{"role", role_name},
                     {"institution_id", tok.institution_id},
                     {"expires_at", issued.token.expires_at},
                     {"owner_id", issued.token.owner_id}});
    json out = ToJson(issued.token);
    out["token"] = issued.secret;  // shown once; only its hash is stored
    return JsonResponse(201, out);
  });

  t.Add("DELETE", "/api/v1/tokens/{id}", "tokens.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->RevokeApiToken(scope, call.Param("id")));
    log::Info("api_token.revoked", {{"token_id", call.Param("id")}, {"by", call.principal.id}});
    RecordAudit(c, call, "api_token.revoke", call.Param("id"), "success");
    return JsonResponse(200, json{{"revoked", call.Param("id")}});
  });
}

}  // namespace rampart::api::internal
