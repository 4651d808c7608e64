// The alert pipeline's writer thread: what the engine hands over is stored in batches, in order,
// then the sinks and the stored listeners see every alert once; a batch the store refuses is
// stored one by one; Stop() writes what is still queued. The incident tracker links a batch in
// one transaction, and alone when that fails.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../support/faulty_store.h"
#include "common/crypto.h"
#include "common/log.h"
#include "respond/incident.h"
#include "server/alert_pipeline.h"
#include "store/store.h"

namespace rampart::server {
namespace {

core::Alert Observation(const std::string& rule, const std::string& entity, int64_t at) {
  core::Alert a;
  a.rule_id = rule;
  a.rule_title = "Title of " + rule;
  a.entity = entity;
  a.severity = "high";
  a.attack = {"T1190"};
  a.evidence = {"{\"n\":" + std::to_string(at) + "}"};
  a.first_seen = a.last_seen = at;
  a.count = 1;
  return a;
}

// Holds the writer inside a delivery until Open(), so that what is handed over meanwhile waits
// in the queue and makes the next batch. Close() arms it again.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void AwaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
    entered_ = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true, entered_ = false;
};

class AlertPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    log::SetMinLevel(log::Level::kError);
    auto s = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    real_ = std::move(s).value();
    faulty_ = std::make_unique<store::testing::FaultyStore>(real_.get());
  }

  std::unique_ptr<AlertPipeline> Pipeline(const DetectionConfig& config = {}) {
    auto p = AlertPipeline::Create(config, faulty_.get(), &clock_);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  // A started pipeline whose writer is held (by `gate`) inside the delivery of a first alert
  // from `held_entity`: what is handed over next queues behind it.
  // `also` is a listener of its own, added before the gate's (listeners are added before
  // Start()).
  std::unique_ptr<AlertPipeline> HeldPipeline(
      Gate* gate, const std::string& held_entity, const DetectionConfig& config = {},
      std::function<void(const core::Alert&)> also = nullptr) {
    auto pipeline = Pipeline(config);
    if (pipeline == nullptr) return nullptr;
    if (also) pipeline->AddStoredListener(std::move(also));
    pipeline->AddStoredListener([gate](const core::Alert&) { gate->Wait(); });
    pipeline->Start();
    gate->Close();
    pipeline->OnAlert(Observation("r1", held_entity, 100));
    gate->AwaitEntered();
    return pipeline;
  }

  size_t StoredAlerts() {
    size_t n = 0;
    store::PageRequest request{100, ""};
    for (;;) {
      auto page = real_->ListAlerts(store::Scope::All(), {}, request);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) return n;
      n += page->items.size();
      if (page->next_cursor.empty()) return n;
      request.cursor = page->next_cursor;
    }
  }

  ManualClock clock_{1'769'763'600'000};
  std::unique_ptr<store::Store> real_;
  std::unique_ptr<store::testing::FaultyStore> faulty_;
};

TEST_F(AlertPipelineTest, WriterStoresEveryAlertInOrderAndListenersSeeEachOnce) {
  auto pipeline = Pipeline();
  ASSERT_NE(pipeline, nullptr);
  std::mutex mu;
  std::vector<std::string> seen;  // "entity count", in the order the listener saw them
  size_t batches = 0;
  pipeline->AddStoredListener([&](const core::Alert& a) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(a.entity + " " + std::to_string(a.count));
  });
  pipeline->AddStoredBatchListener([&](const std::vector<core::Alert>& batch) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_FALSE(batch.empty());
    EXPECT_LE(batch.size(), AlertPipeline::kMaxBatch);
    ++batches;
  });
  pipeline->Start();
  pipeline->Start();  // idempotent
  // More than one batch, with a repeat of every entity after the others.
  const int kDistinct = 600;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kDistinct; ++i) {
      pipeline->OnAlert(Observation("r1", "source.ip=10.0.0." + std::to_string(i), 100 + round));
    }
  }
  pipeline->Flush();
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(seen.size(), 2u * kDistinct);
    EXPECT_EQ(seen[0], "source.ip=10.0.0.0 1");
    EXPECT_EQ(seen[kDistinct - 1], "source.ip=10.0.0." + std::to_string(kDistinct - 1) + " 1");
    EXPECT_EQ(seen[kDistinct], "source.ip=10.0.0.0 2") << "the repeat folds, after its first";
    EXPECT_GE(batches, 2u * kDistinct / AlertPipeline::kMaxBatch);
  }
  EXPECT_EQ(StoredAlerts(), static_cast<size_t>(kDistinct));
  EXPECT_EQ(pipeline->store_failures(), 0u);
  EXPECT_GE(faulty_->calls("RecordAlerts"), 1);
  EXPECT_EQ(faulty_->calls("RecordAlert"), 0) << "no batch fell back to one by one";

  // The detection time is the pipeline's clock when the alert was handed over.
  auto page = real_->ListAlerts(store::Scope::All(), {}, {1, ""});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].created_at_ms, clock_.NowMillis());
  pipeline->Stop();
  pipeline->Stop();  // idempotent
}

TEST_F(AlertPipelineTest, RefusedBatchIsStoredOneByOneAndABusyOneIsTriedAgain) {
  Gate gate;
  auto pipeline = HeldPipeline(&gate, "source.ip=192.0.2.1");
  ASSERT_NE(pipeline, nullptr);
  const int64_t handed_over = clock_.NowMillis() + 1000;
  clock_.SetMillis(handed_over);
  for (int i = 2; i <= 6; ++i) {
    pipeline->OnAlert(Observation("r1", "source.ip=192.0.2." + std::to_string(i), 100));
  }
  clock_.SetMillis(handed_over + 5000);  // the writer stores them later
  // A row the store refuses fails the batch: each alert is then stored alone.
  faulty_->FailNext("RecordAlerts", 1, Status::InvalidArgument("a refused row"));
  gate.Open();
  pipeline->Flush();
  EXPECT_EQ(faulty_->calls("RecordAlert"), 5) << "the refused batch of five, one by one";
  EXPECT_EQ(pipeline->store_failures(), 0u);
  EXPECT_EQ(StoredAlerts(), 6u);
  store::AlertFilter by_entity;
  by_entity.entity = "source.ip=192.0.2.2";
  auto a2 = real_->ListAlerts(store::Scope::All(), by_entity, {10, ""});
  ASSERT_TRUE(a2.ok());
  ASSERT_EQ(a2->items.size(), 1u);
  EXPECT_EQ(a2->items[0].created_at_ms, handed_over) << "detected when handed over, not stored";

  // A busy or locked database fails the batch as a whole: one alert at a time would wait the
  // busy timeout once each. The writer tries the same batch again after a pause.
  gate.Close();
  pipeline->OnAlert(Observation("r1", "source.ip=192.0.2.10", 100));
  gate.AwaitEntered();
  for (int i = 11; i <= 13; ++i) {
    pipeline->OnAlert(Observation("r1", "source.ip=192.0.2." + std::to_string(i), 100));
  }
  faulty_->FailNext("RecordAlerts", 1, Status::Unavailable("database is locked"));
  const int batches_before = faulty_->calls("RecordAlerts");
  gate.Open();
  pipeline->Flush();
  EXPECT_EQ(faulty_->calls("RecordAlerts"), batches_before + 2) << "the busy batch, then again";
  EXPECT_EQ(faulty_->calls("RecordAlert"), 5) << "no alert tried alone";
  EXPECT_EQ(pipeline->busy_retries(), 1u);
  EXPECT_EQ(pipeline->store_failures(), 0u) << "the batch was stored on its second try";
  EXPECT_EQ(StoredAlerts(), 10u);

  // Busy on every try: the batch is given up, each alert counted and logged as failed.
  gate.Close();
  pipeline->OnAlert(Observation("r1", "source.ip=192.0.2.14", 100));
  gate.AwaitEntered();
  for (int i = 15; i <= 17; ++i) {
    pipeline->OnAlert(Observation("r1", "source.ip=192.0.2." + std::to_string(i), 100));
  }
  faulty_->FailNext("RecordAlerts", AlertPipeline::kBusyAttempts,
                    Status::Unavailable("database is locked"));
  const int tries_before = faulty_->calls("RecordAlerts");
  gate.Open();
  pipeline->Flush();
  EXPECT_EQ(faulty_->calls("RecordAlerts"), tries_before + AlertPipeline::kBusyAttempts);
  EXPECT_EQ(faulty_->calls("RecordAlert"), 5) << "still no alert tried alone";
  EXPECT_EQ(pipeline->busy_retries(), 1u + (AlertPipeline::kBusyAttempts - 1));
  EXPECT_EQ(pipeline->store_failures(), 3u);
  EXPECT_EQ(StoredAlerts(), 11u);

  // Once stopping, a busy batch is tried once: a database locked for good must not hold the
  // shutdown.
  gate.Close();
  pipeline->OnAlert(Observation("r1", "source.ip=192.0.2.18", 100));
  gate.AwaitEntered();
  pipeline->OnAlert(Observation("r1", "source.ip=192.0.2.19", 100));
  faulty_->FailNext("RecordAlerts", AlertPipeline::kBusyAttempts,
                    Status::Unavailable("database is locked"));
  const int tries_at_stop = faulty_->calls("RecordAlerts");
  std::thread stopper([&] { pipeline->Stop(); });
  // Stop() marks the pipeline stopping before it waits for the writer, held at the gate.
  while (!pipeline->stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  gate.Open();
  stopper.join();
  EXPECT_EQ(faulty_->calls("RecordAlerts"), tries_at_stop + 1);
  EXPECT_EQ(pipeline->busy_retries(), 1u + (AlertPipeline::kBusyAttempts - 1)) << "none more";
  EXPECT_EQ(pipeline->store_failures(), 4u);
  EXPECT_EQ(StoredAlerts(), 12u) << "the held alert";
  faulty_->FailNext("RecordAlerts", 0, Status::Ok());

  // Not started: an alert is a batch of one, and its failure is not tried twice.
  auto inline_pipeline = Pipeline();
  ASSERT_NE(inline_pipeline, nullptr);
  faulty_->FailNext("RecordAlerts", 1, Status::InvalidArgument("a refused row"));
  inline_pipeline->OnAlert(Observation("r1", "source.ip=192.0.2.20", 100));
  EXPECT_EQ(inline_pipeline->store_failures(), 1u);
  EXPECT_EQ(faulty_->calls("RecordAlert"), 5);
  inline_pipeline->OnAlert(Observation("r1", "source.ip=192.0.2.21", 100));
  EXPECT_EQ(StoredAlerts(), 13u);
  // Inline (the engine's own thread), a busy database is not waited for again.
  faulty_->FailNext("RecordAlerts", 1, Status::Unavailable("database is locked"));
  inline_pipeline->OnAlert(Observation("r1", "source.ip=192.0.2.22", 100));
  EXPECT_EQ(inline_pipeline->busy_retries(), 0u);
  EXPECT_EQ(inline_pipeline->store_failures(), 2u);
  EXPECT_EQ(StoredAlerts(), 13u);
}

TEST_F(AlertPipelineTest, StopWritesWhatIsQueuedAndTheSinksGetEveryAlert) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("rampart_pipeline_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  DetectionConfig config;
  config.alerts_file = (dir / "alerts.jsonl").string();
  std::mutex mu;
  std::vector<std::string> order;
  std::set<std::thread::id> threads;
  Gate gate;
  auto pipeline = HeldPipeline(&gate, "source.ip=10.1.1.1", config, [&](const core::Alert& a) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(a.entity);
    threads.insert(std::this_thread::get_id());
  });
  ASSERT_NE(pipeline, nullptr);
  for (int i = 0; i < 300; ++i) {
    pipeline->OnAlert(Observation("r1", "source.ip=10.1.0." + std::to_string(i), 100));
  }
  // Stop while 300 alerts wait behind the held batch: they are written before it returns. An
  // alert handed over while the writer drains goes behind them, on the same thread.
  std::thread stopper([&] { pipeline->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pipeline->OnAlert(Observation("r1", "source.ip=10.1.9.9", 100));
  gate.Open();
  stopper.join();
  EXPECT_EQ(StoredAlerts(), 302u);
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(order.size(), 302u);
    EXPECT_EQ(order.front(), "source.ip=10.1.1.1");
    EXPECT_EQ(order[1], "source.ip=10.1.0.0");
    EXPECT_EQ(order.back(), "source.ip=10.1.9.9");
    EXPECT_EQ(threads.size(), 1u) << "one thread delivered them all";
  }
  std::ifstream in(config.alerts_file);
  std::string line;
  std::set<std::string> entities;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    entities.insert(j.value("entity", ""));
  }
  EXPECT_EQ(entities.size(), 302u);
  // Stopped: an alert handed over now is stored inline, not left in a queue nobody reads, and
  // the pipeline does not start again.
  pipeline->Start();
  pipeline->OnAlert(Observation("r1", "source.ip=10.2.0.1", 101));
  EXPECT_EQ(StoredAlerts(), 303u);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_F(AlertPipelineTest, AFullQueueMakesTheEngineWaitNotDrop) {
  Gate gate;
  auto pipeline = HeldPipeline(&gate, "source.ip=10.3.255.255");
  ASSERT_NE(pipeline, nullptr);
  const size_t total = AlertPipeline::kMaxQueued + 1;
  std::atomic<size_t> handed{0};
  std::thread engine([&] {
    for (size_t i = 0; i < total; ++i) {
      pipeline->OnAlert(Observation(
          "r1", "source.ip=10.3." + std::to_string(i / 256) + "." + std::to_string(i % 256), 100));
      ++handed;
    }
  });
  // The last one waits for room.
  for (int waited = 0; pipeline->queue_waits() == 0 && waited < 10000; waited += 5) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(pipeline->queue_waits(), 1u);
  EXPECT_EQ(handed.load(), total - 1);
  gate.Open();
  engine.join();
  pipeline->Flush();
  EXPECT_EQ(StoredAlerts(), total + 1);
  EXPECT_EQ(pipeline->store_failures(), 0u);
}

TEST_F(AlertPipelineTest, IncidentTrackerLinksABatchInOneGoAndAloneWhenThatFails) {
  respond::IncidentTracker tracker(faulty_.get(), &clock_, 86400);
  auto a1 = real_->RecordAlert(Observation("r1", "source.ip=192.0.2.1", 100), 5);
  auto a2 = real_->RecordAlert(Observation("r2", "source.ip=192.0.2.1", 101), 5);
  auto a3 = real_->RecordAlert(Observation("r1", "source.ip=192.0.2.2", 102), 5);
  ASSERT_TRUE(a1.ok() && a2.ok() && a3.ok());
  tracker.OnStoredAlerts({*a1, *a2});
  EXPECT_EQ(faulty_->calls("AttachAlertsToIncidents"), 1);
  EXPECT_EQ(faulty_->calls("AttachAlertToIncident"), 0);
  auto incidents = real_->ListIncidents(store::Scope::All(), {}, {50, ""});
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->items.size(), 1u) << "one entity, one incident";

  faulty_->FailNext("AttachAlertsToIncidents", 1, Status::Unavailable("disk busy"));
  auto a4 = real_->RecordAlert(Observation("r2", "source.ip=192.0.2.2", 103), 5);
  ASSERT_TRUE(a4.ok());
  tracker.OnStoredAlerts({*a3, *a4});
  EXPECT_EQ(faulty_->calls("AttachAlertToIncident"), 2) << "each alone after the batch failed";
  EXPECT_EQ(tracker.failures(), 0u);
  incidents = real_->ListIncidents(store::Scope::All(), {}, {50, ""});
  ASSERT_TRUE(incidents.ok());
  EXPECT_EQ(incidents->items.size(), 2u);
}

}  // namespace
}  // namespace rampart::server
