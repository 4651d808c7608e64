// An incident: the alerts about one entity of one institution that arrived close together,
// handled as one case from detection to closure. Pure value types and the state machine; stored
// by store::Store, opened by respond::IncidentTracker, served by /api/v1/incidents.
//
// States move forward only (new → triaged → contained → eradicated → recovered → closed), one
// or more steps at a time, and an incident may be closed from any state. A closed incident is
// final: a later alert on the same entity opens a new one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::core {

enum class IncidentState { kNew, kTriaged, kContained, kEradicated, kRecovered, kClosed };
std::string_view ToString(IncidentState v);
std::optional<IncidentState> ParseIncidentState(std::string_view s);
// True for a forward move (skipping states is allowed: a contained-by-playbook incident may be
// triaged after the fact) and for closing from any state but closed.
bool IncidentTransitionAllowed(IncidentState from, IncidentState to);

struct Incident {
  std::string id;              // "inc_..."
  std::string institution_id;  // empty: server-wide (alerts about unauthenticated traffic)
  std::string entity;          // the alerts' entity: "source.ip=203.0.113.7", "user.name=tok_..."
  std::string title;           // the first alert's rule title
  std::string severity;        // the highest severity of its alerts
  IncidentState state = IncidentState::kNew;
  int64_t first_alert_at = 0;     // created_at of its first alert (Unix seconds)
  int64_t first_alert_at_ms = 0;  // the same in Unix milliseconds; 0 before migration 9
  int64_t last_alert_at = 0;      // last_seen of its latest alert: the grouping window runs from it
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t closed_at = 0;
  std::vector<std::string> alert_ids;  // in the order they joined
  // Not stored: true in what Store::AttachAlertToIncident(s) returns when that very link opened
  // the incident (a repeat of its first alert, linked again, does not).
  bool opened_by_link = false;
};

// A transition or an analyst note, in the order recorded.
struct IncidentEntry {
  int64_t seq = 0;
  std::string incident_id;
  std::string kind;  // "transition" or "note"
  std::string from_state;
  std::string to_state;
  std::string text;   // the note, or the reason given with a transition
  std::string actor;  // principal id
  int64_t at = 0;
};

}  // namespace rampart::core
