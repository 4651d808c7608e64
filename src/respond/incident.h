// Incidents (issue 5; docs/incidents.md): every stored alert opens or joins an incident of its
// (institution, entity), and an incident's analysis gathers, from the store and the keeper's
// audit log, everything respond/impact.h computes figures from.
//
//   IncidentTracker tracker(store, &clock, config.incidents.group_window_seconds);
//   pipeline->AddStoredBatchListener(
//       [&](const std::vector<core::Alert>& batch) { tracker.OnStoredAlerts(batch); });
//   auto analysis = AnalyzeIncident(*store, *keeper, scope, "inc_...", caller, clock.NowSeconds());
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "keeper/keeper.h"
#include "respond/impact.h"
#include "store/store.h"

namespace rampart::respond {

// Thread-safe; the store serialises the grouping.
class IncidentTracker {
 public:
  IncidentTracker(store::Store* store, const Clock* clock, int64_t window_seconds)
      : store_(store), clock_(clock), window_seconds_(window_seconds) {}
  // Called for every stored alert (the alert pipeline's stored listener). A store failure is
  // logged and counted, never thrown: detection goes on.
  void OnStoredAlert(const core::Alert& alert);
  // The same for a batch of stored alerts, in one store transaction (the alert pipeline's
  // batch listener; an alert storm costs one commit per batch). When the batch fails, each
  // alert is tried on its own, so one bad alert costs only itself.
  void OnStoredAlerts(const std::vector<core::Alert>& alerts);
  uint64_t failures() const { return failures_.load(); }

 private:
  store::Store* store_;
  const Clock* clock_;
  int64_t window_seconds_;
  std::atomic<uint64_t> failures_{0};
};

// Logs incident.opened when the link that returned `inc` opened it (Incident::opened_by_link),
// for whoever linked `alert`: the tracker, or an evidence capture that got there first.
void LogIfOpened(const core::Incident& inc, const core::Alert& alert);

struct IncidentAnalysis {
  core::Incident incident;
  std::vector<core::Alert> alerts;
  std::vector<core::IncidentEntry> entries;
  std::vector<audit::Record> response_actions;  // linked "response.*" records
  std::vector<TimelineEntry> timeline;
  Implicated implicated;
  Figures figures;
  StaffImpact staff;
  CommandImpact commands;
  Indicators indicators;
  std::vector<Deadline> deadlines;
  int64_t window_start = 0;  // the incident window the impact is computed over
  int64_t window_end = 0;
  bool audit_complete = true;  // false when a query stopped at its page cap
  int64_t generated_at = 0;
};

// Reads the incident (NotFound when not in scope), its alerts, transitions and notes, the
// commands of its window from the store, and the staff decrypts, command.* records and
// response actions of its window from the keeper (each query audited with `caller`).
// Unavailable when the keeper is down: no figures are better than wrong ones.
Result<IncidentAnalysis> AnalyzeIncident(store::Store& store, keeper::Keeper& keeper,
                                         const store::Scope& scope, const std::string& id,
                                         const keeper::Caller& caller, int64_t now);

}  // namespace rampart::respond
