// Time to detect end to end in process: the live engine stamps the event's millisecond, the alert
// pipeline stamps the moment it stores the alert, the incident tracker opens the incident, and
// the analysis reads both back from the store. Manual clocks: nothing here depends on wall time.
#include <gtest/gtest.h>

#include "../support/fake_keeper.h"
#include "common/crypto.h"
#include "detect/live_engine.h"
#include "respond/incident.h"
#include "server/alert_pipeline.h"
#include "store/store.h"

namespace rampart::respond {
namespace {

constexpr int64_t kEventMs = 1'769'763'600'100;  // 2026-01-30T09:00:00.100Z

TEST(DetectionTiming, AlertStoredQuarterOfASecondAfterTheEventDetectsIn250Ms) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  auto store = store::OpenStore("sqlite::memory:");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ManualClock clock(kEventMs + 250);  // the engine and the pipeline run 250 ms after the event
  DetectionConfig config;
  auto pipeline = server::AlertPipeline::Create(config, store->get(), &clock);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  IncidentTracker tracker(store->get(), &clock, 86400);
  (*pipeline)->AddStoredListener([&](const core::Alert& a) { tracker.OnStoredAlert(a); });

  detect::LiveEngineOptions opt;
  opt.canary_paths = {"/mifs/403.jsp"};
  auto engine = detect::LiveEngine::Create(opt, &clock, pipeline->get());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  SecurityEvent ev("http.request");
  ev.Set("source.ip", "203.0.113.7").Set("url.path", "/mifs/403.jsp");
  ev.Set("http.response.status_code", "404");
  ev.timestamp_millis = kEventMs;
  (*engine)->Emit(std::move(ev));
  (*engine)->ProcessPending();
  EXPECT_EQ((*pipeline)->store_failures(), 0u);
  EXPECT_EQ(tracker.failures(), 0u);

  auto alerts = (*store)->ListAlerts(store::Scope::All(), {}, {50, ""});
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->items.size(), 1u);
  const core::Alert& a = alerts->items[0];
  EXPECT_EQ(a.first_seen_ms, kEventMs);
  EXPECT_EQ(a.created_at_ms, kEventMs + 250) << "stamped by the pipeline as it stores";
  EXPECT_EQ(a.created_at, (kEventMs + 250) / 1000) << "the seconds agree with the milliseconds";

  auto incidents = (*store)->ListIncidents(store::Scope::All(), {}, {50, ""});
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->items.size(), 1u);
  ::rampart::testing::FakeKeeper keeper;
  auto analysis = AnalyzeIncident(**store, keeper, store::Scope::All(), incidents->items[0].id,
                                  keeper::Caller{"tok_analyst", "analyst", "", "req", "", "test"},
                                  clock.NowSeconds());
  ASSERT_TRUE(analysis.ok()) << analysis.status().ToString();
  EXPECT_EQ(analysis->figures.first_malicious_event_ms, kEventMs);
  EXPECT_EQ(analysis->figures.time_to_detect_ms, 250);
  EXPECT_EQ(analysis->figures.time_to_detect_seconds, 0);
  EXPECT_FALSE(analysis->figures.contained);
  EXPECT_EQ(analysis->figures.time_to_contain_ms, -1);
}

}  // namespace
}  // namespace rampart::respond
