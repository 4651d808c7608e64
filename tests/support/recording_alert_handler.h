// An AlertHandler for tests: keeps every alert the engine raises, from any thread.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "detect/live_engine.h"

namespace rampart::testing {

class RecordingAlertHandler final : public detect::AlertHandler {
 public:
  void OnAlert(const core::Alert& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_.push_back(a);
  }
  // Every alert so far, forgotten here.
  std::vector<core::Alert> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(alerts_, {});
  }
  size_t CountRule(const std::string& rule) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& a : alerts_) n += a.rule_id == rule;
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<core::Alert> alerts_;
};

}  // namespace rampart::testing
