#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/simulator.h"

namespace rampart::agent {
namespace {

SimulatorSummary Sample() {
  SimulatorSummary s;
  s.devices_requested = 10;
  s.devices_enrolled = 9;
  s.devices_stopped = 1;
  s.duration_seconds = 20;
  s.enroll_seconds = -1;
  s.checkins = 40;
  s.checkins_per_second = 2;
  s.checkin_latency_ms = Summarize({1, 2, 3, 4, 100});
  s.commands_executed = {{"lock", 3}, {"install_app", 2}};
  s.command_errors = {{"install_app", 1}};
  s.errors = {{"checkin_http_401", 2}};
  s.compliance = {{"compliant", 8}, {"noncompliant", 1}};
  s.apps_downloaded = 2;
  s.bytes_downloaded = 2048;
  return s;
}

// The benchmark script parses this JSON: its keys are an interface.
TEST(Summary, JsonCarriesEveryFigure) {
  auto j = nlohmann::json::parse(SummaryJson(Sample()));
  EXPECT_EQ(j["devices_requested"], 10);
  EXPECT_EQ(j["devices_enrolled"], 9);
  EXPECT_EQ(j["devices_stopped"], 1);
  EXPECT_EQ(j["checkins"], 40);
  EXPECT_EQ(j["checkins_per_second"], 2.0);
  EXPECT_EQ(j["enroll_seconds"], -1.0);
  EXPECT_EQ(j["checkin_latency_ms"]["p50"], 3.0);
  EXPECT_EQ(j["checkin_latency_ms"]["max"], 100.0);
  EXPECT_EQ(j["checkin_latency_ms"]["count"], 5);
  EXPECT_TRUE(j["enroll_latency_ms"].contains("p99"));
  EXPECT_TRUE(j["schedule_lag_ms"].contains("p90"));
  EXPECT_EQ(j["commands_executed"]["lock"], 3);
  EXPECT_EQ(j["command_errors"]["install_app"], 1);
  EXPECT_EQ(j["errors"]["checkin_http_401"], 2);
  EXPECT_EQ(j["compliance"]["noncompliant"], 1);
  EXPECT_EQ(j["bytes_downloaded"], 2048);
}

TEST(Summary, TextNamesTheFigures) {
  std::string t = SummaryText(Sample());
  EXPECT_NE(t.find("devices enrolled:   9 of 10"), std::string::npos);
  EXPECT_NE(t.find("check-ins:          40 (2.00/s)"), std::string::npos);
  EXPECT_NE(t.find("install_app 2, lock 3"), std::string::npos);
  EXPECT_NE(t.find("checkin_http_401 2"), std::string::npos);
}

TEST(Summary, RejectsBadOptionsBeforeAnyNetwork) {
  SimulatorOptions o;
  o.server_url = "https://127.0.0.1:1";
  o.ca_file = "/nonexistent/ca.pem";
  o.token = "enr_x";
  o.devices = 0;
  EXPECT_EQ(RunSimulation(o).status().code(), Code::kInvalidArgument);
  o.devices = 1;
  o.server_url = "http://127.0.0.1:1";
  EXPECT_EQ(RunSimulation(o).status().code(), Code::kInvalidArgument);
  o.server_url = "https://127.0.0.1:1";
  auto r = RunSimulation(o);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("CA file"), std::string::npos);
}

}  // namespace
}  // namespace rampart::agent
