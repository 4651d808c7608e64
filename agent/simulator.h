// The fleet simulator behind `rampart-agent simulate`: N virtual devices in one process, each
// with its own Ed25519 key pair and drifting state, talking the device protocol to a real server.
//
// One thread drives everything asynchronously (Boost.Beast over Asio, inside simulator.cc): a
// bounded pool of keep-alive TLS connections carries all requests, so 10,000 devices cost 64
// connections rather than 10,000 handshakes. Devices enroll first (at most one enrollment per
// connection at a time), then sit in a priority queue keyed by their next check-in time; a 10 ms
// tick starts the due ones, each every `interval_seconds` with +/-10% jitter. A check-in session
// runs the device's commands one after another (downloading packages for install_app) and
// reports each outcome, exactly like the single agent.
//
//   SimulatorOptions o{.server_url = "https://127.0.0.1:8443", .ca_file = "ca.pem",
//                      .token = "enr_...", .devices = 1000, .interval_seconds = 60,
//                      .duration_seconds = 120};
//   auto summary = RunSimulation(o);
//   std::cout << SummaryText(*summary);
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "agent/device_model.h"
#include "agent/stats.h"
#include "common/status.h"

namespace rampart::agent {

struct SimulatorOptions {
  std::string server_url;  // https://host:port
  std::string ca_file;
  std::string token;  // one enrollment token with enough uses for every device
  int64_t devices = 100;
  double interval_seconds = 60;
  double duration_seconds = 60;
  double platform_mix = 0.5;  // fraction of iOS devices
  int connections = 64;
  uint64_t seed = 1;
  int timeout_ms = 10000;
  DriftRates drift;
};

struct SimulatorSummary {
  int64_t devices_requested = 0;
  int64_t devices_enrolled = 0;
  int64_t devices_stopped = 0;  // fully wiped or retired during the run
  double duration_seconds = 0;  // from start to the end of the run
  double enroll_seconds = 0;    // until the last enrollment finished; -1 if they did not all
  int64_t checkins = 0;         // answered with 200 before the end
  double checkins_per_second = 0;
  LatencySummary checkin_latency_ms;
  LatencySummary enroll_latency_ms;
  // How late check-ins started compared with their schedule: near zero unless the server (or
  // the connection pool) cannot keep up.
  LatencySummary schedule_lag_ms;
  std::map<std::string, int64_t> commands_executed;  // by type, whatever the outcome
  std::map<std::string, int64_t> command_errors;     // by type, outcome "error"
  std::map<std::string, int64_t> commands_rejected;  // by reason: refused, never executed
  std::map<std::string, int64_t> errors;             // failed requests by "<operation>_<kind>"
  std::map<std::string, int64_t> compliance;         // devices by compliance state at last check-in
  int64_t apps_downloaded = 0;
  int64_t bytes_downloaded = 0;
};

// Runs the simulation until duration_seconds have passed (or SIGINT/SIGTERM), then lets
// requests in flight finish for a moment and returns the summary. InvalidArgument for bad
// options or an unusable CA file; Unavailable when the server's host cannot be resolved.
// Failures of individual requests are counted in the summary, not returned.
Result<SimulatorSummary> RunSimulation(const SimulatorOptions& options);

std::string SummaryText(const SimulatorSummary& summary);
std::string SummaryJson(const SimulatorSummary& summary);

}  // namespace rampart::agent
