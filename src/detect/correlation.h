// Sigma correlation rules (sigma-specification 2.x, `correlation:`) and the windowed state that
// evaluates them over a stream of rule matches, with memory bounded by a cap on tracked keys.
//
//   title: Bulk staff record reads
//   correlation:
//     type: event_count           # or value_count, temporal, temporal_ordered
//     rules: [staff_record_decrypt]
//     group-by: [user.name]       # or an alias, below
//     timespan: 1h                # s, m, h, d
//     aliases:                    # optional: one name for a field that differs per rule
//       peer: {web_exploit: source.ip, egress_connection: destination.ip}
//     condition: {gte: 50}        # value_count also names `field:`
//
//   Result<CorrelationRule> rule = ParseCorrelationRule(yaml_text, "rules/x.yml");
//   CorrelationTracker tracker(std::move(rules), /*max_keys=*/100000);
//   tracker.OnMatch(correlation_index, rule_slot, event, now_ms, &fired);
//
// Windows are sliding: event_count keeps, per key, only the newest `threshold` timestamps;
// value_count keeps the newest `threshold` distinct values with their last time; temporal keeps
// one time per referenced rule. A key whose last activity is older than its window is forgotten
// by Sweep(); past max_keys, the least recently active key is evicted. So a slow probe (one
// every ten minutes inside a one-hour window) is still counted, and a flood of distinct keys
// costs at most max_keys entries per rule. Not thread-safe: the engine thread owns it.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "detect/event.h"
#include "detect/sigma.h"

namespace rampart::detect {

enum class CorrelationType { kEventCount, kValueCount, kTemporal, kTemporalOrdered };
std::string_view CorrelationTypeName(CorrelationType t);

struct CorrelationRule {
  RuleInfo info;  // id, name, title, level (severity), ATT&CK tags, file
  CorrelationType type = CorrelationType::kEventCount;
  std::vector<std::string> rules;  // referenced rules, by name or id, in order
  // The group-by names (a field's canonical name, or an alias) and, per referenced rule
  // (slot), the event field each name reads there: group_fields[slot][i] for group_by[i]. An
  // alias reads another field per rule (an address as source in one, destination in another).
  // The parser fills what `rules` names as the alias does; an alias that names a rule by the
  // other of its name and id is resolved by LinkCorrelations (Field::kCount until then).
  std::vector<std::string> group_by;
  std::vector<std::vector<Field>> group_fields;
  // aliases: alias → (referenced rule, by name or id → field), as written.
  std::map<std::string, std::map<std::string, Field>> aliases;
  int64_t timespan_millis = 0;
  Field value_field = Field::kSourceIp;  // value_count only
  // The condition as a minimum: gte N → N, gt N → N + 1 (temporal: every rule once).
  int64_t threshold = 1;
  // Sigma's `generate`: when false (the default) the referenced rules raise no alerts of their
  // own; they only feed the correlation.
  bool generate = false;
  // Set by LinkCorrelations when correlations are chained (one names another, as Sigma's "many
  // failed logins, then a successful login"): the (correlation, slot) pairs this one's hits
  // feed, and whether its hits alert (false when a correlation it feeds does not `generate`).
  std::vector<std::pair<size_t, size_t>> feeds;
  bool alerts = true;
};

// "30s", "10m", "1h", "2d" → milliseconds; InvalidArgument otherwise.
Result<int64_t> ParseTimespan(std::string_view text);

// Parses one correlation rule. InvalidArgument names what is not understood: an unknown type,
// a condition the live engine cannot decide when an event arrives (lt, lte, eq, neq need the end
// of the window), group-by fields or alias fields with no event mapping, a missing timespan or
// rule list. (An alias that gives no field for a referenced rule, or names a rule the
// correlation does not, is found by LinkCorrelations, which knows every rule's name and id.)
Result<CorrelationRule> ParseCorrelationRule(std::string_view yaml, std::string_view origin);

// What a fired correlation reports.
struct CorrelationHit {
  size_t correlation = 0;    // index into the tracker's rules
  std::string entity;        // "user.name=tok_1,source.ip=..." ("all" without group-by)
  int64_t value = 0;         // events, distinct values or rules seen in the window
  int64_t first_millis = 0;  // the time of the earliest event counted (through chains too)
  // The group-by names and values the entity was made of, which a chained correlation reads
  // before the completing event's own fields.
  std::vector<std::pair<std::string, std::string>> group;
  // value_count: the distinct values counted (the enumerated ids), oldest first.
  std::vector<std::string> values;
};

// A rule set's correlation rules, linked to the rules and correlations they name (by id or
// name). Chains are at most kMaxCorrelationChain correlations deep, and never loop.
inline constexpr int kMaxCorrelationChain = 8;
struct LinkedCorrelations {
  std::vector<CorrelationRule> rules;  // the usable ones, in the order given, chains linked
  // Per rule of the set: the (correlation, slot) pairs its matches feed, and whether its
  // matches alert on their own (false when it feeds a correlation that does not `generate`).
  std::vector<std::vector<std::pair<size_t, size_t>>> feeds;
  std::vector<bool> generates;
  // Correlations that do not parse, name a rule or correlation that is not loaded (or is
  // skipped itself), or loop, with the reason.
  std::vector<SkippedRule> skipped;
};
// `texts`: (origin, YAML) as RuleSetBuilder::correlations() keeps them.
LinkedCorrelations LinkCorrelations(const RuleSet& rules,
                                    const std::vector<std::pair<std::string, std::string>>& texts);

class CorrelationTracker {
 public:
  CorrelationTracker(std::vector<CorrelationRule> rules, size_t max_keys_per_rule);
  ~CorrelationTracker();
  CorrelationTracker(const CorrelationTracker&) = delete;
  CorrelationTracker& operator=(const CorrelationTracker&) = delete;

  const std::vector<CorrelationRule>& rules() const { return rules_; }

  // Feeds one match: the event matched the rule at position `slot` of correlation `index`'s
  // rule list. Appends a hit when the correlation's condition is met; the key's state is then
  // reset, so the next hit needs a fresh window's worth of events. A hit feeds the correlations
  // chained to it (CorrelationRule::feeds) with the same event, whose hits follow it; check
  // CorrelationRule::alerts before raising one.
  void OnMatch(size_t index, size_t slot, const Event& ev, int64_t now_millis,
               std::vector<CorrelationHit>* hits);
  // Forgets keys whose last activity is older than their window.
  void Sweep(int64_t now_millis);
  // Keys currently tracked over all rules, and keys evicted because of the cap.
  size_t tracked_keys() const;
  uint64_t evicted_keys() const { return evicted_; }

 private:
  struct KeyState;
  struct PerRule;
  // `from`: the hit of a chained correlation that feeds this one, else null.
  void Feed(size_t index, size_t slot, const Event& ev, int64_t now_millis,
            const CorrelationHit* from, std::vector<CorrelationHit>* hits, int depth);
  std::vector<CorrelationRule> rules_;
  std::vector<std::unique_ptr<PerRule>> state_;
  size_t max_keys_;
  uint64_t evicted_ = 0;
};

}  // namespace rampart::detect
