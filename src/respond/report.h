// Reports drafted from an incident analysis (docs/incidents.md): the NIS2 Article 23 early
// warning, incident notification and final report, the personal-data breach notification
// (Regulation (EU) 2018/1725 Art. 34 / GDPR Art. 33), and a STIX 2.1 bundle of the indicators.
// Each is rendered as Markdown, JSON or printable HTML from the one JSON document
// AnalysisToJson makes, so every report carries exactly the figures the incident shows.
//
//   auto report = RenderReport(ReportKind::kEarlyWarning, ReportFormat::kMarkdown, analysis,
//                              config.incidents);
//   response.body = report->body;  // report->content_type: "text/markdown; charset=utf-8"
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/config.h"
#include "respond/incident.h"

namespace rampart::respond {

enum class ReportKind { kEarlyWarning, kNotification, kFinal, kPersonalDataBreach, kStix };
enum class ReportFormat { kMarkdown, kJson, kHtml };

// URL names: "early-warning", "notification", "final", "personal-data-breach", "stix".
std::optional<ReportKind> ParseReportKind(std::string_view s);
std::string_view ToString(ReportKind kind);
// "md", "json", "html".
std::optional<ReportFormat> ParseReportFormat(std::string_view s);

// The incident as the API serves it: the incident, its alerts (ids, rules, severities), the
// timeline, the figures, the impact, the indicators and the deadlines.
nlohmann::json AnalysisToJson(const IncidentAnalysis& analysis);
// One transition or note of the incident, as the API serves it.
nlohmann::json IncidentEntryToJson(const core::IncidentEntry& entry);

struct RenderedReport {
  std::string content_type;
  std::string body;
};
RenderedReport RenderReport(ReportKind kind, ReportFormat format, const IncidentAnalysis& analysis,
                            const IncidentsConfig& institution);

// The STIX 2.1 bundle: an identity for the reporting organisation and one indicator per
// observed address, URL path and file hash (valid_from the first sighting). Loads back through
// detect::ImportStix.
nlohmann::json StixBundle(const IncidentAnalysis& analysis, const IncidentsConfig& institution);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view s);

}  // namespace rampart::respond
