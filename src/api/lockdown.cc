// Lockdown of an institution (/api/v1/institutions/{id}/lockdown) or of the whole server
// (/api/v1/lockdown), and the playbook steps waiting for an admin (/api/v1/response/pending).
// Entering takes one admin; leaving takes two distinct signed-in admins (respond/actions.h).
#include "respond/lockdown.h"
#include "api/internal.h"
#include "common/json_util.h"
#include "core/permissions.h"
#include "respond/playbook_runner.h"

namespace rampart::api::internal {
namespace {

using nlohmann::json;

json LockdownJson(Context& c, const std::string& scope, const std::optional<store::Lockdown>& l) {
  if (!l) return json{{"scope", scope}, {"locked", false}};
  json out = json{{"scope", scope},
                  {"locked", true},
                  {"entered_by", l->entered_by},
                  {"entered_at", l->entered_at},
                  {"reason", l->reason},
                  {"lift_requested_by", nullptr},
                  {"lift_requested_at", nullptr},
                  {"lift_request_expires_at", nullptr},
                  {"lift_request_expired", false}};
  if (!l->lift_requested_by.empty()) {
    const int64_t expires = c.response->LiftRequestExpiresAt(*l);
    out["lift_requested_by"] = l->lift_requested_by;
    out["lift_requested_at"] = l->lift_requested_at;
    out["lift_request_expires_at"] = expires;
    out["lift_request_expired"] = c.Now() >= expires;
  }
  return out;
}

respond::LiftActor LiftActorOf(const Call& call) {
  respond::LiftActor who;
  who.is_session = call.principal.kind == Principal::Kind::kSession;
  // The person, not the credential: an admin's API token is still that admin (and tokens are
  // refused here anyway).
  who.user_id = call.principal.person_id;
  who.cross_institution = core::IsCrossInstitution(call.principal.role);
  who.institution_id = call.principal.institution_id;
  return who;
}

// The institution named by the path, if the caller may act on it: 404 otherwise, so another
// tenant's ids are not even confirmed.
Result<std::string> InstitutionScope(Context& c, const Call& call) {
  const std::string& id = call.Param("id");
  if (!core::IsCrossInstitution(call.principal.role) && id != call.principal.institution_id) {
    return Status::NotFound("institution not found");
  }
  RAMPART_RETURN_IF_ERROR(c.store->GetInstitution(store::Scope::All(), id).status());
  return id;
}

http::Response Show(Context& c, const std::string& scope) {
  return JsonResponse(200, LockdownJson(c, scope, c.response->lockdowns().Get(scope)));
}

http::Response Enter(Context& c, const Call& call, const std::string& scope) {
  RAMPART_API_ASSIGN(std::string reason, ReadReason(call));
  RAMPART_API_CHECK(c.response->EnterLockdown(ActionContextOf(call), scope, reason));
  return Show(c, scope);
}

http::Response LiftRequest(Context& c, const Call& call, const std::string& scope) {
  RAMPART_API_CHECK(c.response->RequestLift(ActionContextOf(call), scope, LiftActorOf(call)));
  return JsonResponse(202, LockdownJson(c, scope, c.response->lockdowns().Get(scope)));
}

http::Response LiftApprove(Context& c, const Call& call, const std::string& scope) {
  RAMPART_API_CHECK(c.response->ApproveLift(ActionContextOf(call), scope, LiftActorOf(call)));
  return Show(c, scope);
}

json PendingJson(const respond::PendingStep& p) {
  return json{{"id", p.id},
              {"playbook", p.playbook},
              {"step", p.step + 1},
              {"action", p.action},
              {"alert_id", p.alert.id},
              {"rule_id", p.alert.rule_id},
              {"entity", p.alert.entity},
              {"institution_id",
               p.alert.institution_id.empty() ? json(nullptr) : json(p.alert.institution_id)},
              {"created_at", p.created_at}};
}

}  // namespace

void RegisterLockdownRoutes(RouteTable& t, Context& c) {
  const std::string server(respond::kServerScope);
  t.Add("GET", "/api/v1/lockdown", "lockdown.server", [&c, server](const Call&) {
    json items = json::array();
    for (const auto& l : c.response->lockdowns().List())
      items.push_back(LockdownJson(c, l.scope, l));
    json out = LockdownJson(c, server, c.response->lockdowns().Get(server));
    out["all"] = std::move(items);
    return JsonResponse(200, out);
  });
  t.Add("POST", "/api/v1/lockdown", "lockdown.server",
        [&c, server](const Call& call) { return Enter(c, call, server); });
  t.Add("POST", "/api/v1/lockdown/lift-request", "lockdown.server",
        [&c, server](const Call& call) { return LiftRequest(c, call, server); });
  t.Add("POST", "/api/v1/lockdown/lift-approve", "lockdown.server",
        [&c, server](const Call& call) { return LiftApprove(c, call, server); });

  t.Add("GET", "/api/v1/institutions/{id}/lockdown", "lockdown.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(std::string scope, InstitutionScope(c, call));
    return Show(c, scope);
  });
  t.Add("POST", "/api/v1/institutions/{id}/lockdown", "lockdown.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(std::string scope, InstitutionScope(c, call));
    return Enter(c, call, scope);
  });
  t.Add("POST", "/api/v1/institutions/{id}/lockdown/lift-request", "lockdown.write",
        [&c](const Call& call) {
          // Scope refusals go through the engine too, so that they are audited.
          return LiftRequest(c, call, call.Param("id"));
        });
  t.Add("POST", "/api/v1/institutions/{id}/lockdown/lift-approve", "lockdown.write",
        [&c](const Call& call) { return LiftApprove(c, call, call.Param("id")); });

  t.Add("GET", "/api/v1/response/pending", "response.read", [&c](const Call& call) {
    json items = json::array();
    for (const auto& p : c.runner->Pending(call.principal.institution_id,
                                           core::IsCrossInstitution(call.principal.role))) {
      items.push_back(PendingJson(p));
    }
    return JsonResponse(200, json{{"items", std::move(items)}});
  });
  t.Add("POST", "/api/v1/response/pending/{pending_id}/approve", "response.write",
        [&c](const Call& call) {
          RAMPART_API_CHECK(c.runner->Approve(call.Param("pending_id"), call.principal.id,
                                              call.principal.institution_id,
                                              core::IsCrossInstitution(call.principal.role)));
          return JsonResponse(200, json{{"id", call.Param("pending_id")}, {"approved", true}});
        });
}

}  // namespace rampart::api::internal
