#include "respond/incident.h"

#include <algorithm>
#include <map>

#include "common/log.h"

namespace rampart::respond {

namespace {

// Enough for any incident we can imagine reading through; past it the analysis says it is
// incomplete instead of reading the whole log.
constexpr int kMaxAuditPages = 20;
constexpr int64_t kMaxWindowCommands = 10000;

// Every matching record of the window, following the keeper's cursor. *complete turns false
// when the page cap stops the walk.
Result<std::vector<audit::Record>> QueryAll(keeper::Keeper& keeper, keeper::AuditQuery q,
                                            bool* complete) {
  std::vector<audit::Record> out;
  q.limit = keeper::kMaxAuditQueryPage;
  for (int page = 0; page < kMaxAuditPages; ++page) {
    RAMPART_ASSIGN_OR_RETURN(keeper::AuditPage p, keeper.QueryAudit(q));
    for (auto& r : p.records) out.push_back(std::move(r));
    if (p.next_cursor < 0) return out;
    q.cursor = p.next_cursor;
  }
  *complete = false;
  return out;
}

std::vector<std::string> Capped(const std::set<std::string>& s) {
  std::vector<std::string> v(s.begin(), s.end());
  if (v.size() > keeper::kMaxAuditQueryFilterValues) v.resize(keeper::kMaxAuditQueryFilterValues);
  return v;
}

}  // namespace

void LogIfOpened(const core::Incident& inc, const core::Alert& alert) {
  // Not again when a repeat of the incident's only alert is linked (the alert's count grew).
  if (inc.opened_by_link) {
    log::Warn("incident.opened", {{"incident_id", inc.id},
                                  {"alert_id", alert.id},
                                  {"severity", inc.severity},
                                  {"entity", inc.entity}});
  }
}

void IncidentTracker::OnStoredAlert(const core::Alert& alert) {
  auto inc = store_->AttachAlertToIncident(alert.id, window_seconds_, clock_->NowSeconds());
  if (!inc.ok()) {
    ++failures_;
    log::Error("incident.attach_failed",
               {{"alert_id", alert.id}, {"error", inc.status().message()}});
    return;
  }
  LogIfOpened(*inc, alert);
}

void IncidentTracker::OnStoredAlerts(const std::vector<core::Alert>& alerts) {
  if (alerts.size() == 1) return OnStoredAlert(alerts[0]);
  std::vector<std::string> ids;
  ids.reserve(alerts.size());
  for (const core::Alert& a : alerts) ids.push_back(a.id);
  auto linked = store_->AttachAlertsToIncidents(ids, window_seconds_, clock_->NowSeconds());
  if (!linked.ok() || linked->size() != alerts.size()) {
    for (const core::Alert& a : alerts) OnStoredAlert(a);
    return;
  }
  // Each incident is as it stood when its alert was linked, so "opened" is told as alone.
  for (size_t i = 0; i < alerts.size(); ++i) LogIfOpened((*linked)[i], alerts[i]);
}

Result<IncidentAnalysis> AnalyzeIncident(store::Store& store, keeper::Keeper& keeper,
                                         const store::Scope& scope, const std::string& id,
                                         const keeper::Caller& caller, int64_t now) {
  IncidentAnalysis a;
  a.generated_at = now;
  RAMPART_ASSIGN_OR_RETURN(a.incident, store.GetIncident(scope, id));
  for (const auto& alert_id : a.incident.alert_ids) {
    RAMPART_ASSIGN_OR_RETURN(core::Alert alert, store.GetAlert(scope, alert_id));
    a.alerts.push_back(std::move(alert));
  }
  RAMPART_ASSIGN_OR_RETURN(a.entries, store.ListIncidentEntries(scope, id));
  a.implicated = ImplicatedBy(a.incident, a.alerts);

  const int64_t first_event = FirstMaliciousEvent(a.alerts);
  a.window_start = a.incident.first_alert_at;
  if (first_event > 0 && first_event < a.window_start) a.window_start = first_event;
  // Time to detect still runs from first_event; what was read runs from the first event a
  // correlation counted.
  const int64_t counted_from = EarliestCorrelationWindow(a.alerts);
  if (counted_from > 0 && counted_from < a.window_start) a.window_start = counted_from;
  a.window_end = a.incident.closed_at > 0 ? a.incident.closed_at : now;
  if (a.window_end < a.window_start) a.window_end = a.window_start;

  // An institution's incident reads that institution's records; a server-wide one (visible to
  // cross-institution roles only) reads every institution's.
  const std::string& institution = a.incident.institution_id;
  keeper::AuditQuery base;
  base.caller = caller;
  base.since = a.window_start;
  base.until = a.window_end;

  keeper::AuditQuery responses = base;
  responses.action_prefixes = {"response.", "command.approve", "command.reject"};
  RAMPART_ASSIGN_OR_RETURN(auto response_records, QueryAll(keeper, responses, &a.audit_complete));
  std::vector<audit::Record> approvals;
  for (auto& r : response_records) {
    // Another institution's containment is neither this incident's timeline nor its figures;
    // server-wide actions (an address block) are both.
    if (!institution.empty() && !r.institution_id.empty() && r.institution_id != institution) {
      continue;
    }
    if (LinkedResponseAction(r, a.incident, a.implicated)) {
      a.response_actions.push_back(r);
    } else if (r.action.starts_with("command.") &&
               (institution.empty() || r.institution_id == institution)) {
      approvals.push_back(r);
    }
  }

  // Staff reads by the implicated principals, and from the implicated addresses: two queries
  // because the keeper ANDs its filters.
  std::map<int64_t, audit::Record> reads;
  keeper::AuditQuery decrypts = base;
  decrypts.action_prefixes = {"staff.decrypt", "staff.canary_read"};
  decrypts.institution_id = institution;
  if (!a.implicated.principals.empty()) {
    keeper::AuditQuery q = decrypts;
    q.actors = Capped(a.implicated.principals);
    RAMPART_ASSIGN_OR_RETURN(auto records, QueryAll(keeper, q, &a.audit_complete));
    for (auto& r : records) reads.emplace(r.index, std::move(r));
  }
  if (!a.implicated.addresses.empty()) {
    keeper::AuditQuery q = decrypts;
    q.source_ips = Capped(a.implicated.addresses);
    RAMPART_ASSIGN_OR_RETURN(auto records, QueryAll(keeper, q, &a.audit_complete));
    for (auto& r : records) reads.emplace(r.index, std::move(r));
  }
  if (a.implicated.principals.size() > keeper::kMaxAuditQueryFilterValues ||
      a.implicated.addresses.size() > keeper::kMaxAuditQueryFilterValues) {
    a.audit_complete = false;
  }
  std::vector<audit::Record> read_records;
  for (auto& [index, r] : reads) read_records.push_back(std::move(r));
  a.staff = ComputeStaffImpact(read_records, a.implicated);

  keeper::AuditQuery cmd_query = base;
  cmd_query.action_prefixes = {"command."};
  cmd_query.institution_id = institution;
  RAMPART_ASSIGN_OR_RETURN(auto command_records, QueryAll(keeper, cmd_query, &a.audit_complete));
  store::Scope window_scope = institution.empty() ? scope : store::Scope::Institution(institution);
  RAMPART_ASSIGN_OR_RETURN(auto commands,
                           store.ListCommandsInWindow(window_scope, a.window_start, a.window_end,
                                                      kMaxWindowCommands + 1));
  bool commands_complete = a.audit_complete;
  if (static_cast<int64_t>(commands.size()) > kMaxWindowCommands) {
    commands.resize(kMaxWindowCommands);
    commands_complete = false;
  }
  // A command the audit log says was signed in the window but created before it is still in
  // the store: look it up rather than call it unknown.
  std::set<std::string> have;
  for (const auto& c : commands) have.insert(c.id);
  for (const auto& r : command_records) {
    if (r.action != "command.sign" || !r.target.starts_with("cmd_") || have.contains(r.target)) {
      continue;
    }
    auto found = store.FindCommand(window_scope, r.target);
    if (found.ok()) {
      have.insert(found->id);
      commands.push_back(std::move(found).value());
    }
  }
  a.commands = ComputeCommandImpact(commands, command_records, a.implicated, commands_complete);

  a.figures = ComputeFigures(a.incident, a.alerts, a.response_actions);
  a.indicators = CollectIndicators(a.incident, a.alerts);
  a.timeline = BuildTimeline(a.figures, a.alerts, a.response_actions, approvals, a.entries);
  a.deadlines = ComputeDeadlines(a.figures.first_alert, !a.staff.staff_ids.empty(), now);
  return a;
}

}  // namespace rampart::respond
