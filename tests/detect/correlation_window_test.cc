// Correlations whose condition has an upper bound (lt, lte, eq, ranges): tumbling windows per
// key, decided when a later event of the key lies a timespan away, when the key has been idle a
// timespan, or when the input ends.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "detect/correlation.h"
#include "detect/event.h"

namespace rampart::detect {
namespace {

constexpr int64_t kMinute = 60 * 1000;

CorrelationRule Rule(const std::string& type_and_condition) {
  auto r = ParseCorrelationRule(
      "title: Rare\nid: rare\ncorrelation:\n  rules: [a]\n  group-by: [source.ip]\n"
      "  timespan: 10m\n" +
          type_and_condition,
      "rare.yml");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : CorrelationRule{};
}

// Feeds one event of `ip` (and `path`) at `minute`, with a note naming it.
class Windows {
 public:
  explicit Windows(CorrelationRule rule, size_t max_keys = 100) : tracker_({rule}, max_keys) {}

  std::vector<CorrelationHit> Feed(const std::string& ip, double minute,
                                   const std::string& path = "/p", int64_t arrival_minute = -1) {
    Event ev;
    ip_ = ip;
    path_ = path;
    ev.Set(Field::kSourceIp, ip_);
    ev.Set(Field::kUrlPath, path_);
    const auto at = static_cast<int64_t>(minute * kMinute);
    ev.set_timestamp_millis(at);
    const std::string note = ip + "@" + std::to_string(minute);
    const WindowNote window_note{note, arrival_minute < 0 ? at : arrival_minute * kMinute};
    std::vector<CorrelationHit> hits;
    tracker_.OnMatch(0, 0, ev, at, &hits, &window_note);
    return hits;
  }
  CorrelationTracker& tracker() { return tracker_; }

 private:
  CorrelationTracker tracker_;
  std::string ip_, path_;
};

TEST(CorrelationWindowTest, FewerThanIsDecidedWhenTheInputEnds) {
  Windows w(Rule("  type: event_count\n  condition: {lt: 3}\n"));
  for (double m : {0.0, 1.0}) EXPECT_TRUE(w.Feed("192.0.2.1", m).empty());
  for (double m : {0.0, 2.0, 3.0, 4.0}) EXPECT_TRUE(w.Feed("192.0.2.2", m).empty());
  EXPECT_TRUE(w.Feed("192.0.2.3", 5).empty());
  EXPECT_EQ(w.tracker().tracked_keys(), 3u);
  std::vector<CorrelationHit> hits;
  w.tracker().CloseAllWindows(&hits);
  ASSERT_EQ(hits.size(), 2u) << "192.0.2.2 made four requests, not fewer than three";
  EXPECT_EQ(hits[0].entity, "source.ip=192.0.2.1");
  EXPECT_EQ(hits[0].value, 2);
  EXPECT_TRUE(hits[0].at_window_end);
  EXPECT_EQ(hits[0].first_millis, 0);
  EXPECT_EQ(hits[0].last_millis, 1 * kMinute);
  EXPECT_EQ(hits[0].note, "192.0.2.1@1.000000") << "the note of the last event counted";
  EXPECT_EQ(hits[0].group,
            (std::vector<std::pair<std::string, std::string>>{{"source.ip", "192.0.2.1"}}));
  EXPECT_EQ(hits[1].entity, "source.ip=192.0.2.3");
  EXPECT_EQ(hits[1].value, 1);
  EXPECT_EQ(w.tracker().tracked_keys(), 0u);
  hits.clear();
  w.tracker().CloseAllWindows(&hits);
  EXPECT_TRUE(hits.empty()) << "a window is decided once";
}

// Windows tumble from a key's first event: the event a timespan or more after it decides the
// window and opens the next, which is decided on its own.
TEST(CorrelationWindowTest, AnEventATimespanLaterDecidesTheWindowAndOpensTheNext) {
  Windows w(Rule("  type: event_count\n  condition: {gt: 1, lte: 3}\n"));
  EXPECT_TRUE(w.Feed("192.0.2.1", 0).empty());
  EXPECT_TRUE(w.Feed("192.0.2.1", 4).empty());
  EXPECT_TRUE(w.Feed("192.0.2.1", 9.9).empty());
  auto hits = w.Feed("192.0.2.1", 10);  // 10 minutes from the first: the next window
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].value, 3);
  EXPECT_EQ(hits[0].note, "192.0.2.1@9.900000");
  EXPECT_EQ(hits[0].last_millis, static_cast<int64_t>(9.9 * kMinute));
  // The next window holds one event: not more than one, so no hit.
  EXPECT_TRUE(w.Feed("192.0.2.1", 30).empty());
  // Four in one window: more than three.
  for (double m : {31.0, 32.0, 33.0}) EXPECT_TRUE(w.Feed("192.0.2.1", m).empty());
  EXPECT_TRUE(w.Feed("192.0.2.1", 40).empty()) << "30 to 33: four events, over the range";
  hits.clear();
  w.tracker().CloseAllWindows(&hits);
  EXPECT_TRUE(hits.empty()) << "the window from minute 40 holds one event";
}

// An older log scanned after a newer one goes back in time: its events are not counted with
// the newer window, which they decide.
TEST(CorrelationWindowTest, AnEventATimespanEarlierIsNotCountedWithTheWindow) {
  Windows w(Rule("  type: event_count\n  condition: {eq: 2}\n"));
  EXPECT_TRUE(w.Feed("192.0.2.1", 100).empty());
  EXPECT_TRUE(w.Feed("192.0.2.1", 101).empty());
  auto hits = w.Feed("192.0.2.1", 50);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].first_millis, 100 * kMinute);
  EXPECT_EQ(hits[0].value, 2);
  // Slightly out of order is still the same window.
  EXPECT_TRUE(w.Feed("192.0.2.1", 49).empty());
  hits.clear();
  w.tracker().CloseAllWindows(&hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].first_millis, 49 * kMinute);
  EXPECT_EQ(hits[0].last_millis, 50 * kMinute);
  EXPECT_EQ(hits[0].note, "192.0.2.1@50.000000") << "the latest event's, though fed first";
}

// Arrivals need not be in order (a scan's log times): a recent key does not hold back the
// idle ones behind it.
TEST(CorrelationWindowTest, IdleWindowsAreFoundWhateverOrderTheyArrivedIn) {
  Windows w(Rule("  type: event_count\n  condition: {lt: 3}\n"));
  w.Feed("192.0.2.2", 30);
  w.Feed("192.0.2.1", 0);
  w.Feed("192.0.2.3", 31);
  std::vector<CorrelationHit> hits;
  w.tracker().CloseIdleWindows(31 * kMinute, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entity, "source.ip=192.0.2.1");
  EXPECT_EQ(w.tracker().tracked_keys(), 2u);
}

// Times come from logs: the extremes of int64 are a timespan apart, without overflow (UBSan
// would stop here).
TEST(CorrelationWindowTest, TimesAtTheEndsOfTheRangeTumbleWithoutOverflow) {
  Windows w(Rule("  type: event_count\n  condition: {lt: 3}\n"));
  Event ev;
  ev.Set(Field::kSourceIp, "192.0.2.1");
  std::vector<CorrelationHit> hits;
  w.tracker().OnMatch(0, 0, ev, INT64_MAX, &hits);
  w.tracker().OnMatch(0, 0, ev, INT64_MIN, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].last_millis, INT64_MAX);
  w.tracker().CloseIdleWindows(INT64_MAX, &hits);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[1].first_millis, INT64_MIN);
  w.tracker().Sweep(INT64_MIN);
  w.tracker().CloseAllWindows(&hits);
  EXPECT_EQ(hits.size(), 2u);
}

TEST(CorrelationWindowTest, FewDistinctValuesAreCountedAndNamed) {
  Windows w(Rule("  type: value_count\n  condition: {field: url.path, lte: 2}\n"));
  w.Feed("192.0.2.1", 0, "/b");
  w.Feed("192.0.2.1", 1, "/a");
  w.Feed("192.0.2.1", 2, "/b");
  w.Feed("192.0.2.1", 3, "/a");
  // 192.0.2.2 reads three distinct paths: over the bound, however often.
  for (int i = 0; i < 20; ++i) w.Feed("192.0.2.2", i * 0.1, "/" + std::to_string(i % 3));
  std::vector<CorrelationHit> hits;
  w.tracker().CloseAllWindows(&hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entity, "source.ip=192.0.2.1");
  EXPECT_EQ(hits[0].value, 2);
  EXPECT_EQ(hits[0].values, (std::vector<std::string>{"/b", "/a"})) << "by first time";
}

// Live: a window is decided once no event of its key has arrived for a timespan, by the
// engine's clock, whatever the events' own times (a followed log catching up after a restart).
TEST(CorrelationWindowTest, IdleWindowsCloseByArrivalNotByTheEventsTimes) {
  Windows w(Rule("  type: event_count\n  condition: {lt: 5}\n"));
  // Yesterday's lines, read now (minute 1000), and one of today's at 1002.
  w.Feed("192.0.2.1", 0, "/p", 1000);
  w.Feed("192.0.2.1", 1, "/p", 1001);
  w.Feed("192.0.2.2", 1002, "/p", 1002);
  std::vector<CorrelationHit> hits;
  w.tracker().CloseIdleWindows(1005 * kMinute, &hits);
  EXPECT_TRUE(hits.empty()) << "both arrived less than ten minutes ago";
  w.tracker().CloseIdleWindows(1011 * kMinute, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entity, "source.ip=192.0.2.1");
  EXPECT_EQ(hits[0].value, 2);
  EXPECT_EQ(w.tracker().tracked_keys(), 1u);
  hits.clear();
  w.tracker().CloseIdleWindows(1012 * kMinute, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entity, "source.ip=192.0.2.2");
  // Sweep leaves these windows to the calls that decide them.
  w.Feed("192.0.2.3", 2000);
  w.tracker().Sweep(3000 * kMinute);
  EXPECT_EQ(w.tracker().tracked_keys(), 1u);
}

// Past the cap, the least recently active window is dropped undecided: deciding it early would
// report "fewer than" for a count that was still growing.
TEST(CorrelationWindowTest, EvictedWindowsAreCountedNotDecided) {
  Windows w(Rule("  type: event_count\n  condition: {lt: 3}\n"), /*max_keys=*/2);
  w.Feed("192.0.2.1", 0);
  w.Feed("192.0.2.2", 1);
  EXPECT_TRUE(w.Feed("192.0.2.3", 2).empty());
  EXPECT_EQ(w.tracker().evicted_keys(), 1u);
  std::vector<CorrelationHit> hits;
  w.tracker().CloseAllWindows(&hits);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].entity, "source.ip=192.0.2.2");
  EXPECT_EQ(hits[1].entity, "source.ip=192.0.2.3");
}

// Scopes (the live engine's institutions) never share a window, whatever bytes a group value
// holds: a value spelled as another scope's key does not reach that scope's window.
TEST(CorrelationWindowTest, AScopeIsNeverReachedThroughAGroupValue) {
  auto rule = ParseCorrelationRule(
      "title: Two\nid: two\ncorrelation:\n  type: event_count\n  rules: [a]\n"
      "  group-by: [source.ip]\n  timespan: 10m\n  condition: {gte: 2}\n",
      "two.yml");
  ASSERT_TRUE(rule.ok()) << rule.status().message();
  CorrelationTracker tracker({*rule}, 10);
  const std::string forged("192.0.2.1\0inst-a", 16);
  Event scoped, unscoped;
  scoped.Set(Field::kSourceIp, "192.0.2.1");
  unscoped.Set(Field::kSourceIp, forged);
  std::vector<CorrelationHit> hits;
  tracker.OnMatch(0, 0, scoped, 0, &hits, nullptr, "inst-a");
  tracker.OnMatch(0, 0, unscoped, 1000, &hits);
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(tracker.tracked_keys(), 2u);
  tracker.OnMatch(0, 0, scoped, 2000, &hits, nullptr, "inst-a");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entity, "source.ip=192.0.2.1") << "the scope is not part of the entity";
}

// A correlation decided at its window's end has no event for a chain to group by.
TEST(CorrelationWindowTest, ABoundedCorrelationCannotFeedAnother) {
  RuleSetBuilder builder;
  ASSERT_TRUE(builder
                  .AddRuleText(R"(title: Base
id: base
name: base
logsource: {category: webserver}
detection:
  sel: {cs-method: GET}
  condition: sel
)",
                               "base.yml")
                  .ok());
  auto rules = builder.Build();
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  const std::string rare =
      "title: Rare\nid: rare\nname: rare\ncorrelation:\n  type: event_count\n  rules: [base]\n"
      "  group-by: [source.ip]\n  timespan: 10m\n  condition: {lt: 3}\n";
  const std::string outer =
      "title: Outer\nid: outer\ncorrelation:\n  type: event_count\n  rules: [rare]\n"
      "  group-by: [source.ip]\n  timespan: 1h\n  condition: {gte: 2}\n";
  LinkedCorrelations linked = LinkCorrelations(**rules, {{"rare.yml", rare}, {"outer.yml", outer}});
  ASSERT_EQ(linked.rules.size(), 1u);
  EXPECT_EQ(linked.rules[0].info.id, "rare");
  ASSERT_EQ(linked.skipped.size(), 1u);
  EXPECT_EQ(linked.skipped[0].title, "Outer");
  EXPECT_NE(linked.skipped[0].reason.find("has an upper bound and so cannot feed another"),
            std::string::npos)
      << linked.skipped[0].reason;
}

}  // namespace
}  // namespace rampart::detect
