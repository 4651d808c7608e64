// Where the live detection engine's alerts go: stored first (grouped by rule and entity, see
// Store::RecordAlert), then handed to each configured sink (file, syslog, webhook), each behind
// its own queue and thread. Runs on the engine thread; the request path never waits for it.
//
//   auto pipeline = AlertPipeline::Create(config.detection, store);
//   auto engine = detect::LiveEngine::Create(opts, &clock, pipeline->get());
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
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

  void OnAlert(const core::Alert& observation) override;
  // Delivers what the sinks still hold, then stops their threads.
  void Stop();

  // Each listener is called after every alert is stored, on the engine thread, in the order
  // added (incidents, playbooks; benchmarks measure latency here). Add before the engine starts.
  void AddStoredListener(std::function<void(const core::Alert&)> fn) {
    stored_listeners_.push_back(std::move(fn));
  }
  uint64_t store_failures() const { return store_failures_.load(); }
  // Prometheus text for the engine's and the sinks' counters (for /metrics); thread-safe.
  std::string RenderMetrics(const detect::LiveEngine& engine) const;

 private:
  AlertPipeline(store::Store* store, int max_evidence, const Clock* clock)
      : store_(store), clock_(clock), max_evidence_(max_evidence) {}
  store::Store* store_;
  const Clock* clock_;
  int max_evidence_;
  std::vector<std::unique_ptr<detect::AsyncAlertSink>> sinks_;
  std::vector<std::function<void(const core::Alert&)>> stored_listeners_;
  std::atomic<uint64_t> store_failures_{0};
};

// The engine options from the configuration, with the bundled rules directory first.
detect::LiveEngineOptions EngineOptions(const DetectionConfig& config,
                                        const std::string& bundled_rules_dir);

}  // namespace rampart::server
