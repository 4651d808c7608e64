// Prometheus metrics kept in memory and rendered in the text exposition format (version 0.0.4)
// on GET /metrics. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace rampart::api {

class Metrics {
 public:
  // One answered request: counted by method, route pattern and status; latency in a histogram.
  void ObserveRequest(std::string_view method, std::string_view route, int status,
                      int64_t duration_us);
  // A named counter with one optional label, e.g. ("rampart_auth_failures_total", "reason",
  // "bad_signature").
  void Increment(std::string_view name, std::string_view label_name = {},
                 std::string_view label_value = {}, int64_t by = 1);
  // Renders all counters and histograms; `extra` is appended verbatim (gauges computed at
  // scrape time, such as queue depths).
  std::string RenderPrometheus(const std::string& extra) const;

 private:
  static constexpr std::array<double, 12> kBucketsMs{0.5, 1,   2.5, 5,    10,   25,
                                                     50,  100, 250, 1000, 2500, 10000};
  struct Histogram {
    std::array<int64_t, kBucketsMs.size()> buckets{};
    int64_t count = 0;
    double sum_seconds = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, int64_t, std::less<>> counters_;   // full series text -> value
  std::map<std::string, Histogram, std::less<>> latency_;  // route labels -> histogram
};

// Escapes a label value for the exposition format (backslash, quote, newline).
std::string EscapeLabel(std::string_view value);

}  // namespace rampart::api
