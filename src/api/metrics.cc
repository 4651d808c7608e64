#include "api/metrics.h"

#include <cstdio>

namespace rampart::api {

std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

static std::string Series(std::string_view name, std::string_view label_name,
                          std::string_view label_value) {
  std::string s(name);
  if (!label_name.empty()) {
    s += '{';
    s.append(label_name).append("=\"").append(EscapeLabel(label_value)).append("\"}");
  }
  return s;
}

void Metrics::ObserveRequest(std::string_view method, std::string_view route, int status,
                             int64_t duration_us) {
  std::string labels =
      "method=\"" + EscapeLabel(method) + "\",route=\"" + EscapeLabel(route) + "\"";
  std::string counter =
      "rampart_http_requests_total{" + labels + ",status=\"" + std::to_string(status) + "\"}";
  double ms = static_cast<double>(duration_us) / 1000.0;
  std::lock_guard lock(mu_);
  ++counters_[counter];
  Histogram& h = latency_[labels];
  for (size_t i = 0; i < kBucketsMs.size(); ++i) {
    if (ms <= kBucketsMs[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum_seconds += ms / 1000.0;
}

void Metrics::Increment(std::string_view name, std::string_view label_name,
                        std::string_view label_value, int64_t by) {
  std::string key = Series(name, label_name, label_value);
  std::lock_guard lock(mu_);
  counters_[key] += by;
}

std::string Metrics::RenderPrometheus(const std::string& extra) const {
  std::string out;
  std::lock_guard lock(mu_);
  std::string last_family;
  for (const auto& [series, value] : counters_) {
    std::string family = series.substr(0, series.find('{'));
    if (family != last_family) {
      out += "# TYPE " + family + " counter\n";
      last_family = family;
    }
    out += series + " " + std::to_string(value) + "\n";
  }
  if (!latency_.empty()) {
    out += "# TYPE rampart_http_request_duration_seconds histogram\n";
    char buf[64];
    for (const auto& [labels, h] : latency_) {
      for (size_t i = 0; i < kBucketsMs.size(); ++i) {
        std::snprintf(buf, sizeof(buf), "%g", kBucketsMs[i] / 1000.0);
        out += "rampart_http_request_duration_seconds_bucket{" + labels + ",le=\"" + buf + "\"} " +
               std::to_string(h.buckets[i]) + "\n";
      }
      out += "rampart_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
             std::to_string(h.count) + "\n";
      std::snprintf(buf, sizeof(buf), "%.6f", h.sum_seconds);
      out += "rampart_http_request_duration_seconds_sum{" + labels + "} " + buf + "\n";
      out += "rampart_http_request_duration_seconds_count{" + labels + "} " +
             std::to_string(h.count) + "\n";
    }
  }
  out += extra;
  return out;
}

}  // namespace rampart::api
