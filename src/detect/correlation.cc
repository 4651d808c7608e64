#include "detect/correlation.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>

#include "common/json_util.h"
#include "common/text.h"

namespace rampart::detect {

std::string_view CorrelationTypeName(CorrelationType t) {
  switch (t) {
    case CorrelationType::kEventCount:
      return "event_count";
    case CorrelationType::kValueCount:
      return "value_count";
    case CorrelationType::kTemporal:
      return "temporal";
    case CorrelationType::kTemporalOrdered:
      return "temporal_ordered";
  }
  return "unknown";
}

Result<int64_t> ParseTimespan(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("timespan '" + std::string(text) +
                                   "' must be a number followed by s, m, h or d");
  };
  if (text.size() < 2) return bad();
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc() || ptr != text.data() + text.size() - 1 || n <= 0 || n > 366 * 24 * 3600) {
    return bad();
  }
  switch (text.back()) {
    case 's':
      return n * 1000;
    case 'm':
      return n * 60 * 1000;
    case 'h':
      return n * 3600 * 1000;
    case 'd':
      return n * 24 * 3600 * 1000;
    default:
      return bad();
  }
}

namespace {

// Times come from logs, which may carry any int64: window arithmetic saturates rather than
// overflow.
int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? INT64_MAX : INT64_MIN;
}
int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (!__builtin_sub_overflow(a, b, &r)) return r;
  return b > 0 ? INT64_MIN : INT64_MAX;
}
// Whether `later` is at least `span` after `earlier`, whatever their values.
bool AtLeastApart(int64_t earlier, int64_t later, int64_t span) {
  if (later < earlier) return false;
  return static_cast<uint64_t>(later) - static_cast<uint64_t>(earlier) >=
         static_cast<uint64_t>(span);
}

Status ParseInto(const YAML::Node& doc, std::string_view origin, CorrelationRule* r) {
  if (!doc.IsMap()) return Status::InvalidArgument("document is not a YAML map");
  r->info.file = std::string(origin);
  if (doc["title"] && doc["title"].IsScalar()) r->info.title = doc["title"].Scalar();
  if (doc["id"] && doc["id"].IsScalar()) r->info.id = doc["id"].Scalar();
  if (doc["name"] && doc["name"].IsScalar()) r->info.name = doc["name"].Scalar();
  if (r->info.title.empty()) return Status::InvalidArgument("rule has no title");
  if (r->info.id.empty()) return Status::InvalidArgument("rule has no id");
  auto level = SigmaLevel(doc["level"] && doc["level"].IsScalar()
                              ? std::optional<std::string_view>(doc["level"].Scalar())
                              : std::nullopt);
  if (!level.ok()) return level.status();
  r->info.severity = *std::move(level);
  if (const YAML::Node tags = doc["tags"]; tags && tags.IsSequence()) {
    for (const auto& t : tags) {
      if (!t.IsScalar()) continue;
      std::string tag = t.Scalar();
      r->info.tags.push_back(tag);
      if (tag.size() > 8 && tag.starts_with("attack.t") &&
          std::isdigit(static_cast<unsigned char>(tag[8]))) {
        std::string id = tag.substr(7);
        for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        r->info.attack.push_back(id);
      }
    }
  }
  const YAML::Node c = doc["correlation"];
  if (!c || !c.IsMap()) return Status::InvalidArgument("correlation is not a map");
  std::string type = c["type"] && c["type"].IsScalar() ? c["type"].Scalar() : "";
  if (type == "event_count") {
    r->type = CorrelationType::kEventCount;
  } else if (type == "value_count") {
    r->type = CorrelationType::kValueCount;
  } else if (type == "temporal") {
    r->type = CorrelationType::kTemporal;
  } else if (type == "temporal_ordered") {
    r->type = CorrelationType::kTemporalOrdered;
  } else {
    return Status::InvalidArgument("correlation type '" + type + "' is not supported");
  }
  const YAML::Node rules = c["rules"];
  if (rules && rules.IsScalar()) {
    r->rules.push_back(rules.Scalar());
  } else if (rules && rules.IsSequence()) {
    for (const auto& x : rules) {
      if (!x.IsScalar()) return Status::InvalidArgument("correlation.rules must list names");
      r->rules.push_back(x.Scalar());
    }
  }
  if (r->rules.empty()) return Status::InvalidArgument("correlation has no rules");
  if (r->rules.size() > 64) return Status::InvalidArgument("correlation names over 64 rules");
  // aliases: {alias: {rule name or id: field}}.
  if (const YAML::Node a = c["aliases"]; a && !a.IsNull()) {
    if (!a.IsMap()) return Status::InvalidArgument("correlation.aliases is not a map");
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string alias = it->first.IsScalar() ? it->first.Scalar() : "";
      const YAML::Node per_rule = it->second;
      if (alias.empty() || !per_rule.IsMap()) {
        return Status::InvalidArgument("alias '" + alias + "' must map rule names to fields");
      }
      std::map<std::string, Field>& fields = r->aliases[alias];
      for (auto f = per_rule.begin(); f != per_rule.end(); ++f) {
        const std::string rule = f->first.IsScalar() ? f->first.Scalar() : "";
        if (rule.empty() || !f->second.IsScalar()) {
          return Status::InvalidArgument("alias '" + alias + "' must map rule names to fields");
        }
        auto field = MapSigmaField(f->second.Scalar());
        if (!field) {
          return Status::InvalidArgument("alias '" + alias + "' field '" + f->second.Scalar() +
                                         "' has no event mapping");
        }
        fields[rule] = *field;
      }
    }
  }
  r->group_fields.assign(r->rules.size(), {});
  const YAML::Node gb = c["group-by"];
  auto add_group = [&](const std::string& name) -> Status {
    if (auto alias = r->aliases.find(name); alias != r->aliases.end()) {
      r->group_by.push_back(name);
      for (size_t slot = 0; slot < r->rules.size(); ++slot) {
        auto field = alias->second.find(r->rules[slot]);
        r->group_fields[slot].push_back(field != alias->second.end() ? field->second
                                                                     : Field::kCount);
      }
      return Status::Ok();
    }
    auto f = MapSigmaField(name);
    if (!f) return Status::InvalidArgument("group-by field '" + name + "' has no event mapping");
    r->group_by.emplace_back(FieldName(*f));
    for (auto& fields : r->group_fields) fields.push_back(*f);
    return Status::Ok();
  };
  if (gb && gb.IsScalar()) {
    RAMPART_RETURN_IF_ERROR(add_group(gb.Scalar()));
  } else if (gb && gb.IsSequence()) {
    for (const auto& x : gb) {
      if (!x.IsScalar()) return Status::InvalidArgument("group-by must list field names");
      RAMPART_RETURN_IF_ERROR(add_group(x.Scalar()));
    }
  }
  YAML::Node span = c["timespan"] ? c["timespan"] : c["timeframe"];
  if (!span || !span.IsScalar()) return Status::InvalidArgument("correlation has no timespan");
  RAMPART_ASSIGN_OR_RETURN(r->timespan_millis, ParseTimespan(span.Scalar()));
  if (c["generate"]) {
    try {
      r->generate = c["generate"].as<bool>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("generate must be true or false");
    }
  }
  const YAML::Node cond = c["condition"];
  const bool temporal =
      r->type == CorrelationType::kTemporal || r->type == CorrelationType::kTemporalOrdered;
  const auto listed = static_cast<int64_t>(r->rules.size());
  if (temporal && (!cond || cond.IsNull())) {
    r->threshold = listed;  // every rule, the specification's default
    return Status::Ok();
  }
  if (!cond || !cond.IsMap()) return Status::InvalidArgument("correlation has no condition map");
  // One criterion, or a range as their conjunction ({gt: 100, lte: 200}).
  bool have = false;
  int64_t minimum = 1;
  int64_t maximum = CorrelationRule::kNoMaximum;
  for (auto it = cond.begin(); it != cond.end(); ++it) {
    if (!it->first.IsScalar()) return Status::InvalidArgument("condition keys must be operators");
    const std::string op = it->first.Scalar();
    if (op == "field") {
      if (r->type != CorrelationType::kValueCount) continue;
      if (!it->second.IsScalar()) return Status::InvalidArgument("condition field must be a name");
      auto f = MapSigmaField(it->second.Scalar());
      if (!f) return Status::InvalidArgument("condition field has no event mapping");
      r->value_field = *f;
      continue;
    }
    if (op != "gt" && op != "gte" && op != "lt" && op != "lte" && op != "eq") {
      return Status::InvalidArgument("condition '" + op +
                                     "' is not one of gt, gte, lt, lte, eq (and field)");
    }
    int64_t n = 0;
    try {
      n = it->second.as<int64_t>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("condition " + op + " must be an integer");
    }
    if (n < 0 || n > 1'000'000) return Status::InvalidArgument("condition value out of range");
    if (op == "gte" || op == "eq") minimum = std::max(minimum, n);
    if (op == "gt") minimum = std::max(minimum, n + 1);
    if (op == "lte" || op == "eq") maximum = std::min(maximum, n);
    if (op == "lt") maximum = std::min(maximum, n - 1);
    have = true;
  }
  if (!have) return Status::InvalidArgument("condition needs one of gt, gte, lt, lte, eq");
  // A window exists from its key's first event, so a count below 1 never closes one.
  if (maximum < 1)
    return Status::InvalidArgument("condition can never be met: a count is at least 1");
  if (minimum > maximum) {
    return Status::InvalidArgument("condition can never be met: its range is empty");
  }
  if (temporal) {
    // The count of the listed rules seen in the window, decided as each event arrives.
    if (maximum != CorrelationRule::kNoMaximum) {
      return Status::InvalidArgument("a temporal condition supports only gt and gte");
    }
    if (minimum > listed) {
      return Status::InvalidArgument("condition can never be met: the correlation lists " +
                                     std::to_string(listed) + " rules");
    }
    if (r->type == CorrelationType::kTemporalOrdered && minimum != listed) {
      return Status::InvalidArgument(
          "temporal_ordered needs every listed rule in order; its condition may only ask for "
          "all " +
          std::to_string(listed));
    }
  }
  r->threshold = minimum;
  r->maximum = maximum;
  if (r->type == CorrelationType::kValueCount && !cond["field"]) {
    return Status::InvalidArgument("value_count needs condition.field");
  }
  return Status::Ok();
}

}  // namespace

Result<CorrelationRule> ParseCorrelationRule(std::string_view yaml, std::string_view origin) {
  CorrelationRule r;
  try {
    YAML::Node doc = YAML::Load(std::string(yaml));
    RAMPART_RETURN_IF_ERROR(ParseInto(doc, origin, &r));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("YAML error at line " + std::to_string(e.mark.line + 1) + ": " +
                                   e.msg);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

struct CorrelationTracker::KeyState {
  // The scope's length, ':', the scope, then the entity ("source.ip=..."): the length keeps a
  // value that holds a separator from reaching another scope's window.
  std::string key;
  size_t entity_offset = 0;
  int64_t last_activity = 0;
  // event_count: newest timestamps, oldest first, at most threshold of them, each with the
  // start of what it stands for (itself, or the span of the chained hit it was).
  std::vector<std::pair<int64_t, int64_t>> times;
  // value_count: distinct value → last time (at most threshold values).
  std::map<std::string, int64_t> values;
  // temporal: per referenced rule, the time it was last seen (0: not seen); temporal_ordered:
  // the start time of the chain that reached that position.
  std::vector<int64_t> seen;
  // Per position, the earliest time what `seen` stands for reaches back to (a chained hit's
  // first event).
  std::vector<int64_t> seen_first;
  // A window decided at its end: the times of its earliest and latest events, how many events
  // it counted, the distinct values (value_count: value → first time, at most maximum + 1 of
  // them, enough to know the condition failed), the group it stands for, and the note and
  // arrival of its last event.
  int64_t window_first = 0;
  int64_t window_last = 0;
  int64_t window_reach = 0;  // the earliest time its events stand for (through chains)
  int64_t window_events = 0;
  std::vector<std::pair<std::string, std::string>> group;
  std::string note;
  int64_t last_arrival = 0;
  // What the window's events concerned: its first event's, or kMixedConcerns once another
  // concerned something else (set at the window's first event, then Concerns for each).
  std::string concerns;
  void Concerns(std::string_view about) {
    if (concerns != about) concerns.assign(kMixedConcerns);
  }
  // KeepCountedNotes: the notes of events the window counts (event_count: the newest;
  // temporal: the latest per referenced rule), with their time and the rule's position.
  struct CountedNote {
    int64_t at = 0;
    size_t slot = 0;
    int64_t chain = 0;  // temporal_ordered: the start of the chain the event took a place in
    std::string note;
  };
  std::vector<CountedNote> counted;
  size_t CountedBytes() const {
    size_t n = 0;
    for (const CountedNote& c : counted) n += c.note.size();
    return n;
  }
};

struct CorrelationTracker::PerRule {
  // Least recently active first.
  std::list<KeyState> lru;
  std::unordered_map<std::string, std::list<KeyState>::iterator> index;
  size_t note_bytes = 0;  // the counted notes its keys hold
  void Forget(std::list<KeyState>::iterator k) {
    note_bytes -= k->CountedBytes();
    index.erase(k->key);
    lru.erase(k);
  }
};

CorrelationTracker::CorrelationTracker(std::vector<CorrelationRule> rules, size_t max_keys)
    : rules_(std::move(rules)), max_keys_(std::max<size_t>(max_keys, 1)) {
  for (size_t i = 0; i < rules_.size(); ++i) state_.push_back(std::make_unique<PerRule>());
  // A chain is at most kMaxCorrelationChain high, so as many passes settle every flag.
  needs_note_.assign(rules_.size(), false);
  for (size_t i = 0; i < rules_.size(); ++i) needs_note_[i] = rules_[i].decided_at_window_end();
  for (int pass = 0; pass < kMaxCorrelationChain; ++pass) {
    for (size_t i = 0; i < rules_.size(); ++i) {
      for (const auto& [outer, slot] : rules_[i].feeds) {
        if (outer < rules_.size() && needs_note_[outer]) needs_note_[i] = true;
      }
    }
  }
}
CorrelationTracker::~CorrelationTracker() = default;

void CorrelationTracker::KeepCountedNotes(size_t per_key, size_t bytes_per_correlation) {
  notes_per_key_ = per_key;
  note_bytes_per_rule_ = bytes_per_correlation;
}

size_t CorrelationTracker::tracked_keys() const {
  size_t n = 0;
  for (const auto& s : state_) n += s->index.size();
  return n;
}

void CorrelationTracker::OnMatch(size_t index, size_t slot, const Event& ev, int64_t now,
                                 std::vector<CorrelationHit>* hits, const WindowNote* window_note,
                                 std::string_view scope, std::string_view concerns,
                                 std::string_view counted_note) {
  Feed(index, slot, ev, now, nullptr, hits, 0, window_note, scope, concerns, counted_note);
}

void CorrelationTracker::Feed(size_t index, size_t slot, const Event& ev, int64_t now,
                              const CorrelationHit* from, std::vector<CorrelationHit>* hits,
                              int depth, const WindowNote* window_note, std::string_view scope,
                              std::string_view concerns, std::string_view counted_note) {
  // A chained hit stands for its window's events: it concerns what they did.
  if (from != nullptr) concerns = from->concerns;
  // LinkCorrelations makes no loop; a tracker built from other rules stops here all the same.
  if (index >= rules_.size() || depth > kMaxCorrelationChain) return;
  const CorrelationRule& rule = rules_[index];
  PerRule& st = *state_[index];
  if (slot >= rule.group_fields.size()) return;
  const std::vector<Field>& group_fields = rule.group_fields[slot];
  // As a SIEM's "count by" and "distinct count": an event without a group-by field, or without
  // the field whose values are counted (absent or empty), is not counted (else every such event
  // would share one empty key, or count as one more value). A chained hit gives the values it
  // was grouped by first: the event that completed it may be of another kind than its key.
  std::vector<std::string_view> group_values;
  for (Field f : group_fields) {
    if (f == Field::kCount) return;  // an alias LinkCorrelations did not resolve
    std::string_view value;
    bool inherited = false;
    if (from != nullptr) {
      for (const auto& [name, v] : from->group) {
        if (name == FieldName(f)) {
          value = v;
          inherited = true;
          break;
        }
      }
    }
    if (!inherited) value = ev.Decoded(f);
    if (value.empty()) return;
    group_values.push_back(value);
  }
  if (rule.type == CorrelationType::kValueCount && ev.Get(rule.value_field).empty()) return;
  std::string key;
  for (size_t i = 0; i < group_values.size(); ++i) {
    if (!key.empty()) key.push_back(',');
    key.append(rule.group_by[i]);
    key.push_back('=');
    key.append(group_values[i]);
  }
  if (key.empty()) key = "all";
  std::string entity = std::move(key);
  key = std::to_string(scope.size());
  key.push_back(':');
  key.append(scope);
  const size_t entity_offset = key.size();
  key.append(entity);
  auto it = st.index.find(key);
  if (it == st.index.end()) {
    if (st.index.size() >= max_keys_) {
      st.Forget(st.lru.begin());
      ++evicted_;
    }
    st.lru.push_back(KeyState{});
    st.lru.back().key = key;
    st.lru.back().entity_offset = entity_offset;
    st.lru.back().seen.assign(rule.rules.size(), 0);
    st.lru.back().seen_first.assign(rule.rules.size(), 0);
    st.lru.back().concerns.assign(concerns);
    if (rule.decided_at_window_end()) {  // its hit comes later, when no event holds the values
      for (size_t i = 0; i < group_values.size(); ++i) {
        st.lru.back().group.emplace_back(rule.group_by[i], std::string(group_values[i]));
      }
    }
    it = st.index.emplace(key, std::prev(st.lru.end())).first;
  } else {
    st.lru.splice(st.lru.end(), st.lru, it->second);
  }
  KeyState& k = *it->second;
  k.last_activity = now;
  // What this match stands for begins here, or at the first event of the chained hit.
  const int64_t span_start = from != nullptr ? std::min(now, from->first_millis) : now;
  if (rule.decided_at_window_end()) {
    FeedWindow(index, k, ev, now, span_start, window_note, concerns, hits);
    return;
  }
  k.Concerns(concerns);
  // The window reaches as far ahead as behind: events may come slightly out of order (several
  // sources), but times a whole window later than this one (rotated logs scanned newest first)
  // are not counted with it.
  const int64_t window_start = SaturatingSub(now, rule.timespan_millis);
  const int64_t window_end = SaturatingAdd(now, rule.timespan_millis);
  auto outside = [&](int64_t t) { return t < window_start || t > window_end; };
  int64_t value = 0;
  int64_t first = now;
  std::vector<std::string> counted_values;
  bool counted_here = true;  // temporal_ordered: whether this event took its rule's place
  switch (rule.type) {
    case CorrelationType::kEventCount: {
      auto keep = static_cast<size_t>(rule.threshold);
      k.times.erase(std::remove_if(k.times.begin(), k.times.end(),
                                   [&](const auto& t) { return outside(t.first); }),
                    k.times.end());
      k.times.emplace_back(now, span_start);
      if (k.times.size() > keep) k.times.erase(k.times.begin());
      value = static_cast<int64_t>(k.times.size());
      for (const auto& t : k.times) first = std::min(first, t.second);
      break;
    }
    case CorrelationType::kValueCount: {
      for (auto v = k.values.begin(); v != k.values.end();) {
        v = outside(v->second) ? k.values.erase(v) : std::next(v);
      }
      std::string v(ev.Decoded(rule.value_field));
      k.values[v] = now;
      if (k.values.size() > static_cast<size_t>(rule.threshold)) {
        auto oldest =
            std::min_element(k.values.begin(), k.values.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        k.values.erase(oldest);
      }
      value = static_cast<int64_t>(k.values.size());
      if (value >= rule.threshold) {
        std::vector<std::pair<int64_t, const std::string*>> by_time;
        for (const auto& [text, at] : k.values) by_time.emplace_back(at, &text);
        std::sort(by_time.begin(), by_time.end());
        for (const auto& [at, text] : by_time) counted_values.push_back(*text);
        first = by_time.front().first;
      }
      break;
    }
    case CorrelationType::kTemporal: {
      if (slot < k.seen.size()) {
        k.seen[slot] = now;
        k.seen_first[slot] = span_start;
      }
      for (size_t pos = 0; pos < k.seen.size(); ++pos) {
        if (k.seen[pos] == 0 || outside(k.seen[pos])) continue;
        ++value;
        first = std::min(first, k.seen_first[pos]);
      }
      break;
    }
    case CorrelationType::kTemporalOrdered: {
      if (slot == 0) {
        k.seen[0] = now;
        k.seen_first[0] = span_start;
      } else if (slot < k.seen.size() && k.seen[slot - 1] != 0 && !outside(k.seen[slot - 1]) &&
                 k.seen[slot - 1] >= k.seen[slot]) {
        k.seen[slot] = k.seen[slot - 1];
        k.seen_first[slot] = std::min(k.seen_first[slot - 1], span_start);
      } else {
        counted_here = false;
      }
      for (size_t pos = 0; pos < k.seen.size(); ++pos) {
        if (k.seen[pos] == 0 || outside(k.seen[pos])) break;
        ++value;
        first = std::min(first, k.seen_first[pos]);
      }
      break;
    }
  }
  const bool fires = value >= rule.threshold;
  std::vector<std::string> counted_notes;
  if (KeepsCountedNotes(index)) {
    const int64_t chain =
        rule.type == CorrelationType::kTemporalOrdered && slot < k.seen.size() ? k.seen[slot] : 0;
    KeepCountedNote(rule, st, k, slot, now, chain, fires, counted_here && from == nullptr,
                    counted_note, &counted_notes);
  }
  if (fires) {
    CorrelationHit hit;
    hit.correlation = index;
    hit.entity = std::move(entity);
    hit.value = value;
    hit.first_millis = first;
    hit.values = std::move(counted_values);
    hit.concerns = k.concerns;
    hit.counted_notes = std::move(counted_notes);
    for (size_t i = 0; i < group_values.size(); ++i) {
      hit.group.emplace_back(rule.group_by[i], std::string(group_values[i]));
    }
    // group_values pointed into the event or `from`, not into the key.
    st.Forget(it->second);
    hits->push_back(std::move(hit));
    if (rule.feeds.empty()) return;
    // A copy: the chained correlations' hits are appended to the same vector.
    const CorrelationHit inner = hits->back();
    for (const auto& [outer, outer_slot] : rule.feeds) {
      Feed(outer, outer_slot, ev, now, &inner, hits, depth + 1, window_note, scope, concerns, {});
    }
  }
}

void CorrelationTracker::KeepCountedNote(const CorrelationRule& rule, PerRule& st, KeyState& k,
                                         size_t slot, int64_t now, int64_t chain, bool fires,
                                         bool counted, std::string_view note,
                                         std::vector<std::string>* hit_notes) const {
  const int64_t window_start = SaturatingSub(now, rule.timespan_millis);
  const int64_t window_end = SaturatingAdd(now, rule.timespan_millis);
  const bool one_per_rule = rule.type != CorrelationType::kEventCount;
  const bool ordered = rule.type == CorrelationType::kTemporalOrdered;
  // A note leaves with its event: out of the window, or (temporal) replaced by its rule's next.
  auto drop_if = [&](auto&& pred) {
    auto kept = k.counted.begin();
    for (auto c = k.counted.begin(); c != k.counted.end(); ++c) {
      if (pred(*c)) {
        st.note_bytes -= c->note.size();
      } else {
        if (kept != c) *kept = std::move(*c);
        ++kept;
      }
    }
    k.counted.erase(kept, k.counted.end());
  };
  auto by_time = [](const KeyState::CountedNote& a, const KeyState::CountedNote& b) {
    return a.at < b.at;
  };
  drop_if([&](const KeyState::CountedNote& c) { return c.at < window_start || c.at > window_end; });
  if (one_per_rule && (counted || fires)) {
    drop_if([&](const KeyState::CountedNote& c) { return c.slot == slot; });
  }
  if (fires) {
    // An ordered sequence fires for the chain that reached its end, which a later start may
    // have overtaken at some places: only the events of that chain are shown.
    if (ordered) drop_if([&](const KeyState::CountedNote& c) { return c.chain != chain; });
    std::stable_sort(k.counted.begin(), k.counted.end(), by_time);
    st.note_bytes -= k.CountedBytes();
    for (KeyState::CountedNote& c : k.counted) hit_notes->push_back(std::move(c.note));
    k.counted.clear();
    return;
  }
  if (!counted || note.empty()) return;
  const size_t keep = CountedNotesPerKey(rule);
  if (keep == 0) return;
  auto drop_oldest = [&] {
    const int64_t at = std::min_element(k.counted.begin(), k.counted.end(), by_time)->at;
    bool dropped = false;
    drop_if([&](const KeyState::CountedNote& c) {
      if (dropped || c.at != at) return false;
      dropped = true;
      return true;
    });
  };
  while (k.counted.size() > keep) drop_oldest();
  // Full: this event takes the oldest one's place, unless it is older itself (late, out of
  // order), and only when its note fits once that place is freed.
  size_t freed = 0;
  if (k.counted.size() == keep) {
    auto oldest = std::min_element(k.counted.begin(), k.counted.end(), by_time);
    if (now < oldest->at) return;
    freed = oldest->note.size();
  }
  if (st.note_bytes - freed + note.size() > note_bytes_per_rule_) return;
  if (k.counted.size() == keep) drop_oldest();
  st.note_bytes += note.size();
  k.counted.push_back({now, slot, chain, std::string(note)});
}

void CorrelationTracker::FeedWindow(size_t index, KeyState& k, const Event& ev, int64_t now,
                                    int64_t span_start, const WindowNote* window_note,
                                    std::string_view concerns, std::vector<CorrelationHit>* hits) {
  const CorrelationRule& rule = rules_[index];
  // Windows are runs of a key's events less than a timespan apart from first to last: in time
  // order, a timespan from the first event; an event that would stretch the run to a timespan or
  // more (later, or from an older log scanned after a newer one) decides it and opens the next.
  if (k.window_events > 0 && AtLeastApart(std::min(k.window_first, now),
                                          std::max(k.window_last, now), rule.timespan_millis)) {
    DecideWindow(index, k, hits);
    k.window_events = 0;
    k.values.clear();
  }
  const int64_t arrival = window_note != nullptr ? window_note->arrival_millis : now;
  if (k.window_events == 0) {
    k.window_first = k.window_last = k.window_reach = now;
    k.last_arrival = arrival;
    k.note.clear();
    k.concerns.assign(concerns);
  }
  k.Concerns(concerns);
  k.window_first = std::min(k.window_first, now);
  k.window_reach = std::min({k.window_reach, now, span_start});
  k.last_arrival = std::max(k.last_arrival, arrival);
  // The note is the latest event's, so that the evidence and the alert's last time agree.
  if (k.window_events == 0 || now >= k.window_last) {
    k.window_last = now;
    k.note.assign(window_note != nullptr ? window_note->note : std::string_view());
  }
  ++k.window_events;
  if (rule.type == CorrelationType::kValueCount &&
      k.values.size() <= static_cast<size_t>(rule.maximum)) {
    k.values.emplace(std::string(ev.Decoded(rule.value_field)), now);
  }
}

void CorrelationTracker::DecideWindow(size_t index, const KeyState& k,
                                      std::vector<CorrelationHit>* hits) const {
  const CorrelationRule& rule = rules_[index];
  if (k.window_events == 0) return;
  const int64_t value = rule.type == CorrelationType::kValueCount
                            ? static_cast<int64_t>(k.values.size())
                            : k.window_events;
  if (value < rule.threshold || value > rule.maximum) return;
  CorrelationHit hit;
  hit.correlation = index;
  hit.entity = k.key.substr(k.entity_offset);
  hit.value = value;
  hit.first_millis = k.window_reach;
  hit.concerns = k.concerns;
  hit.group = k.group;
  if (rule.type == CorrelationType::kValueCount) {
    std::vector<std::pair<int64_t, const std::string*>> by_time;
    for (const auto& [text, at] : k.values) by_time.emplace_back(at, &text);
    std::sort(by_time.begin(), by_time.end());
    for (const auto& [at, text] : by_time) hit.values.push_back(*text);
  }
  hit.at_window_end = true;
  hit.last_millis = k.window_last;
  hit.note = k.note;
  hits->push_back(std::move(hit));
}

void CorrelationTracker::CloseIdleWindows(int64_t clock, std::vector<CorrelationHit>* hits) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (!rules_[i].decided_at_window_end()) continue;
    PerRule& st = *state_[i];
    for (auto k = st.lru.begin(); k != st.lru.end();) {
      if (!AtLeastApart(k->last_arrival, clock, rules_[i].timespan_millis)) {
        ++k;
        continue;
      }
      DecideWindow(i, *k, hits);
      st.Forget(k++);
    }
  }
}

void CorrelationTracker::CloseAllWindows(std::vector<CorrelationHit>* hits) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (!rules_[i].decided_at_window_end()) continue;
    PerRule& st = *state_[i];
    for (const KeyState& k : st.lru) DecideWindow(i, k, hits);
    st.lru.clear();
    st.index.clear();
    st.note_bytes = 0;
  }
}

void CorrelationTracker::Sweep(int64_t now) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].decided_at_window_end()) continue;
    PerRule& st = *state_[i];
    const int64_t cutoff = SaturatingSub(now, rules_[i].timespan_millis);
    while (!st.lru.empty() && st.lru.front().last_activity < cutoff) st.Forget(st.lru.begin());
  }
}

LinkedCorrelations LinkCorrelations(const RuleSet& rules,
                                    const std::vector<std::pair<std::string, std::string>>& texts) {
  LinkedCorrelations out;
  std::unordered_map<std::string, size_t> rule_by_ref;
  for (size_t i = 0; i < rules.size(); ++i) {
    const RuleInfo& r = rules.rule(i);
    if (!r.id.empty()) rule_by_ref.emplace(r.id, i);
    if (!r.name.empty()) rule_by_ref.emplace(r.name, i);
  }
  // Every text parsed first: a correlation may name one that comes after it.
  std::vector<CorrelationRule> parsed;
  std::vector<std::string> origins;
  std::vector<std::optional<SkippedRule>> outcome(texts.size());  // per text; set when skipped
  std::vector<size_t> parsed_of_text(texts.size(), SIZE_MAX);
  for (size_t t = 0; t < texts.size(); ++t) {
    auto rule = ParseCorrelationRule(texts[t].second, texts[t].first);
    if (!rule.ok()) {
      outcome[t] = SkippedRule{texts[t].first, "", rule.status().message()};
      continue;
    }
    parsed_of_text[t] = parsed.size();
    parsed.push_back(std::move(rule).value());
    origins.push_back(texts[t].first);
  }
  std::unordered_map<std::string, size_t> correlation_by_ref;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (!parsed[i].info.id.empty()) correlation_by_ref.emplace(parsed[i].info.id, i);
    if (!parsed[i].info.name.empty()) correlation_by_ref.emplace(parsed[i].info.name, i);
  }

  // What each referenced name resolves to: a rule, or (chaining) another correlation, which
  // must itself be usable and not loop back. A chain's height (1 for a correlation of rules
  // only, else 1 + the highest it names) is at most kMaxCorrelationChain, whatever the order
  // the correlations come in.
  struct Ref {
    bool correlation = false;
    size_t index = 0;
  };
  enum class State { kNew, kVisiting, kUsable, kSkipped };
  std::vector<State> state(parsed.size(), State::kNew);
  std::vector<int> height(parsed.size(), 0);
  std::vector<std::string> reason(parsed.size());
  std::vector<std::vector<Ref>> refs(parsed.size());
  std::function<bool(size_t)> resolve = [&](size_t i) -> bool {
    if (state[i] == State::kUsable) return true;
    if (state[i] != State::kNew) return false;
    state[i] = State::kVisiting;
    auto skip = [&](std::string why) {
      reason[i] = std::move(why);
      state[i] = State::kSkipped;
      return false;
    };
    // The names each referenced rule answers to (as listed, its id, its name), for aliases.
    std::vector<std::vector<std::string>> slot_names;
    int tallest = 0;
    for (const std::string& name : parsed[i].rules) {
      auto rule = rule_by_ref.find(name);
      auto correlation = correlation_by_ref.find(name);
      if (rule != rule_by_ref.end() && correlation != correlation_by_ref.end()) {
        return skip("correlation refers to '" + name +
                    "', which names both a rule and a correlation");
      }
      if (rule != rule_by_ref.end()) {
        refs[i].push_back({false, rule->second});
        const RuleInfo& info = rules.rule(rule->second);
        slot_names.push_back({name, info.id, info.name});
        continue;
      }
      if (correlation == correlation_by_ref.end()) {
        return skip("correlation refers to rule '" + name + "', which is not loaded");
      }
      const size_t j = correlation->second;
      if (state[j] == State::kVisiting) {
        return skip("correlation chain loops back through '" + name + "'");
      }
      if (!resolve(j)) {
        return skip("correlation refers to correlation '" + name +
                    "', which is skipped: " + reason[j]);
      }
      if (parsed[j].decided_at_window_end()) {
        // Its hits come when a window closes, with no event that a chain could group by.
        return skip("correlation refers to correlation '" + name +
                    "', whose condition has an upper bound and so cannot feed another");
      }
      tallest = std::max(tallest, height[j]);
      refs[i].push_back({true, j});
      slot_names.push_back({name, parsed[j].info.id, parsed[j].info.name});
    }
    if (tallest + 1 > kMaxCorrelationChain) {
      return skip("correlations chained more than " + std::to_string(kMaxCorrelationChain) +
                  " deep");
    }
    // Aliases keyed by the other of a rule's name and id than `rules` lists it by.
    CorrelationRule& r = parsed[i];
    for (const auto& [alias, fields] : r.aliases) {
      for (const auto& [ref, field] : fields) {
        bool listed = false;
        for (const auto& names : slot_names) {
          listed = listed || std::find(names.begin(), names.end(), ref) != names.end();
        }
        if (!listed) {
          return skip("alias '" + alias + "' names rule '" + ref +
                      "', which the correlation does not list");
        }
      }
    }
    for (size_t g = 0; g < r.group_by.size(); ++g) {
      auto alias = r.aliases.find(r.group_by[g]);
      if (alias == r.aliases.end()) continue;
      for (size_t slot = 0; slot < r.group_fields.size(); ++slot) {
        if (r.group_fields[slot][g] != Field::kCount) continue;
        for (const std::string& ref : slot_names[slot]) {
          auto field = alias->second.find(ref);
          if (!ref.empty() && field != alias->second.end()) {
            r.group_fields[slot][g] = field->second;
            break;
          }
        }
        if (r.group_fields[slot][g] == Field::kCount) {
          return skip("alias '" + alias->first + "' gives no field for rule '" + r.rules[slot] +
                      "'");
        }
      }
    }
    height[i] = tallest + 1;
    state[i] = State::kUsable;
    return true;
  };
  std::vector<size_t> linked_index(parsed.size(), SIZE_MAX);
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (!resolve(i)) continue;
    linked_index[i] = out.rules.size();
    out.rules.push_back(parsed[i]);
  }
  for (size_t t = 0; t < texts.size(); ++t) {
    const size_t i = parsed_of_text[t];
    if (i != SIZE_MAX && state[i] == State::kSkipped) {
      outcome[t] = SkippedRule{origins[i], parsed[i].info.title, reason[i]};
    }
    if (outcome[t]) out.skipped.push_back(*std::move(outcome[t]));
  }

  out.feeds.assign(rules.size(), {});
  out.generates.assign(rules.size(), true);
  std::vector<bool> generate_requested(rules.size(), false);
  std::vector<bool> correlation_generate_requested(out.rules.size(), false);
  for (size_t i = 0; i < parsed.size(); ++i) {
    const size_t index = linked_index[i];
    if (index == SIZE_MAX) continue;
    const bool generate = out.rules[index].generate;
    for (size_t slot = 0; slot < refs[i].size(); ++slot) {
      const Ref& ref = refs[i][slot];
      if (!ref.correlation) {
        out.feeds[ref.index].emplace_back(index, slot);
        out.generates[ref.index] = false;
        if (generate) generate_requested[ref.index] = true;
        continue;
      }
      CorrelationRule& inner = out.rules[linked_index[ref.index]];
      inner.feeds.emplace_back(index, slot);
      inner.alerts = false;
      if (generate) correlation_generate_requested[linked_index[ref.index]] = true;
    }
  }
  // A rule (or correlation) that one correlation lets alert alerts, whatever the others say.
  for (size_t i = 0; i < out.generates.size(); ++i) {
    if (generate_requested[i]) out.generates[i] = true;
  }
  for (size_t i = 0; i < out.rules.size(); ++i) {
    if (correlation_generate_requested[i]) out.rules[i].alerts = true;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Windows kept across a restart.

namespace {

using nlohmann::json;

// Also covers what the keys and notes hold (the scope prefix of CorrelationTracker's keys, the
// live engine's WindowNoteOf): a change to either must change the version, or windows saved by
// the previous release would be taken up and then misread. Version 2 lists each rule's keys
// most recently active first (so that a save is written straight into its text and cut where
// a rule's share ends); version 1, least recently active first, is still read.
constexpr int kSavedWindowsVersion = 2;
constexpr int kOldestFirstWindowsVersion = 1;

json FingerprintJson(const std::vector<CorrelationRule>& rules) {
  json out = json::array();
  for (const CorrelationRule& r : rules) {
    json groups = json::array();
    for (const auto& slot : r.group_fields) {
      json names = json::array();
      for (Field f : slot) names.push_back(FieldName(f));
      groups.push_back(std::move(names));
    }
    json feeds = json::array();
    for (const auto& [correlation, slot] : r.feeds) feeds.push_back({correlation, slot});
    out.push_back({{"id", r.info.id},
                   {"name", r.info.name},
                   {"title", r.info.title},
                   {"level", r.info.severity},
                   {"attack", r.info.attack},
                   {"type", CorrelationTypeName(r.type)},
                   {"rules", r.rules},
                   {"group_by", r.group_by},
                   {"group_fields", std::move(groups)},
                   {"timespan_millis", r.timespan_millis},
                   {"value_field", FieldName(r.value_field)},
                   {"threshold", r.threshold},
                   {"maximum", r.maximum},
                   {"generate", r.generate},
                   {"feeds", std::move(feeds)},
                   {"alerts", r.alerts}});
  }
  return out;
}

// Event values are bytes and JSON strings UTF-8: a value that is not UTF-8 is written as
// {"hex": ...}, so that it comes back byte for byte.
void AppendBytes(std::string_view s, std::string* out) {
  if (std::string valid = ValidUtf8(s); valid == s) {
    jsonutil::AppendString(s, out);
    return;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  out->append(R"({"hex":")");
  for (char c : s) {
    out->push_back(kDigits[static_cast<unsigned char>(c) >> 4]);
    out->push_back(kDigits[static_cast<unsigned char>(c) & 0xF]);
  }
  out->append("\"}");
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(end - buf));
}

// [[a,b],...]: each pair's parts written by their own writer (AppendBytes, AppendInt).
template <typename Pairs, typename First, typename Second>
void AppendPairs(const Pairs& pairs, First first, Second second, std::string* out) {
  out->push_back('[');
  bool any = false;
  for (const auto& [a, b] : pairs) {
    out->append(any ? ",[" : "[");
    any = true;
    first(a, out);
    out->push_back(',');
    second(b, out);
    out->push_back(']');
  }
  out->push_back(']');
}

// Reading a saved document: each accessor throws WindowsDamaged, caught at RestoreWindows.
struct WindowsDamaged {
  std::string what;
};

std::string BytesFrom(const json& j, const char* what) {
  if (j.is_string()) return j.get<std::string>();
  if (!j.is_object() || j.size() != 1 || !j.contains("hex") || !j["hex"].is_string()) {
    throw WindowsDamaged{std::string(what) + " is not a string"};
  }
  const std::string& hex = j["hex"].get_ref<const std::string&>();
  if (hex.size() % 2 != 0) throw WindowsDamaged{std::string(what) + " has an odd hex length"};
  auto digit = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw WindowsDamaged{std::string(what) + " has a byte that is not lower-case hex"};
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
  }
  return out;
}

int64_t IntFrom(const json& j, const char* what) {
  if (!j.is_number_integer() || (j.is_number_unsigned() && j.get<uint64_t>() > INT64_MAX)) {
    throw WindowsDamaged{std::string(what) + " is not a 64-bit integer"};
  }
  return j.get<int64_t>();
}

const json& Member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) throw WindowsDamaged{std::string("a key has no '") + name + "'"};
  return *it;
}

const json& ArrayOf(const json& object, const char* name, size_t max_size) {
  const json& a = Member(object, name);
  if (!a.is_array()) throw WindowsDamaged{std::string("'") + name + "' is not an array"};
  if (a.size() > max_size) throw WindowsDamaged{std::string("'") + name + "' is too long"};
  return a;
}

// What of a rule's fingerprint (FingerprintJson's entry) its windows depend on, as text; throws
// WindowsDamaged when the entry lacks a part (a damaged save).
std::string WindowIdentity(const json& entry) {
  static constexpr const char* kParts[] = {
      "id",          "name",      "type",   "rules", "group_by", "group_fields", "timespan_millis",
      "value_field", "threshold", "maximum"};
  if (!entry.is_object()) throw WindowsDamaged{"a saved rule is not an object"};
  json identity = json::object();
  for (const char* part : kParts) identity[part] = Member(entry, part);
  return identity.dump(-1, ' ', false, json::error_handler_t::replace);
}

// CorrelationName of a saved rule.
std::string WindowOwnerLabel(const json& entry) {
  for (const char* part : {"id", "name", "title"}) {
    auto it = entry.find(part);
    if (it != entry.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      return ValidUtf8(it->get_ref<const std::string&>());
    }
  }
  return "(unnamed)";
}

// For each of `to`, the first unused index of `from` with the same identity.
std::vector<size_t> MatchIdentities(const std::vector<std::string>& from,
                                    const std::vector<std::string>& to) {
  std::map<std::string_view, std::vector<size_t>> unused;  // identity → indices, last first
  for (size_t i = from.size(); i-- > 0;) unused[from[i]].push_back(i);
  std::vector<size_t> out(to.size(), kNoCounterpart);
  for (size_t i = 0; i < to.size(); ++i) {
    auto it = unused.find(to[i]);
    if (it == unused.end() || it->second.empty()) continue;
    out[i] = it->second.back();
    it->second.pop_back();
  }
  return out;
}

std::vector<std::string> WindowIdentities(const std::vector<CorrelationRule>& rules) {
  std::vector<std::string> out;
  for (const json& entry : FingerprintJson(rules)) out.push_back(WindowIdentity(entry));
  return out;
}

// Each rule's definition, as saved beside its windows (WindowIdentity reads it back).
std::string CorrelationFingerprint(const std::vector<CorrelationRule>& rules) {
  return FingerprintJson(rules).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

const std::string& CorrelationName(const CorrelationRule& rule) {
  const RuleInfo& info = rule.info;
  return !info.id.empty() ? info.id : !info.name.empty() ? info.name : info.title;
}

std::vector<size_t> CorrelationCounterparts(const std::vector<CorrelationRule>& from,
                                            const std::vector<CorrelationRule>& to) {
  return MatchIdentities(WindowIdentities(from), WindowIdentities(to));
}

WindowsTakenUp CorrelationTracker::TakeWindowsFrom(CorrelationTracker& previous) {
  const std::vector<size_t> counterparts = CorrelationCounterparts(previous.rules_, rules_);
  std::vector<bool> used(previous.rules_.size(), false);
  WindowsTakenUp taken;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const size_t from = counterparts[i];
    if (from == kNoCounterpart) {
      state_[i] = std::make_unique<PerRule>();
      continue;
    }
    used[from] = true;
    state_[i] = std::move(previous.state_[from]);
    previous.state_[from] = std::make_unique<PerRule>();
    // The cap is the engine's and does not change with the rules; a smaller one still holds.
    while (state_[i]->index.size() > max_keys_) {
      state_[i]->Forget(state_[i]->lru.begin());
      ++evicted_;
    }
    taken.keys += state_[i]->index.size();
    ++taken.correlations;
  }
  for (size_t j = 0; j < previous.rules_.size(); ++j) {
    if (!used[j] && !previous.state_[j]->index.empty()) {
      taken.dropped.push_back(CorrelationName(previous.rules_[j]));
    }
  }
  return taken;
}

std::string CorrelationTracker::SaveWindows(size_t max_bytes, size_t* left_out) const {
  std::string out;
  SaveWindowsInto(&out, max_bytes, left_out);
  return out;
}

void CorrelationTracker::SaveWindowsInto(std::string* text, size_t max_bytes,
                                         size_t* left_out) const {
  std::string& out = *text;
  out.assign(R"({"format":"rampart-correlation-windows","version":)");
  out += std::to_string(kSavedWindowsVersion);
  out += R"(,"rules":)";
  out += CorrelationFingerprint(rules_);
  out += R"(,"windows":[)";
  // Each rule has its share of the bytes, so that a flood of keys in one (addresses sprayed at
  // a probe rule) cannot push another's windows out; within a rule the most recently active
  // keys are kept.
  const size_t overhead = out.size() + 2 + 3 * state_.size();
  const size_t share =
      max_bytes > overhead && !state_.empty() ? (max_bytes - overhead) / state_.size() : 0;
  size_t dropped = 0;
  for (size_t r = 0; r < state_.size(); ++r) {
    const PerRule& per_rule = *state_[r];
    // Most recently active first, each key written straight into the text (a checkpoint runs
    // on the engine thread), and cut off where the rule's share ends.
    out += r == 0 ? "[" : ",[";
    const size_t rule_start = out.size();
    for (auto k = per_rule.lru.rbegin(); k != per_rule.lru.rend(); ++k) {
      // Members in the order a JSON object's keys sort, as dump() would write them.
      const size_t start = out.size();
      if (k != per_rule.lru.rbegin()) out.push_back(',');
      auto int_member = [&](const char* name, int64_t value) {
        out.append(name);
        AppendInt(value, &out);
      };
      out.append(R"({"concerns":)");
      AppendBytes(k->concerns, &out);
      if (!k->counted.empty()) {
        // The counted events' notes (KeepCountedNotes): [time, rule position, chain, note].
        out.append(R"(,"counted":[)");
        for (size_t i = 0; i < k->counted.size(); ++i) {
          const KeyState::CountedNote& c = k->counted[i];
          out.append(i == 0 ? "[" : ",[");
          AppendInt(c.at, &out);
          out.push_back(',');
          AppendInt(static_cast<int64_t>(c.slot), &out);
          out.push_back(',');
          AppendInt(c.chain, &out);
          out.push_back(',');
          AppendBytes(c.note, &out);
          out.push_back(']');
        }
        out.push_back(']');
      }
      int_member(R"(,"entity_offset":)", static_cast<int64_t>(k->entity_offset));
      out.append(R"(,"group":)");
      AppendPairs(k->group, AppendBytes, AppendBytes, &out);
      out.append(R"(,"key":)");
      AppendBytes(k->key, &out);
      int_member(R"(,"last_activity":)", k->last_activity);
      int_member(R"(,"last_arrival":)", k->last_arrival);
      out.append(R"(,"note":)");
      AppendBytes(k->note, &out);
      auto append_ints = [&](const char* name, const std::vector<int64_t>& ints) {
        out.append(name);
        for (size_t i = 0; i < ints.size(); ++i) {
          if (i > 0) out.push_back(',');
          AppendInt(ints[i], &out);
        }
        out.push_back(']');
      };
      append_ints(R"(,"seen":[)", k->seen);
      append_ints(R"(,"seen_first":[)", k->seen_first);
      out.append(R"(,"times":)");
      AppendPairs(k->times, AppendInt, AppendInt, &out);
      out.append(R"(,"values":)");
      AppendPairs(k->values, AppendBytes, AppendInt, &out);
      int_member(R"(,"window_events":)", k->window_events);
      int_member(R"(,"window_first":)", k->window_first);
      int_member(R"(,"window_last":)", k->window_last);
      int_member(R"(,"window_reach":)", k->window_reach);
      out.push_back('}');
      if (out.size() - rule_start > share) {
        out.resize(start);
        dropped += static_cast<size_t>(std::distance(k, per_rule.lru.rend()));
        break;
      }
    }
    out.push_back(']');
  }
  out += "]}";
  if (left_out != nullptr) *left_out = dropped;
}

Result<WindowsTakenUp> CorrelationTracker::RestoreWindows(std::string_view saved) {
  const json doc = json::parse(saved, nullptr, /*allow_exceptions=*/false);
  auto member = [&](const char* name) -> const json* {
    auto it = doc.find(name);
    return it == doc.end() ? nullptr : &*it;
  };
  if (doc.is_discarded() || !doc.is_object() || member("format") == nullptr ||
      *member("format") != "rampart-correlation-windows") {
    return Status::InvalidArgument("not a saved set of correlation windows");
  }
  if (member("version") == nullptr || (*member("version") != kSavedWindowsVersion &&
                                       *member("version") != kOldestFirstWindowsVersion)) {
    return Status::InvalidArgument("saved correlation windows of an unknown version");
  }
  std::vector<std::unique_ptr<PerRule>> restored;
  WindowsTakenUp taken;
  try {
    const json& saved_rules = ArrayOf(doc, "rules", SIZE_MAX);
    const json& windows = ArrayOf(doc, "windows", saved_rules.size());
    if (windows.size() != saved_rules.size()) {
      throw WindowsDamaged{"one list of keys per rule expected"};
    }
    // Identities compared as text, as written (an invalid UTF-8 byte is U+FFFD in both).
    std::vector<std::string> saved_identities;
    for (const json& entry : saved_rules) saved_identities.push_back(WindowIdentity(entry));
    const std::vector<size_t> counterparts =
        MatchIdentities(saved_identities, WindowIdentities(rules_));
    std::vector<bool> used(saved_rules.size(), false);
    const bool oldest_first = *member("version") == kOldestFirstWindowsVersion;
    for (size_t i = 0; i < rules_.size(); ++i) {
      const CorrelationRule& rule = rules_[i];
      auto per_rule = std::make_unique<PerRule>();
      if (counterparts[i] == kNoCounterpart) {
        restored.push_back(std::move(per_rule));
        continue;
      }
      used[counterparts[i]] = true;
      const json& keys = windows[counterparts[i]];
      if (!keys.is_array()) throw WindowsDamaged{"a rule's keys are not an array"};
      // Past the cap, the least recently active are left out.
      const size_t taken_keys = std::min(keys.size(), max_keys_);
      // What a key may hold: as many times or values as the rule keeps, one time per rule.
      const size_t max_values =
          rule.decided_at_window_end()
              ? static_cast<size_t>(std::min<int64_t>(rule.maximum, INT64_MAX - 1)) + 1
              : static_cast<size_t>(rule.threshold);
      for (size_t n = 0; n < taken_keys; ++n) {
        const json& j = oldest_first ? keys[keys.size() - 1 - n] : keys[n];
        if (!j.is_object()) throw WindowsDamaged{"a key is not an object"};
        KeyState k;
        k.key = BytesFrom(Member(j, "key"), "key");
        const int64_t offset = IntFrom(Member(j, "entity_offset"), "entity_offset");
        if (k.key.empty() || offset < 0 || static_cast<uint64_t>(offset) > k.key.size()) {
          throw WindowsDamaged{"a key's entity lies outside it"};
        }
        k.entity_offset = static_cast<size_t>(offset);
        k.last_activity = IntFrom(Member(j, "last_activity"), "last_activity");
        for (const json& t : ArrayOf(j, "times", static_cast<size_t>(rule.threshold))) {
          if (!t.is_array() || t.size() != 2) throw WindowsDamaged{"a time is not a pair"};
          k.times.emplace_back(IntFrom(t[0], "time"), IntFrom(t[1], "time"));
        }
        for (const json& v : ArrayOf(j, "values", max_values)) {
          if (!v.is_array() || v.size() != 2) throw WindowsDamaged{"a value is not a pair"};
          if (!k.values.emplace(BytesFrom(v[0], "value"), IntFrom(v[1], "time")).second) {
            throw WindowsDamaged{"a value is there twice"};
          }
        }
        for (const json& t : ArrayOf(j, "seen", rule.rules.size())) {
          k.seen.push_back(IntFrom(t, "seen"));
        }
        for (const json& t : ArrayOf(j, "seen_first", rule.rules.size())) {
          k.seen_first.push_back(IntFrom(t, "seen_first"));
        }
        if (k.seen.size() != rule.rules.size() || k.seen_first.size() != rule.rules.size()) {
          throw WindowsDamaged{"a key does not have one time per referenced rule"};
        }
        k.window_first = IntFrom(Member(j, "window_first"), "window_first");
        k.window_last = IntFrom(Member(j, "window_last"), "window_last");
        k.window_reach = IntFrom(Member(j, "window_reach"), "window_reach");
        k.window_events = IntFrom(Member(j, "window_events"), "window_events");
        if (k.window_events < 0) throw WindowsDamaged{"a window counts fewer than no events"};
        for (const json& g : ArrayOf(j, "group", rule.group_by.size())) {
          if (!g.is_array() || g.size() != 2) throw WindowsDamaged{"a group value is not a pair"};
          k.group.emplace_back(BytesFrom(g[0], "group name"), BytesFrom(g[1], "group value"));
        }
        k.note = BytesFrom(Member(j, "note"), "note");
        k.last_arrival = IntFrom(Member(j, "last_arrival"), "last_arrival");
        // Absent in saves from before it was kept: taken as mixed, so that such a window is
        // never raised for one institution on events it cannot vouch for.
        auto about = j.find("concerns");
        k.concerns = about != j.end() ? BytesFrom(*about, "concerns") : std::string(kMixedConcerns);
        // Counted events' notes, saved only where a key held some. Taken up as far as this
        // tracker keeps them: its count per key (the newest) and its budget.
        if (auto counted = j.find("counted"); counted != j.end()) {
          if (!counted->is_array() || rule.type == CorrelationType::kValueCount ||
              rule.decided_at_window_end()) {
            throw WindowsDamaged{"a key's counted notes are not as they are kept"};
          }
          for (const json& c : *counted) {
            if (!c.is_array() || c.size() != 4) throw WindowsDamaged{"a counted note is not four"};
            const int64_t slot = IntFrom(c[1], "position");
            if (slot < 0 || static_cast<uint64_t>(slot) >= rule.rules.size()) {
              throw WindowsDamaged{"a counted note's rule is not one of the correlation's"};
            }
            std::string note = BytesFrom(c[3], "note");
            if (note.empty()) throw WindowsDamaged{"a counted note is empty"};
            k.counted.push_back({IntFrom(c[0], "time"), static_cast<size_t>(slot),
                                 IntFrom(c[2], "chain"), std::move(note)});
          }
          const size_t keep = KeepsCountedNotes(i) ? CountedNotesPerKey(rule) : 0;
          // The newest first (the later written on a tie), one per referenced rule for the
          // temporal types, then in the order they were saved.
          std::vector<size_t> newest(k.counted.size());
          for (size_t n = 0; n < newest.size(); ++n) newest[n] = n;
          std::sort(newest.begin(), newest.end(), [&](size_t a, size_t b) {
            return k.counted[a].at != k.counted[b].at ? k.counted[a].at > k.counted[b].at : a > b;
          });
          std::vector<bool> kept(k.counted.size(), false), taken_slot(rule.rules.size(), false);
          size_t kept_count = 0;
          for (size_t n : newest) {
            const KeyState::CountedNote& note = k.counted[n];
            if (kept_count == keep) break;
            if (rule.type != CorrelationType::kEventCount && taken_slot[note.slot]) continue;
            if (per_rule->note_bytes + note.note.size() > note_bytes_per_rule_) break;
            taken_slot[note.slot] = true;
            kept[n] = true;
            ++kept_count;
            per_rule->note_bytes += note.note.size();
          }
          std::vector<KeyState::CountedNote> chosen;
          for (size_t n = 0; n < k.counted.size(); ++n) {
            if (kept[n]) chosen.push_back(std::move(k.counted[n]));
          }
          k.counted = std::move(chosen);
        }
        // What Feed and FeedWindow leave behind, and nothing else: a window decided at its end
        // has counted an event and holds no more values than events (a count kept exact in a
        // double's range); a sliding one has no window, and fewer times or values than fire
        // it (the key is dropped when it fires).
        const bool values_kept = rule.type == CorrelationType::kValueCount;
        if (rule.decided_at_window_end()) {
          if (k.window_events < 1 || k.window_events > (int64_t{1} << 53) || !k.times.empty() ||
              (!values_kept && !k.values.empty()) ||
              k.values.size() > static_cast<uint64_t>(k.window_events)) {
            throw WindowsDamaged{"a window decided at its end is not as one is kept"};
          }
        } else if (k.window_events != 0 || !k.note.empty() || !k.group.empty() ||
                   (!values_kept && !k.values.empty()) ||
                   (rule.type != CorrelationType::kEventCount && !k.times.empty()) ||
                   k.times.size() >= static_cast<size_t>(rule.threshold) ||
                   k.values.size() >= static_cast<size_t>(rule.threshold)) {
          throw WindowsDamaged{"a sliding window is not as one is kept"};
        }
        // Taken most recent first: each goes before those taken already.
        std::string key = k.key;
        per_rule->lru.push_front(std::move(k));
        if (!per_rule->index.emplace(std::move(key), per_rule->lru.begin()).second) {
          throw WindowsDamaged{"a key is there twice"};
        }
      }
      taken.keys += per_rule->lru.size();
      ++taken.correlations;
      restored.push_back(std::move(per_rule));
    }
    for (size_t j = 0; j < saved_rules.size(); ++j) {
      if (used[j]) continue;
      if (!windows[j].is_array()) throw WindowsDamaged{"a rule's keys are not an array"};
      if (!windows[j].empty()) taken.dropped.push_back(WindowOwnerLabel(saved_rules[j]));
    }
  } catch (const WindowsDamaged& damaged) {
    return Status::InvalidArgument("saved correlation windows are damaged: " + damaged.what);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("saved correlation windows are damaged: ") +
                                   e.what());
  }
  state_ = std::move(restored);
  return taken;
}

}  // namespace rampart::detect
