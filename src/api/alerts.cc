// /api/v1/alerts: what the live detection engine raised, grouped by (rule, entity).
//
// Scope: institution roles see their institution's alerts; server-wide alerts (about requests
// no institution's principal made, such as unauthenticated exploit probes) are visible only to
// cross-institution roles, which see everything (or one institution with ?institution_id=).
#include <charconv>
#include <ctime>

#include "api/internal.h"
#include "common/log.h"
#include "core/alert.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

// Unix seconds, or RFC 3339 UTC "2026-01-30T09:15:00Z".
Result<int64_t> ReadTime(const Call& call, const char* name) {
  std::string text;
  if (!call.req.QueryParam(name, &text)) return int64_t{0};
  auto bad = [&] {
    return Status::InvalidArgument(std::string(name) +
                                   " must be Unix seconds or an RFC 3339 UTC time");
  };
  if (text.empty() || text.size() > 32) return bad();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && ptr == text.data() + text.size()) {
    if (v < 0) return bad();
    return v;
  }
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 ||
      z != 'Z' || text.size() != 20 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      s > 60 || y < 1970) {
    return bad();
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm));
}

Result<store::AlertFilter> ReadFilter(const Call& call) {
  store::AlertFilter f;
  if (call.req.QueryParam("severity", &f.severity) && !core::IsAlertSeverity(f.severity)) {
    return Status::InvalidArgument("severity must be informational, low, medium, high or critical");
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
  RAMPART_ASSIGN_OR_RETURN(f.since, ReadTime(call, "since"));
  RAMPART_ASSIGN_OR_RETURN(f.until, ReadTime(call, "until"));
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
    RAMPART_API_ASSIGN(
        auto alert, c.store->AcknowledgeAlert(scope, call.Param("id"), call.principal.id, c.Now()));
    log::Info("alert.acknowledged", {{"alert_id", alert.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "alert.acknowledge", alert.id, "success");
    return JsonResponse(200, ToJson(alert));
  });
}

}  // namespace rampart::api::internal
