#include "respond/report.h"

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/crypto.h"

namespace rampart::respond {

using nlohmann::json;
using ordered = nlohmann::ordered_json;

namespace {

constexpr std::string_view kKindNames[] = {"early-warning", "notification", "final",
                                           "personal-data-breach", "stix"};

std::string Time(int64_t t) {
  return t > 0 ? FormatRfc3339(t) : "unknown";
}

// ".25" for 250 ms, "" for none: the part of a duration below one second, trailing zeros dropped.
std::string Fraction(int64_t ms) {
  if (ms == 0) return "";
  std::string f = std::to_string(1000 + ms).substr(1);
  while (f.back() == '0') f.pop_back();
  return "." + f;
}

// "2026-01-30T09:15:00.250Z": a time to the millisecond (whole seconds as before).
std::string TimeMs(int64_t ms) {
  if (ms <= 0) return "unknown";
  std::string s = FormatRfc3339(ms / 1000);
  if (ms % 1000 != 0) s.insert(s.size() - 1, "." + std::to_string(1000 + ms % 1000).substr(1));
  return s;
}

// "0.84 s", "2 min 3.5 s", "1 d 0 h 0 min 0 s": exact to the millisecond, never rounded.
std::string DurationMs(int64_t ms) {
  if (ms < 0) return "unknown";
  const int64_t seconds = ms / 1000;
  int64_t d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60,
          s = seconds % 60;
  std::string out;
  if (d > 0) out += std::to_string(d) + " d ";
  if (d > 0 || h > 0) out += std::to_string(h) + " h ";
  if (d > 0 || h > 0 || m > 0) out += std::to_string(m) + " min ";
  out += std::to_string(s) + Fraction(ms % 1000) + " s";
  return out;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out.empty() ? "none" : out;
}

// The figures every report carries, with the same keys and values as the incident JSON.
ordered FiguresJson(const IncidentAnalysis& a) {
  const Figures& f = a.figures;
  ordered j;
  j["first_malicious_event"] = Time(f.first_malicious_event);
  j["detected_at"] = Time(f.first_alert);
  j["time_to_detect_seconds"] = f.time_to_detect_seconds;
  j["contained"] = f.contained;
  j["contained_at"] = f.contained ? Time(f.contained_at) : "not contained";
  j["time_to_contain_seconds"] = f.time_to_contain_seconds;
  // The same figures to the millisecond (Unix ms; -1 unknown or not contained).
  j["first_malicious_event_ms"] = f.first_malicious_event_ms;
  j["detected_at_ms"] = f.first_alert_ms;
  j["time_to_detect_ms"] = f.time_to_detect_ms;
  j["contained_at_ms"] = f.contained ? f.contained_at_ms : 0;
  j["time_to_contain_ms"] = f.time_to_contain_ms;
  j["time_to_detect"] = DurationMs(f.time_to_detect_ms);
  j["time_to_contain"] = f.contained ? DurationMs(f.time_to_contain_ms) : "not contained";
  j["staff_records_read"] = a.staff.records_read;
  j["staff_data_subjects"] = static_cast<int64_t>(a.staff.staff_ids.size());
  j["commands_in_window"] = static_cast<int64_t>(a.commands.commands.size());
  j["devices_reached"] = a.commands.devices_reached;
  j["device_verdict"] = a.commands.verdict;
  return j;
}

ordered DeadlinesJson(const IncidentAnalysis& a) {
  ordered out = ordered::array();
  for (const auto& d : a.deadlines) {
    out.push_back({{"name", d.name}, {"due_at", Time(d.due_at)}, {"overdue", d.overdue}});
  }
  return out;
}

bool SuspectedMalicious(const IncidentAnalysis& a) {
  for (const auto& al : a.alerts) {
    if (core::SeverityRank(al.severity) >= core::SeverityRank("high") || !al.attack.empty()) {
      return true;
    }
  }
  return a.staff.canary_reads > 0;
}

std::string CrossBorder(const IncidentAnalysis& a) {
  if (a.staff.institutions.size() > 1) {
    return "possible: staff records of " + std::to_string(a.staff.institutions.size()) +
           " institutions were read";
  }
  return "none identified from Rampart's records; to be confirmed by the institution";
}

std::vector<std::string> AttackIds(const IncidentAnalysis& a) {
  std::set<std::string> ids;
  for (const auto& al : a.alerts) ids.insert(al.attack.begin(), al.attack.end());
  return {ids.begin(), ids.end()};
}

std::vector<std::string> Mitigations(const IncidentAnalysis& a) {
  std::vector<std::string> out;
  for (const auto& r : a.response_actions) {
    out.push_back(Time(r.time) + " " + r.action.substr(9) + " " + r.target + " (" + r.outcome +
                  ")");
  }
  return out;
}

// A section: a heading, label/value rows and an optional bullet list.
ordered Section(std::string heading, std::vector<std::pair<std::string, std::string>> rows,
                std::vector<std::string> items = {}) {
  ordered s;
  s["heading"] = std::move(heading);
  ordered r = ordered::array();
  for (auto& [k, v] : rows) r.push_back({{"label", k}, {"value", v}});
  s["rows"] = std::move(r);
  s["items"] = std::move(items);
  return s;
}

ordered FiguresSection(const IncidentAnalysis& a) {
  const Figures& f = a.figures;
  return Section(
      "Figures (computed from the audit log and the store)",
      {{"First malicious event", TimeMs(f.first_malicious_event_ms)},
       {"Detected (first alert)", TimeMs(f.first_alert_ms)},
       {"Time to detect", DurationMs(f.time_to_detect_ms)},
       {"Contained", f.contained ? TimeMs(f.contained_at_ms) : "not contained"},
       {"Time to contain", f.contained ? DurationMs(f.time_to_contain_ms) : "not contained"},
       {"Staff records read", std::to_string(a.staff.records_read)},
       {"Data subjects (distinct staff)", std::to_string(a.staff.staff_ids.size())},
       {"Commands in the incident window", std::to_string(a.commands.commands.size())},
       {"Devices reached", std::to_string(a.commands.devices_reached)},
       {"Device verdict", a.commands.verdict}});
}

ordered HeaderSection(const IncidentAnalysis& a, const IncidentsConfig& org) {
  return Section("Reporting entity", {{"Organisation", org.organisation},
                                      {"Member state", org.member_state},
                                      {"Recipient", org.csirt},
                                      {"Incident", a.incident.id},
                                      {"Title", a.incident.title},
                                      {"Severity", a.incident.severity},
                                      {"State", std::string(core::ToString(a.incident.state))},
                                      {"Report generated", Time(a.generated_at)}});
}

std::string DeadlineFor(const IncidentAnalysis& a, std::string_view name) {
  for (const auto& d : a.deadlines) {
    if (d.name == name) return Time(d.due_at) + (d.overdue ? " (OVERDUE)" : "");
  }
  return "not applicable";
}

ordered ImpactSection(const IncidentAnalysis& a) {
  return Section("Impact",
                 {{"Staff records read", std::to_string(a.staff.records_read)},
                  {"Staff ids", Join(a.staff.staff_ids)},
                  {"Institutions", Join(a.staff.institutions)},
                  {"Data categories", Join(a.staff.categories)},
                  {"Canary records read", std::to_string(a.staff.canary_reads)},
                  {"Commands issued, approved, signed or refused",
                   std::to_string(a.commands.commands.size()) + " in store, " +
                       std::to_string(a.commands.audit.size()) + " command records in the log"},
                  {"Refused", std::to_string(a.commands.refused)},
                  {"Devices reached", std::to_string(a.commands.devices_reached)},
                  {"Device verdict", a.commands.verdict},
                  {"Impact records complete", a.audit_complete ? "yes" : "no (page cap reached)"}});
}

ordered IndicatorsSection(const IncidentAnalysis& a) {
  std::vector<std::string> items;
  for (const auto& v : a.indicators.addresses) items.push_back("address " + v);
  for (const auto& v : a.indicators.url_paths) items.push_back("path " + v);
  for (const auto& v : a.indicators.file_sha256) items.push_back("sha256 " + v);
  for (const auto& v : a.indicators.user_agents) items.push_back("user agent " + v);
  return Section("Indicators of compromise", {}, items);
}

ordered TimelineSection(const IncidentAnalysis& a) {
  std::vector<std::string> items;
  for (const auto& t : a.timeline) {
    items.push_back(TimeMs(t.at_ms) + " [" + t.kind + "] " + t.summary +
                    (t.actor.empty() ? "" : " — " + t.actor) +
                    (t.outcome.empty() ? "" : " (" + t.outcome + ")"));
  }
  return Section("Timeline", {}, items);
}

ordered ReportDocument(ReportKind kind, const IncidentAnalysis& a, const IncidentsConfig& org) {
  ordered doc;
  doc["report"] = std::string(ToString(kind));
  doc["incident_id"] = a.incident.id;
  doc["organisation"] = org.organisation;
  doc["generated_at"] = Time(a.generated_at);
  doc["figures"] = FiguresJson(a);
  doc["deadlines"] = DeadlinesJson(a);
  ordered sections = ordered::array();
  sections.push_back(HeaderSection(a, org));
  const std::string malicious = SuspectedMalicious(a) ? "yes" : "not established";
  switch (kind) {
    case ReportKind::kEarlyWarning:
      doc["title"] = "NIS2 Article 23(4)(a) early warning";
      sections.push_back(
          Section("Early warning", {{"Due", DeadlineFor(a, "nis2_early_warning")},
                                    {"Suspected unlawful or malicious act", malicious},
                                    {"Possible cross-border impact", CrossBorder(a)},
                                    {"Detected", Time(a.figures.first_alert)}}));
      sections.push_back(FiguresSection(a));
      break;
    case ReportKind::kNotification:
      doc["title"] = "NIS2 Article 23(4)(b) incident notification";
      sections.push_back(
          Section("Initial assessment", {{"Due", DeadlineFor(a, "nis2_notification")},
                                         {"Severity", a.incident.severity},
                                         {"Suspected unlawful or malicious act", malicious},
                                         {"Possible cross-border impact", CrossBorder(a)},
                                         {"ATT&CK techniques", Join(AttackIds(a))}}));
      sections.push_back(FiguresSection(a));
      sections.push_back(ImpactSection(a));
      sections.push_back(IndicatorsSection(a));
      break;
    case ReportKind::kFinal:
      doc["title"] = "NIS2 Article 23(4)(d) final report";
      sections.push_back(
          Section("Description",
                  {{"Due", DeadlineFor(a, "nis2_final_report")},
                   {"Incident", a.incident.title + " on " + a.incident.entity},
                   {"Severity", a.incident.severity},
                   {"Alerts", std::to_string(a.alerts.size())},
                   {"Root cause / threat type", "ATT&CK " + Join(AttackIds(a)) + "; rules: " +
                                                    [&] {
                                                      std::vector<std::string> t;
                                                      for (const auto& al : a.alerts)
                                                        t.push_back(al.rule_title);
                                                      return Join(t, "; ");
                                                    }()},
                   {"Cross-border impact", CrossBorder(a)}}));
      sections.push_back(FiguresSection(a));
      sections.push_back(ImpactSection(a));
      sections.push_back(Section("Mitigations applied", {}, Mitigations(a)));
      sections.push_back(
          Section("Recovery", {{"Procedure",
                                "docs/incident-response.md (rebuild or restore from a known-good "
                                "backup; rotate credentials, keys and certificates)"}}));
      sections.push_back(IndicatorsSection(a));
      sections.push_back(TimelineSection(a));
      break;
    case ReportKind::kPersonalDataBreach: {
      doc["title"] =
          "Personal data breach notification (Regulation (EU) 2018/1725 Art. 34 / GDPR Art. 33)";
      const bool read = !a.staff.staff_ids.empty();
      sections.push_back(Section(
          "Notification",
          {{"Supervisory authority", org.supervisory_authority},
           {"Due", DeadlineFor(a, "personal_data_breach")},
           {"Nature of the breach",
            read ? "confidentiality: staff contact records decrypted by the principals and "
                   "addresses implicated in the incident"
                 : "no staff record was decrypted by the implicated principals or addresses"},
           {"Categories of data subjects",
            read ? "staff of " + Join(a.staff.institutions) : "none"},
           {"Approximate number of data subjects", std::to_string(a.staff.staff_ids.size())},
           {"Categories of personal data", Join(a.staff.categories)},
           {"Approximate number of records", std::to_string(a.staff.records_read)},
           {"Data protection officer", org.dpo_name + ", " + org.dpo_email + ", " + org.dpo_phone},
           {"Likely consequences",
            read ? "targeted phishing or smishing of the staff concerned, impersonation, "
                   "harassment; no authentication secrets are part of these records"
                 : "none identified from the audit log"},
           {"Staff ids concerned", Join(a.staff.staff_ids)}}));
      sections.push_back(Section("Measures taken or proposed", {}, Mitigations(a)));
      sections.push_back(FiguresSection(a));
      break;
    }
    case ReportKind::kStix:
      doc["title"] = "STIX 2.1 indicators";
      sections.push_back(IndicatorsSection(a));
      sections.push_back(FiguresSection(a));
      break;
  }
  doc["sections"] = std::move(sections);
  return doc;
}

// Report text carries attacker-chosen strings (user agents, URL paths, entities). Escaped, they
// stay text wherever the Markdown is pasted: no link, image, inline HTML or table cell break.
std::string MarkdownText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
      case '`':
      case '*':
      case '[':
      case ']':
      case '(':
      case ')':
      case '<':
      case '>':
      case '!':
      case '|':
      case '#':
      case '~':
        out += '\\';
        out += c;
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderMarkdown(const ordered& doc) {
  std::string out = "# " + MarkdownText(doc["title"].get<std::string>()) + "\n\n";
  for (const auto& s : doc["sections"]) {
    out += "## " + s["heading"].get<std::string>() + "\n\n";
    if (!s["rows"].empty()) {
      out += "| | |\n|---|---|\n";
      for (const auto& r : s["rows"]) {
        out += "| " + r["label"].get<std::string>() + " | " +
               MarkdownText(r["value"].get<std::string>()) + " |\n";
      }
      out += "\n";
    }
    for (const auto& i : s["items"]) out += "- " + MarkdownText(i.get<std::string>()) + "\n";
    if (!s["items"].empty()) out += "\n";
  }
  return out;
}

std::string RenderHtml(const ordered& doc) {
  const std::string title = HtmlEscape(doc["title"].get<std::string>());
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title +
      "</title><style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
      "table{border-collapse:collapse;width:100%}td{border:1px solid #999;padding:.3em;"
      "vertical-align:top}td:first-child{width:35%;font-weight:bold}"
      "@media print{body{margin:0}}</style></head><body>\n<h1>" +
      title + "</h1>\n";
  for (const auto& s : doc["sections"]) {
    out += "<h2>" + HtmlEscape(s["heading"].get<std::string>()) + "</h2>\n";
    if (!s["rows"].empty()) {
      out += "<table>\n";
      for (const auto& r : s["rows"]) {
        out += "<tr><td>" + HtmlEscape(r["label"].get<std::string>()) + "</td><td>" +
               HtmlEscape(r["value"].get<std::string>()) + "</td></tr>\n";
      }
      out += "</table>\n";
    }
    if (!s["items"].empty()) {
      out += "<ul>\n";
      for (const auto& i : s["items"]) out += "<li>" + HtmlEscape(i.get<std::string>()) + "</li>\n";
      out += "</ul>\n";
    }
  }
  out += "</body></html>\n";
  return out;
}

std::string StixTime(int64_t t) {
  std::string s = FormatRfc3339(t);  // "...:00Z"
  s.insert(s.size() - 1, ".000");
  return s;
}

// RFC 4122 version 4 UUID.
std::string NewUuid() {
  std::string b = crypto::RandomBytes(16);
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0F) | 0x40);
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3F) | 0x80);
  std::string h = crypto::HexEncode(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// A STIX pattern string literal: backslash and quote escaped.
std::string Quoted(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::optional<ReportKind> ParseReportKind(std::string_view s) {
  for (int i = 0; i < 5; ++i) {
    if (kKindNames[i] == s) return static_cast<ReportKind>(i);
  }
  return std::nullopt;
}

std::string_view ToString(ReportKind kind) {
  return kKindNames[static_cast<int>(kind)];
}

std::optional<ReportFormat> ParseReportFormat(std::string_view s) {
  if (s == "md") return ReportFormat::kMarkdown;
  if (s == "json") return ReportFormat::kJson;
  if (s == "html") return ReportFormat::kHtml;
  return std::nullopt;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

json IncidentEntryToJson(const core::IncidentEntry& e) {
  return {
      {"seq", e.seq},   {"kind", e.kind},   {"from_state", e.from_state}, {"to_state", e.to_state},
      {"text", e.text}, {"actor", e.actor}, {"at", FormatRfc3339(e.at)}};
}

json AnalysisToJson(const IncidentAnalysis& a) {
  const core::Incident& i = a.incident;
  json alerts = json::array();
  for (const auto& al : a.alerts) {
    alerts.push_back({{"id", al.id},
                      {"rule_id", al.rule_id},
                      {"rule_title", al.rule_title},
                      {"severity", al.severity},
                      {"entity", al.entity},
                      {"count", al.count},
                      {"attack", al.attack},
                      {"first_seen", Time(al.first_seen)},
                      {"created_at", Time(al.created_at)},
                      {"first_seen_ms", core::MillisOr(al.first_seen_ms, al.first_seen)},
                      {"created_at_ms", core::MillisOr(al.created_at_ms, al.created_at)}});
  }
  json timeline = json::array();
  for (const auto& t : a.timeline) {
    timeline.push_back({{"at", Time(t.at)},
                        {"at_ms", t.at_ms},
                        {"kind", t.kind},
                        {"summary", t.summary},
                        {"actor", t.actor},
                        {"ref", t.ref},
                        {"outcome", t.outcome}});
  }
  json commands = json::array();
  for (const auto& c : a.commands.commands) {
    commands.push_back({{"id", c.id},
                        {"device_id", c.device_id},
                        {"institution_id", c.institution_id},
                        {"type", c.type},
                        {"state", c.state},
                        {"created_by", c.created_by},
                        {"approved_by", c.approved_by},
                        {"signed", c.signed_by_keeper},
                        {"reached_device", c.reached_device},
                        {"by_implicated", c.by_implicated}});
  }
  json devices = json::array();
  for (const auto& d : a.commands.devices) {
    devices.push_back(
        {{"device_id", d.device_id}, {"received", d.received}, {"commands", d.commands}});
  }
  json command_audit = json::array();
  for (const auto& r : a.commands.audit) {
    command_audit.push_back({{"index", r.index},
                             {"at", Time(r.time)},
                             {"action", r.action},
                             {"actor", r.actor},
                             {"target", r.target},
                             {"outcome", r.outcome}});
  }
  json j;
  j["id"] = i.id;
  j["institution_id"] = i.institution_id;
  j["entity"] = i.entity;
  j["title"] = i.title;
  j["severity"] = i.severity;
  j["state"] = std::string(core::ToString(i.state));
  j["first_alert_at"] = Time(i.first_alert_at);
  j["last_alert_at"] = Time(i.last_alert_at);
  j["created_at"] = Time(i.created_at);
  j["closed_at"] = i.closed_at > 0 ? Time(i.closed_at) : "";
  j["alerts"] = std::move(alerts);
  j["window"] = {{"start", Time(a.window_start)}, {"end", Time(a.window_end)}};
  j["implicated"] = {{"principals", a.implicated.principals},
                     {"addresses", a.implicated.addresses}};
  j["figures"] = json::parse(FiguresJson(a).dump());
  j["impact"] = {{"staff",
                  {{"records_read", a.staff.records_read},
                   {"staff_ids", a.staff.staff_ids},
                   {"institutions", a.staff.institutions},
                   {"categories", a.staff.categories},
                   {"canary_reads", a.staff.canary_reads}}},
                 {"commands",
                  {{"commands", std::move(commands)},
                   {"audit", std::move(command_audit)},
                   {"devices", std::move(devices)},
                   {"devices_reached", a.commands.devices_reached},
                   {"refused", a.commands.refused},
                   {"verdict", a.commands.verdict}}},
                 {"complete", a.audit_complete}};
  j["indicators"] = {{"addresses", a.indicators.addresses},
                     {"url_paths", a.indicators.url_paths},
                     {"file_sha256", a.indicators.file_sha256},
                     {"user_agents", a.indicators.user_agents}};
  j["timeline"] = std::move(timeline);
  j["deadlines"] = json::parse(DeadlinesJson(a).dump());
  j["generated_at"] = Time(a.generated_at);
  return j;
}

json StixBundle(const IncidentAnalysis& a, const IncidentsConfig& org) {
  const int64_t created = a.generated_at;
  const int64_t valid_from =
      a.figures.first_malicious_event > 0 ? a.figures.first_malicious_event : a.figures.first_alert;
  const std::string identity_id = "identity--" + NewUuid();
  json objects = json::array();
  objects.push_back({{"type", "identity"},
                     {"spec_version", "2.1"},
                     {"id", identity_id},
                     {"created", StixTime(created)},
                     {"modified", StixTime(created)},
                     {"name", org.organisation},
                     {"identity_class", "organization"}});
  json refs = json::array();
  auto indicator = [&](const std::string& name, const std::string& pattern) {
    std::string id = "indicator--" + NewUuid();
    refs.push_back(id);
    objects.push_back({{"type", "indicator"},
                       {"spec_version", "2.1"},
                       {"id", id},
                       {"created_by_ref", identity_id},
                       {"created", StixTime(created)},
                       {"modified", StixTime(created)},
                       {"name", name},
                       {"indicator_types", {"malicious-activity"}},
                       {"pattern", pattern},
                       {"pattern_type", "stix"},
                       {"pattern_version", "2.1"},
                       {"valid_from", StixTime(valid_from > 0 ? valid_from : created)}});
  };
  for (const auto& ip : a.indicators.addresses) {
    const bool v6 = ip.find(':') != std::string::npos;
    indicator("Source address " + ip,
              std::string("[") + (v6 ? "ipv6-addr" : "ipv4-addr") + ":value = " + Quoted(ip) + "]");
  }
  // Request paths observed on Rampart itself; the host is the reporting server's, so only the
  // path is shared (as the url value, which importers match against the request target).
  for (const auto& p : a.indicators.url_paths) {
    indicator("Request path " + p, "[url:value = " + Quoted(p) + "]");
  }
  for (const auto& h : a.indicators.file_sha256) {
    indicator("File " + h, "[file:hashes.'SHA-256' = " + Quoted(h) + "]");
  }
  const Figures& f = a.figures;
  std::string description =
      "Incident " + a.incident.id + " (" + a.incident.severity + "): " + a.incident.title +
      ". Time to detect: " + DurationMs(f.time_to_detect_ms) +
      "; time to contain: " + (f.contained ? DurationMs(f.time_to_contain_ms) : "not contained") +
      "; staff records read: " + std::to_string(a.staff.records_read) +
      "; devices reached: " + std::to_string(a.commands.devices_reached) + " (" +
      a.commands.verdict + ").";
  objects.push_back({{"type", "report"},
                     {"spec_version", "2.1"},
                     {"id", "report--" + NewUuid()},
                     {"created_by_ref", identity_id},
                     {"created", StixTime(created)},
                     {"modified", StixTime(created)},
                     {"name", "Rampart incident " + a.incident.id},
                     {"description", description},
                     {"report_types", {"threat-report"}},
                     {"published", StixTime(created)},
                     {"object_refs", refs.empty() ? json::array({identity_id}) : refs},
                     {"x_rampart_figures", json::parse(FiguresJson(a).dump())}});
  return {{"type", "bundle"}, {"id", "bundle--" + NewUuid()}, {"objects", std::move(objects)}};
}

RenderedReport RenderReport(ReportKind kind, ReportFormat format, const IncidentAnalysis& analysis,
                            const IncidentsConfig& institution) {
  if (kind == ReportKind::kStix && format == ReportFormat::kJson) {
    return {"application/stix+json;version=2.1",
            StixBundle(analysis, institution).dump(2, ' ', false, json::error_handler_t::replace)};
  }
  ordered doc = ReportDocument(kind, analysis, institution);
  switch (format) {
    case ReportFormat::kMarkdown:
      return {"text/markdown; charset=utf-8", RenderMarkdown(doc)};
    case ReportFormat::kHtml:
      return {"text/html; charset=utf-8", RenderHtml(doc)};
    case ReportFormat::kJson:
      break;
  }
  return {"application/json", doc.dump(2, ' ', false, ordered::error_handler_t::replace)};
}

}  // namespace rampart::respond
