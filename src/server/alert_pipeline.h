// Where the live detection engine's alerts go: stored first (grouped by rule and entity, see
// Store::RecordAlert), then handed to each configured sink (file, syslog, webhook), each behind
// its own queue and thread, and to the stored listeners (incidents, playbooks).
//
// Once started, a writer thread stores what the engine hands over in batches, one transaction
// each: under a storm of distinct alerts the engine goes on matching at its own pace instead of
// waiting for a commit per alert (a commit costs far more than a match). Without Start() each
// alert is stored inline, on the engine's thread (tests that drive the engine by hand).
//
//   auto pipeline = AlertPipeline::Create(config.detection, store);
//   auto engine = detect::LiveEngine::Create(opts, &clock, pipeline->get());
//   (*pipeline)->Start();
//   ...
//   engine->Stop();      // the engine's last alerts are handed over
//   pipeline->Stop();    // stored and delivered, then the writer and the sinks stop
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "detect/alert_sinks.h"
#include "detect/live_engine.h"
#include "store/store.h"

namespace rampart::server {

class AlertPipeline final : public detect::AlertHandler {
 public:
  // Opens the configured sinks; InvalidArgument when one cannot be opened (an unwritable file,
  // an unresolvable syslog host, a webhook without a readable secret file). `clock` (which must
  // outlive the pipeline) stamps each alert's detection time, created_at_ms, as it is stored:
  // the "first alert" that time to detect runs to from the event's own time.
  static Result<std::unique_ptr<AlertPipeline>> Create(
      const DetectionConfig& config, store::Store* store,
      const Clock* clock = &SystemClock::Instance());
  ~AlertPipeline() override;

  // Starts the writer thread. Idempotent; a pipeline once stopped stays stopped (its sinks are).
  void Start();
  // Stamps the detection time and queues the observation for the writer (stores it inline when
  // not started, or once the writer has exited; after Stop() the sinks drop it, counted). Blocks
  // only while kMaxQueued alerts wait to be written: the engine then slows to the store's pace, and
  // its own queue's drops raise the drop alert.
  void OnAlert(const core::Alert& observation) override;
  // Returns once every alert queued before the call is stored and its listeners have run.
  void Flush();
  // Stores and delivers what is queued, stops the writer, then delivers what the sinks still
  // hold and stops their threads. Idempotent.
  void Stop();

  // Each listener is called after every alert is stored, on the writer thread (the engine
  // thread when not started), in the order added (incidents, playbooks; benchmarks measure
  // latency here). Add before Start().
  void AddStoredListener(std::function<void(const core::Alert&)> fn) {
    stored_listeners_.push_back([fn = std::move(fn)](const std::vector<core::Alert>& batch) {
      for (const core::Alert& a : batch) fn(a);
    });
  }
  // The same for each batch of stored alerts (in the order stored), for listeners that write
  // to the store in turn and do so in one transaction per batch.
  void AddStoredBatchListener(std::function<void(const std::vector<core::Alert>&)> fn) {
    stored_listeners_.push_back(std::move(fn));
  }
  // Alerts waiting for the writer at most (each with its evidence, up to
  // detection.max_evidence events: about 40 MiB at worst with the default of 10); the most one
  // transaction stores, which keeps a batch's hold on the store's write lock near 10 ms for the
  // request path's writes (check-ins, enrollments) waiting behind it.
  static constexpr size_t kMaxQueued = 4096;
  static constexpr size_t kMaxBatch = 64;
  // Tries the writer gives a batch that failed because the database was busy or locked, the
  // first pause between them (each next one four times longer). Each try may itself wait the
  // store's busy timeout; meanwhile alerts queue up to kMaxQueued. Once Stop() is called a batch
  // is tried once, so that a database locked for good cannot hold the shutdown for minutes.
  static constexpr int kBusyAttempts = 3;
  static constexpr int kFirstBusyPauseMs = 100;
  uint64_t store_failures() const { return store_failures_.load(); }
  // Times the engine waited for room in the writer's queue.
  uint64_t queue_waits() const { return queue_waits_.load(); }
  // Times the writer tried a batch again because the database was busy.
  uint64_t busy_retries() const { return busy_retries_.load(); }
  // Whether Stop() has been called (it may still be draining).
  bool stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }
  // Prometheus text for the engine's and the sinks' counters (for /metrics); thread-safe.
  std::string RenderMetrics(const detect::LiveEngine& engine) const;

 private:
  AlertPipeline(store::Store* store, int max_evidence, const Clock* clock)
      : store_(store), clock_(clock), max_evidence_(max_evidence) {}
  store::Store* store_;
  const Clock* clock_;
  int max_evidence_;
  void WriterLoop();
  // Stores the batch (one transaction, tried up to `attempts` times while the database is busy;
  // one by one when the store refuses it), then hands the stored alerts to the sinks and the
  // listeners.
  void StoreAndDeliver(const std::vector<core::Alert>& batch, int attempts);

  std::vector<std::unique_ptr<detect::AsyncAlertSink>> sinks_;
  std::vector<std::function<void(const std::vector<core::Alert>&)>> stored_listeners_;
  std::atomic<uint64_t> store_failures_{0};
  std::atomic<uint64_t> queue_waits_{0};
  std::atomic<uint64_t> busy_retries_{0};

  std::mutex stop_mu_;  // held through Stop()
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the writer: alerts queued, or stopping
  std::condition_variable room_cv_;  // OnAlert: the queue has room
  std::condition_variable done_cv_;  // Flush: a batch delivered
  std::deque<core::Alert> queue_;    // guarded by mu_
  uint64_t queued_total_ = 0;        // guarded by mu_
  uint64_t delivered_total_ = 0;     // guarded by mu_
  bool running_ = false;             // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  bool writer_exited_ = false;       // guarded by mu_
  std::thread writer_;
};

// What AlertPipeline::Create refuses (an alert file that cannot be opened for appending, an
// unresolvable syslog host, a webhook without a readable secret file or with a URL or CA it
// cannot use), found without opening the outputs for good: the alert file is not created (its
// folder must let the server create it). For `rampart config check`: the message starts with
// the key at fault ("detection.syslog: ...").
Status CheckAlertSinks(const DetectionConfig& config);

// The engine options from the configuration, with the bundled rules directory first.
detect::LiveEngineOptions EngineOptions(const DetectionConfig& config,
                                        const std::string& bundled_rules_dir);

}  // namespace rampart::server
