// The notes a correlation's keys keep of the events they count (KeepCountedNotes), so that a
// hit shows those events and not only the one that completed it.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "detect/correlation.h"
#include "detect/event.h"

namespace rampart::detect {
namespace {

constexpr int64_t kNotesMinute = 60 * 1000;

CorrelationRule NotesRule(const std::string& rules, const std::string& type_and_condition) {
  auto r =
      ParseCorrelationRule("title: Counted\nid: counted\ncorrelation:\n  rules: " + rules +
                               "\n  group-by: [source.ip]\n  timespan: 10m\n" + type_and_condition,
                           "counted.yml");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : CorrelationRule{};
}

// Feeds events of correlation 0 with a note naming each ("ip/slot@minute").
std::vector<CorrelationHit> FeedNoted(CorrelationTracker& tracker, const std::string& ip,
                                      int minute, size_t slot = 0) {
  Event ev;
  ev.Set(Field::kSourceIp, ip);
  const int64_t at = minute * kNotesMinute;
  ev.set_timestamp_millis(at);
  const std::string note = ip + "/" + std::to_string(slot) + "@" + std::to_string(minute);
  std::vector<CorrelationHit> hits;
  tracker.OnMatch(0, slot, ev, at, &hits, nullptr, {}, {}, note);
  return hits;
}

TEST(CorrelationNotesTest, AnEventCountHitCarriesTheNewestCountedEventsOldestFirst) {
  CorrelationTracker tracker({NotesRule("[a]", "  type: event_count\n  condition: {gte: 5}\n")},
                             100);
  tracker.KeepCountedNotes(3, 1 << 20);
  ASSERT_TRUE(tracker.KeepsCountedNotes(0));
  // The first event falls out of the ten-minute window before the count is reached.
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 0).empty());
  for (int m : {20, 21, 22, 23}) EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", m).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.9", 23).empty()) << "another key keeps its own";
  auto hits = FeedNoted(tracker, "192.0.2.1", 24);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].value, 5);
  EXPECT_EQ(hits[0].counted_notes,
            (std::vector<std::string>{"192.0.2.1/0@21", "192.0.2.1/0@22", "192.0.2.1/0@23"}));
  // A fresh window starts without them.
  for (int m : {25, 26, 27, 28}) EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", m).empty());
  hits = FeedNoted(tracker, "192.0.2.1", 29);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes,
            (std::vector<std::string>{"192.0.2.1/0@26", "192.0.2.1/0@27", "192.0.2.1/0@28"}));
}

TEST(CorrelationNotesTest, AnEventCountKeepsNoMoreThanItCounts) {
  CorrelationTracker tracker({NotesRule("[a]", "  type: event_count\n  condition: {gte: 3}\n")},
                             100);
  tracker.KeepCountedNotes(9, 1 << 20);
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 0).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 1).empty());
  auto hits = FeedNoted(tracker, "192.0.2.1", 2);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, (std::vector<std::string>{"192.0.2.1/0@0", "192.0.2.1/0@1"}));
  // A condition of one counts only the completing event.
  CorrelationTracker single({NotesRule("[a]", "  type: event_count\n  condition: {gte: 1}\n")},
                            100);
  single.KeepCountedNotes(9, 1 << 20);
  hits = FeedNoted(single, "192.0.2.1", 0);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0].counted_notes.empty());
}

TEST(CorrelationNotesTest, ATemporalHitCarriesTheLatestEventOfEachOtherRule) {
  CorrelationTracker tracker({NotesRule("[a, b, c]", "  type: temporal\n")}, 100);
  tracker.KeepCountedNotes(9, 1 << 20);
  // (A time of 0 means "not seen" to a temporal window: these start at minute 1.)
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 1, 1).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 2, 0).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 3, 0).empty());
  auto hits = FeedNoted(tracker, "192.0.2.1", 4, 2);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, (std::vector<std::string>{"192.0.2.1/1@1", "192.0.2.1/0@3"}));
}

TEST(CorrelationNotesTest, AnOrderedTemporalKeepsOnlyEventsThatTookTheirPlace) {
  CorrelationTracker tracker({NotesRule("[a, b]", "  type: temporal_ordered\n")}, 100);
  tracker.KeepCountedNotes(9, 1 << 20);
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 1, 1).empty()) << "b before any a";
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 2, 0).empty());
  auto hits = FeedNoted(tracker, "192.0.2.1", 3, 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.1/0@2"});
}

// A later start overtakes an ordered sequence at some places while the older chain goes on to
// complete: the hit shows only the events of the chain that completed it.
TEST(CorrelationNotesTest, AnOrderedTemporalShowsOnlyTheChainThatCompleted) {
  CorrelationTracker tracker({NotesRule("[a, b, c, d]", "  type: temporal_ordered\n")}, 100);
  tracker.KeepCountedNotes(9, 1 << 20);
  for (auto [minute, slot] :
       std::vector<std::pair<int, size_t>>{{1, 0}, {2, 1}, {3, 2}, {4, 0}, {5, 1}}) {
    EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", minute, slot).empty()) << minute;
  }
  auto hits = FeedNoted(tracker, "192.0.2.1", 6, 3);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].first_millis, 1 * kNotesMinute) << "the chain that began at minute 1";
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.1/2@3"})
      << "a and b of that chain were overtaken by the one begun at minute 4";
}

// Events may arrive out of order: a late one is not kept in place of newer ones, and a full
// budget keeps the notes it holds rather than trading one for one that does not fit.
TEST(CorrelationNotesTest, TheNewestAreKeptWhateverOrderEventsArriveIn) {
  CorrelationTracker tracker({NotesRule("[a]", "  type: event_count\n  condition: {gte: 9}\n")},
                             100);
  tracker.KeepCountedNotes(2, 1 << 20);
  for (int m : {5, 6, 1}) EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", m).empty());
  for (int m : {2, 3, 4, 3, 2}) EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", m).empty());
  auto hits = FeedNoted(tracker, "192.0.2.1", 4);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, (std::vector<std::string>{"192.0.2.1/0@5", "192.0.2.1/0@6"}));

  CorrelationTracker tight({NotesRule("[a]", "  type: event_count\n  condition: {gte: 3}\n")}, 100);
  tight.KeepCountedNotes(1, 13);  // room for "192.0.2.1/0@1", not for "192.0.2.1/0@10"
  EXPECT_TRUE(FeedNoted(tight, "192.0.2.1", 1).empty());
  EXPECT_TRUE(FeedNoted(tight, "192.0.2.1", 10).empty()) << "too long even in the freed place";
  hits = FeedNoted(tight, "192.0.2.1", 11);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.1/0@1"});
}

TEST(CorrelationNotesTest, ACorrelationsNotesStayWithinItsBudget) {
  // Each note here is 13 or 14 bytes ("192.0.2.N/0@M"): the budget holds two.
  CorrelationTracker tracker({NotesRule("[a]", "  type: event_count\n  condition: {gte: 2}\n")},
                             100);
  tracker.KeepCountedNotes(9, 30);
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 0).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.2", 0).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.3", 0).empty()) << "counted, without its note";
  auto hits = FeedNoted(tracker, "192.0.2.3", 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].value, 2);
  EXPECT_TRUE(hits[0].counted_notes.empty());
  // A hit gives its notes back to the budget: the next key's first event keeps its note.
  hits = FeedNoted(tracker, "192.0.2.1", 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.1/0@0"});
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.4", 2).empty());
  hits = FeedNoted(tracker, "192.0.2.4", 3);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.4/0@2"});
  // So do keys swept as idle: 192.0.2.2's note leaves, and two new notes fit.
  tracker.Sweep(30 * kNotesMinute);
  EXPECT_EQ(tracker.tracked_keys(), 0u);
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.5", 30).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.6", 30).empty());
  hits = FeedNoted(tracker, "192.0.2.6", 31);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.6/0@30"});
}

TEST(CorrelationNotesTest, EvictedKeysGiveBackTheirNotes) {
  CorrelationTracker tracker({NotesRule("[a]", "  type: event_count\n  condition: {gte: 2}\n")}, 1);
  tracker.KeepCountedNotes(9, 20);  // one note
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 0).empty());
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.2", 0).empty()) << "evicts 192.0.2.1";
  EXPECT_EQ(tracker.evicted_keys(), 1u);
  auto hits = FeedNoted(tracker, "192.0.2.2", 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.2/0@0"});
}

TEST(CorrelationNotesTest, NotesMoveWithTheirWindowsAtAReload) {
  const CorrelationRule rule = NotesRule("[a]", "  type: event_count\n  condition: {gte: 3}\n");
  CorrelationTracker before({rule}, 100);
  before.KeepCountedNotes(9, 1 << 20);
  EXPECT_TRUE(FeedNoted(before, "192.0.2.1", 0).empty());
  EXPECT_TRUE(FeedNoted(before, "192.0.2.1", 1).empty());
  CorrelationTracker after({rule}, 100);
  after.KeepCountedNotes(9, 1 << 20);
  EXPECT_EQ(after.TakeWindowsFrom(before).keys, 1u);
  auto hits = FeedNoted(after, "192.0.2.1", 2);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, (std::vector<std::string>{"192.0.2.1/0@0", "192.0.2.1/0@1"}));
}

// A restart takes the notes up with their windows, as far as the new tracker keeps them.
TEST(CorrelationNotesTest, NotesAreSavedAndTakenUpWithTheirWindows) {
  const std::vector<CorrelationRule> rules = {
      NotesRule("[a]", "  type: event_count\n  condition: {gte: 4}\n"),
      NotesRule("[a, b]", "  type: temporal_ordered\n")};
  CorrelationTracker before(rules, 100);
  before.KeepCountedNotes(9, 1 << 20);
  for (int m : {1, 2, 3}) EXPECT_TRUE(FeedNoted(before, "192.0.2.1", m).empty());
  std::vector<CorrelationHit> hits;
  Event ev;
  ev.Set(Field::kSourceIp, "192.0.2.1");
  before.OnMatch(1, 0, ev, 2 * kNotesMinute, &hits, nullptr, {}, {}, "a@2");
  const std::string saved = before.SaveWindows();
  EXPECT_NE(saved.find(R"("counted":[[60000,0,0,"192.0.2.1/0@1"])"), std::string::npos) << saved;

  CorrelationTracker after(rules, 100);
  after.KeepCountedNotes(9, 1 << 20);
  ASSERT_TRUE(after.RestoreWindows(saved).ok());
  EXPECT_EQ(after.SaveWindows(), saved) << "taken up exactly";
  hits = FeedNoted(after, "192.0.2.1", 4);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes,
            (std::vector<std::string>{"192.0.2.1/0@1", "192.0.2.1/0@2", "192.0.2.1/0@3"}));
  hits.clear();
  after.OnMatch(1, 1, ev, 3 * kNotesMinute, &hits, nullptr, {}, {}, "b@3");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"a@2"});

  // A tracker that keeps fewer takes up the newest; one that keeps none, none.
  CorrelationTracker fewer(rules, 100);
  fewer.KeepCountedNotes(1, 1 << 20);
  ASSERT_TRUE(fewer.RestoreWindows(saved).ok());
  hits = FeedNoted(fewer, "192.0.2.1", 4);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].counted_notes, std::vector<std::string>{"192.0.2.1/0@3"});
  CorrelationTracker none(rules, 100);
  ASSERT_TRUE(none.RestoreWindows(saved).ok());
  EXPECT_EQ(none.SaveWindows().find(R"("counted":[)"), std::string::npos);

  // A note that names no rule of the correlation is damage.
  std::string damaged = saved;
  const size_t at = damaged.find(R"([60000,0,0,)");
  ASSERT_NE(at, std::string::npos);
  damaged.replace(at, 11, R"([60000,7,0,)");
  CorrelationTracker refused(rules, 100);
  refused.KeepCountedNotes(9, 1 << 20);
  auto taken = refused.RestoreWindows(damaged);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.status().message().find("counted note"), std::string::npos);
}

TEST(CorrelationNotesTest, NoNotesAreKeptUnlessAsked) {
  CorrelationTracker tracker({NotesRule("[a]", "  type: event_count\n  condition: {gte: 2}\n")},
                             100);
  EXPECT_FALSE(tracker.KeepsCountedNotes(0));
  EXPECT_TRUE(FeedNoted(tracker, "192.0.2.1", 0).empty());
  auto hits = FeedNoted(tracker, "192.0.2.1", 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0].counted_notes.empty());
  // Nor for a window decided as it closes, which keeps its own note.
  CorrelationTracker bounded({NotesRule("[a]", "  type: event_count\n  condition: {lt: 3}\n")},
                             100);
  bounded.KeepCountedNotes(9, 1 << 20);
  EXPECT_FALSE(bounded.KeepsCountedNotes(0));
}

}  // namespace
}  // namespace rampart::detect
