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
//     condition: {gte: 50}        # value_count also names `field:`; lt, lte, eq, or a range
//                                 # ({gt: 100, lte: 200}) bound the count from above
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
// costs at most max_keys entries per rule.
//
// A condition with an upper bound (lt, lte, eq, a range) cannot be decided while events may still
// come, so those windows tumble: a key's window holds its events less than a timespan apart from
// first to last (in time order, a timespan from its first event), and is decided when it closes —
// at the key's event that would stretch it to a timespan or more (which opens the next window),
// when no event of the key has arrived for a timespan (CloseIdleWindows), or when the input ends
// (CloseAllWindows). A window exists only from its first event, so "fewer than N" means "at
// least one and fewer than N", as a SIEM's grouped count. Such a window keeps, besides its count
// (and for value_count at most maximum + 1 values), the caller's note of its latest event.
// Not thread-safe: the engine thread owns it.
#pragma once

#include <algorithm>
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
  // The condition as a minimum: gte N → N, gt N → N + 1 (temporal: every rule once); and a
  // maximum: lte N → N, lt N → N - 1, eq N → both N; kNoMaximum when there is none.
  static constexpr int64_t kNoMaximum = INT64_MAX;
  int64_t threshold = 1;
  int64_t maximum = kNoMaximum;
  // An upper bound is decided only when the window ends (see the file comment).
  bool decided_at_window_end() const { return maximum != kNoMaximum; }
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
// an unknown condition operator or one that can never be met (lt 1: a window has an event), a
// group-by field or alias field with no event mapping, a missing timespan or rule list. (An alias
// that gives no field for a referenced rule, or names a rule the correlation does not, is found by
// LinkCorrelations, which knows every rule's name and id.)
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
  // Set when the hit was decided as its window closed (an upper-bound condition): no event
  // completed it, so it carries the time of the last event counted and the note the caller
  // gave with that event (WindowNote), from which the caller raises the alert.
  bool at_window_end = false;
  int64_t last_millis = 0;
  std::string note;
  // What every event the window counted concerned (OnMatch's `concerns`), or kMixedConcerns
  // when they concerned several things: the live engine raises a window of an actor of no
  // institution for the one institution all its events were about.
  std::string concerns;
  // The notes OnMatch was given (`counted_note`) for the other events the hit counted, oldest
  // first, when the tracker keeps them (KeepCountedNotes): the newest of an event_count window,
  // one per referenced rule of a temporal one. The completing event is the caller's own.
  std::vector<std::string> counted_notes;
};

// CorrelationHit::concerns of a window whose events concerned more than one thing.
inline constexpr std::string_view kMixedConcerns = "*";

// What OnMatch keeps, for a window decided when it closes, of the last event counted: the
// caller's note (where the line is and what an alert prints of it, or the institution and the
// evidence) and when the event reached the
// engine (by the engine's clock; CloseIdleWindows compares it, as log times may lag).
struct WindowNote {
  std::string_view note;
  int64_t arrival_millis = 0;
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

// For each of `to`'s correlations, the index of the one in `from` whose windows it can take up,
// or kNoCounterpart: the first not yet taken with the same id, name, type, referenced rules,
// grouping (names and the field each reads per rule), timespan, value field and bounds — what a
// key's window holds and what it means. Title, level, ATT&CK tags, `generate` and chains may
// differ: they change what a hit raises and where it goes, not what a window has counted. So an
// edited title or a new correlation elsewhere in the set keeps every window, and a changed
// threshold restarts that correlation's windows only.
inline constexpr size_t kNoCounterpart = SIZE_MAX;
std::vector<size_t> CorrelationCounterparts(const std::vector<CorrelationRule>& from,
                                            const std::vector<CorrelationRule>& to);

// How logs name a correlation: its id, else its name, else its title.
const std::string& CorrelationName(const CorrelationRule& rule);

// What RestoreWindows or TakeWindowsFrom carried over.
struct WindowsTakenUp {
  size_t keys = 0;          // keys taken up
  size_t correlations = 0;  // correlations whose windows were taken up (some may have none)
  // The correlations that had open windows and no counterpart here (changed or removed), as
  // their id (their name, their title when they have none): their windows are dropped.
  std::vector<std::string> dropped;
};

// The most a saved set of windows takes (SaveWindows keeps under it, the live engine reads no
// more).
inline constexpr size_t kMaxSavedWindowsBytes = size_t{64} << 20;

class CorrelationTracker {
 public:
  CorrelationTracker(std::vector<CorrelationRule> rules, size_t max_keys_per_rule);
  ~CorrelationTracker();
  CorrelationTracker(const CorrelationTracker&) = delete;
  CorrelationTracker& operator=(const CorrelationTracker&) = delete;

  const std::vector<CorrelationRule>& rules() const { return rules_; }

  // Feeds one match: the event matched the rule at position `slot` of correlation `index`'s
  // rule list. Appends a hit when the correlation's condition is met; the key's state is then
  // reset, so the next hit needs a fresh window's worth of events (a condition with an upper
  // bound is decided when its window closes instead; see above). A hit feeds the correlations
  // chained to it (CorrelationRule::feeds) with the same event, whose hits follow it; check
  // CorrelationRule::alerts before raising one.
  // `window_note`: for a correlation decided at its window's end, what to keep of this event if
  // it is the window's latest (without one, an empty note and the event's time as its arrival).
  // NeedsWindowNote says when to give one. `scope`: events of different scopes (the live engine's
  // institutions) never share a window, so that an alert raised for one holds only its events.
  // `concerns`: what the event is about (the live engine's institution of the records or
  // accounts it touched), kept per window as one value or kMixedConcerns; it does not part
  // windows as `scope` does.
  void OnMatch(size_t index, size_t slot, const Event& ev, int64_t now_millis,
               std::vector<CorrelationHit>* hits, const WindowNote* window_note = nullptr,
               std::string_view scope = {}, std::string_view concerns = {},
               std::string_view counted_note = {});
  // Keeps, per key of an event_count or temporal correlation (one decided as its window closes
  // has its own note), OnMatch's `counted_note` of up to `per_key` events the window counts (the
  // newest; temporal: the latest of each rule), so that a hit shows the events it counted and
  // not only the one that completed it (CorrelationHit::counted_notes). A correlation's keys
  // hold at most `bytes_per_correlation` of notes; past it an event is counted without one.
  // Notes move with their windows (TakeWindowsFrom) and are saved with them (SaveWindows);
  // RestoreWindows takes up as many as this tracker keeps (the newest, within its budget). Off
  // (0) by default. Call before the first OnMatch and before RestoreWindows.
  void KeepCountedNotes(size_t per_key, size_t bytes_per_correlation);
  // Whether a match fed to correlation `index` should come with a counted_note.
  // (Not a value_count, which lists its values, nor an event_count of one event.)
  bool KeepsCountedNotes(size_t index) const {
    if (notes_per_key_ == 0 || index >= rules_.size()) return false;
    const CorrelationRule& rule = rules_[index];
    return !rule.decided_at_window_end() && rule.type != CorrelationType::kValueCount &&
           (rule.type != CorrelationType::kEventCount || rule.threshold > 1);
  }
  // Forgets keys whose last activity is older than their window (windows decided at their end
  // are left to the two calls below).
  void Sweep(int64_t now_millis);
  // Whether a match fed to correlation `index` may end in a window decided later (it, or a
  // correlation its hits feed, has an upper bound): only then need OnMatch a WindowNote.
  bool NeedsWindowNote(size_t index) const {
    return index < needs_note_.size() && needs_note_[index];
  }
  // Decides the windows no event of whose key arrived in the last timespan before
  // `clock_millis`, appending a hit for each whose count meets the condition. Walks every such
  // window: arrivals need not come in order (a scan's log times, a clock stepped back).
  void CloseIdleWindows(int64_t clock_millis, std::vector<CorrelationHit>* hits);
  // Decides every open window (the input has ended). A window the key cap evicted is not
  // decided: it counts in evicted_keys().
  void CloseAllWindows(std::vector<CorrelationHit>* hits);
  // The open windows as text (JSON, with each rule's definition) that a tracker takes up with
  // RestoreWindows, each for its counterpart: the live engine keeps them across a restart or a
  // crash. At most
  // `max_bytes`: each rule has an equal share, filled with its most recently active keys;
  // *left_out, when given, says how many keys did not fit.
  std::string SaveWindows(size_t max_bytes = kMaxSavedWindowsBytes,
                          size_t* left_out = nullptr) const;
  // The same into *text, replacing what it held but keeping its capacity: a buffer kept from
  // one checkpoint to the next is written without touching fresh memory.
  void SaveWindowsInto(std::string* text, size_t max_bytes = kMaxSavedWindowsBytes,
                       size_t* left_out = nullptr) const;
  // Takes up the windows SaveWindows wrote, replacing this tracker's: each correlation takes
  // those saved for its counterpart (CorrelationCounterparts) and starts empty without one.
  // InvalidArgument, and nothing taken, when the text is not such a save or is damaged (only
  // the windows taken up are read closely). Past max_keys_per_rule, the least recently active
  // keys are left out.
  Result<WindowsTakenUp> RestoreWindows(std::string_view saved);
  // Moves the windows of `previous` (a tracker of the rules before a reload) to their
  // counterparts here, replacing this tracker's; `previous` keeps what had none.
  WindowsTakenUp TakeWindowsFrom(CorrelationTracker& previous);
  // Keys currently tracked over all rules, and keys evicted because of the cap.
  size_t tracked_keys() const;
  uint64_t evicted_keys() const { return evicted_; }

 private:
  struct KeyState;
  struct PerRule;
  // `from`: the hit of a chained correlation that feeds this one, else null.
  void Feed(size_t index, size_t slot, const Event& ev, int64_t now_millis,
            const CorrelationHit* from, std::vector<CorrelationHit>* hits, int depth,
            const WindowNote* window_note, std::string_view scope, std::string_view concerns,
            std::string_view counted_note);
  // Counts one event in the key's tumbling window, deciding the window before it first when the
  // event lies a timespan or more from it.
  // `span_start`: where what this match stands for begins (a chained hit's first event).
  void FeedWindow(size_t index, KeyState& k, const Event& ev, int64_t now_millis,
                  int64_t span_start, const WindowNote* window_note, std::string_view concerns,
                  std::vector<CorrelationHit>* hits);
  // Keeps (or, when the correlation `fires`, hands to the hit) the key's counted notes; `counted`
  // says whether this event took a place in the window that a note can stand for.
  // How many notes a key of `rule` keeps: event_count, the newest threshold - 1 (with the
  // completing event, what the window counts); temporal, one per rule up to notes_per_key_.
  size_t CountedNotesPerKey(const CorrelationRule& rule) const {
    return rule.type == CorrelationType::kEventCount
               ? std::min<size_t>(notes_per_key_, static_cast<size_t>(rule.threshold - 1))
               : notes_per_key_;
  }
  // `chain`: temporal_ordered, the start of the chain the event is part of.
  void KeepCountedNote(const CorrelationRule& rule, PerRule& st, KeyState& k, size_t slot,
                       int64_t now, int64_t chain, bool fires, bool counted, std::string_view note,
                       std::vector<std::string>* hit_notes) const;
  // Appends a hit when the key's window meets its condition.
  void DecideWindow(size_t index, const KeyState& k, std::vector<CorrelationHit>* hits) const;
  std::vector<CorrelationRule> rules_;
  std::vector<std::unique_ptr<PerRule>> state_;
  std::vector<bool> needs_note_;
  size_t max_keys_;
  size_t notes_per_key_ = 0;
  size_t note_bytes_per_rule_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace rampart::detect
