// Latency statistics for the simulator summary.
#pragma once

#include <cstdint>
#include <vector>

namespace rampart::agent {

// Nearest-rank percentile (p in [0, 100]) of an ascending-sorted sample: the smallest value such
// that at least p% of the samples are less than or equal to it. 0 for an empty sample.
double Percentile(const std::vector<double>& sorted, double p);

struct LatencySummary {
  uint64_t count = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Sorts the samples (they are taken by value) and summarises them.
LatencySummary Summarize(std::vector<double> samples);

}  // namespace rampart::agent
