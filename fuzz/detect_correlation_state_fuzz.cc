// libFuzzer target: saved correlation windows (CorrelationTracker::RestoreWindows), the file the
// live engine reads back at start. An input that starts with '{' is restored as it is. Any
// other input drives a tracker of every kind of window with events (its first bytes: which
// correlation, slot, address, path and time step), saves its windows, changes the saved text at
// the places the rest of the input names, and restores that (a changed saved rule leaves its
// windows out, and the tracker's counterpart starts empty). A restore that succeeds must save
// again to a text a second tracker restores whole to the same save, and the restored windows must
// take more events and close without a hit outside its correlation's condition. A restore that
// fails must leave the tracker as it was.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "detect/correlation.h"
#include "detect/event.h"

namespace {

using rampart::detect::CorrelationHit;
using rampart::detect::CorrelationRule;
using rampart::detect::CorrelationTracker;
using rampart::detect::Event;
using rampart::detect::Field;
using rampart::detect::WindowNote;

const std::vector<CorrelationRule>& Rules() {
  static const std::vector<CorrelationRule> rules = [] {
    const std::string head = "correlation:\n  group-by: [source.ip]\n  timespan: 1h\n";
    std::vector<std::string> texts = {
        "title: A\nid: a\n" + head + "  type: event_count\n  rules: [x]\n  condition: {gte: 3}\n",
        "title: B\nid: b\n" + head +
            "  type: value_count\n  rules: [x]\n  condition: {field: url.path, gte: 3}\n",
        "title: C\nid: c\n" + head + "  type: temporal\n  rules: [x, y, z]\n",
        "title: D\nid: d\n" + head + "  type: temporal_ordered\n  rules: [x, y]\n",
        "title: E\nid: e\n" + head + "  type: event_count\n  rules: [x]\n  condition: {lt: 3}\n",
        "title: F\nid: f\n" + head +
            "  type: value_count\n  rules: [x]\n  condition: {field: url.path, lte: 2}\n",
    };
    std::vector<CorrelationRule> out;
    for (const auto& t : texts) {
      auto r = rampart::detect::ParseCorrelationRule(t, "fuzz.yml");
      if (!r.ok()) std::abort();
      out.push_back(std::move(r).value());
    }
    return out;
  }();
  return rules;
}

void CheckHits(const std::vector<CorrelationHit>& hits) {
  for (const auto& hit : hits) {
    if (hit.correlation >= Rules().size()) std::abort();
    const CorrelationRule& c = Rules()[hit.correlation];
    if (hit.value < c.threshold || hit.value > c.maximum) std::abort();
  }
}

void Feed(CorrelationTracker& t, uint8_t a, uint8_t b, int64_t* now) {
  const auto& rules = Rules();
  const size_t index = a % rules.size();
  const size_t slot = (a / rules.size()) % rules[index].rules.size();
  Event ev;
  // Addresses and paths from a few values, one of them not UTF-8, so that keys repeat.
  static const char* const kAddresses[] = {"203.0.113.1", "203.0.113.2", "\xff\xfe"};
  ev.SetCopy(Field::kSourceIp, kAddresses[b % 3]);
  ev.SetCopy(Field::kUrlPath, std::string("/p") + static_cast<char>('0' + (b / 3) % 4));
  *now += static_cast<int64_t>(b >> 4) * 7 * 60 * 1000;
  ev.set_timestamp_millis(*now);
  const WindowNote note{"fuzz", *now};
  std::vector<CorrelationHit> hits;
  // A counted note per event, some of them late, so that saves hold notes out of order.
  const std::string counted = "n" + std::to_string(b);
  t.OnMatch(index, slot, ev, *now - (b % 5 == 0 ? 60 * 1000 : 0), &hits, &note, {}, {}, counted);
  CheckHits(hits);
}

}  // namespace

// Counted notes (KeepCountedNotes), with a budget small enough to be reached.
constexpr size_t kNotesPerKey = 2;
constexpr size_t kNoteBudget = 40;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string saved;
  int64_t now = 1'769'760'000'000;
  if (size > 0 && data[0] == '{') {
    saved.assign(reinterpret_cast<const char*>(data), size);
  } else {
    CorrelationTracker source(Rules(), 8);
    source.KeepCountedNotes(kNotesPerKey, kNoteBudget);
    const size_t events = size > 0 ? std::min<size_t>(data[0], (size - 1) / 2) : 0;
    for (size_t i = 0; i < events; ++i) Feed(source, data[1 + 2 * i], data[2 + 2 * i], &now);
    saved = source.SaveWindows();
    // The rest, in threes: a place in the text (two bytes) and a byte to put there.
    for (size_t i = 1 + 2 * events; i + 2 < size && !saved.empty(); i += 3) {
      const size_t at = (static_cast<size_t>(data[i]) << 8 | data[i + 1]) % saved.size();
      saved[at] = static_cast<char>(data[i + 2]);
    }
  }
  CorrelationTracker tracker(Rules(), 8);
  tracker.KeepCountedNotes(kNotesPerKey, kNoteBudget);
  Feed(tracker, 0, 0, &now);
  const std::string before = tracker.SaveWindows();
  auto taken = tracker.RestoreWindows(saved);
  if (!taken.ok()) {
    if (tracker.SaveWindows() != before) std::abort();  // a failed restore changes nothing
    return 0;
  }
  if (taken->keys != tracker.tracked_keys() || taken->keys > 8 * Rules().size() ||
      taken->correlations > Rules().size()) {
    std::abort();
  }
  const std::string again = tracker.SaveWindows();
  CorrelationTracker second(Rules(), 8);
  second.KeepCountedNotes(kNotesPerKey, kNoteBudget);
  auto retaken = second.RestoreWindows(again);
  if (!retaken.ok() || retaken->keys != taken->keys || retaken->correlations != Rules().size() ||
      !retaken->dropped.empty() || second.SaveWindows() != again) {
    std::abort();
  }
  for (uint8_t a = 0; a < 24; ++a) Feed(tracker, a, static_cast<uint8_t>(a * 37), &now);
  std::vector<CorrelationHit> hits;
  tracker.CloseIdleWindows(now + 3600 * 1000, &hits);
  tracker.Sweep(now + 3600 * 1000);
  tracker.CloseAllWindows(&hits);
  CheckHits(hits);
  return 0;
}
