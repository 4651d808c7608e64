// The reference agent's two operations, used by `rampart-agent enroll` and `rampart-agent run`:
// enrolling a simulated device and one check-in cycle. Each talks to the server only through
// DeviceClient (the wire protocol) and keeps everything it must remember in the state file.
#pragma once

#include <cstdint>
#include <string>

#include "agent/state_file.h"
#include "common/clock.h"
#include "common/status.h"
#include "core/model.h"

namespace rampart::agent {

struct EnrollOptions {
  std::string server_url;
  std::string ca_file;
  std::string token;
  std::string state_path;
  core::Platform platform = core::Platform::kAndroid;
  std::string model;       // empty: a default for the platform
  std::string serial;      // empty: a random one
  std::string os_version;  // empty: a default for the platform
  core::Ownership ownership = core::Ownership::kCorporate;
};

// Generates the device's key pair, enrolls it and writes the state file. AlreadyExists when the
// state file exists (one enrollment per state file); otherwise the server's refusal or the
// transport error.
Result<AgentState> EnrollDevice(const EnrollOptions& options);

struct CycleReport {
  std::string compliance_state;
  size_t compliance_reasons = 0;
  size_t commands_executed = 0;
  size_t commands_failed = 0;    // executed with an "error" outcome
  size_t commands_rejected = 0;  // refused unexecuted (agent/command_verifier.h says why)
  // The device was wiped or retired: the state file (and the keys) are gone; the agent stops.
  bool enrollment_removed = false;
  int64_t next_checkin_seconds = 900;
};

// One cycle: reports results the server has not confirmed yet, checks in with the current
// state, executes each command returned and reports its outcome. The state file is saved after
// each command and at the end, so an interrupted cycle never executes a command twice nor loses
// an outcome. Any failure is returned with a message naming the step.
Result<CycleReport> RunCycle(const std::string& state_path, const Clock& clock);

}  // namespace rampart::agent
