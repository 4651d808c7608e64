// /api/v1/incidents: alerts grouped per entity (respond/incident.h), their state, notes, the
// computed timeline and figures, and the regulator reports drafted from them (docs/incidents.md).
//
// Scope as alerts: institution roles see their institution's incidents; server-wide ones only
// cross-institution roles. Figures come from the keeper's audit log (query_audit), so reading an
// incident is itself on record, and a keeper that is down makes it 503, never figures without
// the log behind them.
#include "api/internal.h"
#include "common/log.h"
#include "core/alert.h"
#include "core/incident.h"
#include "respond/incident.h"
#include "respond/report.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

constexpr size_t kMaxNoteBytes = 4000;
constexpr size_t kMaxReasonBytes = 500;

Result<store::IncidentFilter> ReadIncidentFilter(const Call& call) {
  store::IncidentFilter f;
  std::string state;
  if (call.req.QueryParam("state", &state)) {
    f.state = core::ParseIncidentState(state);
    if (!f.state) {
      return Status::InvalidArgument(
          "state must be new, triaged, contained, eradicated, recovered or closed");
    }
  }
  if (call.req.QueryParam("severity", &f.severity) && !core::IsAlertSeverity(f.severity)) {
    return Status::InvalidArgument("severity must be informational, low, medium, high or critical");
  }
  RAMPART_ASSIGN_OR_RETURN(auto since, ReadTimeParam(call, "since"));
  f.since = since.value_or(0);  // since the epoch is no bound at all
  RAMPART_ASSIGN_OR_RETURN(f.until, ReadTimeParam(call, "until"));
  return f;
}

json SummaryJson(const core::Incident& i) {
  return {{"id", i.id},
          {"institution_id", i.institution_id.empty() ? json(nullptr) : json(i.institution_id)},
          {"entity", i.entity},
          {"title", i.title},
          {"severity", i.severity},
          {"state", std::string(core::ToString(i.state))},
          {"first_alert_at", FormatRfc3339(i.first_alert_at)},
          {"first_alert_at_ms", core::MillisOr(i.first_alert_at_ms, i.first_alert_at)},
          {"last_alert_at", FormatRfc3339(i.last_alert_at)},
          {"created_at", FormatRfc3339(i.created_at)},
          {"closed_at", i.closed_at > 0 ? json(FormatRfc3339(i.closed_at)) : json(nullptr)}};
}

// Free text an analyst types: line breaks and tabs are fine, other control characters are not
// (they would corrupt terminals and reports).
Status RequireText(std::string_view text, std::string_view field, size_t max, bool required) {
  if (required && text.empty()) return Status::InvalidArgument(std::string(field) + " is empty");
  if (text.size() > max) {
    return Status::InvalidArgument(std::string(field) + " is longer than " + std::to_string(max) +
                                   " bytes");
  }
  for (unsigned char ch : text) {
    if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) {
      return Status::InvalidArgument(std::string(field) + " holds a control character");
    }
  }
  return Status::Ok();
}

Result<std::string> ReadStringField(const json& body, const char* key, bool required) {
  auto it = body.find(key);
  if (it == body.end()) {
    if (required) return Status::InvalidArgument(std::string(key) + " is required");
    return std::string();
  }
  if (!it->is_string()) return Status::InvalidArgument(std::string(key) + " must be a string");
  return it->get<std::string>();
}

Result<respond::IncidentAnalysis> Analyze(Context& c, const Call& call, const store::Scope& scope) {
  if (c.options.keeper == nullptr) return Status::Unavailable("the keeper is not available");
  return respond::AnalyzeIncident(*c.store, *c.options.keeper, scope, call.Param("id"),
                                  CallerOf(call, "incident.figures"), c.Now());
}

json BundleJson(const respond::EvidenceBundleInfo& b) {
  return {{"bundle_id", b.bundle_id},
          {"incident_id", b.incident_id},
          {"created_by", b.created_by},
          {"created_at", FormatRfc3339(b.created_at)},
          {"sha256", b.sha256_hex},
          {"size", b.size},
          {"audit_records", b.audit_records},
          {"checkpoint_tree_size", b.tree_size},
          {"audit_complete", b.audit_complete},
          {"download", "/api/v1/evidence/" + b.bundle_id}};
}

Result<respond::EvidenceCollector*> Collector(Context& c) {
  if (c.evidence == nullptr || c.options.keeper == nullptr) {
    return Status::Unavailable("evidence capture is not configured");
  }
  return c.evidence;
}

}  // namespace

void RegisterIncidentRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/incidents", "incidents.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto filter, ReadIncidentFilter(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListIncidents(scope, filter, page));
    return JsonResponse(200, PageToJson(result, SummaryJson));
  });

  t.Add("GET", "/api/v1/incidents/{id}", "incidents.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto analysis, Analyze(c, call, scope));
    json out = respond::AnalysisToJson(analysis);
    json entries = json::array();
    for (const auto& e : analysis.entries) entries.push_back(respond::IncidentEntryToJson(e));
    out["entries"] = std::move(entries);
    out["institution_id"] = analysis.incident.institution_id.empty()
                                ? json(nullptr)
                                : json(analysis.incident.institution_id);
    return JsonResponse(200, out);
  });

  t.Add("POST", "/api/v1/incidents/{id}/transition", "incidents.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto body, ReadJsonBody(call));
    RAMPART_API_ASSIGN(std::string state_text, ReadStringField(body, "state", true));
    auto to = core::ParseIncidentState(state_text);
    if (!to) {
      return ErrorResponse(Status::InvalidArgument(
          "state must be new, triaged, contained, eradicated, recovered or closed"));
    }
    RAMPART_API_ASSIGN(std::string reason, ReadStringField(body, "reason", false));
    RAMPART_API_CHECK(RequireText(reason, "reason", kMaxReasonBytes, false));
    auto moved = c.store->TransitionIncident(scope, call.Param("id"), *to, call.principal.id,
                                             reason, c.Now());
    if (!moved.ok()) {
      if (moved.status().code() == Code::kConflict) {
        RecordAudit(c, call, "incident.transition", call.Param("id"), "denied",
                    json{{"to", state_text}});
      }
      return ErrorResponse(moved.status());
    }
    log::Info("incident.transition", {{"incident_id", moved->id},
                                      {"state", std::string(core::ToString(moved->state))},
                                      {"by", call.principal.id}});
    RecordAudit(c, call, "incident.transition", moved->id, "success", json{{"to", state_text}});
    return JsonResponse(200, SummaryJson(*moved));
  });

  t.Add("POST", "/api/v1/incidents/{id}/notes", "incidents.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto body, ReadJsonBody(call));
    RAMPART_API_ASSIGN(std::string text, ReadStringField(body, "text", true));
    RAMPART_API_CHECK(RequireText(text, "text", kMaxNoteBytes, true));
    RAMPART_API_ASSIGN(auto entry, c.store->AddIncidentNote(scope, call.Param("id"),
                                                            call.principal.id, text, c.Now()));
    RecordAudit(c, call, "incident.note", entry.incident_id, "success");
    return JsonResponse(201, respond::IncidentEntryToJson(entry));
  });

  t.Add("GET", "/api/v1/incidents/{id}/reports/{kind}", "incidents.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    auto kind = respond::ParseReportKind(call.Param("kind"));
    if (!kind) {
      return ErrorResponse(Status::InvalidArgument(
          "kind must be early-warning, notification, final, personal-data-breach or stix"));
    }
    std::string format_text;
    if (!call.req.QueryParam("format", &format_text)) format_text = "md";
    auto format = respond::ParseReportFormat(format_text);
    if (!format) return ErrorResponse(Status::InvalidArgument("format must be md, json or html"));
    RAMPART_API_ASSIGN(auto analysis, Analyze(c, call, scope));
    respond::RenderedReport report =
        respond::RenderReport(*kind, *format, analysis, c.options.config.incidents);
    RecordAudit(c, call, "incident.report", analysis.incident.id, "success",
                json{{"kind", call.Param("kind")}, {"format", format_text}});
    http::Response r;
    r.status = 200;
    r.content_type = report.content_type;
    // The HTML report is meant to be opened and printed: it may style itself, nothing more.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'");
    r.body = std::move(report.body);
    return r;
  });

  // Evidence bundles (respond/evidence_capture.h): signed by the keeper, kept under
  // DATA/evidence, checked offline with `rampart evidence verify`.
  t.Add("POST", "/api/v1/incidents/{id}/evidence", "incidents.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    // Another institution's incident is not found, whether or not capture is configured.
    RAMPART_API_CHECK(c.store->GetIncident(scope, call.Param("id")).status());
    RAMPART_API_ASSIGN(auto* collector, Collector(c));
    auto captured = collector->Capture(scope, call.Param("id"), CallerOf(call, "evidence.capture"));
    if (!captured.ok()) {
      if (captured.status().code() != Code::kNotFound) {
        RecordAudit(c, call, "incident.evidence", call.Param("id"), "failure",
                    json{{"error", captured.status().message()}}, "warning");
      }
      return ErrorResponse(captured.status());
    }
    RecordAudit(c, call, "incident.evidence", captured->incident_id, "success",
                json{{"bundle_id", captured->bundle_id},
                     {"sha256", captured->sha256_hex},
                     {"audit_records", captured->audit_records}},
                "warning");
    return JsonResponse(201, BundleJson(*captured));
  });

  t.Add("GET", "/api/v1/incidents/{id}/evidence", "incidents.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->GetIncident(scope, call.Param("id")).status());
    RAMPART_API_ASSIGN(auto* collector, Collector(c));
    RAMPART_API_ASSIGN(auto bundles, collector->List(scope, call.Param("id")));
    json items = json::array();
    for (const auto& b : bundles) items.push_back(BundleJson(b));
    return JsonResponse(200, json{{"items", std::move(items)}});
  });

  t.Add("GET", "/api/v1/evidence/{bundle_id}", "incidents.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    // Without capture there is no bundle to find.
    if (c.evidence == nullptr) {
      return ErrorResponse(Status::NotFound("evidence bundle not found"));
    }
    RAMPART_API_ASSIGN(auto download, c.evidence->Read(scope, call.Param("bundle_id")));
    RecordAudit(c, call, "incident.evidence_download", download.info.bundle_id, "success",
                json{{"incident_id", download.info.incident_id}});
    http::Response r;
    r.status = 200;
    r.content_type = "application/gzip";
    r.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"" + download.info.bundle_id + ".tar.gz\"");
    r.body = std::move(download.archive);
    return r;
  });
}

}  // namespace rampart::api::internal
