// libFuzzer target: what an incident analysis parses from records an attacker can shape (alert
// evidence built from request fields, audit details written on their behalf), through every
// figure and every report. Input: lines; the first is evidence JSON, the second a response
// action's details, the third a staff.decrypt record's details, the fourth a timestamp. Nothing
// may crash, and HTML reports must never carry a raw '<script'.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "respond/impact.h"
#include "respond/report.h"

namespace {

std::vector<std::string> Lines(std::string_view in) {
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size() < 4) {
    size_t nl = in.find('\n', start);
    out.emplace_back(in.substr(start, nl == std::string_view::npos ? in.npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.resize(4);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart;
  auto lines = Lines(std::string_view(reinterpret_cast<const char*>(data), size));
  respond::IncidentAnalysis a;
  a.incident.id = "inc_fuzz";
  a.incident.entity = "source.ip=" + lines[3];
  a.incident.title = lines[0];
  a.incident.severity = "critical";
  core::Alert alert;
  alert.id = "alr_fuzz";
  alert.entity = a.incident.entity;
  alert.rule_title = lines[1];
  alert.severity = "high";
  alert.evidence = {lines[0]};
  alert.first_seen = alert.created_at = 1769763600;
  a.incident.alert_ids = {alert.id};
  a.incident.first_alert_at = alert.created_at;
  a.alerts = {alert};
  audit::Record action;
  action.action = "response.block_address";
  action.outcome = "success";
  action.target = lines[3];
  action.details_json = lines[1];
  audit::Record read;
  read.action = "staff.decrypt";
  read.outcome = "success";
  read.actor = "tok_x";
  read.details_json = lines[2];
  (void)respond::ParseUtcTime(lines[3]);
  a.implicated = respond::ImplicatedBy(a.incident, a.alerts);
  a.implicated.principals.insert("tok_x");
  if (respond::LinkedResponseAction(action, a.incident, a.implicated)) {
    a.response_actions.push_back(action);
  }
  a.figures = respond::ComputeFigures(a.incident, a.alerts, a.response_actions);
  a.staff = respond::ComputeStaffImpact({read}, a.implicated);
  a.commands = respond::ComputeCommandImpact({}, {read}, a.implicated, true);
  a.indicators = respond::CollectIndicators(a.incident, a.alerts);
  a.timeline = respond::BuildTimeline(a.figures, a.alerts, a.response_actions, {}, {});
  a.deadlines = respond::ComputeDeadlines(a.figures.first_alert, true, 1769763600);
  (void)respond::AnalysisToJson(a);
  rampart::IncidentsConfig org;
  for (auto kind : {respond::ReportKind::kEarlyWarning, respond::ReportKind::kNotification,
                    respond::ReportKind::kFinal, respond::ReportKind::kPersonalDataBreach,
                    respond::ReportKind::kStix}) {
    for (auto format : {respond::ReportFormat::kMarkdown, respond::ReportFormat::kJson,
                        respond::ReportFormat::kHtml}) {
      respond::RenderedReport r = respond::RenderReport(kind, format, a, org);
      if (format == respond::ReportFormat::kHtml && r.body.find("<script") != std::string::npos) {
        std::abort();
      }
    }
  }
  return 0;
}
