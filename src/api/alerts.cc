// /api/v1/alerts: what the live detection engine raised, grouped by (rule, entity).
//
// Scope: institution roles see their institution's alerts; server-wide alerts (about requests
// no institution's principal made, such as unauthenticated exploit probes) are visible only to
// cross-institution roles, which see everything (or one institution with ?institution_id=).
#include "api/internal.h"
#include "common/log.h"
#include "core/alert.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

Result<store::AlertFilter> ReadFilter(const Call& call) {
  store::AlertFilter f;
  if (call.req.QueryParam("severity", &f.severity) && !core::IsAlertSeverity(f.severity)) {
    return Status::InvalidArgument("severity must be informational, low, medium, high or critical");
  }
  if (call.req.QueryParam("min_severity", &f.min_severity) &&
      !core::IsAlertSeverity(f.min_severity)) {
    return Status::InvalidArgument(
        "min_severity must be informational, low, medium, high or critical");
  }
  std::string order;
  if (call.req.QueryParam("order", &order)) {
    if (order != "newest" && order != "oldest") {
      return Status::InvalidArgument("order must be newest or oldest");
    }
    f.newest_first = order == "newest";
  }
  std::string status;
  if (call.req.QueryParam("status", &status)) {
    f.status = core::ParseAlertStatus(status);
    if (!f.status) return Status::InvalidArgument("status must be open or acknowledged");
  }
  call.req.QueryParam("rule", &f.rule_id);
  call.req.QueryParam("entity", &f.entity);
  if (f.rule_id.size() > 200 || f.entity.size() > 600) {
    return Status::InvalidArgument("rule or entity is too long");
  }
  RAMPART_ASSIGN_OR_RETURN(auto since, ReadTimeParam(call, "since"));
  f.since = since.value_or(0);  // since the epoch is no bound at all
  RAMPART_ASSIGN_OR_RETURN(f.until, ReadTimeParam(call, "until"));
  return f;
}

}  // namespace

void RegisterAlertRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/alerts", "alerts.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto filter, ReadFilter(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListAlerts(scope, filter, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("GET", "/api/v1/alerts/{id}", "alerts.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto alert, c.store->GetAlert(scope, call.Param("id")));
    return JsonResponse(200, ToJson(alert));
  });

  t.Add("POST", "/api/v1/alerts/{id}/acknowledge", "alerts.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    // Why (optional, {"reason": "..."}): an analyst's note for the audit record. Read once the
    // alert is known to be the caller's to see, as other routes do (404 before 400).
    RAMPART_API_CHECK(c.store->GetAlert(scope, call.Param("id")).status());
    RAMPART_API_ASSIGN(std::string reason, ReadReason(call));
    RAMPART_API_ASSIGN(
        auto alert, c.store->AcknowledgeAlert(scope, call.Param("id"), call.principal.id, c.Now()));
    log::Info("alert.acknowledged", {{"alert_id", alert.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "alert.acknowledge", alert.id, "success", json{{"reason", reason}});
    return JsonResponse(200, ToJson(alert));
  });
}

}  // namespace rampart::api::internal
