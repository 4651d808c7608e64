// What an incident did, computed from records and never typed in: the timeline, time to detect
// and to contain, the staff records read and the commands issued in its window, and the
// indicators it observed. Pure functions over values (alerts, stored commands, audit records), so
// every figure is tested without a store or a keeper; respond/incident.h gathers the inputs.
//
//   Implicated who = ImplicatedBy(incident, alerts);
//   Figures f = ComputeFigures(incident, alerts, linked_response_actions);
//   StaffImpact staff = ComputeStaffImpact(decrypt_records, who);
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "audit/record.h"
#include "core/alert.h"
#include "core/incident.h"
#include "core/model.h"

namespace rampart::respond {

// The principals and source addresses an incident points at: its own entity, and the
// "user.name" and "source.ip" of its alerts' evidence events.
struct Implicated {
  std::set<std::string> principals;  // "tok_...", "usr_..."
  std::set<std::string> addresses;
};
Implicated ImplicatedBy(const core::Incident& incident, const std::vector<core::Alert>& alerts);

// The earliest event behind the alerts, in Unix milliseconds: the earliest "@timestamp" of their
// evidence events (fractions of a second kept) or first_seen_ms (first_seen x 1000 on rows
// older than migration 9), whichever is earlier; 0 without alerts.
int64_t FirstMaliciousEventMs(const std::vector<core::Alert>& alerts);
// The same in whole Unix seconds.
int64_t FirstMaliciousEvent(const std::vector<core::Alert>& alerts);
// The earliest start of a correlation window behind the alerts ("correlation.window_start" of
// their evidence), in whole Unix seconds; 0 when none is a correlation. A correlation's
// evidence is the event that completed it; the events it counted (the first 49 of 50 bulk
// reads) came before, and the incident's impact must include them.
int64_t EarliestCorrelationWindow(const std::vector<core::Alert>& alerts);

// When a "response.*" record's action happened, in Unix milliseconds: its "at_ms" detail (the
// action engine's clock), else the log's whole-second time x 1000.
int64_t RecordTimeMs(const audit::Record& record);

// Whether a "response.*" audit record (written by the playbook engine) belongs to the incident:
// its details name one of the incident's alerts or its entity, or its target is one of the
// implicated principals or addresses.
bool LinkedResponseAction(const audit::Record& record, const core::Incident& incident,
                          const Implicated& who);

// Times are computed in milliseconds from the stored millisecond times (rows older than
// migration 9 count as their whole seconds x 1000); the seconds fields are the same values in
// whole seconds (rounded down) for readers that predate the milliseconds.
struct Figures {
  int64_t first_malicious_event = 0;    // Unix seconds; 0: unknown
  int64_t first_alert = 0;              // the detection time: deadlines run from it
  int64_t time_to_detect_seconds = -1;  // -1: unknown
  bool contained = false;
  int64_t contained_at = 0;              // the last successful containment action
  int64_t time_to_contain_seconds = -1;  // -1: not contained
  int64_t first_malicious_event_ms = 0;  // Unix milliseconds; 0: unknown
  int64_t first_alert_ms = 0;
  int64_t time_to_detect_ms = -1;
  int64_t contained_at_ms = 0;
  int64_t time_to_contain_ms = -1;
};
Figures ComputeFigures(const core::Incident& incident, const std::vector<core::Alert>& alerts,
                       const std::vector<audit::Record>& response_actions);

struct StaffImpact {
  int64_t records_read = 0;            // staff records decrypted, counting repeats
  std::vector<std::string> staff_ids;  // each record once, sorted
  std::vector<std::string> institutions;
  // What a decrypt discloses: the sealed fields are opened together.
  std::vector<std::string> categories;  // "name", "mobile number", "email"; empty when none read
  int64_t read_events = 0;              // audit records behind the figures
  int64_t canary_reads = 0;
};
// From "staff.decrypt" (reveals, lists and four-eyes exports alike) and "staff.canary_read"
// records; only those whose actor or source address is implicated count.
StaffImpact ComputeStaffImpact(const std::vector<audit::Record>& records, const Implicated& who);

struct CommandEntry {
  std::string id;
  std::string device_id;
  std::string institution_id;
  std::string type;
  std::string state;
  std::string created_by;
  std::string approved_by;
  bool signed_by_keeper = false;
  bool reached_device = false;        // the device received it (whatever it then did)
  bool proven_not_delivered = false;  // its record proves it never left the server
  bool by_implicated = false;         // created or approved by an implicated principal
};
struct DeviceReach {
  std::string device_id;
  bool received = false;
  std::vector<std::string> commands;  // ids of the window's commands to this device
};
struct CommandAuditEntry {
  int64_t index = 0;
  int64_t time = 0;
  std::string action;  // "command.sign", "command.approve", "command.reject", ...
  std::string actor;
  std::string target;
  std::string outcome;
};
struct CommandImpact {
  std::vector<CommandEntry> commands;
  std::vector<CommandAuditEntry> audit;  // command.* records of the window
  std::vector<DeviceReach> devices;
  int64_t devices_reached = 0;
  int64_t refused = 0;  // signatures the keeper denied and approvals refused
  // "no commands" (none in the store, none in the log), "no device reached" (every command's
  // record proves it stayed on the server; refused attempts count as such),
  // "devices reached", or "undetermined" (a command the audit log names is not in the store,
  // or the audit log was not read to the end).
  std::string verdict;
};
CommandImpact ComputeCommandImpact(const std::vector<core::Command>& commands,
                                   const std::vector<audit::Record>& command_records,
                                   const Implicated& who, bool records_complete);

struct Indicators {
  std::vector<std::string> addresses;
  std::vector<std::string> url_paths;
  std::vector<std::string> file_sha256;
  std::vector<std::string> user_agents;
};
// Source addresses (only addresses, not principals), url.path values and SHA-256 hashes of
// file.* evidence fields, each once, sorted.
Indicators CollectIndicators(const core::Incident& incident,
                             const std::vector<core::Alert>& alerts);

struct TimelineEntry {
  int64_t at = 0;     // Unix seconds
  int64_t at_ms = 0;  // the same in milliseconds (whole seconds x 1000 where only those are known)
  // "first_malicious_event", "alert", "response_action", "approval", "transition", "note"
  std::string kind;
  std::string summary;
  std::string actor;
  std::string ref;      // alert id, audit index ("audit:42"), or entry seq ("entry:3")
  std::string outcome;  // for actions and approvals
};
// In time order, by at_ms (ties keep the order above: first event, alerts, actions, approvals,
// entries). Approvals are "command.approve"/"command.reject" records and response actions waiting
// for one.
std::vector<TimelineEntry> BuildTimeline(const Figures& figures,
                                         const std::vector<core::Alert>& alerts,
                                         const std::vector<audit::Record>& response_actions,
                                         const std::vector<audit::Record>& approvals,
                                         const std::vector<core::IncidentEntry>& entries);

struct Deadline {
  std::string name;  // "nis2_early_warning", "nis2_notification", "nis2_final_report",
                     // "personal_data_breach"
  int64_t due_at = 0;
  bool overdue = false;
};
// From the detection time: 24 h, 72 h, one month (30 days), and 72 h for the personal-data
// breach notification when staff records were read.
std::vector<Deadline> ComputeDeadlines(int64_t detected_at, bool personal_data, int64_t now);

// "2026-01-30T09:15:00Z" (fractions of a second allowed and dropped) → Unix seconds; -1 for
// anything else.
int64_t ParseUtcTime(const std::string& text);
// The same → Unix milliseconds, keeping the first three digits of a fraction; -1 as above.
int64_t ParseUtcTimeMillis(const std::string& text);

}  // namespace rampart::respond
