// libFuzzer target: Sigma correlation rules (aliases, chains, upper-bound conditions) on
// arbitrary YAML, linked to the plain rules of the same text, then fed matches of every rule
// through the tracker, with gaps of a timespan and windows closed idle and at the end. Linking
// must leave no alias unresolved, no link out of range and no bounded correlation feeding
// another; feeding must not loop; every hit must meet its correlation's condition.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "detect/correlation.h"
#include "detect/event.h"
#include "detect/sigma.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  rampart::detect::RuleSetBuilder builder;
  builder.set_keep_correlations(true);
  builder.AddRuleText(text, "fuzz.yml").IgnoreError();
  auto rules = builder.Build();
  if (!rules.ok()) return 0;
  rampart::detect::LinkedCorrelations linked =
      rampart::detect::LinkCorrelations(**rules, builder.correlations());
  const size_t count = linked.rules.size();
  for (const auto& c : linked.rules) {
    if (c.group_fields.size() != c.rules.size()) std::abort();
    for (const auto& fields : c.group_fields) {
      if (fields.size() != c.group_by.size()) std::abort();
      for (auto f : fields) {
        if (f == rampart::detect::Field::kCount) std::abort();  // an alias left unresolved
      }
    }
    if (c.decided_at_window_end() && !c.feeds.empty()) std::abort();
    if (c.threshold < 1 || c.threshold > c.maximum) std::abort();
    for (const auto& [outer, slot] : c.feeds) {
      if (outer >= count || slot >= linked.rules[outer].rules.size()) std::abort();
    }
  }
  for (const auto& feeds : linked.feeds) {
    for (const auto& [index, slot] : feeds) {
      if (index >= count || slot >= linked.rules[index].rules.size()) std::abort();
    }
  }
  rampart::detect::CorrelationTracker tracker(linked.rules, 16);
  // Room for a few notes only (each is 14 bytes), so that the budget is reached.
  constexpr size_t kNotesPerKey = 3;
  constexpr size_t kNoteBudget = 48;
  tracker.KeepCountedNotes(kNotesPerKey, kNoteBudget);
  rampart::detect::Event ev;
  ev.Set(rampart::detect::Field::kSourceIp, "203.0.113.9");
  ev.Set(rampart::detect::Field::kDestinationIp, "198.51.100.7");
  ev.Set(rampart::detect::Field::kUserName, "adm_1");
  ev.Set(rampart::detect::Field::kUrlPath, "/api/v1/devices/dev_1");
  std::vector<rampart::detect::CorrelationHit> hits;
  int64_t now = 1'769'760'000'000;
  size_t fed = 0;
  for (int round = 0; round < 6; ++round) {
    for (size_t rule = 0; rule < linked.feeds.size(); ++rule) {
      for (const auto& [index, slot] : linked.feeds[rule]) {
        // Two keys of most group-bys, and every third event late (logs merged out of order).
        ev.Set(rampart::detect::Field::kSourceIp, fed % 2 == 0 ? "203.0.113.9" : "203.0.113.10");
        const int64_t at = fed % 3 == 2 ? now - 7000 : now;
        ++fed;
        const rampart::detect::WindowNote note{"fuzz.log:1", at};
        const std::string counted = "n" + std::to_string(at);
        tracker.OnMatch(index, slot, ev, at, &hits, round % 2 == 0 ? &note : nullptr, {}, {},
                        counted);
        now += 1000;
      }
    }
    // Every other round, a day's gap: windows tumble, and idle ones are decided.
    if (round % 2 == 1) {
      now += 24 * 3600 * 1000;
      tracker.CloseIdleWindows(now, &hits);
    }
  }
  tracker.Sweep(now);
  tracker.CloseAllWindows(&hits);
  for (const auto& hit : hits) {
    if (hit.correlation >= count) std::abort();
    const auto& c = linked.rules[hit.correlation];
    if (hit.at_window_end != c.decided_at_window_end()) std::abort();
    if (hit.value < c.threshold || hit.value > c.maximum) std::abort();
    // Notes only of other events the window counted, within the budget.
    if (hit.at_window_end && !hit.counted_notes.empty()) std::abort();
    if (hit.counted_notes.size() > kNotesPerKey) std::abort();
    if (hit.counted_notes.size() >= static_cast<size_t>(hit.value) && hit.value > 0) std::abort();
    size_t bytes = 0;
    for (const auto& n : hit.counted_notes) bytes += n.size();
    if (bytes > kNoteBudget) std::abort();
    // Oldest first.
    for (size_t i = 1; i < hit.counted_notes.size(); ++i) {
      if (hit.counted_notes[i] < hit.counted_notes[i - 1]) std::abort();
    }
  }
  return 0;
}
