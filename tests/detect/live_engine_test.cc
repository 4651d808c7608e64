// The live engine: the bounded event queue, thresholds and correlations over a manual clock,
// canaries, alert grouping keys, suppression of rules that only feed correlations.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "common/clock.h"
#include "detect/bounded_queue.h"
#include "detect/correlation.h"
#include "detect/event.h"
#include "detect/live_engine.h"
#include "detect/log_parser.h"
#include "detect/readability.h"
#include "support/recording_alert_handler.h"

namespace rampart::detect {
namespace {

constexpr int64_t kStart = 1'769'760'000'000;  // 2026-01-30, ms

// A base rule on 404s under /api/v1/devices/ plus one correlation given as text.
std::vector<std::string> RulesWithCorrelation(const std::string& correlation) {
  return {R"(title: Device 404
id: base-404
name: device_404
logsource: {product: rampart}
detection:
  sel:
    url.path|startswith: /api/v1/devices/
    http.response.status_code: 404
  condition: sel
level: low
tags: [attack.t1087]
)",
          correlation};
}

// Three distinct device paths probed by one address within 30 minutes.
constexpr std::string_view kDistinctIds = R"(title: Distinct ids
id: distinct-404
correlation:
  type: value_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 30m
  condition: {gte: 3, field: url.path}
tags: [attack.t1087]
)";

SecurityEvent Probe(const std::string& ip, const std::string& path, int status = 404) {
  SecurityEvent ev("http.request");
  ev.Set("source.ip", ip).Set("url.path", path).Set("url.original", path);
  ev.Set("http.request.method", "GET").Set("http.response.status_code", std::to_string(status));
  return ev;
}

// A connection the server opened (an egress log), and a request of the kind `web.exploit`.
SecurityEvent Connection(const std::string& from, const std::string& to) {
  SecurityEvent e("network.connection");
  e.Set("source.ip", from).Set("destination.ip", to);
  return e;
}

SecurityEvent WebExploit(const std::string& ip) {
  SecurityEvent e("web.exploit");
  e.Set("source.ip", ip);
  return e;
}

// The reasons of the skipped rules, by title.
std::map<std::string, std::string> SkipReasons(const LiveEngine& engine) {
  std::map<std::string, std::string> reasons;
  for (const auto& s : engine.skipped()) reasons[s.title] = s.reason;
  return reasons;
}

struct Harness {
  explicit Harness(LiveEngineOptions opt) : clock(kStart) {
    auto e = LiveEngine::Create(std::move(opt), &clock, &rec);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (e.ok()) engine = std::move(e).value();
  }
  // Emits at the clock's time and processes inline.
  void At(int64_t seconds_from_start, SecurityEvent ev) {
    clock.SetMillis(kStart + seconds_from_start * 1000);
    ev.timestamp_millis = clock.NowMillis();
    engine->Emit(std::move(ev));
    engine->ProcessPending();
  }
  ManualClock clock;
  testing::RecordingAlertHandler rec;
  std::unique_ptr<LiveEngine> engine;
};

TEST(BoundedQueueTest, FixedCapacityDropsAndCountsWhenFull) {
  BoundedQueue<int> q(3);
  EXPECT_TRUE(q.TryPush(1));
  EXPECT_TRUE(q.TryPush(2));
  EXPECT_TRUE(q.TryPush(3));
  EXPECT_FALSE(q.TryPush(4));
  EXPECT_FALSE(q.TryPush(5));
  EXPECT_EQ(q.dropped(), 2u);
  int v = 0;
  ASSERT_TRUE(q.TryPop(&v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(q.TryPush(6));
  std::vector<int> rest;
  while (q.TryPop(&v)) rest.push_back(v);
  EXPECT_EQ(rest, (std::vector<int>{2, 3, 6}));
  EXPECT_TRUE(q.Empty());
}

TEST(BoundedQueueTest, ManyProducersLoseNothingButWhatTheyCount) {
  BoundedQueue<int> q(1024);
  std::atomic<bool> done{false};
  std::atomic<int64_t> popped{0};
  std::thread consumer([&] {
    int v;
    while (!done.load() || !q.Empty()) {
      if (q.TryPop(&v)) ++popped;
    }
  });
  std::vector<std::thread> producers;
  std::atomic<int64_t> accepted{0};
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) accepted += q.TryPush(int{i}) ? 1 : 0;
    });
  }
  for (auto& t : producers) t.join();
  done = true;
  consumer.join();
  EXPECT_EQ(popped.load(), accepted.load());
  EXPECT_EQ(static_cast<int64_t>(q.dropped()) + accepted.load(), 200000);
}

TEST(LiveEngineTest, FullQueueDropsAndTheDropRaisesAnAlert) {
  LiveEngineOptions opt;
  opt.queue_capacity = 4;
  Harness h(opt);
  for (int i = 0; i < 10; ++i) h.engine->Emit(Probe("192.0.2.1", "/x", 200));
  EXPECT_EQ(h.engine->stats().dropped, 6u);
  EXPECT_EQ(h.engine->ProcessPending(), 4u);
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "rampart-detection-events-dropped");
  EXPECT_EQ(alerts[0].count, 6);
  EXPECT_EQ(alerts[0].severity, "high");
  EXPECT_TRUE(alerts[0].institution_id.empty()) << "server-wide";
  // Reported once: no new drops, no new alert.
  h.engine->ProcessPending();
  EXPECT_TRUE(h.rec.Take().empty());
  // A producer that waits (TryEmit) is refused without a drop; losses reported from upstream
  // (a syslog socket the kernel overflowed) are drops like the queue's own.
  for (int i = 0; i < 4; ++i) h.engine->Emit(Probe("192.0.2.1", "/x", 200));
  SecurityEvent waiting = Probe("192.0.2.2", "/y", 200);
  EXPECT_FALSE(h.engine->TryEmit(waiting));
  EXPECT_EQ(waiting.Get("url.path"), "/y") << "left to the producer";
  EXPECT_EQ(h.engine->stats().dropped, 6u);
  h.engine->ReportLost(3);
  h.engine->ProcessPending();
  EXPECT_TRUE(h.engine->TryEmit(waiting));
  alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "rampart-detection-events-dropped");
  EXPECT_EQ(alerts[0].count, 3);
}

TEST(LiveEngineTest, SlowProbeEveryTenMinutesIsCaughtInAnHourWindow) {
  LiveEngineOptions opt;
  opt.rule_texts = RulesWithCorrelation(R"(title: Slow device 404s
id: slow-404
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 1h
  condition: {gte: 6}
level: high
tags: [attack.t1087]
)");
  Harness h(opt);
  ASSERT_EQ(h.engine->correlation_count(), 1u);
  // One probe every 10 minutes: the sixth, 50 minutes after the first, completes the count.
  for (int i = 0; i < 5; ++i)
    h.At(i * 600, Probe("203.0.113.7", "/api/v1/devices/d" + std::to_string(i)));
  EXPECT_EQ(h.rec.CountRule("slow-404"), 0u);
  h.At(5 * 600, Probe("203.0.113.7", "/api/v1/devices/d5"));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u) << "the base rule feeds the correlation and alerts not itself";
  EXPECT_EQ(alerts[0].rule_id, "slow-404");
  EXPECT_EQ(alerts[0].entity, "source.ip=203.0.113.7");
  EXPECT_EQ(alerts[0].attack, std::vector<std::string>{"T1087"});
  // The evidence is the probes the window counted, oldest first, then the completing one,
  // whose window starts an hour before it, so that an incident's impact reaches the first probe.
  ASSERT_EQ(alerts[0].evidence.size(), 6u);
  for (int i = 0; i < 5; ++i) {
    auto counted = nlohmann::json::parse(alerts[0].evidence[static_cast<size_t>(i)]);
    EXPECT_EQ(counted["url.path"], "/api/v1/devices/d" + std::to_string(i)) << counted.dump();
    EXPECT_EQ(counted["@timestamp"], "2026-01-30T08:" + std::to_string(i) + "0:00.000Z");
    EXPECT_FALSE(counted.contains("correlation.type")) << "only the completing event's";
  }
  auto evidence = nlohmann::json::parse(alerts[0].evidence[5]);
  EXPECT_EQ(evidence["url.path"], "/api/v1/devices/d5");
  EXPECT_EQ(evidence["correlation.timespan_seconds"], 3600) << evidence.dump();
  EXPECT_TRUE(evidence.contains("correlation.window_start")) << evidence.dump();
  // The alert spans the six probes: from the first, 50 minutes before the evidence.
  EXPECT_EQ(alerts[0].first_seen_ms, kStart);
  EXPECT_EQ(alerts[0].last_seen_ms, kStart + 5 * 600 * 1000);
  EXPECT_EQ(alerts[0].count, 6);
  EXPECT_EQ(evidence["correlation.first_event"], "2026-01-30T08:00:00.000Z") << evidence.dump();
  // Thirteen minutes apart, six probes span 65 minutes: never six inside one hour.
  for (int i = 0; i < 12; ++i) h.At(10000 + i * 780, Probe("198.51.100.2", "/api/v1/devices/x"));
  EXPECT_EQ(h.rec.CountRule("slow-404"), 0u);
}

// Hits of one correlation and entity within a second are delivered as one alert (the first at
// once, the rest folded at housekeeping), and the folded one still ends with the event that
// completed the latest hit, as the store keeps them.
TEST(LiveEngineTest, FoldedCorrelationAlertsEndWithTheLatestCompletingEvent) {
  LiveEngineOptions opt;
  opt.max_evidence = 10;
  opt.rule_texts = RulesWithCorrelation(R"(title: Burst of device 404s
id: burst-404
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 1h
  condition: {gte: 3}
level: high
)");
  Harness h(opt);
  for (int i = 0; i < 15; ++i) {
    SecurityEvent probe = Probe("203.0.113.7", "/api/v1/devices/d" + std::to_string(i));
    probe.timestamp_millis = kStart + i;
    h.engine->Emit(std::move(probe));
  }
  h.engine->ProcessPending();
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 2u) << "the first hit at once, the four after it folded";
  EXPECT_EQ(alerts[0].count, 3);
  ASSERT_EQ(alerts[0].evidence.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(alerts[0].evidence[2])["url.path"], "/api/v1/devices/d2");
  EXPECT_EQ(alerts[1].count, 12);
  ASSERT_EQ(alerts[1].evidence.size(), 10u);
  auto last = nlohmann::json::parse(alerts[1].evidence.back());
  EXPECT_EQ(last["url.path"], "/api/v1/devices/d14") << last.dump();
  EXPECT_EQ(last["correlation.type"], "event_count") << "the completing event's own fields";
  auto first = nlohmann::json::parse(alerts[1].evidence.front());
  EXPECT_EQ(first["url.path"], "/api/v1/devices/d3") << "how the folded hits began";
}

// "Fewer than three" device 404s from one address in ten minutes: decided when a window ends.
std::vector<std::string> FewDevice404sRules() {
  return RulesWithCorrelation(R"(title: Few device 404s
id: few-404
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 10m
  condition: {lt: 3}
level: medium
tags: [attack.t1087]
)");
}

// "Fewer than three" is known only when the window is over: the engine decides it once no
// event of the key has arrived for the timespan, and raises it with the last event it counted.
TEST(LiveEngineTest, FewerThanIsRaisedWhenTheKeysWindowHasBeenIdleATimespan) {
  LiveEngineOptions opt;
  opt.rule_texts = FewDevice404sRules();
  Harness h(opt);
  ASSERT_EQ(h.engine->correlation_count(), 1u);
  auto in_institution = [](SecurityEvent ev) {  // signed in there
    ev.institution_id = "inst-eu";
    ev.actor_institution_id = "inst-eu";
    return ev;
  };
  h.At(0, in_institution(Probe("203.0.113.7", "/api/v1/devices/a")));
  h.At(60, in_institution(Probe("203.0.113.7", "/api/v1/devices/b")));
  for (int s : {120, 180, 240}) h.At(s, Probe("198.51.100.2", "/api/v1/devices/c"));
  h.clock.SetMillis(kStart + 659 * 1000);
  h.engine->ProcessPending();
  EXPECT_TRUE(h.rec.Take().empty()) << "203.0.113.7's last probe arrived under ten minutes ago";
  h.clock.SetMillis(kStart + 660 * 1000);
  h.engine->ProcessPending();
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "few-404");
  EXPECT_EQ(alerts[0].severity, "medium");
  EXPECT_EQ(alerts[0].entity, "source.ip=203.0.113.7");
  EXPECT_EQ(alerts[0].institution_id, "inst-eu");
  EXPECT_EQ(alerts[0].count, 2);
  EXPECT_EQ(alerts[0].first_seen_ms, kStart);
  EXPECT_EQ(alerts[0].last_seen_ms, kStart + 60 * 1000);
  ASSERT_EQ(alerts[0].evidence.size(), 1u);
  auto evidence = nlohmann::json::parse(alerts[0].evidence[0]);
  EXPECT_EQ(evidence["url.path"], "/api/v1/devices/b") << "the last probe counted";
  EXPECT_EQ(evidence["correlation.value"], 2);
  EXPECT_EQ(evidence["correlation.window_start"], "2026-01-30T08:00:00.000Z");
  EXPECT_EQ(evidence["correlation.window_end"], "2026-01-30T08:10:00.000Z");
  // Three probes are not fewer than three.
  h.clock.SetMillis(kStart + 3600 * 1000);
  h.engine->ProcessPending();
  EXPECT_TRUE(h.rec.Take().empty());
  EXPECT_EQ(h.engine->stats().tracked_keys, 0u);
  // A probe a timespan after a window's first decides it at once; the alert is still the
  // window's, with the last probe it counted, not the one that decided it.
  h.At(4000, in_institution(Probe("192.0.2.4", "/api/v1/devices/e")));
  h.At(4600, Probe("192.0.2.4", "/api/v1/devices/f"));
  alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].entity, "source.ip=192.0.2.4");
  EXPECT_EQ(alerts[0].institution_id, "inst-eu");
  EXPECT_EQ(alerts[0].count, 1);
  EXPECT_EQ(alerts[0].last_seen_ms, kStart + 4000 * 1000);
  EXPECT_EQ(nlohmann::json::parse(alerts[0].evidence[0])["url.path"], "/api/v1/devices/e");
  EXPECT_EQ(h.engine->stats().tracked_keys, 1u) << "the probe at 4600 opened the next window";
  // An open window keeps its latest event's evidence, cut short when it is large: the engine
  // holds one per key.
  SecurityEvent large = Probe("192.0.2.5", "/api/v1/devices/g");
  for (int i = 0; i < 40; ++i) large.Set("labels.x" + std::to_string(i), std::string(400, 'v'));
  large.institution_id = std::string("inst\0nul", 8);
  large.actor_institution_id = large.institution_id;
  h.At(8000, std::move(large));
  h.clock.SetMillis(kStart + 8600 * 1000);
  h.engine->ProcessPending();
  alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 2u) << "192.0.2.4's window at 4600, then 192.0.2.5's";
  EXPECT_EQ(alerts[1].entity, "source.ip=192.0.2.5");
  EXPECT_EQ(alerts[1].institution_id, std::string("inst\0nul", 8));
  EXPECT_LT(alerts[1].evidence[0].size(), 3000u);
  auto cut = nlohmann::json::parse(alerts[1].evidence[0]);
  EXPECT_EQ(cut["evidence.truncated"], true);
  EXPECT_EQ(cut["source.ip"], "192.0.2.5");
  EXPECT_EQ(cut["correlation.value"], 1);
}

// A correlation with an upper bound fed by a chained one: "one burst of probes in an hour, then
// nothing". The burst's completing probe is what the hour's window keeps.
TEST(LiveEngineTest, AnUpperBoundFedByAChainKeepsTheEventThatCompletedTheInnerHit) {
  LiveEngineOptions opt;
  opt.rule_texts = RulesWithCorrelation(R"(title: Burst of device 404s
id: burst-404
name: burst_404
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 2}
---
title: A single burst in an hour
id: single-burst
correlation:
  type: event_count
  rules: [burst_404]
  group-by: [source.ip]
  timespan: 1h
  condition: {eq: 1}
level: medium
)");
  Harness h(opt);
  ASSERT_EQ(h.engine->correlation_count(), 2u);
  h.At(0, Probe("203.0.113.7", "/api/v1/devices/a"));
  h.At(10, Probe("203.0.113.7", "/api/v1/devices/b"));
  EXPECT_TRUE(h.rec.Take().empty()) << "the burst only feeds the hour's count";
  h.clock.SetMillis(kStart + 3609 * 1000);
  h.engine->ProcessPending();
  EXPECT_TRUE(h.rec.Take().empty());
  h.clock.SetMillis(kStart + 3610 * 1000);
  h.engine->ProcessPending();
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "single-burst");
  EXPECT_EQ(alerts[0].count, 1);
  EXPECT_EQ(alerts[0].first_seen_ms, kStart) << "the burst's first probe, through the chain";
  EXPECT_EQ(alerts[0].last_seen_ms, kStart + 10 * 1000);
  EXPECT_EQ(nlohmann::json::parse(alerts[0].evidence[0])["url.path"], "/api/v1/devices/b");
}

// Rotated logs scanned newest first go back in time: yesterday's probes are not counted with
// today's. Slightly out-of-order events (several sources) still are.
TEST(LiveEngineTest, TimesAWindowAheadAreNotCountedWithEarlierOnes) {
  LiveEngineOptions opt;
  opt.rule_texts = RulesWithCorrelation(R"(title: Device 404s
id: many-404
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3}
level: high
)");
  Harness h(opt);
  const int64_t day = 24 * 3600;
  h.At(day, Probe("203.0.113.7", "/api/v1/devices/a"));
  h.At(day + 60, Probe("203.0.113.7", "/api/v1/devices/b"));
  h.At(0, Probe("203.0.113.7", "/api/v1/devices/c"));
  EXPECT_EQ(h.rec.CountRule("many-404"), 0u) << "three probes a day apart";
  h.At(day + 120, Probe("198.51.100.2", "/api/v1/devices/a"));
  h.At(day + 180, Probe("198.51.100.2", "/api/v1/devices/b"));
  h.At(day + 100, Probe("198.51.100.2", "/api/v1/devices/c"));
  EXPECT_EQ(h.rec.CountRule("many-404"), 1u) << "a late event inside the window still counts";
}

TEST(LiveEngineTest, ValueCountCountsDistinctValuesInTheWindow) {
  LiveEngineOptions opt;
  opt.rule_texts = RulesWithCorrelation(std::string(kDistinctIds));
  Harness h(opt);
  h.At(0, Probe("192.0.2.9", "/api/v1/devices/a"));
  h.At(60, Probe("192.0.2.9", "/api/v1/devices/a"));
  h.At(120, Probe("192.0.2.9", "/api/v1/devices/b"));
  EXPECT_EQ(h.rec.CountRule("distinct-404"), 0u) << "a repeated path counts once";
  // 'a' falls out of the 30-minute window before 'c' arrives.
  h.At(1900, Probe("192.0.2.9", "/api/v1/devices/c"));
  EXPECT_EQ(h.rec.CountRule("distinct-404"), 0u);
  h.At(1910, Probe("192.0.2.9", "/api/v1/devices/d"));  // b (120 s) is still inside
  EXPECT_EQ(h.rec.CountRule("distinct-404"), 1u);
  // The alert names what was enumerated, spans it from its first value, and counts it.
  std::vector<core::Alert> alerts;
  for (auto& a : h.rec.Take()) {
    if (a.rule_id == "distinct-404") alerts.push_back(a);
  }
  ASSERT_EQ(alerts.size(), 1u);
  auto evidence = nlohmann::json::parse(alerts[0].evidence[0]);
  EXPECT_EQ(evidence["correlation.values"],
            nlohmann::json::array({"/api/v1/devices/b", "/api/v1/devices/c", "/api/v1/devices/d"}));
  EXPECT_EQ(alerts[0].first_seen_ms, kStart + 120 * 1000);
  EXPECT_EQ(alerts[0].last_seen_ms, kStart + 1910 * 1000);
  EXPECT_EQ(alerts[0].count, 3);
}

// Institutions never share a window: an alert raised for one lists none of another's ids, even
// when their signed-in users come from one address.
// Two institutions' staff signed in from one address (two offices behind one NAT) never share
// a window.
TEST(LiveEngineTest, InstitutionsNeverShareACorrelationWindow) {
  LiveEngineOptions opt;
  opt.rule_texts = RulesWithCorrelation(std::string(kDistinctIds));
  Harness h(opt);
  auto from = [](const std::string& institution, const std::string& path) {
    SecurityEvent ev = Probe("192.0.2.9", path);
    ev.institution_id = institution;
    ev.actor_institution_id = institution;
    return ev;
  };
  h.At(0, from("inst-a", "/api/v1/devices/a1"));
  h.At(1, from("inst-b", "/api/v1/devices/b1"));
  h.At(2, from("inst-a", "/api/v1/devices/a2"));
  h.At(3, from("inst-b", "/api/v1/devices/b2"));
  EXPECT_TRUE(h.rec.Take().empty()) << "two ids in each institution";
  h.At(4, from("inst-b", "/api/v1/devices/b3"));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].institution_id, "inst-b");
  EXPECT_EQ(alerts[0].entity, "source.ip=192.0.2.9") << "the scope is not part of the entity";
  EXPECT_EQ(
      nlohmann::json::parse(alerts[0].evidence[0])["correlation.values"],
      nlohmann::json::array({"/api/v1/devices/b1", "/api/v1/devices/b2", "/api/v1/devices/b3"}));
  EXPECT_EQ(h.engine->stats().tracked_keys, 1u) << "inst-a's window is still open";
}

// An actor of no institution (an unauthenticated client, a server-wide token) is counted across
// every institution its events concern, and the alert, which names another institution's
// values, is raised server-wide.
TEST(LiveEngineTest, AnActorOfNoInstitutionIsCountedAcrossInstitutions) {
  LiveEngineOptions opt;
  opt.rule_texts = RulesWithCorrelation(std::string(kDistinctIds));
  Harness h(opt);
  auto about = [](const std::string& institution, const std::string& path) {
    SecurityEvent ev = Probe("192.0.2.9", path);
    ev.institution_id = institution;
    return ev;
  };
  h.At(0, about("inst-a", "/api/v1/devices/a1"));
  h.At(1, about("inst-b", "/api/v1/devices/b1"));
  EXPECT_TRUE(h.rec.Take().empty());
  h.At(2, about("inst-c", "/api/v1/devices/c1"));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u) << "three ids over three institutions";
  EXPECT_EQ(alerts[0].institution_id, "") << "server-wide";
  EXPECT_EQ(
      nlohmann::json::parse(alerts[0].evidence[0])["correlation.values"],
      nlohmann::json::array({"/api/v1/devices/a1", "/api/v1/devices/b1", "/api/v1/devices/c1"}));
  // All about one institution: raised for it, which sees it and whose playbooks lock it down.
  for (int n = 0; n < 3; ++n) {
    SecurityEvent ev = about("inst-b", "/api/v1/devices/b" + std::to_string(n + 10));
    ev.Set("source.ip", "192.0.2.10");
    h.At(10 + n, std::move(ev));
  }
  alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].entity, "source.ip=192.0.2.10");
  EXPECT_EQ(alerts[0].institution_id, "inst-b");
}

// The bundled wipe storm, as the API emits it: its alert lists the devices the principal asked
// to wipe (an analyst's first question), and belongs to their institution.
TEST(LiveEngineTest, AWipeStormAlertListsTheDevices) {
  LiveEngineOptions opt;
  opt.rule_dirs = {std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  std::vector<std::string> devices;
  for (int i = 0; i < 10; ++i) {
    devices.push_back("dev_" + std::to_string(100 + i));
    SecurityEvent queued("command.queued");
    queued.Set("command.type", i % 2 == 0 ? "wipe" : "retire")
        .Set("device.id", devices.back())
        .Set("user.name", "tok_stolen");
    queued.institution_id = "ins_a";
    queued.actor_institution_id = "ins_a";
    h.At(i * 5, std::move(queued));
  }
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e");
  EXPECT_EQ(alerts[0].entity, "user.name=tok_stolen");
  EXPECT_EQ(alerts[0].institution_id, "ins_a");
  EXPECT_EQ(alerts[0].severity, "critical");
  ASSERT_EQ(alerts[0].evidence.size(), 1u);
  auto evidence = nlohmann::json::parse(alerts[0].evidence[0]);
  EXPECT_EQ(evidence["correlation.values"], nlohmann::json(devices));
  EXPECT_EQ(evidence["correlation.type"], "value_count");
}

// The bundled guessing chain over a spray of four institutions' accounts (three guesses each,
// under every account's lockout), as the API emits it: each failure concerns its account's
// institution, and the one guessing is nobody's.
TEST(LiveEngineTest, ASprayOverFourInstitutionsIsOneGuessing) {
  LiveEngineOptions opt;
  opt.rule_dirs = {std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  int second = 0;
  for (int institution = 0; institution < 4; ++institution) {
    for (int guess = 0; guess < 3; ++guess) {
      SecurityEvent failed("auth.login_failed");
      failed.Set("event.reason", "bad_password")
          .Set("source.ip", "198.51.100.44")
          .Set("user.name", "usr_" + std::to_string(institution));
      failed.institution_id = "ins_" + std::to_string(institution);
      h.At(second += 20, std::move(failed));
    }
  }
  EXPECT_TRUE(h.rec.Take().empty());
  SecurityEvent login("auth.login");
  login.Set("source.ip", "198.51.100.44").Set("user.name", "usr_2");
  login.institution_id = "ins_2";
  h.At(second += 60, std::move(login));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "8c599858-bc56-4706-9375-a05b9940e513");
  EXPECT_EQ(alerts[0].entity, "source.ip=198.51.100.44");
  EXPECT_EQ(alerts[0].institution_id, "") << "four institutions' accounts";
  // Guessing at one institution's accounts, then signing into one of them: that institution's,
  // through the chain.
  for (int guess = 0; guess < 12; ++guess) {
    SecurityEvent failed("auth.login_failed");
    failed.Set("event.reason", "bad_password")
        .Set("source.ip", "198.51.100.45")
        .Set("user.name", "usr_" + std::to_string(guess % 4));
    failed.institution_id = "ins_7";
    h.At(second += 20, std::move(failed));
  }
  SecurityEvent in("auth.login");
  in.Set("source.ip", "198.51.100.45").Set("user.name", "usr_1");
  in.institution_id = "ins_7";
  h.At(second += 60, std::move(in));
  alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].entity, "source.ip=198.51.100.45");
  EXPECT_EQ(alerts[0].institution_id, "ins_7");
}

// An event without the counted field is not one more value; one without the group-by field
// belongs to no group (else all such events would share the key "user.name=").
TEST(LiveEngineTest, CorrelationsSkipEventsWithoutTheirFields) {
  LiveEngineOptions opt;
  opt.rule_texts = RulesWithCorrelation(R"(title: Distinct queries
id: distinct-queries
correlation:
  type: value_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 30m
  condition: {gte: 3, field: url.query}
level: high
)");
  opt.rule_texts.push_back(R"(title: Many 404s by one user
id: user-404s
correlation:
  type: event_count
  rules: [device_404]
  group-by: [user.name]
  timespan: 30m
  condition: {gte: 4}
level: high
)");
  Harness h(opt);
  auto probe = [](const std::string& query) {
    SecurityEvent ev = Probe("192.0.2.9", "/api/v1/devices/a");
    if (!query.empty()) ev.Set("url.query", query);
    return ev;
  };
  h.At(0, probe("x=1"));
  h.At(1, probe("x=2"));
  h.At(2, probe(""));
  h.At(3, probe(""));
  EXPECT_EQ(h.rec.CountRule("distinct-queries"), 0u) << "no query is not a third value";
  EXPECT_EQ(h.rec.CountRule("user-404s"), 0u) << "four events, none with a user";
  h.At(4, probe("x=3"));
  EXPECT_EQ(h.rec.CountRule("distinct-queries"), 1u);
}

// Fields that Rampart's own events and the syslog receiver carry can be tested by rules.
TEST(LiveEngineTest, RulesTestTheFieldsOfRampartsOwnEventsAndSyslog) {
  LiveEngineOptions opt;
  opt.rule_texts = {R"(title: Hundreds of commands approved at once
id: mass-approval
logsource: {product: rampart}
detection:
  sel:
    event.action: command.approved
    command.count|re: '^[0-9]{3,}$'
  condition: sel
level: high
tags: [attack.t1072]
)",
                    R"(title: Rate limited at the front door
id: rate-limited
logsource: {product: rampart}
detection:
  sel:
    http.violation.reason|contains: rate
    network.transport: tcp
  condition: sel
level: low
tags: [attack.t1595]
)"};
  Harness h(opt);
  SecurityEvent few("command.approved");
  few.Set("command.count", "12").Set("user.name", "alice");
  h.At(0, std::move(few));
  SecurityEvent many("command.approved");
  many.Set("command.count", "500").Set("user.name", "alice");
  h.At(1, std::move(many));
  SecurityEvent violation("http.violation");
  violation.Set("http.violation.reason", "rate limited").Set("network.transport", "tcp");
  violation.Set("source.ip", "192.0.2.50");
  h.At(2, std::move(violation));
  EXPECT_EQ(h.rec.CountRule("mass-approval"), 1u);
  EXPECT_EQ(h.rec.CountRule("rate-limited"), 1u);
}

TEST(LiveEngineTest, TemporalOrderedNeedsBothRulesInOrderByTheSameKey) {
  LiveEngineOptions opt;
  opt.rule_texts = {R"(title: Login failed
id: login-failed
name: login_failed
logsource: {product: rampart}
detection: {sel: {event.action: auth.token_rejected}, condition: sel}
tags: [attack.t1110]
)",
                    R"(title: Staff export
id: staff-export
name: staff_export
logsource: {product: rampart}
detection: {sel: {url.path: /api/v1/staff}, condition: sel}
tags: [attack.t1213]
)",
                    R"(title: Failure then export
id: fail-then-export
correlation:
  type: temporal_ordered
  rules: [login_failed, staff_export]
  group-by: [source.ip]
  timespan: 10m
level: high
tags: [attack.t1078]
)"};
  Harness h(opt);
  auto fail = [](const std::string& ip) {
    SecurityEvent e("auth.token_rejected");
    e.Set("source.ip", ip);
    return e;
  };
  h.At(0, Probe("192.0.2.1", "/api/v1/staff", 200));
  h.At(10, fail("192.0.2.1"));
  EXPECT_EQ(h.rec.CountRule("fail-then-export"), 0u) << "export before failure is not the chain";
  h.At(20, fail("192.0.2.2"));
  h.At(30, Probe("192.0.2.3", "/api/v1/staff", 200));
  EXPECT_EQ(h.rec.CountRule("fail-then-export"), 0u) << "different addresses";
  h.At(100, Probe("192.0.2.2", "/api/v1/staff", 200));
  EXPECT_EQ(h.rec.CountRule("fail-then-export"), 1u);
  h.At(1000, fail("192.0.2.4"));
  h.At(1000 + 601, Probe("192.0.2.4", "/api/v1/staff", 200));
  EXPECT_EQ(h.rec.CountRule("fail-then-export"), 1u) << "outside the window";
}

// Sigma's field aliases: the attacker's address is the source of the exploit request and the
// destination of the connection the server then opens to it (a reverse shell, an exfiltration).
TEST(LiveEngineTest, AliasesCorrelateAnAddressAcrossFieldsThatDifferPerRule) {
  LiveEngineOptions opt;
  opt.rule_texts = {R"(title: EPMM exploit request
id: web-exploit
name: web_exploit
logsource: {product: rampart}
detection: {sel: {url.path|startswith: /mifs/c/appstore/fob/}, condition: sel}
tags: [attack.t1190]
)",
                    R"(title: Connection out of the server
id: egress
name: egress_connection
logsource: {product: rampart}
detection: {sel: {event.action: network.connection}, condition: sel}
)",
                    R"(title: Exploit then a connection back to its source
id: exploit-then-callback
correlation:
  type: temporal_ordered
  rules: [web_exploit, egress_connection]
  aliases:
    peer:
      web_exploit: source.ip
      egress_connection: destination.ip
  group-by: [peer]
  timespan: 10m
level: critical
tags: [attack.t1041]
)"};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  ASSERT_TRUE(h.engine->skipped().empty()) << h.engine->skipped()[0].reason;
  h.At(0, Probe("198.51.100.7", "/mifs/c/appstore/fob/3/5/sha256:x/y.ipa", 404));
  h.At(10, Connection("10.0.0.5", "198.51.100.9"));
  EXPECT_EQ(h.rec.CountRule("exploit-then-callback"), 0u) << "another address";
  // The exploit's address as the connection's source is not the alias's field for that rule.
  h.At(20, Connection("198.51.100.7", "192.0.2.1"));
  EXPECT_EQ(h.rec.CountRule("exploit-then-callback"), 0u) << "source.ip is not the alias here";
  h.At(30, Connection("10.0.0.5", "198.51.100.7"));
  ASSERT_EQ(h.rec.CountRule("exploit-then-callback"), 1u);
  auto alerts = h.rec.Take();
  auto hit = std::find_if(alerts.begin(), alerts.end(),
                          [](const auto& a) { return a.rule_id == "exploit-then-callback"; });
  ASSERT_NE(hit, alerts.end());
  EXPECT_EQ(hit->entity, "peer=198.51.100.7");
  EXPECT_EQ(hit->severity, "critical");
}

// Sigma's chaining: a correlation names another. Many failed logins from one address, then a
// successful login from it; only the outer correlation alerts unless it lets the inner one.
std::vector<std::string> ChainedLoginRules(bool outer_generates) {
  return {R"(title: Login failed
id: login-failed
name: login_failed
logsource: {product: rampart}
detection: {sel: {event.action: auth.login_failed}, condition: sel}
tags: [attack.t1110]
)",
          R"(title: Login
id: login-ok
name: login_ok
logsource: {product: rampart}
detection: {sel: {event.action: auth.login}, condition: sel}
tags: [attack.t1078]
)",
          R"(title: Guessing then login
id: guess-then-login
correlation:
  type: temporal_ordered
  rules: [many_failures, login_ok]
  group-by: [source.ip]
  timespan: 1h
)" + std::string(outer_generates ? "  generate: true\n" : "") +
              "level: high\ntags: [attack.t1078]\n",
          // After the correlation that names it: names resolve across the whole set.
          R"(title: Many failures
id: many-failures
name: many_failures
correlation:
  type: event_count
  rules: [login_failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3}
level: medium
tags: [attack.t1110]
)"};
}

SecurityEvent SignInEvent(const std::string& action, const std::string& ip) {
  SecurityEvent e(action);
  e.Set("source.ip", ip).Set("user.name", "adm_1");
  return e;
}

TEST(LiveEngineTest, ChainedCorrelationFeedsTheOneThatNamesIt) {
  LiveEngineOptions opt;
  opt.rule_texts = ChainedLoginRules(false);
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  ASSERT_TRUE(h.engine->skipped().empty()) << h.engine->skipped()[0].reason;
  EXPECT_EQ(h.engine->correlation_count(), 2u);
  // Two failures then a login: the inner threshold is not reached.
  h.At(0, SignInEvent("auth.login_failed", "192.0.2.1"));
  h.At(10, SignInEvent("auth.login_failed", "192.0.2.1"));
  h.At(20, SignInEvent("auth.login", "192.0.2.1"));
  // A login before the failures does not complete the chain either.
  h.At(30, SignInEvent("auth.login", "192.0.2.2"));
  for (int i = 0; i < 3; ++i) h.At(40 + i, SignInEvent("auth.login_failed", "192.0.2.2"));
  EXPECT_TRUE(h.rec.Take().empty()) << "the inner correlation only feeds the outer one";
  h.At(100, SignInEvent("auth.login", "192.0.2.2"));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "guess-then-login");
  EXPECT_EQ(alerts[0].entity, "source.ip=192.0.2.2");
  EXPECT_EQ(alerts[0].severity, "high");

  // `generate: true` on the outer correlation lets what it names alert on its own too.
  LiveEngineOptions generating;
  generating.rule_texts = ChainedLoginRules(true);
  Harness g(generating);
  ASSERT_NE(g.engine, nullptr);
  for (int i = 0; i < 3; ++i) g.At(i, SignInEvent("auth.login_failed", "192.0.2.3"));
  EXPECT_EQ(g.rec.CountRule("many-failures"), 1u);
  EXPECT_EQ(g.rec.CountRule("guess-then-login"), 0u);
  g.At(60, SignInEvent("auth.login", "192.0.2.3"));
  EXPECT_EQ(g.rec.CountRule("guess-then-login"), 1u);
  auto chain = g.rec.Take();
  auto outer = std::find_if(chain.begin(), chain.end(),
                            [](const auto& a) { return a.rule_id == "guess-then-login"; });
  ASSERT_NE(outer, chain.end());
  // The chain's alert reaches back to the first failure, not to the one that completed it.
  EXPECT_EQ(outer->first_seen, kStart / 1000);
}

// A chained hit is keyed by the values it was grouped by: here the inner correlation groups by
// an alias named source.ip that reads the connection's destination, and its completing event
// (the connection) carries the server's own address as source.ip.
TEST(LiveEngineTest, ChainedHitsCarryTheirGroupValuesToTheOuterCorrelation) {
  LiveEngineOptions opt;
  opt.rule_texts = {
      "title: Exploit\nid: exploit\nname: exploit\nlogsource: {product: rampart}\n"
      "detection: {sel: {event.action: web.exploit}, condition: sel}\ntags: [attack.t1190]\n",
      "title: Callback\nid: callback\nname: callback\nlogsource: {product: rampart}\n"
      "detection: {sel: {event.action: network.connection}, condition: sel}\n"
      "tags: [attack.t1041]\n",
      "title: Login\nid: login\nname: login\nlogsource: {product: rampart}\n"
      "detection: {sel: {event.action: auth.login}, condition: sel}\ntags: [attack.t1078]\n",
      "title: Exploited\nid: exploited\nname: exploited\ncorrelation:\n"
      "  type: temporal_ordered\n  rules: [exploit, callback]\n"
      "  aliases: {source.ip: {exploit: source.ip, callback: destination.ip}}\n"
      "  group-by: [source.ip]\n  timespan: 10m\nlevel: high\ntags: [attack.t1190]\n",
      "title: Exploited then login\nid: exploited-then-login\ncorrelation:\n"
      "  type: temporal_ordered\n  rules: [exploited, login]\n"
      "  group-by: [source.ip]\n  timespan: 1h\nlevel: critical\ntags: [attack.t1078]\n"};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  ASSERT_TRUE(h.engine->skipped().empty()) << h.engine->skipped()[0].reason;
  h.At(0, WebExploit("198.51.100.7"));
  h.At(5, Connection("10.0.0.5", "198.51.100.7"));
  EXPECT_EQ(h.rec.CountRule("exploited-then-login"), 0u);
  h.At(60, SignInEvent("auth.login", "10.0.0.5"));
  EXPECT_EQ(h.rec.CountRule("exploited-then-login"), 0u) << "the server's address is not the key";
  h.At(90, SignInEvent("auth.login", "198.51.100.7"));
  EXPECT_EQ(h.rec.CountRule("exploited-then-login"), 1u);
}

TEST(LiveEngineTest, CorrelationChainsThatLoopOrBreakAreSkippedWithTheirReasons) {
  auto correlation = [](const std::string& id, const std::string& refs) {
    return "title: " + id + "\nid: " + id + "\nname: " + id +
           "\ncorrelation:\n  type: event_count\n  rules: [" + refs +
           "]\n  group-by: [source.ip]\n  timespan: 1m\n  condition: {gte: 2}\n";
  };
  LiveEngineOptions opt;
  opt.rule_texts = {
      "title: Base\nid: base\nname: base\nlogsource: {product: rampart}\n"
      "detection: {sel: {event.action: x}, condition: sel}\ntags: [attack.t1110]\n",
      correlation("loop_a", "loop_b"),
      correlation("loop_b", "loop_a"),
      correlation("self", "self"),
      correlation("on_missing", "nope"),
      correlation("on_broken", "on_missing"),
      correlation("fine", "base"),
      correlation("on_fine", "fine"),
      correlation("both", "twice"),
      correlation("twice", "base"),
      "title: twice\nid: twice-rule\nname: twice\nlogsource: {product: rampart}\n"
      "detection: {sel: {event.action: y}, condition: sel}\ntags: [attack.t1110]\n"};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  std::map<std::string, std::string> reasons = SkipReasons(*h.engine);
  EXPECT_EQ(reasons.size(), 6u);
  EXPECT_NE(reasons["both"].find("names both a rule and a correlation"), std::string::npos)
      << reasons["both"];
  EXPECT_NE(reasons["loop_a"].find("loops back through"), std::string::npos) << reasons["loop_a"];
  EXPECT_NE(reasons["loop_b"].find("loops back through"), std::string::npos) << reasons["loop_b"];
  EXPECT_NE(reasons["self"].find("loops back through 'self'"), std::string::npos);
  EXPECT_NE(reasons["on_missing"].find("rule 'nope', which is not loaded"), std::string::npos);
  EXPECT_NE(reasons["on_broken"].find("correlation 'on_missing', which is skipped"),
            std::string::npos)
      << reasons["on_broken"];
  EXPECT_EQ(h.engine->correlation_count(), 3u) << "fine, on_fine chained to it, twice";

  // A chain ten high, listed innermost first and outermost first: the same eight load.
  for (bool innermost_first : {true, false}) {
    LiveEngineOptions chain;
    chain.rule_texts = {opt.rule_texts[0]};
    std::vector<std::string> links;
    for (int k = 1; k <= 10; ++k) {
      links.push_back(
          correlation("c" + std::to_string(k), k == 1 ? "base" : "c" + std::to_string(k - 1)));
    }
    if (!innermost_first) std::reverse(links.begin(), links.end());
    chain.rule_texts.insert(chain.rule_texts.end(), links.begin(), links.end());
    Harness c(chain);
    ASSERT_NE(c.engine, nullptr);
    EXPECT_EQ(c.engine->correlation_count(), 8u) << innermost_first;
    std::set<std::string> skipped;
    for (const auto& s : c.engine->skipped()) skipped.insert(s.title);
    EXPECT_EQ(skipped, (std::set<std::string>{"c9", "c10"})) << innermost_first;
  }
}

// Aliases are checked against every name and id a referenced rule answers to: Sigma keys them
// by rule name, while `rules` may list ids.
TEST(LiveEngineTest, AliasesResolveByRuleNameOrIdAndMustCoverEveryRule) {
  auto base = [](const std::string& id, const std::string& name, const std::string& action) {
    return "title: " + name + "\nid: " + id + "\nname: " + name +
           "\nlogsource: {product: rampart}\ndetection: {sel: {event.action: " + action +
           "}, condition: sel}\ntags: [attack.t1190]\n";
  };
  auto correlation = [](const std::string& id, const std::string& aliases) {
    return "title: " + id + "\nid: " + id +
           "\ncorrelation:\n  type: temporal_ordered\n  rules: [id-a, b]\n"
           "  group-by: [peer]\n  timespan: 10m\n  aliases:\n" +
           aliases + "level: high\ntags: [attack.t1041]\n";
  };
  LiveEngineOptions opt;
  opt.rule_texts = {base("id-a", "a", "web.exploit"), base("id-b", "b", "network.connection"),
                    correlation("by-name", "    peer: {a: source.ip, b: destination.ip}\n"),
                    correlation("no-b", "    peer: {a: source.ip}\n"),
                    correlation("names-c",
                                "    peer: {a: source.ip, b: destination.ip, "
                                "c: source.ip}\n")};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  std::map<std::string, std::string> reasons = SkipReasons(*h.engine);
  EXPECT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons["no-b"].find("alias 'peer' gives no field for rule 'b'"), std::string::npos)
      << reasons["no-b"];
  EXPECT_NE(reasons["names-c"].find("names rule 'c', which the correlation does not list"),
            std::string::npos)
      << reasons["names-c"];
  h.At(0, WebExploit("198.51.100.7"));
  h.At(5, Connection("10.0.0.5", "198.51.100.7"));
  EXPECT_EQ(h.rec.CountRule("by-name"), 1u) << "rule id-a's alias given by its name, a";
}

TEST(LiveEngineTest, TrackedKeysAreCappedAndEvictedOldestFirst) {
  LiveEngineOptions opt;
  opt.max_tracked_keys = 2;
  opt.rule_texts = RulesWithCorrelation(R"(title: Pairs
id: pairs
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 1h
  condition: {gte: 2}
tags: [attack.t1087]
)");
  Harness h(opt);
  h.At(0, Probe("192.0.2.1", "/api/v1/devices/a"));
  h.At(1, Probe("192.0.2.2", "/api/v1/devices/a"));
  h.At(2, Probe("192.0.2.3", "/api/v1/devices/a"));  // evicts 192.0.2.1
  EXPECT_EQ(h.engine->stats().tracked_keys, 2u);
  EXPECT_EQ(h.engine->stats().evicted_keys, 1u);
  h.At(3, Probe("192.0.2.1", "/api/v1/devices/b"));  // starts again from one
  EXPECT_EQ(h.rec.CountRule("pairs"), 0u);
  h.At(4, Probe("192.0.2.3", "/api/v1/devices/b"));
  EXPECT_EQ(h.rec.CountRule("pairs"), 1u);
  // Keys idle for longer than the window are swept.
  h.clock.SetMillis(kStart + 2 * 3600 * 1000);
  h.engine->ProcessPending();
  EXPECT_EQ(h.engine->stats().tracked_keys, 0u);
}

// A feed cut short by a failed download leaves the other feeds and the rules working; the SOC
// hears of it through an alert.
TEST(LiveEngineTest, ATruncatedFeedIsLeftOutAndRaisedNotFatal) {
  const std::string dir = ::testing::TempDir() + "/live_engine_feeds";
  std::filesystem::create_directories(dir);
  const std::string good = dir + "/good.csv", cut = dir + "/cut.json";
  std::ofstream(good) << "type,value,source\nip,198.51.100.9,good-feed\n";
  std::ofstream(cut) << R"({"type": "bundle", "id": "bundle--1", "objects": [{"type": "ind)";
  LiveEngineOptions opt;
  opt.ioc_files = {good, cut};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  ASSERT_EQ(h.engine->unusable_feeds().size(), 1u);
  EXPECT_EQ(h.engine->unusable_feeds()[0].file, cut);
  EXPECT_FALSE(h.engine->unusable_feeds()[0].error.empty());
  h.At(0, Probe("198.51.100.9", "/mifs/login.jsp", 200));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 2u);
  std::sort(alerts.begin(), alerts.end(),
            [](const auto& a, const auto& b) { return a.rule_id < b.rule_id; });
  EXPECT_EQ(alerts[0].rule_id, "rampart-detection-ioc-feed-unusable");
  EXPECT_EQ(alerts[0].severity, "high");
  EXPECT_EQ(alerts[0].entity, "file.path=" + cut);
  EXPECT_NE(alerts[0].evidence[0].find("\"error.message\""), std::string::npos);
  EXPECT_EQ(alerts[1].rule_id, "rampart-ioc") << "the good feed still matches";
  EXPECT_EQ(alerts[1].entity, "source.ip=198.51.100.9");
  // Raised once.
  h.At(1, Probe("192.0.2.1", "/mifs/login.jsp", 200));
  EXPECT_TRUE(h.rec.Take().empty());
  std::filesystem::remove_all(dir);
}

// A feed refreshed in place is matched after ReloadIocs, as a whole (an indicator it dropped
// matches no more); one that breaks keeps the indicators the engine has, and is raised.
TEST(LiveEngineTest, ReloadedFeedsReplaceTheIndicatorsAndABrokenOneKeepsThem) {
  const std::string dir = ::testing::TempDir() + "/live_engine_reload";
  std::filesystem::create_directories(dir);
  const std::string feed = dir + "/cert.csv", missing = dir + "/never-downloaded.json";
  std::ofstream(feed) << "type,value,source\nip,198.51.100.7,cert\n";
  LiveEngineOptions opt;
  opt.ioc_files = {feed, missing};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  ASSERT_EQ(h.engine->unusable_feeds().size(), 1u);
  h.At(0, Probe("198.51.100.9", "/mifs/login.jsp", 200));
  EXPECT_EQ(h.rec.CountRule("rampart-ioc"), 0u);
  h.rec.Take();

  // The refreshed feed names .9 instead of .7. The feed that was never usable blocks nothing.
  std::ofstream(feed, std::ios::trunc) << "type,value,source\nip,198.51.100.9,cert\n"
                                          "domain,evil.example,cert\n";
  auto reload = h.engine->ReloadIocs();
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  EXPECT_EQ(reload->feeds, 1u) << "the feed never downloaded is not used";
  EXPECT_EQ(reload->indicators, 2u);
  EXPECT_EQ(h.engine->stats().indicators, 1u) << "taken over at the next event";
  h.At(10, Probe("198.51.100.9", "/mifs/login.jsp", 200));
  EXPECT_EQ(h.engine->stats().indicators, 2u);
  h.At(11, Probe("198.51.100.7", "/mifs/login.jsp", 200));
  auto alerts = h.rec.Take();
  std::vector<std::string> entities;
  for (const auto& a : alerts) {
    if (a.rule_id == "rampart-ioc") entities.push_back(a.entity);
  }
  EXPECT_EQ(entities, std::vector<std::string>{"source.ip=198.51.100.9"});
  EXPECT_EQ(std::count_if(
                alerts.begin(), alerts.end(),
                [](const auto& a) { return a.rule_id == "rampart-detection-ioc-feed-unusable"; }),
            1)
      << "the feed still missing is raised again";

  // A download cut short, an empty one, an error page saved under the feed's name: each
  // reload is refused and names the file; .9 still matches.
  int64_t at = 20;
  for (const std::string& broken : {std::string("\x1f\x8b\x08\0\0\0", 6), std::string(),
                                    std::string("<html><body>502 Bad Gateway</body></html>\n")}) {
    std::ofstream(feed, std::ios::trunc | std::ios::binary) << broken;
    reload = h.engine->ReloadIocs();
    ASSERT_FALSE(reload.ok()) << broken;
    EXPECT_NE(reload.status().message().find(feed), std::string::npos) << reload.status().message();
    h.At(at++, Probe("198.51.100.9", "/mifs/index.jsp", 200));
    alerts = h.rec.Take();
    std::vector<std::string> raised;
    for (const auto& a : alerts) {
      raised.push_back(a.rule_id + " " + a.entity);
      if (a.entity == "file.path=" + feed) {
        EXPECT_NE(a.rule_title.find("stay in use"), std::string::npos) << a.rule_title;
      }
    }
    std::sort(raised.begin(), raised.end());
    EXPECT_EQ(raised,
              (std::vector<std::string>{"rampart-detection-ioc-feed-unusable file.path=" + feed,
                                        "rampart-detection-ioc-feed-unusable file.path=" + missing,
                                        "rampart-ioc source.ip=198.51.100.9"}))
        << broken;
  }
  EXPECT_EQ(h.engine->stats().indicators, 2u);
  EXPECT_EQ(h.engine->stats().ioc_reloads, 1u);
  EXPECT_EQ(h.engine->stats().ioc_reloads_refused, 3u);
  std::filesystem::remove_all(dir);
}

// A feed that gave no indicator when last loaded (a local list kept empty for now) may stay
// empty without blocking the other feeds' reloads; so may one whose every indicator expired or
// was revoked.
TEST(LiveEngineTest, FeedsThatGaveNoIndicatorOrWereWithdrawnDoNotBlockAReload) {
  const std::string dir = ::testing::TempDir() + "/live_engine_reload_empty";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string feed = dir + "/cert.csv", local = dir + "/local.csv",
                    expiring = dir + "/expiring.csv", stix = dir + "/withdrawn.json";
  auto bundle = [](bool revoked) {
    return std::string(R"({"type": "bundle", "id": "bundle--1", "objects": [)") +
           R"({"type": "indicator", "id": "indicator--w", "revoked": )" +
           (revoked ? "true" : "false") +
           R"(, "pattern": "[ipv4-addr:value = '198.51.100.30']", "pattern_type": "stix"}]})";
  };
  std::ofstream(stix) << bundle(false);
  std::ofstream(feed) << "type,value,source\nip,198.51.100.7,cert\n";
  std::ofstream(local) << "type,value,source\n";
  // Valid until a minute after the engine's start (the harness clock).
  std::ofstream(expiring) << "type,value,source,expires\nip,198.51.100.20,old,"
                          << (kStart / 1000 + 60) << "\n";
  LiveEngineOptions opt;
  opt.ioc_files = {feed, local, expiring, stix};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  EXPECT_TRUE(h.engine->unusable_feeds().empty());
  std::ofstream(feed, std::ios::trunc) << "type,value,source\nip,198.51.100.9,cert\n";
  std::ofstream(stix, std::ios::trunc) << bundle(true);  // its issuer revoked it
  h.clock.SetMillis(kStart + 3'600'000);  // the expiring feed's indicator has expired
  auto reload = h.engine->ReloadIocs();
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  EXPECT_EQ(reload->indicators, 1u);
  h.At(3601, Probe("198.51.100.9", "/mifs/login.jsp", 200));
  EXPECT_EQ(h.rec.CountRule("rampart-ioc"), 1u);
  EXPECT_EQ(h.rec.CountRule("rampart-detection-ioc-feed-unusable"), 0u);
  std::filesystem::remove_all(dir);
}

// On the engine thread, an event emitted after ReloadIocs returned is matched with the new
// indicators.
TEST(LiveEngineTest, EngineThreadMatchesTheNextEventWithReloadedFeeds) {
  const std::string dir = ::testing::TempDir() + "/live_engine_reload_thread";
  std::filesystem::create_directories(dir);
  const std::string feed = dir + "/feed.csv";
  std::ofstream(feed) << "type,value,source\nip,198.51.100.7,cert\n";
  LiveEngineOptions opt;
  opt.ioc_files = {feed};
  opt.housekeeping_millis = 60'000;
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  h.engine->Start();
  std::ofstream(feed, std::ios::trunc) << "type,value,source\nip,198.51.100.9,cert\n";
  ASSERT_TRUE(h.engine->ReloadIocs().ok());
  h.engine->Emit(Probe("198.51.100.9", "/mifs/login.jsp", 200));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (h.rec.CountRule("rampart-ioc") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  h.engine->Stop();
  EXPECT_EQ(h.rec.CountRule("rampart-ioc"), 1u);
  std::filesystem::remove_all(dir);
}

// A reload keeps each correlation's windows while its own definition stays: a chain's outer
// correlation now letting the inner alert, or gone, leaves the inner's count where it was; the
// inner's threshold changed restarts the inner alone.
TEST(LiveEngineTest, ReloadedChainsKeepEachCorrelationsWindows) {
  const std::string dir = ::testing::TempDir() + "/live_engine_chain_reload";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto write = [&](bool generate) {
    auto rules = ChainedLoginRules(generate);
    for (size_t i = 0; i < rules.size(); ++i) {
      std::ofstream(dir + "/r" + std::to_string(i) + ".yml", std::ios::trunc) << rules[i];
    }
  };
  write(false);
  LiveEngineOptions opt;
  opt.rule_dirs = {dir};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  auto same = h.engine->ReloadRules();
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->correlations_restarted.empty());
  h.At(0, SignInEvent("auth.login_failed", "192.0.2.9"));
  h.At(10, SignInEvent("auth.login_failed", "192.0.2.9"));

  write(true);
  auto generating = h.engine->ReloadRules();
  ASSERT_TRUE(generating.ok());
  EXPECT_TRUE(generating->correlations_restarted.empty())
      << "the inner now alerts: what a hit raises changed, not what a window counts";
  h.At(20, SignInEvent("auth.login_failed", "192.0.2.9"));
  EXPECT_EQ(h.rec.CountRule("many-failures"), 1u) << "two failures kept and a third";
  h.At(30, SignInEvent("auth.login", "192.0.2.9"));
  EXPECT_EQ(h.rec.CountRule("guess-then-login"), 1u) << "the chain went on through the reload";
  h.rec.Take();

  // Unchained: the outer is gone; the inner keeps its two failures.
  h.At(40, SignInEvent("auth.login_failed", "192.0.2.10"));
  h.At(50, SignInEvent("auth.login_failed", "192.0.2.10"));
  std::filesystem::remove(dir + "/r2.yml");
  auto unchained = h.engine->ReloadRules();
  ASSERT_TRUE(unchained.ok());
  EXPECT_EQ(unchained->correlations, 1u);
  EXPECT_TRUE(unchained->correlations_restarted.empty());
  h.At(60, SignInEvent("auth.login_failed", "192.0.2.10"));
  EXPECT_EQ(h.rec.CountRule("many-failures"), 1u);
  h.rec.Take();

  // The inner's threshold changed: it alone restarts, and two failures kept are not counted.
  h.At(70, SignInEvent("auth.login_failed", "192.0.2.11"));
  h.At(80, SignInEvent("auth.login_failed", "192.0.2.11"));
  std::string inner = ChainedLoginRules(true)[3];
  const size_t at = inner.find("{gte: 3}");
  ASSERT_NE(at, std::string::npos);
  inner.replace(at, 8, "{gte: 2}");
  std::ofstream(dir + "/r3.yml", std::ios::trunc) << inner;
  auto changed = h.engine->ReloadRules();
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->correlations_restarted, std::vector<std::string>{"many-failures"});
  h.At(90, SignInEvent("auth.login_failed", "192.0.2.11"));
  EXPECT_EQ(h.rec.CountRule("many-failures"), 0u) << "one failure since the reload";
  h.At(100, SignInEvent("auth.login_failed", "192.0.2.11"));
  EXPECT_EQ(h.rec.CountRule("many-failures"), 1u);
  std::filesystem::remove_all(dir);
}

TEST(LiveEngineTest, ReloadedRulesMatchAndKeepOrRestartTheCorrelationWindows) {
  const std::string dir = ::testing::TempDir() + "/live_engine_rules_reload";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto correlation = [](int threshold) {
    return "title: Device 404s\nid: many-404\ncorrelation:\n  type: event_count\n"
           "  rules: [device_404]\n  group-by: [source.ip]\n  timespan: 1h\n"
           "  condition: {gte: " +
           std::to_string(threshold) + "}\nlevel: high\ntags: [attack.t1087]\n";
  };
  auto rules = RulesWithCorrelation(correlation(3));
  std::ofstream(dir + "/base.yml") << rules[0];
  std::ofstream(dir + "/correlation.yml") << rules[1];
  LiveEngineOptions opt;
  opt.rule_dirs = {dir};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  EXPECT_EQ(h.engine->rule_count(), 1u);
  h.At(0, Probe("203.0.113.7", "/api/v1/devices/a"));
  h.At(1, Probe("203.0.113.7", "/api/v1/devices/b"));
  h.At(2, Probe("203.0.113.7", "/mifs/new-webshell.jsp", 200));
  EXPECT_TRUE(h.rec.Take().empty());

  // A new rule, sorted first so that every rule index moves; the correlation unchanged: its
  // two counted probes stay in the window.
  std::ofstream(dir + "/a-webshell.yml") << "title: New webshell\nid: new-webshell\n"
                                            "logsource: {product: rampart}\n"
                                            "detection:\n  sel:\n"
                                            "    url.path|endswith: /new-webshell.jsp\n"
                                            "  condition: sel\nlevel: critical\n";
  auto reload = h.engine->ReloadRules();
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  EXPECT_EQ(reload->rules, 2u);
  EXPECT_EQ(reload->correlations, 1u);
  EXPECT_TRUE(reload->correlations_restarted.empty());
  EXPECT_TRUE(reload->skipped.empty());
  h.At(3, Probe("203.0.113.7", "/mifs/new-webshell.jsp", 200));
  EXPECT_EQ(h.rec.CountRule("new-webshell"), 1u);
  h.At(4, Probe("203.0.113.7", "/api/v1/devices/c"));
  EXPECT_EQ(h.rec.CountRule("many-404"), 1u) << "the third probe completes the kept window";
  EXPECT_EQ(h.engine->rule_count(), 2u);
  h.rec.Take();

  // Two probes counted, then the threshold changes to 4: the windows start empty, so three
  // more probes (five in all) are not enough, and a fourth is. Kept, the window would have
  // fired at the second.
  h.At(5, Probe("203.0.113.7", "/api/v1/devices/d"));
  h.At(6, Probe("203.0.113.7", "/api/v1/devices/e"));
  std::ofstream(dir + "/correlation.yml", std::ios::trunc) << correlation(4);
  reload = h.engine->ReloadRules();
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  EXPECT_EQ(reload->correlations_restarted, std::vector<std::string>{"many-404"});
  for (int i = 0; i < 3; ++i) h.At(10 + i, Probe("203.0.113.7", "/api/v1/devices/f"));
  EXPECT_EQ(h.rec.CountRule("many-404"), 0u);
  h.At(13, Probe("203.0.113.7", "/api/v1/devices/f"));
  EXPECT_EQ(h.rec.CountRule("many-404"), 1u);
  h.rec.Take();

  // Two reloads before the engine takes either: the threshold to 5, then the same files again.
  // The second alone changes nothing (it says so), but the engine goes from the rules it has
  // to the last ones, so the windows restart: two probes counted before, and four more are
  // not enough.
  h.At(20, Probe("203.0.113.7", "/api/v1/devices/g"));
  h.At(21, Probe("203.0.113.7", "/api/v1/devices/g"));
  std::ofstream(dir + "/correlation.yml", std::ios::trunc) << correlation(5);
  reload = h.engine->ReloadRules();
  ASSERT_TRUE(reload.ok());
  EXPECT_EQ(reload->correlations_restarted, std::vector<std::string>{"many-404"});
  reload = h.engine->ReloadRules();
  ASSERT_TRUE(reload.ok());
  EXPECT_TRUE(reload->correlations_restarted.empty()) << "compared with the pending set";
  for (int i = 0; i < 4; ++i) h.At(22 + i, Probe("203.0.113.7", "/api/v1/devices/h"));
  EXPECT_EQ(h.rec.CountRule("many-404"), 0u);
  h.At(26, Probe("203.0.113.7", "/api/v1/devices/h"));
  EXPECT_EQ(h.rec.CountRule("many-404"), 1u);

  // A rule that does not parse is skipped with its reason, the others load.
  std::ofstream(dir + "/broken.yml") << "title: [unclosed\n";
  reload = h.engine->ReloadRules();
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  EXPECT_EQ(reload->rules, 2u);
  ASSERT_EQ(reload->skipped.size(), 1u);
  EXPECT_NE(reload->skipped[0].file.find("broken.yml"), std::string::npos);

  // The directory gone: refused, and the rules in use still match.
  std::filesystem::remove_all(dir);
  reload = h.engine->ReloadRules();
  EXPECT_FALSE(reload.ok());
  h.rec.Take();
  h.At(30, Probe("203.0.113.8", "/mifs/new-webshell.jsp", 200));
  EXPECT_EQ(h.rec.CountRule("new-webshell"), 1u);
}

// Feeds that list a webshell by MD5 or SHA-1 alone match the file-integrity monitor's events.
TEST(LiveEngineTest, Md5AndSha1IndicatorsMatchFileEvents) {
  const std::string dir = ::testing::TempDir() + "/live_engine_hashes";
  std::filesystem::create_directories(dir);
  const std::string feed = dir + "/hashes.csv";
  std::ofstream(feed) << "type,value,source,expiry,severity,attack\n"
                         "md5,5F6CB87784F19891D763DFEBD07A3F95,misp,,critical,T1505.003\n"
                         "sha1,5191aca215d011bb7d55b1b870b6a41259c53215,misp\n";
  LiveEngineOptions opt;
  opt.ioc_files = {feed};
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  SecurityEvent created("file.created");
  created.Set("file.path", "/opt/epmm/mifs/403.jsp")
      .Set("file.hash.sha256", std::string(64, 'a'))
      .Set("file.hash.md5", "5f6cb87784f19891d763dfebd07a3f95")
      .Set("file.hash.sha1", "5191aca215d011bb7d55b1b870b6a41259c53215");
  h.At(0, std::move(created));
  SecurityEvent other("file.created");
  other.Set("file.path", "/opt/epmm/mifs/ok.css").Set("file.hash.md5", std::string(32, '0'));
  h.At(1, std::move(other));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 2u);
  std::sort(alerts.begin(), alerts.end(),
            [](const auto& a, const auto& b) { return a.entity < b.entity; });
  EXPECT_EQ(alerts[0].rule_id, "rampart-ioc");
  EXPECT_EQ(alerts[0].entity, "file.hash.md5=5f6cb87784f19891d763dfebd07a3f95");
  // The feed's severity and technique; a row without them stays high, with none.
  EXPECT_EQ(alerts[0].severity, "critical");
  EXPECT_EQ(alerts[0].attack, (std::vector<std::string>{"T1505.003"}));
  EXPECT_EQ(alerts[1].entity, "file.hash.sha1=5191aca215d011bb7d55b1b870b6a41259c53215");
  EXPECT_EQ(alerts[1].severity, "high");
  EXPECT_TRUE(alerts[1].attack.empty());
  std::filesystem::remove_all(dir);
}

// A path the server resolves to the canary ("//", ".", path parameters) is the canary.
TEST(LiveEngineTest, CanaryPathSpelledAnotherWayIsTheCanary) {
  LiveEngineOptions opt;
  opt.canary_paths = {"/api/v1/staff/export.csv"};
  Harness h(opt);
  h.At(0, Probe("198.51.100.1", "/api//v1/staff/./export.csv;jsessionid=1"));
  h.At(1, Probe("198.51.100.2", "/api/v1/staff/export.csv/other"));
  h.At(2, Probe("198.51.100.3", "/api/v1/staff/export.csv/"));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].rule_id, "rampart-canary-path");
  EXPECT_EQ(alerts[0].entity, "source.ip=198.51.100.1");
  EXPECT_EQ(alerts[1].entity, "source.ip=198.51.100.3") << "a trailing '/' reaches it too";
  // Configured with a trailing '/', the same.
  LiveEngineOptions slash;
  slash.canary_paths = {"/mifs/hidden/"};
  Harness s(slash);
  s.At(0, Probe("198.51.100.4", "/mifs/hidden"));
  EXPECT_EQ(s.rec.Take().size(), 1u);
}

TEST(LiveEngineTest, CanaryPathAndTokenAlertCriticalWithoutAnyRule) {
  LiveEngineOptions opt;
  opt.canary_paths = {"/api/v1/staff/export.csv"};
  opt.canary_token_ids = {"tok_canary"};
  Harness h(opt);
  SecurityEvent a = Probe("198.51.100.1", "/api/v1/staff/export%2ecsv");
  h.At(0, std::move(a));
  SecurityEvent b("http.request");
  b.Set("user.name", "tok_canary")
      .Set("source.ip", "198.51.100.2")
      .Set("url.path", "/api/v1/devices");
  b.institution_id = "ins_a";
  h.At(1, std::move(b));
  SecurityEvent c("auth.token_rejected");
  c.Set("user.name", "tok_other");
  h.At(2, std::move(c));
  // A followed log or a syslog sender naming the canary's id is no use of the token.
  Event line;
  ASSERT_TRUE(ParseJsonLine(R"({"event.action":"http.request","user.name":"tok_canary"})", &line));
  h.At(3, ExternalSecurityEvent(line));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].rule_id, "rampart-canary-path");
  EXPECT_EQ(alerts[0].severity, "critical");
  EXPECT_EQ(alerts[0].entity, "source.ip=198.51.100.1");
  EXPECT_EQ(alerts[1].rule_id, "rampart-canary-token");
  EXPECT_EQ(alerts[1].severity, "critical");
  EXPECT_EQ(alerts[1].entity, "user.name=tok_canary");
  EXPECT_EQ(alerts[1].institution_id, "ins_a");
  EXPECT_NE(alerts[1].evidence[0].find("\"organization.id\":\"ins_a\""), std::string::npos);
}

// Time to detect is measured from the event: its time reaches the alert and the evidence to the
// millisecond, not rounded down to the second.
TEST(LiveEngineTest, AlertsCarryTheEventTimeToTheMillisecond) {
  LiveEngineOptions opt;
  opt.canary_paths = {"/mifs/403.jsp"};
  Harness h(opt);
  SecurityEvent ev = Probe("198.51.100.1", "/mifs/403.jsp");
  ev.timestamp_millis = kStart + 1234;
  h.clock.SetMillis(kStart + 5000);  // processed later than it happened
  h.engine->Emit(std::move(ev));
  h.engine->ProcessPending();
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].first_seen_ms, kStart + 1234);
  EXPECT_EQ(alerts[0].last_seen_ms, kStart + 1234);
  EXPECT_EQ(alerts[0].first_seen, (kStart + 1234) / 1000);
  EXPECT_NE(alerts[0].evidence[0].find("\"@timestamp\":\"2026-01-30T08:00:01.234Z\""),
            std::string::npos)
      << alerts[0].evidence[0];
}

TEST(LiveEngineTest, StaffCanaryDecryptRuleFromTheBundledSet) {
  LiveEngineOptions opt;
  opt.rule_dirs = {std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"};
  Harness h(opt);
  EXPECT_TRUE(h.engine->skipped().empty());
  SecurityEvent ev("staff.decrypt");
  ev.Set("user.name", "tok_1").Set("staff.id", "stf_1").Set("staff.canary", "true");
  h.At(0, std::move(ev));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_title, "Canary Staff Record Decrypted");
  EXPECT_EQ(alerts[0].severity, "critical");
  EXPECT_EQ(alerts[0].entity, "user.name=tok_1");
}

// A restart in the middle of a patient enumeration does not reset its count: the windows are
// written at Stop and taken up (once) by the next engine with the same correlation rules.
TEST(LiveEngineTest, CorrelationWindowsOutliveARestart) {
  const std::string dir = ::testing::TempDir() + "/live_engine_windows";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  LiveEngineOptions opt;
  opt.rule_dirs = {std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"};
  opt.correlation_state_file = dir + "/correlations.json";
  auto probe = [](int n) {
    return Probe("203.0.113.7", "/api/v1/devices/dev_" + std::to_string(n), 404);
  };
  {
    Harness first(opt);
    for (int n = 0; n < 6; ++n) first.At(n * 600, probe(n));
    EXPECT_TRUE(first.rec.Take().empty());
    first.engine->Stop();
  }
  ASSERT_TRUE(std::filesystem::exists(opt.correlation_state_file));
  {
    Harness second(opt);
    EXPECT_TRUE(std::filesystem::exists(opt.correlation_state_file))
        << "kept until a checkpoint or a stop replaces it";
    for (int n = 6; n < 9; ++n) second.At(n * 600, probe(n));
    EXPECT_TRUE(second.rec.Take().empty()) << "nine distinct ids so far";
    second.At(9 * 600, probe(9));
    auto alerts = second.rec.Take();
    ASSERT_EQ(alerts.size(), 1u) << "the tenth id, after the restart, completes the count";
    EXPECT_EQ(alerts[0].rule_title, "Enumeration of Device or Staff Ids from One Address");
    EXPECT_EQ(alerts[0].entity, "source.ip=203.0.113.7");
    EXPECT_EQ(alerts[0].count, 10);
    for (int n = 10; n < 14; ++n) second.At(n * 600, probe(n));
    second.engine->Stop();
  }
  // A correlation added to the rules: the enumeration is the same rule, and keeps its windows.
  LiveEngineOptions changed = opt;
  changed.rule_texts = {R"(title: Bursts
id: bursts
correlation:
  type: event_count
  rules: [rampart_id_not_found]
  group-by: [source.ip]
  timespan: 1h
  condition: {gte: 100}
)"};
  {
    Harness third(changed);
    for (int n = 14; n < 19; ++n) third.At(n * 600, probe(n));
    EXPECT_TRUE(third.rec.Take().empty()) << "four ids kept and five new";
    third.At(19 * 600, probe(19));
    auto alerts = third.rec.Take();
    ASSERT_EQ(alerts.size(), 1u) << "the four ids kept make ten";
    EXPECT_EQ(alerts[0].count, 10);
  }
  std::filesystem::remove_all(dir);
}

// While windows change, they are written every correlation_checkpoint_millis, so that a crash
// (which runs no Stop) loses at most that much; unchanged, the file is not written again; with
// none open, it is removed.
// The most ids any saved enumeration window holds in the file at `path` (0 without one).
size_t MostSavedIds(const std::string& path) {
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  size_t most = 0;
  if (doc.is_object() && doc.contains("windows")) {
    for (const auto& keys : doc["windows"]) {
      for (const auto& key : keys) most = std::max(most, key["values"].size());
    }
  }
  return most;
}

// The bundled rules, their windows checkpointed at every housekeeping to `dir`/correlations.json
// (`dir` made afresh).
LiveEngineOptions CheckpointEveryHousekeeping(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  LiveEngineOptions opt;
  opt.rule_dirs = {std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"};
  opt.correlation_state_file = dir + "/correlations.json";
  opt.correlation_checkpoint_millis = 1;
  return opt;
}

TEST(LiveEngineTest, OpenWindowsAreCheckpointedWhileTheyChange) {
  const std::string dir = ::testing::TempDir() + "/live_engine_checkpoint";
  LiveEngineOptions opt = CheckpointEveryHousekeeping(dir);
  const std::string& state = opt.correlation_state_file;
  auto probe = [](int n) {
    return Probe("203.0.113.7", "/api/v1/devices/dev_" + std::to_string(n), 404);
  };
  auto saved_ids = [&] { return MostSavedIds(state); };
  auto inode = [&] {
    struct stat st {};
    return ::stat(state.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(5)); };
  Harness h(opt);
  for (int n = 0; n < 6; ++n) {
    pause();
    h.At(n * 600, probe(n));
    EXPECT_EQ(saved_ids(), static_cast<size_t>(n + 1)) << "written as the window grows";
  }
  const ino_t written = inode();
  ASSERT_NE(written, ino_t{0});
  pause();
  h.engine->ProcessPending();
  EXPECT_EQ(inode(), written) << "nothing changed: not written again";
  // Six hours later the window is swept: the next checkpoint removes the file.
  pause();
  h.clock.SetMillis(h.clock.NowMillis() + 7 * 3600 * 1000);
  h.engine->ProcessPending();
  EXPECT_FALSE(std::filesystem::exists(state));
  std::filesystem::remove_all(dir);
}

// A checkpoint that could not be written is not taken as written: the next one writes the same
// windows, though nothing changed in between.
TEST(LiveEngineTest, ACheckpointThatFailedIsWrittenAtTheNext) {
  const std::string dir = ::testing::TempDir() + "/live_engine_checkpoint_failed";
  LiveEngineOptions opt = CheckpointEveryHousekeeping(dir);
  opt.correlation_state_file = dir + "/state/correlations.json";  // no such folder yet
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  h.At(0, Probe("203.0.113.7", "/api/v1/devices/dev_0", 404));
  EXPECT_FALSE(std::filesystem::exists(opt.correlation_state_file));
  std::filesystem::create_directories(dir + "/state");
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  h.engine->ProcessPending();
  EXPECT_EQ(MostSavedIds(opt.correlation_state_file), 1u);
  std::filesystem::remove_all(dir);
}

// On the engine's own thread the checkpoints are written by the writer's while matching goes
// on; the stop's save waits for a write under way and leaves the windows as they ended.
TEST(LiveEngineTest, ThreadedCheckpointsEndWithTheWindowsAtTheStop) {
  const std::string dir = ::testing::TempDir() + "/live_engine_checkpoint_thread";
  LiveEngineOptions opt = CheckpointEveryHousekeeping(dir);
  opt.housekeeping_millis = 1;
  Harness h(opt);
  ASSERT_NE(h.engine, nullptr);
  h.engine->Start();
  auto emit = [&](int n) {
    SecurityEvent ev = Probe("203.0.113.7", "/api/v1/devices/dev_" + std::to_string(n), 404);
    ev.timestamp_millis = h.clock.NowMillis();
    h.engine->Emit(std::move(ev));
  };
  for (int n = 0; n < 3; ++n) {
    emit(n);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (MostSavedIds(opt.correlation_state_file) < static_cast<size_t>(n + 1) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(MostSavedIds(opt.correlation_state_file), static_cast<size_t>(n + 1));
  }
  // A burst, stopped at once: some checkpoint may be under way as the stop comes.
  for (int n = 3; n < 8; ++n) emit(n);
  h.engine->Stop();
  EXPECT_EQ(MostSavedIds(opt.correlation_state_file), 8u);
  std::filesystem::remove_all(dir);
}

// A window taken up at start and decided by the first housekeeping is raised once: the file is
// written anew at once, so that a crash right after (and the start after it) does not raise it
// again. Without checkpoints, the file is taken up once and removed.
TEST(LiveEngineTest, ARestoredWindowDecidedAfterAStartIsNotRaisedAgainAfterACrash) {
  const std::string dir = ::testing::TempDir() + "/live_engine_restored_decided";
  for (int64_t checkpoint_millis : {int64_t{300000}, int64_t{0}}) {
    SCOPED_TRACE(checkpoint_millis);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    LiveEngineOptions opt;
    opt.rule_texts = FewDevice404sRules();
    opt.correlation_state_file = dir + "/correlations.json";
    opt.correlation_checkpoint_millis = checkpoint_millis;
    {
      Harness first(opt);
      first.At(0, Probe("203.0.113.7", "/api/v1/devices/a"));
      first.engine->Stop();
    }
    ASSERT_TRUE(std::filesystem::exists(opt.correlation_state_file));
    // The copy a crash would leave: the second engine's own stop must not hide what it wrote.
    const std::string crash_copy = dir + "/at-crash.json";
    {
      Harness second(opt);
      EXPECT_EQ(std::filesystem::exists(opt.correlation_state_file), checkpoint_millis > 0);
      second.clock.SetMillis(second.clock.NowMillis() + 20 * 60 * 1000);
      second.engine->ProcessPending();
      EXPECT_EQ(second.rec.CountRule("few-404"), 1u) << "decided as idle, with one probe";
      EXPECT_FALSE(std::filesystem::exists(opt.correlation_state_file))
          << "the decided window is no longer on disk";
      if (std::filesystem::exists(opt.correlation_state_file)) {
        std::filesystem::copy_file(opt.correlation_state_file, crash_copy);
      }
    }
    if (std::filesystem::exists(crash_copy)) {
      std::filesystem::rename(crash_copy, opt.correlation_state_file);
    }
    Harness third(opt);
    third.clock.SetMillis(third.clock.NowMillis() + 40 * 60 * 1000);
    third.engine->ProcessPending();
    EXPECT_EQ(third.rec.CountRule("few-404"), 0u) << "not raised again";
  }
  std::filesystem::remove_all(dir);
}

// The bundled rule on an unreadable source: one alert per followed file, and per syslog
// program (the entity falls back to process.name when nothing else names the event).
TEST(LiveEngineTest, AnUnreadableLogSourceIsAlertedPerFileAndPerProgram) {
  LiveEngineOptions opt;
  opt.rule_dirs = {std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"};
  Harness h(opt);
  const ReadabilityVerdict verdict{.lines = 1000, .unreadable = 990, .first_unreadable_line = 7};
  SecurityEvent file = UnreadableLogEvent(verdict, "combined");
  file.Set("file.path", "/var/log/nginx/access.log");
  h.At(0, std::move(file));
  SecurityEvent program = UnreadableLogEvent({.lines = 20, .unreadable = 20}, "custom");
  program.Set("process.name", "nginx_access").Set("log.source.address", "192.0.2.10");
  h.At(1, std::move(program));
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].rule_title, "Log Source Rampart Can No Longer Read");
  EXPECT_EQ(alerts[0].severity, "high");
  EXPECT_EQ(alerts[0].attack, std::vector<std::string>{"T1562.006"});
  EXPECT_EQ(alerts[0].entity, "file.path=/var/log/nginx/access.log");
  EXPECT_EQ(alerts[1].entity, "process.name=nginx_access");
  EXPECT_NE(alerts[1].evidence[0].find("\"log.source.address\":\"192.0.2.10\""), std::string::npos)
      << alerts[1].evidence[0];

  // A log line cannot claim the action: from outside it is external.detection.log_unreadable.
  Event forged;
  forged.SetCopy(Field::kEventAction, "detection.log_unreadable");
  forged.SetCopy(Field::kSourceIp, "203.0.113.9");
  h.At(2, ExternalSecurityEvent(forged));
  EXPECT_TRUE(h.rec.Take().empty());
}

TEST(LiveEngineTest, BundledExploitRuleFiresOnTheLiveRequestShape) {
  LiveEngineOptions opt;
  opt.rule_dirs = {std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"};
  Harness h(opt);
  const std::string target =
      "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60id%60%5D/"
      "e2327851-1e09-4463-9b5a-b524bc71fc07.ipa";
  h.At(0, Probe("203.0.113.50", target));
  std::set<std::string> titles;
  for (const auto& a : h.rec.Take()) {
    titles.insert(a.rule_title);
    EXPECT_EQ(a.entity, "source.ip=203.0.113.50");
    EXPECT_TRUE(a.institution_id.empty());
  }
  EXPECT_EQ(titles.size(), 2u) << "the injection rule and the fob-404 rule";
}

TEST(LiveEngineTest, EngineThreadProcessesEmittedEvents) {
  LiveEngineOptions opt;
  opt.canary_paths = {"/canary"};
  opt.housekeeping_millis = 20;
  Harness h(opt);
  h.engine->Start();
  h.engine->Emit(Probe("192.0.2.7", "/canary"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (h.rec.CountRule("rampart-canary-path") == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(h.rec.CountRule("rampart-canary-path"), 1u);
  // Stop drains what is queued.
  for (int i = 0; i < 100; ++i) h.engine->Emit(Probe("192.0.2.8", "/canary"));
  h.engine->Stop();
  EXPECT_EQ(h.engine->stats().processed, 101u);
}

TEST(LiveEngineTest, AFloodOfOneProbeIsFoldedBeforeItReachesTheHandler) {
  LiveEngineOptions opt;
  opt.canary_paths = {"/canary"};
  opt.max_evidence = 3;
  Harness h(opt);
  for (int i = 0; i < 1000; ++i) h.engine->Emit(Probe("192.0.2.1", "/canary"));
  h.engine->Emit(Probe("192.0.2.2", "/canary"));
  EXPECT_EQ(h.engine->ProcessPending(), 1001u);
  auto alerts = h.rec.Take();
  ASSERT_EQ(alerts.size(), 3u) << "first of each entity at once, the rest folded into one";
  EXPECT_EQ(alerts[0].count, 1);
  EXPECT_EQ(alerts[0].entity, "source.ip=192.0.2.1");
  EXPECT_EQ(alerts[1].entity, "source.ip=192.0.2.2");
  EXPECT_EQ(alerts[2].entity, "source.ip=192.0.2.1");
  EXPECT_EQ(alerts[2].count, 999);
  EXPECT_EQ(alerts[2].evidence.size(), 3u);
  EXPECT_EQ(h.engine->stats().alerts, 1001u);
}

TEST(CorrelationParseTest, ConditionsAreRangesAndThoseThatCanNeverBeMetAreRefused) {
  auto parse = [](const std::string& extra) {
    return ParseCorrelationRule(
        "title: t\nid: x\ncorrelation:\n  type: event_count\n  rules: [a]\n"
        "  timespan: 5m\n" +
            extra,
        "t.yml");
  };
  EXPECT_TRUE(parse("  condition: {gte: 3}\n").ok());
  EXPECT_FALSE(parse("  condition: {gte: 3}\n")->decided_at_window_end());
  EXPECT_EQ(parse("  condition: {gt: 3}\n")->threshold, 4);
  EXPECT_EQ(parse("  condition: {gte: 0}\n")->threshold, 1) << "a window has an event";
  // (minimum, maximum) of each condition that has an upper bound.
  for (const auto& [condition, minimum, maximum] :
       std::vector<std::tuple<std::string, int, int>>{{"{lt: 3}", 1, 2},
                                                      {"{lte: 3}", 1, 3},
                                                      {"{eq: 3}", 3, 3},
                                                      {"{gt: 100, lte: 200}", 101, 200},
                                                      {"{gte: 2, lt: 5}", 2, 4},
                                                      {"{lt: 2}", 1, 1}}) {
    auto r = parse("  condition: " + condition + "\n");
    ASSERT_TRUE(r.ok()) << condition << ": " << r.status().message();
    EXPECT_TRUE(r->decided_at_window_end()) << condition;
    EXPECT_EQ(r->threshold, minimum) << condition;
    EXPECT_EQ(r->maximum, maximum) << condition;
  }
  for (const auto& [condition, reason] : std::vector<std::pair<std::string, std::string>>{
           {"{lt: 1}", "can never be met: a count is at least 1"},
           {"{lte: 0}", "can never be met: a count is at least 1"},
           {"{eq: 0}", "can never be met: a count is at least 1"},
           {"{gt: 5, lt: 6}", "can never be met: its range is empty"},
           {"{neq: 3}", "'neq' is not one of gt, gte, lt, lte, eq"},
           {"{lt: many}", "condition lt must be an integer"},
           {"{lt: -1}", "out of range"},
           {"{}", "needs one of gt, gte, lt, lte, eq"}}) {
    auto r = parse("  condition: " + condition + "\n");
    ASSERT_FALSE(r.ok()) << condition;
    EXPECT_NE(r.status().message().find(reason), std::string::npos)
        << condition << ": " << r.status().message();
  }
  // temporal: how many of the listed rules must be seen (all when no condition is given).
  auto temporal = [](const std::string& type, const std::string& condition) {
    return ParseCorrelationRule("title: t\nid: x\ncorrelation:\n  type: " + type +
                                    "\n  rules: [a, b, c]\n  timespan: 5m\n" + condition,
                                "t.yml");
  };
  EXPECT_EQ(temporal("temporal", "")->threshold, 3);
  EXPECT_EQ(temporal("temporal", "  condition: {gte: 2}\n")->threshold, 2);
  EXPECT_EQ(temporal("temporal_ordered", "  condition: {gte: 3}\n")->threshold, 3);
  for (const auto& [type, condition, reason] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"temporal", "{lt: 3}", "supports only gt and gte"},
           {"temporal", "{gt: 3}", "lists 3 rules"},
           {"temporal_ordered", "{gte: 2}", "may only ask for all 3"}}) {
    auto r = temporal(type, "  condition: " + condition + "\n");
    ASSERT_FALSE(r.ok()) << type << " " << condition;
    EXPECT_NE(r.status().message().find(reason), std::string::npos) << r.status().message();
  }
  {
    auto two_of_three = temporal("temporal", "  condition: {gte: 2}\n  group-by: [source.ip]\n");
    ASSERT_TRUE(two_of_three.ok());
    CorrelationTracker tracker({*two_of_three}, 10);
    Event ev;
    ev.Set(Field::kSourceIp, "192.0.2.1");
    std::vector<CorrelationHit> hits;
    tracker.OnMatch(0, 2, ev, kStart, &hits);
    tracker.OnMatch(0, 2, ev, kStart + 1000, &hits);
    EXPECT_TRUE(hits.empty()) << "one rule twice is one of three";
    tracker.OnMatch(0, 0, ev, kStart + 2000, &hits);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].value, 2);
  }
  EXPECT_FALSE(parse("  condition: {gte: 3}\n  group-by: [no.such.field]\n").ok());
  EXPECT_FALSE(parse("").ok()) << "no condition";
  // Aliases: what the parser can tell alone (the links are checked by LinkCorrelations).
  auto aliased = [](const std::string& aliases) {
    return ParseCorrelationRule(
        "title: t\nid: x\ncorrelation:\n  type: temporal\n  rules: [a, b]\n"
        "  group-by: [peer, user.name]\n  timespan: 5m\n" +
            aliases,
        "t.yml");
  };
  auto ok = aliased("  aliases: {peer: {a: source.ip, b: destination.ip}}\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->group_by, (std::vector<std::string>{"peer", "user.name"}));
  EXPECT_EQ(ok->group_fields,
            (std::vector<std::vector<Field>>{{Field::kSourceIp, Field::kUserName},
                                             {Field::kDestinationIp, Field::kUserName}}));
  // A rule the alias names otherwise than `rules` does waits for the link.
  auto by_other_name = aliased("  aliases: {peer: {a: source.ip}}\n");
  ASSERT_TRUE(by_other_name.ok());
  EXPECT_EQ(by_other_name->group_fields[1][0], Field::kCount);
  // A null alias map is no aliases: `peer` is then an unknown field, not a malformed map.
  EXPECT_NE(aliased("  aliases: ~\n").status().message().find("group-by field 'peer'"),
            std::string::npos);
  for (const auto& [aliases, reason] : std::vector<std::pair<std::string, std::string>>{
           {"  aliases: {peer: {a: source.ip, b: no.such.field}}\n", "has no event mapping"},
           {"  aliases: {peer: [a, b]}\n", "must map rule names to fields"},
           {"  aliases: [peer]\n", "not a map"},
           {"", "group-by field 'peer' has no event mapping"}}) {
    auto bad = aliased(aliases);
    ASSERT_FALSE(bad.ok()) << aliases;
    EXPECT_NE(bad.status().message().find(reason), std::string::npos)
        << aliases << ": " << bad.status().message();
  }
  EXPECT_EQ(*ParseTimespan("90s"), 90000);
  EXPECT_EQ(*ParseTimespan("2h"), 7200000);
  EXPECT_FALSE(ParseTimespan("10").ok());
  EXPECT_FALSE(ParseTimespan("-1m").ok());
  EXPECT_FALSE(ParseTimespan("1w").ok());
}

TEST(LiveEngineTest, CorrelationNamingAMissingRuleIsSkippedWithItsReason) {
  LiveEngineOptions opt;
  opt.rule_texts = {
      "title: c\nid: c1\ncorrelation:\n  type: event_count\n  rules: [nope]\n"
      "  timespan: 1m\n  condition: {gte: 2}\n"};
  Harness h(opt);
  ASSERT_EQ(h.engine->skipped().size(), 1u);
  EXPECT_NE(h.engine->skipped()[0].reason.find("'nope'"), std::string::npos);
}

}  // namespace
}  // namespace rampart::detect
