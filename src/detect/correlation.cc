#include "detect/correlation.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <unordered_map>

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
  if (c["aliases"]) return Status::InvalidArgument("correlation aliases are not supported");
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
  const YAML::Node gb = c["group-by"];
  auto add_group = [&](const std::string& name) -> Status {
    auto f = MapSigmaField(name);
    if (!f) return Status::InvalidArgument("group-by field '" + name + "' has no event mapping");
    r->group_by.push_back(*f);
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
  if (r->type == CorrelationType::kTemporal || r->type == CorrelationType::kTemporalOrdered) {
    r->threshold = static_cast<int64_t>(r->rules.size());
    return Status::Ok();
  }
  if (!cond || !cond.IsMap()) return Status::InvalidArgument("correlation has no condition map");
  bool have = false;
  for (auto it = cond.begin(); it != cond.end(); ++it) {
    std::string op = it->first.as<std::string>();
    if (op == "field") {
      if (r->type != CorrelationType::kValueCount) continue;
      auto f = MapSigmaField(it->second.as<std::string>());
      if (!f) return Status::InvalidArgument("condition field has no event mapping");
      r->value_field = *f;
      continue;
    }
    int64_t n = 0;
    try {
      n = it->second.as<int64_t>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("condition " + op + " must be an integer");
    }
    if (n < 0 || n > 1'000'000) return Status::InvalidArgument("condition value out of range");
    if (op == "gte") {
      r->threshold = std::max<int64_t>(n, 1);
    } else if (op == "gt") {
      r->threshold = n + 1;
    } else {
      return Status::InvalidArgument("condition '" + op +
                                     "' is decided only when a window ends; the live engine "
                                     "supports gt and gte");
    }
    have = true;
  }
  if (!have) return Status::InvalidArgument("condition needs gt or gte");
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
  std::string key;
  int64_t last_activity = 0;
  // event_count: newest timestamps, oldest first, at most threshold of them.
  std::vector<int64_t> times;
  // value_count: distinct value → last time (at most threshold values).
  std::map<std::string, int64_t> values;
  // temporal: per referenced rule, the time it was last seen (0: not seen); temporal_ordered:
  // the start time of the chain that reached that position.
  std::vector<int64_t> seen;
};

struct CorrelationTracker::PerRule {
  // Least recently active first.
  std::list<KeyState> lru;
  std::unordered_map<std::string, std::list<KeyState>::iterator> index;
};

CorrelationTracker::CorrelationTracker(std::vector<CorrelationRule> rules, size_t max_keys)
    : rules_(std::move(rules)), max_keys_(std::max<size_t>(max_keys, 1)) {
  for (size_t i = 0; i < rules_.size(); ++i) state_.push_back(std::make_unique<PerRule>());
}
CorrelationTracker::~CorrelationTracker() = default;

size_t CorrelationTracker::tracked_keys() const {
  size_t n = 0;
  for (const auto& s : state_) n += s->index.size();
  return n;
}

void CorrelationTracker::OnMatch(size_t index, size_t slot, const Event& ev, int64_t now,
                                 std::vector<CorrelationHit>* hits) {
  if (index >= rules_.size()) return;
  const CorrelationRule& rule = rules_[index];
  PerRule& st = *state_[index];
  // As a SIEM's "count by" and "distinct count": an event without a group-by field, or without
  // the field whose values are counted (absent or empty), is not counted (else every such event
  // would share one empty key, or count as one more value).
  for (Field f : rule.group_by) {
    if (ev.Get(f).empty()) return;
  }
  if (rule.type == CorrelationType::kValueCount && ev.Get(rule.value_field).empty()) return;
  std::string key;
  for (Field f : rule.group_by) {
    if (!key.empty()) key.push_back(',');
    key.append(FieldName(f));
    key.push_back('=');
    key.append(ev.Decoded(f));
  }
  if (key.empty()) key = "all";
  auto it = st.index.find(key);
  if (it == st.index.end()) {
    if (st.index.size() >= max_keys_) {
      st.index.erase(st.lru.front().key);
      st.lru.pop_front();
      ++evicted_;
    }
    st.lru.push_back(KeyState{});
    st.lru.back().key = key;
    st.lru.back().seen.assign(rule.rules.size(), 0);
    it = st.index.emplace(key, std::prev(st.lru.end())).first;
  } else {
    st.lru.splice(st.lru.end(), st.lru, it->second);
  }
  KeyState& k = *it->second;
  k.last_activity = now;
  // The window reaches as far ahead as behind: events may come slightly out of order (several
  // sources), but times a whole window later than this one (rotated logs scanned newest first)
  // are not counted with it.
  const int64_t window_start = now - rule.timespan_millis;
  const int64_t window_end = now + rule.timespan_millis;
  auto outside = [&](int64_t t) { return t < window_start || t > window_end; };
  int64_t value = 0;
  int64_t first = now;
  std::vector<std::string> counted_values;
  switch (rule.type) {
    case CorrelationType::kEventCount: {
      auto keep = static_cast<size_t>(rule.threshold);
      k.times.erase(std::remove_if(k.times.begin(), k.times.end(), outside), k.times.end());
      k.times.push_back(now);
      if (k.times.size() > keep) k.times.erase(k.times.begin());
      value = static_cast<int64_t>(k.times.size());
      first = *std::min_element(k.times.begin(), k.times.end());
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
      if (slot < k.seen.size()) k.seen[slot] = now;
      for (int64_t t : k.seen) {
        if (t == 0 || outside(t)) continue;
        ++value;
        first = std::min(first, t);
      }
      break;
    }
    case CorrelationType::kTemporalOrdered: {
      if (slot == 0) {
        k.seen[0] = now;
      } else if (slot < k.seen.size() && k.seen[slot - 1] != 0 && !outside(k.seen[slot - 1])) {
        k.seen[slot] = std::max(k.seen[slot], k.seen[slot - 1]);
      }
      for (int64_t t : k.seen) {
        if (t == 0 || outside(t)) break;
        ++value;
        first = std::min(first, t);
      }
      break;
    }
  }
  if (value >= rule.threshold) {
    hits->push_back({index, key, value, first, std::move(counted_values)});
    auto node = it->second;
    st.index.erase(it);
    st.lru.erase(node);
  }
}

void CorrelationTracker::Sweep(int64_t now) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    PerRule& st = *state_[i];
    const int64_t cutoff = now - rules_[i].timespan_millis;
    while (!st.lru.empty() && st.lru.front().last_activity < cutoff) {
      st.index.erase(st.lru.front().key);
      st.lru.pop_front();
    }
  }
}

LinkedCorrelations LinkCorrelations(const RuleSet& rules,
                                    const std::vector<std::pair<std::string, std::string>>& texts) {
  LinkedCorrelations out;
  std::unordered_map<std::string, size_t> by_ref;
  for (size_t i = 0; i < rules.size(); ++i) {
    const RuleInfo& r = rules.rule(i);
    if (!r.id.empty()) by_ref.emplace(r.id, i);
    if (!r.name.empty()) by_ref.emplace(r.name, i);
  }
  out.feeds.assign(rules.size(), {});
  out.generates.assign(rules.size(), true);
  std::vector<bool> generate_requested(rules.size(), false);
  for (const auto& [origin, text] : texts) {
    auto parsed = ParseCorrelationRule(text, origin);
    if (!parsed.ok()) {
      out.skipped.push_back({origin, "", parsed.status().message()});
      continue;
    }
    std::vector<size_t> refs;
    std::string missing;
    for (const auto& name : parsed->rules) {
      auto it = by_ref.find(name);
      if (it == by_ref.end()) {
        missing = name;
        break;
      }
      refs.push_back(it->second);
    }
    if (!missing.empty()) {
      out.skipped.push_back({origin, parsed->info.title,
                             "correlation refers to rule '" + missing + "', which is not loaded"});
      continue;
    }
    const size_t index = out.rules.size();
    for (size_t slot = 0; slot < refs.size(); ++slot) {
      out.feeds[refs[slot]].emplace_back(index, slot);
      out.generates[refs[slot]] = false;
      if (parsed->generate) generate_requested[refs[slot]] = true;
    }
    out.rules.push_back(std::move(parsed).value());
  }
  // A rule that one correlation lets alert alerts, whatever the others say.
  for (size_t i = 0; i < out.generates.size(); ++i) {
    if (generate_requested[i]) out.generates[i] = true;
  }
  return out;
}

}  // namespace rampart::detect
