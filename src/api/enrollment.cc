#include "api/credentials.h"
#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"

namespace rampart::api::internal {

using nlohmann::json;

void RegisterEnrollmentRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/enrollment-tokens", "enrollment.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListEnrollmentTokens(scope, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("POST", "/api/v1/enrollment-tokens", "enrollment.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(
        body, {"institution_id", "staff_id", "max_uses", "expires_in_seconds"}));
    core::EnrollmentToken tok;
    RAMPART_API_ASSIGN(tok.institution_id, TargetInstitution(call, c, body));
    RAMPART_API_CHECK(jsonutil::GetString(body, "staff_id", &tok.staff_id, false, 64));
    if (!tok.staff_id.empty()) {
      auto staff = c.store->GetStaff(store::Scope::Institution(tok.institution_id), tok.staff_id);
      if (!staff.ok()) return ErrorResponse(Status::NotFound("staff member not found"));
    }
    int64_t expires_in = 7 * 24 * 3600;
    RAMPART_API_CHECK(jsonutil::GetInt(body, "max_uses", &tok.max_uses, false, 1, 1000000));
    RAMPART_API_CHECK(
        jsonutil::GetInt(body, "expires_in_seconds", &expires_in, false, 60, 365LL * 24 * 3600));
    RAMPART_API_ASSIGN(auto issued, IssueEnrollmentToken(*c.store, *c.clock, tok.institution_id,
                                                         tok.staff_id, tok.max_uses, expires_in));
    log::Info("enrollment_token.created", {{"token_id", issued.token.id},
                                           {"max_uses", issued.token.max_uses},
                                           {"by", call.principal.id}});
    RecordAudit(
        c, call, "enrollment_token.create", issued.token.id, "success",
        json{{"institution_id", issued.token.institution_id}, {"max_uses", issued.token.max_uses}});
    json out = ToJson(issued.token);
    out["token"] = issued.secret;  // shown once; only its hash is stored
    return JsonResponse(201, out);
  });

  t.Add("DELETE", "/api/v1/enrollment-tokens/{id}", "enrollment.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->RevokeEnrollmentToken(scope, call.Param("id")));
    log::Info("enrollment_token.revoked",
              {{"token_id", call.Param("id")}, {"by", call.principal.id}});
    RecordAudit(c, call, "enrollment_token.revoke", call.Param("id"), "success");
    return JsonResponse(200, json{{"revoked", call.Param("id")}});
  });
}

}  // namespace rampart::api::internal
