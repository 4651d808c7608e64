#include "respond/impact.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

namespace rampart::respond {

using nlohmann::json;

namespace {

// Evidence and details are JSON written by this process; anything else is ignored, not fatal.
json ParseObject(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// "source.ip=203.0.113.7" → ("source.ip", "203.0.113.7").
std::pair<std::string, std::string> SplitEntity(const std::string& entity) {
  size_t eq = entity.find('=');
  if (eq == std::string::npos) return {"", entity};
  return {entity.substr(0, eq), entity.substr(eq + 1)};
}

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::vector<std::string> Sorted(const std::set<std::string>& s) {
  return {s.begin(), s.end()};
}

bool IsPrincipalId(const std::string& v) {
  return v.starts_with("tok_") || v.starts_with("usr_");
}

}  // namespace

int64_t ParseUtcTime(const std::string& text) {
  const int64_t ms = ParseUtcTimeMillis(text);
  return ms < 0 ? -1 : ms / 1000;
}

int64_t ParseUtcTimeMillis(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  if (text.size() < 20 ||
      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7) {
    return -1;
  }
  // A fraction of a second ("...:00.123Z") counts to the millisecond.
  int64_t frac_ms = 0;
  if (z == '.') {
    size_t i = 20;
    int64_t scale = 100;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      frac_ms += (text[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == 20 || i != text.size() - 1 || text.back() != 'Z') return -1;
  } else if (z != 'Z' || text.size() != 20) {
    return -1;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return -1;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + frac_ms;
}

Implicated ImplicatedBy(const core::Incident& incident, const std::vector<core::Alert>& alerts) {
  Implicated who;
  auto add_entity = [&](const std::string& entity) {
    auto [field, value] = SplitEntity(entity);
    if (value.empty()) return;
    if (field == "source.ip") who.addresses.insert(value);
    if (field == "user.name" && IsPrincipalId(value)) who.principals.insert(value);
  };
  add_entity(incident.entity);
  for (const auto& a : alerts) {
    add_entity(a.entity);
    for (const auto& e : a.evidence) {
      json ev = ParseObject(e);
      std::string ip = StringField(ev, "source.ip");
      std::string user = StringField(ev, "user.name");
      if (!ip.empty()) who.addresses.insert(ip);
      if (IsPrincipalId(user)) who.principals.insert(user);
    }
  }
  return who;
}

int64_t FirstMaliciousEventMs(const std::vector<core::Alert>& alerts) {
  int64_t first = 0;
  auto consider = [&](int64_t t) {
    if (t > 0 && (first == 0 || t < first)) first = t;
  };
  // The engine stamps evidence and first_seen_ms to the millisecond; older rows have evidence
  // in whole seconds and first_seen only, both no later than the event itself.
  for (const auto& a : alerts) {
    for (const auto& e : a.evidence) {
      consider(ParseUtcTimeMillis(StringField(ParseObject(e), "@timestamp")));
    }
    consider(core::MillisOr(a.first_seen_ms, a.first_seen));
  }
  return first;
}

int64_t EarliestCorrelationWindow(const std::vector<core::Alert>& alerts) {
  int64_t first = 0;
  for (const auto& a : alerts) {
    for (const auto& e : a.evidence) {
      int64_t t = ParseUtcTimeMillis(StringField(ParseObject(e), "correlation.window_start"));
      if (t > 0 && (first == 0 || t < first)) first = t;
    }
  }
  return first / 1000;
}

int64_t FirstMaliciousEvent(const std::vector<core::Alert>& alerts) {
  return FirstMaliciousEventMs(alerts) / 1000;
}

int64_t RecordTimeMs(const audit::Record& record) {
  json d = ParseObject(record.details_json);
  auto it = d.find("at_ms");
  if (it != d.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    return it->get<int64_t>();
  }
  return record.time * 1000;
}

bool LinkedResponseAction(const audit::Record& record, const core::Incident& incident,
                          const Implicated& who) {
  if (!record.action.starts_with("response.")) return false;
  json d = ParseObject(record.details_json);
  std::string alert_id = StringField(d, "alert_id");
  if (!alert_id.empty() && std::find(incident.alert_ids.begin(), incident.alert_ids.end(),
                                     alert_id) != incident.alert_ids.end()) {
    return true;
  }
  if (!incident.entity.empty() && StringField(d, "entity") == incident.entity) return true;
  return who.principals.contains(record.target) || who.addresses.contains(record.target);
}

Figures ComputeFigures(const core::Incident& incident, const std::vector<core::Alert>& alerts,
                       const std::vector<audit::Record>& response_actions) {
  Figures f;
  f.first_alert_ms = core::MillisOr(incident.first_alert_at_ms, incident.first_alert_at);
  for (const auto& a : alerts) {
    const int64_t created = core::MillisOr(a.created_at_ms, a.created_at);
    if (created > 0 && (f.first_alert_ms == 0 || created < f.first_alert_ms)) {
      f.first_alert_ms = created;
    }
  }
  f.first_malicious_event_ms = FirstMaliciousEventMs(alerts);
  if (f.first_malicious_event_ms > 0 && f.first_alert_ms > 0) {
    f.time_to_detect_ms = std::max<int64_t>(0, f.first_alert_ms - f.first_malicious_event_ms);
  }
  for (const auto& r : response_actions) {
    if (r.outcome != "success") continue;
    json d = ParseObject(r.details_json);
    auto it = d.find("containment");
    if (it == d.end() || !it->is_boolean() || !it->get<bool>()) continue;
    f.contained = true;
    f.contained_at_ms = std::max(f.contained_at_ms, RecordTimeMs(r));
  }
  if (f.contained && f.first_alert_ms > 0) {
    f.time_to_contain_ms = std::max<int64_t>(0, f.contained_at_ms - f.first_alert_ms);
  }
  f.first_alert = f.first_alert_ms / 1000;
  f.first_malicious_event = f.first_malicious_event_ms / 1000;
  f.contained_at = f.contained_at_ms / 1000;
  if (f.time_to_detect_ms >= 0) f.time_to_detect_seconds = f.time_to_detect_ms / 1000;
  if (f.time_to_contain_ms >= 0) f.time_to_contain_seconds = f.time_to_contain_ms / 1000;
  return f;
}

StaffImpact ComputeStaffImpact(const std::vector<audit::Record>& records, const Implicated& who) {
  StaffImpact s;
  std::set<std::string> ids;
  std::set<std::string> institutions;
  for (const auto& r : records) {
    if (r.outcome != "success") continue;
    if (!who.principals.contains(r.actor) && !who.addresses.contains(r.source_ip)) continue;
    if (r.action == "staff.canary_read") {
      ++s.canary_reads;
      continue;
    }
    if (r.action != "staff.decrypt") continue;
    ++s.read_events;
    json d = ParseObject(r.details_json);
    auto list = d.find("staff_ids");
    int64_t counted = 0;
    if (list != d.end() && list->is_array()) {
      for (const auto& id : *list) {
        if (!id.is_string()) continue;
        ids.insert(id.get<std::string>());
        ++counted;
      }
    } else if (!r.target.empty()) {
      ids.insert(r.target);
      counted = 1;
    }
    s.records_read += counted;
    if (counted > 0 && !r.institution_id.empty()) institutions.insert(r.institution_id);
  }
  s.staff_ids = Sorted(ids);
  s.institutions = Sorted(institutions);
  if (!s.staff_ids.empty()) s.categories = {"name", "mobile number", "email"};
  return s;
}

CommandImpact ComputeCommandImpact(const std::vector<core::Command>& commands,
                                   const std::vector<audit::Record>& command_records,
                                   const Implicated& who, bool records_complete) {
  CommandImpact out;
  std::map<std::string, DeviceReach> devices;
  std::set<std::string> known;
  for (const auto& c : commands) {
    CommandEntry e;
    e.id = c.id;
    e.device_id = c.device_id;
    e.institution_id = c.institution_id;
    e.type = std::string(core::ToString(c.type));
    e.state = std::string(core::ToString(c.state));
    e.created_by = c.created_by;
    e.approved_by = c.approved_by;
    e.signed_by_keeper = !c.signature.empty();
    using S = core::CommandState;
    // A command the device was sent may have been received even if it never reported: only
    // states that are reached without any delivery prove it stayed here.
    e.reached_device = c.sent_at > 0 || c.state == S::kSent || c.state == S::kAcknowledged ||
                       c.state == S::kError || c.state == S::kNotNow || c.state == S::kRejected;
    e.proven_not_delivered =
        !e.reached_device && (c.state == S::kQueued || c.state == S::kAwaitingApproval ||
                              c.state == S::kCanceled || c.state == S::kExpired);
    e.by_implicated =
        who.principals.contains(c.created_by) || who.principals.contains(c.approved_by);
    DeviceReach& d = devices[c.device_id];
    d.device_id = c.device_id;
    d.commands.push_back(c.id);
    d.received = d.received || e.reached_device;
    known.insert(c.id);
    out.commands.push_back(std::move(e));
  }
  bool unknown_command = false;
  for (const auto& r : command_records) {
    if (!r.action.starts_with("command.")) continue;
    out.audit.push_back({r.index, r.time, r.action, r.actor, r.target, r.outcome});
    if (r.outcome == "denied" || r.action == "command.reject") ++out.refused;
    // A signature the keeper made for a command the store does not hold: it may have left.
    if (r.action == "command.sign" && r.outcome == "success" && r.target.starts_with("cmd_") &&
        !known.contains(r.target)) {
      unknown_command = true;
    }
  }
  bool all_proven = true;
  for (const auto& e : out.commands) all_proven = all_proven && e.proven_not_delivered;
  for (auto& [id, d] : devices) {
    if (d.received) ++out.devices_reached;
    out.devices.push_back(std::move(d));
  }
  if (out.devices_reached > 0) {
    out.verdict = "devices reached";
  } else if (unknown_command || !records_complete || !all_proven) {
    out.verdict = "undetermined";
  } else if (out.commands.empty() && out.audit.empty()) {
    out.verdict = "no commands";
  } else {
    out.verdict = "no device reached";
  }
  return out;
}

Indicators CollectIndicators(const core::Incident& incident,
                             const std::vector<core::Alert>& alerts) {
  std::set<std::string> addresses, paths, hashes, agents;
  auto [field, value] = SplitEntity(incident.entity);
  if (field == "source.ip" && !value.empty()) addresses.insert(value);
  for (const auto& a : alerts) {
    for (const auto& e : a.evidence) {
      json ev = ParseObject(e);
      for (const auto& [k, v] : ev.items()) {
        if (!v.is_string()) continue;
        const std::string& s = v.get_ref<const std::string&>();
        if (s.empty()) continue;
        if (k == "source.ip") addresses.insert(s);
        if (k == "url.path") paths.insert(s);
        if (k == "user_agent.original") agents.insert(s);
        if (k.starts_with("file.") && IsSha256Hex(s)) {
          std::string lower = s;
          std::transform(lower.begin(), lower.end(), lower.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          hashes.insert(lower);
        }
      }
    }
  }
  return {Sorted(addresses), Sorted(paths), Sorted(hashes), Sorted(agents)};
}

std::vector<TimelineEntry> BuildTimeline(const Figures& figures,
                                         const std::vector<core::Alert>& alerts,
                                         const std::vector<audit::Record>& response_actions,
                                         const std::vector<audit::Record>& approvals,
                                         const std::vector<core::IncidentEntry>& entries) {
  std::vector<TimelineEntry> t;
  auto at = [&t](int64_t ms) -> TimelineEntry& {
    TimelineEntry& e = t.emplace_back();
    e.at_ms = ms;
    e.at = ms / 1000;
    return e;
  };
  auto fill = [](TimelineEntry& e, std::string kind, std::string summary, std::string actor,
                 std::string ref, std::string outcome) {
    e.kind = std::move(kind);
    e.summary = std::move(summary);
    e.actor = std::move(actor);
    e.ref = std::move(ref);
    e.outcome = std::move(outcome);
  };
  const int64_t first_event_ms =
      core::MillisOr(figures.first_malicious_event_ms, figures.first_malicious_event);
  if (first_event_ms > 0) {
    fill(at(first_event_ms), "first_malicious_event",
         "earliest evidence event of the incident's alerts", "", "", "");
  }
  for (const auto& a : alerts) {
    fill(at(core::MillisOr(a.created_at_ms, a.created_at)), "alert",
         a.severity + ": " + a.rule_title + " (" + a.entity + ", " + std::to_string(a.count) +
             " events)",
         "detection", a.id, "");
  }
  for (const auto& r : response_actions) {
    json d = ParseObject(r.details_json);
    std::string summary = r.action.substr(9) + " " + r.target;
    std::string playbook = StringField(d, "playbook");
    if (!playbook.empty()) summary += " (playbook " + playbook + ")";
    std::string error = StringField(d, "error");
    if (!error.empty()) summary += ": " + error;
    const bool waiting = r.outcome == "pending_approval";
    fill(at(RecordTimeMs(r)), waiting ? "approval" : "response_action", summary, r.actor,
         "audit:" + std::to_string(r.index), r.outcome);
  }
  for (const auto& r : approvals) {
    fill(at(RecordTimeMs(r)), "approval", r.action + " " + r.target, r.actor,
         "audit:" + std::to_string(r.index), r.outcome);
  }
  for (const auto& e : entries) {
    if (e.kind == "transition") {
      fill(at(e.at * 1000), "transition",
           e.from_state + " → " + e.to_state + (e.text.empty() ? "" : ": " + e.text), e.actor,
           "entry:" + std::to_string(e.seq), "");
    } else {
      fill(at(e.at * 1000), "note", e.text, e.actor, "entry:" + std::to_string(e.seq), "");
    }
  }
  std::stable_sort(t.begin(), t.end(), [](const TimelineEntry& a, const TimelineEntry& b) {
    return a.at_ms < b.at_ms;
  });
  return t;
}

std::vector<Deadline> ComputeDeadlines(int64_t detected_at, bool personal_data, int64_t now) {
  constexpr int64_t kHour = 3600;
  std::vector<Deadline> out = {
      {"nis2_early_warning", detected_at + 24 * kHour, false},
      {"nis2_notification", detected_at + 72 * kHour, false},
      {"nis2_final_report", detected_at + 30 * 24 * kHour, false},
  };
  if (personal_data) out.push_back({"personal_data_breach", detected_at + 72 * kHour, false});
  for (auto& d : out) d.overdue = now > d.due_at;
  return out;
}

}  // namespace rampart::respond
