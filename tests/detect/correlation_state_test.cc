// Correlation windows kept across a restart or a reload: CorrelationTracker::SaveWindows,
// RestoreWindows and TakeWindowsFrom, for every kind of window; each correlation takes up its
// counterpart's windows whatever else changed in the set, and a damaged save changes nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "detect/correlation.h"
#include "detect/event.h"

namespace rampart::detect {
// Named, not anonymous: the test target is a unity build, and other files have a kMinute too.
namespace correlation_state_test {

constexpr int64_t kMinute = 60 * 1000;

CorrelationRule Parsed(const std::string& yaml) {
  auto r = ParseCorrelationRule(yaml, "state.yml");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : CorrelationRule{};
}

// One correlation of each kind, all grouped by source.ip over an hour.
std::vector<CorrelationRule> Rules(int64_t burst_threshold = 3,
                                   const std::string& burst_title = "Burst") {
  const std::string head = "correlation:\n  group-by: [source.ip]\n  timespan: 1h\n";
  return {
      Parsed("title: " + burst_title + "\nid: burst\n" + head +
             "  type: event_count\n  rules: [probe]\n" +
             "  condition: {gte: " + std::to_string(burst_threshold) + "}\n"),
      Parsed("title: Paths\nid: paths\n" + head + "  type: value_count\n  rules: [probe]\n" +
             "  condition: {field: url.path, gte: 3}\n"),
      Parsed("title: Chain\nid: chain\n" + head +
             "  type: temporal_ordered\n  rules: [probe, shell]\n"),
      Parsed("title: Rare\nid: rare\n" + head + "  type: event_count\n  rules: [probe]\n" +
             "  condition: {lt: 3}\n"),
  };
}

// Feeds the event of `ip` and `path` at `minute` to correlation `index` (slot `slot`).
std::vector<CorrelationHit> Feed(CorrelationTracker& t, size_t index, size_t slot,
                                 const std::string& ip, int64_t minute,
                                 const std::string& path = "/p") {
  Event ev;
  ev.SetCopy(Field::kSourceIp, ip);
  ev.SetCopy(Field::kUrlPath, path);
  const int64_t at = minute * kMinute;
  ev.set_timestamp_millis(at);
  const std::string note = ip + "@" + std::to_string(minute);
  const WindowNote window_note{note, at};
  std::vector<CorrelationHit> hits;
  t.OnMatch(index, slot, ev, at, &hits, &window_note);
  return hits;
}

// Windows half way: two probes, two distinct paths, the chain's first step, a rare key's one
// event.
void HalfWay(CorrelationTracker& t) {
  for (int64_t m : {0, 10}) EXPECT_TRUE(Feed(t, 0, 0, "203.0.113.7", m).empty());
  EXPECT_TRUE(Feed(t, 1, 0, "203.0.113.7", 1, "/api/v1/devices/1").empty());
  EXPECT_TRUE(Feed(t, 1, 0, "203.0.113.7", 11, "/api/v1/devices/2").empty());
  EXPECT_TRUE(Feed(t, 2, 0, "203.0.113.7", 5).empty());
  EXPECT_TRUE(Feed(t, 3, 0, "198.51.100.1", 7).empty());
}

// What the rest of the hour brings: each correlation completes.
std::vector<CorrelationHit> Completion(CorrelationTracker& t) {
  std::vector<CorrelationHit> hits;
  auto add = [&](std::vector<CorrelationHit> h) { hits.insert(hits.end(), h.begin(), h.end()); };
  add(Feed(t, 0, 0, "203.0.113.7", 20));
  add(Feed(t, 1, 0, "203.0.113.7", 21, "/api/v1/devices/3"));
  add(Feed(t, 2, 1, "203.0.113.7", 22));
  t.CloseAllWindows(&hits);
  return hits;
}

std::string Describe(const std::vector<CorrelationHit>& hits) {
  std::string out;
  for (const CorrelationHit& h : hits) {
    out += std::to_string(h.correlation) + " " + h.entity + " value=" + std::to_string(h.value) +
           " first=" + std::to_string(h.first_millis) + " note=" + h.note + " values=";
    for (const auto& v : h.values) out += v + ",";
    out += "\n";
  }
  return out;
}

TEST(CorrelationStateTest, EveryKindOfWindowIsTakenUpWhereItWasLeft) {
  CorrelationTracker before(Rules(), 100);
  HalfWay(before);
  const std::string saved = before.SaveWindows();
  EXPECT_EQ(before.tracked_keys(), 4u);

  CorrelationTracker after(Rules(), 100);
  auto taken = after.RestoreWindows(saved);
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  EXPECT_EQ(taken->keys, 4u);
  EXPECT_EQ(taken->correlations, 4u);
  EXPECT_TRUE(taken->dropped.empty());
  EXPECT_EQ(after.tracked_keys(), 4u);
  EXPECT_EQ(after.SaveWindows(), saved) << "taken up exactly";

  // The restarted tracker ends the hour as the one that never stopped would.
  const std::vector<CorrelationHit> expected = Completion(before);
  ASSERT_EQ(expected.size(), 4u) << Describe(expected);
  EXPECT_EQ(Describe(Completion(after)), Describe(expected));

  // Without the saved windows, the second half alone completes nothing.
  CorrelationTracker fresh(Rules(), 100);
  const auto alone = Completion(fresh);
  ASSERT_EQ(alone.size(), 0u) << Describe(alone);
}

// A correlation whose definition changed starts empty; the others take up their windows,
// wherever they now stand in the set and whatever their title.
TEST(CorrelationStateTest, OnlyAChangedCorrelationStartsEmpty) {
  CorrelationTracker source(Rules(), 100);
  HalfWay(source);
  const std::string saved = source.SaveWindows();

  std::vector<CorrelationRule> changed = Rules(/*burst_threshold=*/5);
  std::swap(changed[0], changed[3]);  // burst last, rare first
  CorrelationTracker other(changed, 100);
  Feed(other, 3, 0, "192.0.2.1", 0);  // a window of its own, which the restore replaces
  auto taken = other.RestoreWindows(saved);
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  EXPECT_EQ(taken->correlations, 3u);
  EXPECT_EQ(taken->keys, 3u);
  EXPECT_EQ(taken->dropped, std::vector<std::string>{"burst"});
  EXPECT_EQ(other.tracked_keys(), 3u);
  // Burst (now at 3, threshold 5) counts afresh: three more probes are not enough.
  for (int64_t m : {20, 21, 22}) EXPECT_TRUE(Feed(other, 3, 0, "203.0.113.7", m).empty());
  // The paths (at 1) and the chain (at 2) complete as if nothing had happened.
  EXPECT_EQ(Feed(other, 1, 0, "203.0.113.7", 21, "/api/v1/devices/3").size(), 1u);
  EXPECT_EQ(Feed(other, 2, 1, "203.0.113.7", 22).size(), 1u);
  std::vector<CorrelationHit> closed;
  other.CloseAllWindows(&closed);
  ASSERT_EQ(closed.size(), 1u) << Describe(closed);
  EXPECT_EQ(closed[0].correlation, 0u) << "rare, now first, decided with its saved event";
  EXPECT_EQ(closed[0].note, "198.51.100.1@7");

  // A new title changes what a hit raises, not what a window counted: all kept.
  CorrelationTracker retitled(Rules(3, "Burst of probes"), 100);
  auto all = retitled.RestoreWindows(saved);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->correlations, 4u);
  EXPECT_EQ(all->keys, 4u);
  EXPECT_EQ(Feed(retitled, 0, 0, "203.0.113.7", 20).size(), 1u) << "the third probe";
}

// A reload moves each correlation's windows to its counterpart in the new rules.
TEST(CorrelationStateTest, AReloadMovesTheWindowsOfUnchangedCorrelations) {
  CorrelationTracker before(Rules(), 100);
  HalfWay(before);
  std::vector<CorrelationRule> next = Rules(/*burst_threshold=*/4, "Burst of probes");
  next.insert(next.begin(), Parsed("title: New\nid: new\ncorrelation:\n  group-by: [source.ip]\n"
                                   "  timespan: 1h\n  type: event_count\n  rules: [probe]\n"
                                   "  condition: {gte: 2}\n"));
  const std::vector<size_t> counterparts = CorrelationCounterparts(before.rules(), next);
  EXPECT_EQ(counterparts, (std::vector<size_t>{kNoCounterpart, kNoCounterpart, 1, 2, 3}));
  CorrelationTracker after(std::move(next), 100);
  const WindowsTakenUp taken = after.TakeWindowsFrom(before);
  EXPECT_EQ(taken.correlations, 3u);
  EXPECT_EQ(taken.keys, 3u);
  EXPECT_EQ(taken.dropped, std::vector<std::string>{"burst"});
  EXPECT_EQ(before.tracked_keys(), 1u) << "the previous tracker keeps what had no counterpart";
  EXPECT_EQ(Feed(after, 2, 0, "203.0.113.7", 21, "/api/v1/devices/3").size(), 1u);
  EXPECT_EQ(Feed(after, 3, 1, "203.0.113.7", 22).size(), 1u);
  for (int64_t m : {20, 21, 22}) EXPECT_TRUE(Feed(after, 1, 0, "203.0.113.7", m).empty());
  EXPECT_EQ(Feed(after, 1, 0, "203.0.113.7", 23).size(), 1u) << "burst counted afresh, to 4";
}

TEST(CorrelationStateTest, DamagedWindowsAreNotTakenUp) {
  CorrelationTracker source(Rules(), 100);
  HalfWay(source);
  const std::string saved = source.SaveWindows();

  CorrelationTracker same(Rules(), 100);
  Feed(same, 0, 0, "192.0.2.1", 0);
  const std::string untouched = same.SaveWindows();
  using nlohmann::json;
  const json doc = json::parse(saved);
  auto mutated = [&](auto change) {
    json d = doc;
    change(d);
    return d.dump();
  };
  const std::vector<std::pair<std::string, std::string>> damaged = {
      {"not JSON", "{\"format\": "},
      {"cut short", saved.substr(0, saved.size() / 2)},
      {"another document", R"({"format": "rampart-positions", "version": 1})"},
      {"another version", mutated([](json& d) { d["version"] = 3; })},
      {"an entity outside its key",
       mutated([](json& d) { d["windows"][0][0]["entity_offset"] = 99; })},
      {"a time that is not a number",
       mutated([](json& d) { d["windows"][0][0]["last_activity"] = "0"; })},
      {"a missing field", mutated([](json& d) { d["windows"][0][0].erase("note"); })},
      {"bad hex", mutated([](json& d) {
         d["windows"][0][0]["note"] = {{"hex", "0g"}};
       })},
      {"more times than the rule keeps", mutated([](json& d) {
         d["windows"][0][0]["times"] = {{0, 0}, {1, 1}, {2, 2}, {3, 3}};
       })},
      {"a key twice", mutated([](json& d) { d["windows"][0].push_back(d["windows"][0][0]); })},
      {"a rule's keys missing", mutated([](json& d) { d["windows"].erase(3); })},
      {"a saved rule without its type", mutated([](json& d) { d["rules"][1].erase("type"); })},
      {"no rules", mutated([](json& d) { d.erase("rules"); })},
      {"a chain's steps of the wrong number",
       mutated([](json& d) { d["windows"][2][0]["seen"] = {1}; })},
      {"a window counting more events than can be",
       mutated([](json& d) { d["windows"][3][0]["window_events"] = INT64_MAX; })},
      {"a window decided at its end with no event",
       mutated([](json& d) { d["windows"][3][0]["window_events"] = 0; })},
      {"a sliding window with a count",
       mutated([](json& d) { d["windows"][0][0]["window_events"] = 1; })},
      {"a sliding window that should have fired", mutated([](json& d) {
         d["windows"][0][0]["times"] = {{0, 0}, {1, 1}, {2, 2}};
       })},
  };
  for (const auto& [what, text] : damaged) {
    SCOPED_TRACE(what);
    auto r = same.RestoreWindows(text);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().message();
    EXPECT_EQ(same.SaveWindows(), untouched);
  }
}

TEST(CorrelationStateTest, ValuesThatAreNotUtf8ComeBackByteForByte) {
  const std::string ip("\xff\xfe\x00zz", 5);  // a JSON line's value may hold any bytes
  CorrelationTracker before(Rules(), 100);
  Feed(before, 0, 0, ip, 0);
  Feed(before, 0, 0, ip, 1);
  const std::string saved = before.SaveWindows();
  // The key ("0:source.ip=" and the value) as hex.
  EXPECT_NE(saved.find("{\"hex\":\"303a736f757263652e69703dfffe007a7a\"}"), std::string::npos)
      << saved;
  CorrelationTracker after(Rules(), 100);
  ASSERT_TRUE(after.RestoreWindows(saved).ok());
  const auto hits = Feed(after, 0, 0, ip, 2);
  ASSERT_EQ(hits.size(), 1u) << "the same key";
  EXPECT_EQ(hits[0].entity, "source.ip=" + ip);
}

// Addresses sprayed at one rule cannot push another rule's windows out of a save: each rule has
// its share of the bytes, filled with its most recently active keys.
TEST(CorrelationStateTest, EachRuleKeepsItsShareOfASave) {
  CorrelationTracker before(Rules(), 1000);
  Feed(before, 1, 0, "198.51.100.9", 0, "/api/v1/devices/1");
  Feed(before, 1, 0, "198.51.100.9", 1, "/api/v1/devices/2");
  for (int i = 0; i < 500; ++i) Feed(before, 0, 0, "10.9." + std::to_string(i), 2);
  size_t left_out = 0;
  const std::string saved = before.SaveWindows(/*max_bytes=*/40'000, &left_out);
  EXPECT_LE(saved.size(), 40'000u);
  EXPECT_GT(left_out, 0u);
  CorrelationTracker after(Rules(), 1000);
  auto taken = after.RestoreWindows(saved);
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  EXPECT_EQ(taken->keys + left_out, 501u);
  EXPECT_EQ(Feed(after, 1, 0, "198.51.100.9", 3, "/api/v1/devices/3").size(), 1u)
      << "the other rule's window was kept";
  EXPECT_EQ(Feed(after, 0, 0, "10.9.499", 3).size(), 0u) << "two of three";
  EXPECT_EQ(Feed(after, 0, 0, "10.9.499", 4).size(), 1u) << "the most recent spray key was kept";
  Feed(after, 0, 0, "10.9.0", 3);
  EXPECT_EQ(Feed(after, 0, 0, "10.9.0", 4).size(), 0u) << "the oldest was left out";
}

// The previous release wrote each rule's keys least recently active first (version 1): such a
// save is still taken up, in the same order of activity.
TEST(CorrelationStateTest, ASaveOfThePreviousVersionIsTakenUp) {
  CorrelationTracker before(Rules(), 100);
  HalfWay(before);
  for (int i = 0; i < 5; ++i) Feed(before, 0, 0, "192.0.2." + std::to_string(i), 30 + i);
  const std::string saved = before.SaveWindows();
  nlohmann::json old = nlohmann::json::parse(saved);
  ASSERT_EQ(old["version"], 2);
  old["version"] = 1;
  for (auto& keys : old["windows"]) std::reverse(keys.begin(), keys.end());
  CorrelationTracker after(Rules(), 100);
  auto taken = after.RestoreWindows(old.dump());
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  EXPECT_EQ(taken->keys, 9u);
  EXPECT_EQ(after.SaveWindows(), saved) << "the same keys in the same order of activity";
  CorrelationTracker capped(Rules(), /*max_keys_per_rule=*/2);
  ASSERT_TRUE(capped.RestoreWindows(old.dump()).ok());
  EXPECT_EQ(Feed(capped, 0, 0, "192.0.2.4", 40).size(), 0u) << "kept: two of three";
  EXPECT_EQ(Feed(capped, 0, 0, "192.0.2.4", 41).size(), 1u);
  EXPECT_EQ(Feed(capped, 0, 0, "203.0.113.7", 42).size(), 0u) << "the least recent, left out";
}

TEST(CorrelationStateTest, PastTheCapTheLeastRecentlyActiveKeysAreLeftOut) {
  CorrelationTracker before(Rules(), 100);
  for (int i = 0; i < 5; ++i) {
    const std::string ip = "192.0.2." + std::to_string(i);
    Feed(before, 0, 0, ip, i);
    Feed(before, 0, 0, ip, 10 + i);
  }
  CorrelationTracker after(Rules(), /*max_keys_per_rule=*/2);
  auto taken = after.RestoreWindows(before.SaveWindows());
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  EXPECT_EQ(taken->keys, 2u);
  EXPECT_TRUE(Feed(after, 0, 0, "192.0.2.0", 20).empty()) << "the oldest key was left out";
  EXPECT_EQ(Feed(after, 0, 0, "192.0.2.4", 20).size(), 1u) << "the most recent was taken up";
}

// What a window's events concerned comes back with it (a sliding window and one decided at its
// end, the latter reset with each window); a save without it, from before it was kept, is taken
// as concerning several things, never one it cannot vouch for.
TEST(CorrelationStateTest, WhatAWindowConcernedOutlivesARestart) {
  auto feed = [](CorrelationTracker& t, size_t index, int64_t minute, std::string_view about) {
    Event ev;
    ev.SetCopy(Field::kSourceIp, "203.0.113.9");
    ev.SetCopy(Field::kUrlPath, "/p");
    const std::string note = "n";
    const WindowNote window_note{note, minute * kMinute};
    std::vector<CorrelationHit> hits;
    t.OnMatch(index, 0, ev, minute * kMinute, &hits, &window_note, "", about);
    return hits;
  };
  CorrelationTracker before(Rules(), 100);
  EXPECT_TRUE(feed(before, 0, 0, "inst-a").empty());
  EXPECT_TRUE(feed(before, 0, 1, "inst-a").empty());
  EXPECT_TRUE(feed(before, 3, 2, "inst-a").empty());
  const std::string saved = before.SaveWindows();

  CorrelationTracker after(Rules(), 100);
  ASSERT_TRUE(after.RestoreWindows(saved).ok());
  auto hits = feed(after, 0, 3, "inst-a");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].concerns, "inst-a");
  after.CloseAllWindows(&hits);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[1].concerns, "inst-a") << "the rare window, decided at its end";

  CorrelationTracker mixed(Rules(), 100);
  ASSERT_TRUE(mixed.RestoreWindows(saved).ok());
  hits = feed(mixed, 0, 3, "inst-b");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].concerns, kMixedConcerns);

  nlohmann::json doc = nlohmann::json::parse(saved);
  for (auto& keys : doc["windows"]) {
    for (auto& key : keys) key.erase("concerns");
  }
  CorrelationTracker older(Rules(), 100);
  ASSERT_TRUE(older.RestoreWindows(doc.dump()).ok());
  hits = feed(older, 0, 3, "inst-a");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].concerns, kMixedConcerns);
}

}  // namespace correlation_state_test
}  // namespace rampart::detect
