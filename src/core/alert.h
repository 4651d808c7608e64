// A detection alert: what the live detection engine found, grouped by (rule, entity) so that a
// probe repeated a thousand times is one alert with count 1000, not a thousand alerts. Pure
// value types; stored by store::Store, raised by detect::LiveEngine, served by /api/v1/alerts.
//
// Scope: an alert belongs to an institution when the events behind it did (an authenticated
// principal or a device of that institution); otherwise institution_id is empty and the alert is
// server-wide, visible only to cross-institution roles.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::core {

enum class AlertStatus { kOpen, kAcknowledged };
std::string_view ToString(AlertStatus v);
std::optional<AlertStatus> ParseAlertStatus(std::string_view s);

// Sigma levels, in increasing order. Unknown text ranks as medium.
inline constexpr std::string_view kAlertSeverities[] = {"informational", "low", "medium", "high",
                                                        "critical"};
bool IsAlertSeverity(std::string_view s);
int SeverityRank(std::string_view s);

struct Alert {
  std::string id;              // "alr_..."
  std::string institution_id;  // empty: server-wide
  std::string rule_id;         // Sigma rule id, or a built-in id ("rampart-canary-path", ...)
  std::string rule_title;
  std::string entity;    // what the alert is about: "source.ip=203.0.113.7", "user.name=tok_..."
  std::string severity;  // one of kAlertSeverities
  std::vector<std::string> attack;  // ATT&CK technique ids
  // Up to the configured number of evidence events (the first ones seen), each a JSON object of
  // event fields. Never secrets or staff personal data (see common/event_sink.h).
  std::vector<std::string> evidence;
  int64_t first_seen = 0;  // Unix seconds
  int64_t last_seen = 0;
  // The same times in Unix milliseconds (first_seen = first_seen_ms / 1000). 0 on rows stored
  // before migration 9: read them through MillisOr.
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t count = 0;  // events folded into this alert
  AlertStatus status = AlertStatus::kOpen;
  std::string acknowledged_by;  // principal id
  int64_t acknowledged_at = 0;
  int64_t created_at = 0;
  // When the alert was first stored (the detection time), in Unix milliseconds; 0 as above.
  int64_t created_at_ms = 0;
};

// Folds a later observation's evidence into an alert's, keeping at most `cap` events: the
// first ones (how it began, half the room rounded up) stay, the rest of the room holds the
// latest (what it is doing now), so a long attack's alert does not stop at its first few
// requests and, with room for two or more, ends with the newest event.
void FoldEvidence(std::vector<std::string>* kept, const std::vector<std::string>& added,
                  size_t cap);

// A time kept both ways: `ms` when it was recorded, else the whole `seconds` (rows written before
// the millisecond columns existed).
inline int64_t MillisOr(int64_t ms, int64_t seconds) {
  return ms > 0 ? ms : seconds * 1000;
}

}  // namespace rampart::core
