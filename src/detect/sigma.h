// Sigma rules (sigma-specification 2.x) loaded from YAML and compiled so that the cost per event
// does not grow with the number of rules: every string matcher of every rule goes into one
// Vectorscan database per event field; an event is scanned once per field, the matched matcher
// ids land in a bitset, and only the rules owning a matched matcher have their condition tree
// evaluated.
//
//   RuleSetBuilder builder;
//   builder.AddDirectory("/etc/rampart/rules");       // bad rules are recorded, not fatal
//   Result<std::unique_ptr<RuleSet>> rules = builder.Build();
//   RuleMatcher matcher(**rules);                      // one per thread
//   std::vector<uint32_t> hits;
//   matcher.Match(event, &hits);                       // indices into (*rules)->rule(i)
//
// Supported: selections (map = AND, list = OR), keywords, conditions with and/or/not,
// parentheses, "1 of"/"any of"/"all of" with wildcards and "them"; modifiers contains,
// startswith, endswith, all, re (with i/m/s), cidr, exists, cased. Field names: the W3C names of
// the webserver and proxy categories, and Rampart's ECS names. Anything else makes the rule
// skipped with a reason naming the file and what was not understood.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "detect/event.h"

namespace rampart::detect {

struct RuleInfo {
  std::string id;
  std::string name;  // the rule's `name:` (correlation rules refer to rules by name or id)
  std::string title;
  std::string severity;             // Sigma level: informational, low, medium, high, critical
  std::string file;                 // where it was loaded from ("" for rules given as text)
  std::vector<std::string> attack;  // ATT&CK ids from the tags: "T1190", "T1505.003"
  std::vector<std::string> tags;
};

struct SkippedRule {
  std::string file;
  std::string title;   // empty when the YAML did not parse far enough
  std::string reason;  // never empty
};

// The Sigma field name (W3C webserver/proxy names, common aliases or an ECS name) as a field.
std::optional<Field> MapSigmaField(std::string_view name);

// A rule's `level` as an alert severity: absent is "medium", case is ignored, and anything but
// informational, low, medium, high or critical is an error (a typo must not become another
// severity unseen).
Result<std::string> SigmaLevel(std::optional<std::string_view> level);

class RuleSet;

// Collects rules, then compiles them. Not thread-safe.
// What AddDirectory reads: a name ending in .yml or .yaml, in any case.
bool IsRuleFileName(std::string_view name);

class RuleSetBuilder {
 public:
  RuleSetBuilder();
  ~RuleSetBuilder();
  RuleSetBuilder(const RuleSetBuilder&) = delete;
  RuleSetBuilder& operator=(const RuleSetBuilder&) = delete;

  // Adds the rules of one YAML text (several documents allowed). A rule that cannot be used is
  // recorded in skipped() and the returned Status says why; other rules in the text still load.
  Status AddRuleText(std::string_view yaml, std::string_view origin);
  // Reads a file and adds it; a read error is recorded as a skipped rule too.
  Status AddFile(const std::string& path);
  // Adds every *.yml / *.yaml below dir (recursively, in sorted order; the extension in any
  // case). Returns an error only when dir cannot be listed.
  Status AddDirectory(const std::string& dir);
  // A directory as AddDirectory, a file as AddFile (whatever its extension: it was named).
  // Returns an error only when the path does not exist, is neither, or cannot be listed.
  Status AddPath(const std::string& path);

  const std::vector<SkippedRule>& skipped() const;
  size_t pending() const;

  // By default a correlation rule is skipped (the offline matcher cannot use one). When set,
  // correlation documents are kept instead, as (origin, YAML text), for the live engine's
  // correlation parser (detect/correlation.h).
  void set_keep_correlations(bool keep);
  const std::vector<std::pair<std::string, std::string>>& correlations() const;

  // Compiles everything added so far. Rules whose patterns Vectorscan (and, for `re`, the
  // std::regex fallback) refuses are skipped with the compiler's message, and so is a rule
  // whose id or name (one namespace) a rule added before it already loaded with; the call
  // fails only when the compiler itself fails in a way no single rule explains.
  Result<std::unique_ptr<RuleSet>> Build();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Compiled, immutable rules; safe to share between threads (each thread needs a RuleMatcher).
class RuleSet {
 public:
  ~RuleSet();
  size_t size() const;
  const RuleInfo& rule(size_t i) const;
  // Rules skipped while loading or compiling.
  const std::vector<SkippedRule>& skipped() const;
  // Distinct matchers compiled into Vectorscan databases, and those evaluated in C++.
  size_t vectorscan_matchers() const;
  size_t fallback_matchers() const;
  // Exact (wildcard-free, case-insensitive) values, matched by one hash lookup per field.
  size_t exact_matchers() const;

 private:
  friend class RuleSetBuilder;
  friend class RuleMatcher;
  struct Impl;
  RuleSet();
  std::unique_ptr<Impl> impl_;
};

// kPrefiltered (the default) first asks whether any rule can become a candidate at all: a
// literal taken from every trigger pattern, searched in its field's values (what a value gave
// is remembered, since logs repeat their values) and, for `keywords`, in the whole line; hash
// lookups of exact trigger values; small scans for trigger regexes. Only when that says "maybe"
// are the per-field scans run. Both modes give identical results; kExhaustive always runs the
// per-field scans and exists to prove that (tests/detect/prefilter_test.cc).
enum class MatchMode { kPrefiltered, kExhaustive };

// Per-thread matching state (Vectorscan scratch, bitsets). The RuleSet must outlive it.
class RuleMatcher {
 public:
  explicit RuleMatcher(const RuleSet& rules, MatchMode mode = MatchMode::kPrefiltered);
  ~RuleMatcher();
  RuleMatcher(const RuleMatcher&) = delete;
  RuleMatcher& operator=(const RuleMatcher&) = delete;

  // Replaces *out with the indices of the rules that match, in increasing order.
  void Match(const Event& ev, std::vector<uint32_t>* out);

  // For callers that match many lines held in one buffer (rampart scan's batches): searches
  // the `keywords` literals in the whole buffer at once, and Match then takes the findings of
  // an event whose event.original lies in the buffer from there, instead of searching its line
  // on its own (one Vectorscan call per batch instead of one per line). Other events are
  // searched as usual. The buffer must stay alive and unchanged while its events are matched;
  // PrepareLines({}) forgets it.
  void PrepareLines(std::string_view lines);

  // Events matched so far, and how many of them needed the per-field scans.
  uint64_t events() const;
  uint64_t full_scans() const;
  // Request targets not remembered themselves whose marks came from another target of the
  // same masked form (signed download links), instead of a literal scan.
  uint64_t shape_hits() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::detect
