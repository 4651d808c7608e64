#include "agent/agent.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "agent/command_verifier.h"
#include "agent/protocol_client.h"
#include "common/crypto.h"

namespace rampart::agent {

namespace {

std::string DefaultModel(core::Platform p) {
  return p == core::Platform::kIos ? "iPhone 15" : "Pixel 8";
}

std::string DefaultOsVersion(core::Platform p) {
  return p == core::Platform::kIos ? "17.4" : "14";
}

// Reports one outcome; true when the server has it (recorded, duplicate, or it holds a
// different final outcome or no longer knows the command, so retrying cannot help).
Result<bool> Deliver(DeviceClient& client, const PendingResult& p) {
  Status s = client.ReportResult(p.command_id, p.outcome);
  if (s.ok()) return true;
  switch (s.code()) {
    case Code::kConflict:
    case Code::kNotFound:
    case Code::kInvalidArgument:
      return true;
    default:
      return s;
  }
}

// After a full wipe or a retire has been acknowledged the device forgets its enrollment.
Result<CycleReport> Forget(const std::string& state_path, CycleReport report) {
  RAMPART_RETURN_IF_ERROR(RemoveState(state_path));
  report.enrollment_removed = true;
  return report;
}

}  // namespace

Result<AgentState> EnrollDevice(const EnrollOptions& o) {
  struct stat st;
  if (::stat(o.state_path.c_str(), &st) == 0) {
    return Status::AlreadyExists("state file " + o.state_path +
                                 " already exists: this device is enrolled");
  }
  crypto::Ed25519KeyPair keys = crypto::GenerateEd25519();
  EnrollParams params;
  params.token = o.token;
  params.platform = o.platform;
  params.model = o.model.empty() ? DefaultModel(o.platform) : o.model;
  params.serial = o.serial.empty() ? "SIM" + crypto::RandomHex(6) : o.serial;
  std::transform(params.serial.begin(), params.serial.end(), params.serial.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  params.os_version = o.os_version.empty() ? DefaultOsVersion(o.platform) : o.os_version;
  params.ownership = o.ownership;

  RAMPART_ASSIGN_OR_RETURN(auto client, DeviceClient::Connect(o.server_url, o.ca_file));
  RAMPART_ASSIGN_OR_RETURN(EnrollResponse enrolled, client->Enroll(params, keys));

  AgentState s;
  s.server_url = o.server_url;
  // Later runs may start from another working directory: keep the CA path absolute.
  std::error_code ec;
  auto ca = std::filesystem::absolute(o.ca_file, ec);
  s.ca_file = ec ? o.ca_file : ca.string();
  s.device_id = enrolled.device_id;
  s.institution_id = enrolled.institution_id;
  s.server_identity_key = enrolled.server_identity_key;
  s.tls_ca_sha256 = enrolled.tls_ca_sha256;
  s.public_key = keys.public_key;
  s.secret_key = keys.secret_key;
  s.model = params.model;
  s.serial = params.serial;
  s.ownership = params.ownership;
  s.checkin_interval_seconds = enrolled.checkin_interval_seconds;
  s.trust.pin = enrolled.command_key;
  s.device = NewDevice(params.platform, params.os_version);
  RAMPART_RETURN_IF_ERROR(SaveState(o.state_path, s));
  return s;
}

Result<CycleReport> RunCycle(const std::string& state_path, const Clock& clock) {
  RAMPART_ASSIGN_OR_RETURN(AgentState state, LoadState(state_path));
  RAMPART_ASSIGN_OR_RETURN(auto client,
                           DeviceClient::Connect(state.server_url, state.ca_file, clock));
  client->SetIdentity({state.device_id, state.secret_key});
  CycleReport report;

  // Outcomes from an interrupted cycle go first, in order.
  while (!state.pending_results.empty()) {
    const PendingResult& p = state.pending_results.front();
    auto delivered = Deliver(*client, p);
    if (!delivered.ok()) {
      return delivered.status();
    }
    Effect effect = p.outcome.effect;
    state.pending_results.erase(state.pending_results.begin());
    if (effect != Effect::kNone) return Forget(state_path, report);
    RAMPART_RETURN_IF_ERROR(SaveState(state_path, state));
  }

  BeforeCheckin(state.device);
  auto checkin = client->Checkin(state.device.state, state.trust.pin.key_id);
  if (!checkin.ok()) {
    // The user's answer to a passcode prompt happened whether or not the server heard of it.
    SaveState(state_path, state).IgnoreError();
    return checkin.status();
  }
  state.last_checkin_at = clock.NowSeconds();
  state.checkin_interval_seconds = checkin->checkin_interval_seconds;
  report.compliance_state = checkin->compliance_state;
  report.compliance_reasons = checkin->reasons.size();
  report.next_checkin_seconds = checkin->checkin_interval_seconds;

  // Rotations first: commands in the same answer may already be signed with the new key.
  FollowRotations(state.trust, state.institution_id, checkin->key_rotations);

  for (const WireCommand& cmd : checkin->commands) {
    Outcome outcome;
    if (auto why = CheckCommand(state.trust, state.device_id, cmd, clock.NowSeconds())) {
      // Never executed; the server records the refusal as a security event.
      outcome.status = "rejected";
      outcome.error = std::string(ToString(*why));
      ++report.commands_rejected;
    } else if (auto sha = PackageForInstall(cmd)) {
      Result<std::string> package = client->DownloadApp(*sha);
      outcome = Execute(state.device, cmd, &package);
    } else {
      outcome = Execute(state.device, cmd, nullptr);
    }
    if (outcome.status != "rejected") {
      ++report.commands_executed;
      if (outcome.status != "acknowledged") ++report.commands_failed;
      MarkExecuted(state.trust, cmd);
    }
    state.pending_results.push_back({cmd.id, outcome});
    // Persist before reporting: if the report is lost the outcome is sent again next cycle
    // instead of the command being executed twice.
    RAMPART_RETURN_IF_ERROR(SaveState(state_path, state));
    RAMPART_ASSIGN_OR_RETURN(bool delivered, Deliver(*client, state.pending_results.back()));
    (void)delivered;
    state.pending_results.pop_back();
    if (outcome.effect != Effect::kNone) return Forget(state_path, report);
  }
  RAMPART_RETURN_IF_ERROR(SaveState(state_path, state));
  return report;
}

}  // namespace rampart::agent
