// An EventSink for tests: keeps every event emitted, from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/event_sink.h"

namespace rampart::testing {

class CapturingSink final : public EventSink {
 public:
  void Emit(SecurityEvent event) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  // Every event so far, forgotten here.
  std::vector<SecurityEvent> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(events_, {});
  }
  std::vector<SecurityEvent> WithAction(std::string_view action) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SecurityEvent> out;
    for (const auto& e : events_) {
      if (e.Get("event.action") == action) out.push_back(e);
    }
    return out;
  }
  void ReportLost(uint64_t count) override { lost_ += count; }
  uint64_t lost() const { return lost_.load(); }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  // Polls until at least n events arrived or 20 s passed; returns them all (kept).
  std::vector<SecurityEvent> WaitFor(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::atomic<uint64_t> lost_{0};
  std::mutex mu_;
  std::vector<SecurityEvent> events_;
};

}  // namespace rampart::testing
