// rampart-agent: the reference device agent and the fleet simulator.
//
//   rampart-agent enroll --server URL --ca FILE --token TOKEN --state FILE [--platform ios|android]
//                        [--model M] [--serial S] [--os-version V] [--ownership corporate|personal]
//   rampart-agent run --state FILE [--once] [--interval S]
//   rampart-agent simulate --server URL --ca FILE --token TOKEN --devices N --interval S
//                          --duration S [--platform-mix F] [--connections C] [--seed X] [--json]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "agent/agent.h"
#include "agent/simulator.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"

namespace {

using namespace rampart;

int Fail(const std::string& what, const Status& s) {
  std::cerr << "rampart-agent: " << what << ": " << s.message() << "\n";
  return 1;
}

int Enroll(const agent::EnrollOptions& o, const std::string& platform,
           const std::string& ownership) {
  agent::EnrollOptions options = o;
  auto p = core::ParsePlatform(platform);
  auto own = core::ParseOwnership(ownership);
  if (!p) return Fail("enroll", Status::InvalidArgument("--platform must be ios or android"));
  if (!own) {
    return Fail("enroll", Status::InvalidArgument("--ownership must be corporate or personal"));
  }
  options.platform = *p;
  options.ownership = *own;
  auto state = agent::EnrollDevice(options);
  if (!state.ok()) return Fail("enroll", state.status());
  std::cout << state->device_id << "\n";
  return 0;
}

void PrintCycle(const agent::CycleReport& r) {
  std::cerr << "rampart-agent: checked in: compliance "
            << (r.compliance_state.empty() ? "unknown" : r.compliance_state) << ", "
            << r.commands_executed << " command(s) executed, " << r.commands_failed << " failed, "
            << r.commands_rejected << " refused (unverified)\n";
  if (r.enrollment_removed) {
    std::cerr << "rampart-agent: the device was wiped or retired: enrollment removed, stopping\n";
  }
}

int Run(const std::string& state_path, bool once, int64_t interval) {
  const Clock& clock = SystemClock::Instance();
  if (once) {
    auto r = agent::RunCycle(state_path, clock);
    if (!r.ok()) return Fail("run", r.status());
    PrintCycle(*r);
    return 0;
  }
  int64_t failures = 0;
  while (true) {
    auto r = agent::RunCycle(state_path, clock);
    int64_t wait = interval;
    if (r.ok()) {
      failures = 0;
      PrintCycle(*r);
      if (r->enrollment_removed) return 0;
      if (wait <= 0) wait = r->next_checkin_seconds;
    } else {
      // The device has no enrollment to retry with: nothing will fix itself.
      if (r.status().code() == Code::kNotFound || r.status().code() == Code::kInvalidArgument) {
        return Fail("run", r.status());
      }
      ++failures;
      std::cerr << "rampart-agent: check-in failed: " << r.status().message() << "\n";
      // Back off on repeated failures, but never beyond the normal interval.
      int64_t backoff = std::min<int64_t>(int64_t{5} << std::min<int64_t>(failures, 8), 900);
      wait = interval > 0 ? std::min(interval, backoff) : backoff;
    }
    std::this_thread::sleep_for(std::chrono::seconds(std::max<int64_t>(wait, 1)));
  }
}

int Simulate(const agent::SimulatorOptions& o, bool json) {
  auto summary = agent::RunSimulation(o);
  if (!summary.ok()) return Fail("simulate", summary.status());
  if (json) {
    std::cout << agent::SummaryJson(*summary);
  } else {
    std::cout << agent::SummaryText(*summary);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!crypto::InitCrypto().ok()) {
    std::cerr << "rampart-agent: cannot initialise cryptography\n";
    return 1;
  }
  CLI::App app{"Rampart device agent and fleet simulator"};
  app.require_subcommand(1);

  agent::EnrollOptions enroll;
  std::string platform = "android";
  std::string ownership = "corporate";
  auto* enroll_cmd = app.add_subcommand("enroll", "Enroll this (simulated) device");
  enroll_cmd->add_option("--server", enroll.server_url, "Server URL, https://host:port")
      ->required();
  enroll_cmd->add_option("--ca", enroll.ca_file, "CA certificate (PEM) to pin")->required();
  enroll_cmd->add_option("--token", enroll.token, "Enrollment token")->required();
  enroll_cmd->add_option("--state", enroll.state_path, "State file to create")->required();
  enroll_cmd->add_option("--platform", platform, "ios or android")
      ->check(CLI::IsMember({"ios", "android"}));
  enroll_cmd->add_option("--model", enroll.model, "Device model");
  enroll_cmd->add_option("--serial", enroll.serial, "Serial number");
  enroll_cmd->add_option("--os-version", enroll.os_version, "OS version");
  enroll_cmd->add_option("--ownership", ownership, "corporate or personal")
      ->check(CLI::IsMember({"corporate", "personal"}));

  std::string state_path;
  bool once = false;
  int64_t interval = 0;
  auto* run_cmd = app.add_subcommand("run", "Check in periodically and execute commands");
  run_cmd->add_option("--state", state_path, "State file written by enroll")->required();
  run_cmd->add_flag("--once", once, "One check-in cycle, then exit");
  run_cmd
      ->add_option("--interval", interval,
                   "Seconds between check-ins (default: what the server asks)")
      ->check(CLI::PositiveNumber);

  agent::SimulatorOptions sim;
  bool json = false;
  auto* sim_cmd = app.add_subcommand("simulate", "Simulate a fleet of devices");
  sim_cmd->add_option("--server", sim.server_url, "Server URL, https://host:port")->required();
  sim_cmd->add_option("--ca", sim.ca_file, "CA certificate (PEM) to pin")->required();
  sim_cmd->add_option("--token", sim.token, "Enrollment token with enough uses")->required();
  sim_cmd->add_option("--devices", sim.devices, "Number of devices")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  sim_cmd->add_option("--interval", sim.interval_seconds, "Seconds between a device's check-ins")
      ->required()
      ->check(CLI::PositiveNumber);
  sim_cmd->add_option("--duration", sim.duration_seconds, "Seconds to run")
      ->required()
      ->check(CLI::PositiveNumber);
  sim_cmd->add_option("--platform-mix", sim.platform_mix, "Fraction of iOS devices (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  sim_cmd->add_option("--connections", sim.connections, "Keep-alive connections (default 64)")
      ->check(CLI::Range(1, 4096));
  sim_cmd->add_option("--seed", sim.seed, "Random seed for device variety and drift");
  sim_cmd->add_flag("--json", json, "Print the summary as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  log::SetMinLevel(log::Level::kWarn);

  if (*enroll_cmd) return Enroll(enroll, platform, ownership);
  if (*run_cmd) return Run(state_path, once, interval);
  if (*sim_cmd) return Simulate(sim, json);
  return 1;
}
