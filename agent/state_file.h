// The agent's state file: everything a device keeps between runs, as one JSON object.
//
//   {"version": 1, "server_url", "ca_file", "device_id", "institution_id",
//    "server_identity_key", "tls_ca_sha256", "public_key", "secret_key" (base64),
//    "platform", "model", "serial", "ownership", "checkin_interval_seconds",
//    "last_command_seq" (the low watermark of agent/command_verifier.h), "last_checkin_at",
//    "command_key": {"key_id", "public_key" (base64)}, "recent_command_ids": [...],
//    "pending_results": [...],
//    "device": {"state": {... installed_apps ...}, "applied_policies", "locked", ...}}
//
// The file holds the device's secret key: it is created with mode 0600 and replaced atomically
// (written to a temporary file in the same directory, flushed, then renamed over the old one),
// so a crash never leaves a half-written file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/command_verifier.h"
#include "agent/device_model.h"
#include "common/status.h"
#include "core/model.h"

namespace rampart::agent {

// A command outcome the server has not yet confirmed; reported again on the next cycle.
struct PendingResult {
  std::string command_id;
  Outcome outcome;
};

struct AgentState {
  std::string server_url;
  std::string ca_file;
  std::string device_id;
  std::string institution_id;
  std::string server_identity_key;  // base64
  std::string tls_ca_sha256;
  std::string public_key;  // raw 32 bytes (base64 in the file)
  std::string secret_key;  // raw 64 bytes (base64 in the file)
  std::string model;
  std::string serial;
  core::Ownership ownership = core::Ownership::kCorporate;
  int64_t checkin_interval_seconds = 900;
  int64_t last_checkin_at = 0;
  // The pinned command key, the low watermark (saved as "last_command_seq") and the ids of the
  // commands executed last. A file without "command_key" (written before commands were
  // signed) loads with an empty pin, so every command is refused as unknown_key.
  CommandTrust trust;
  std::vector<PendingResult> pending_results;
  SimDevice device;  // platform, reported state, applied policy, installed apps
};

std::string StateToJson(const AgentState& state);
// InvalidArgument describing the first problem when the text is not a valid state.
Result<AgentState> StateFromJson(const std::string& text);

// Internal on an I/O failure (the message names the path and the system error).
Status SaveState(const std::string& path, const AgentState& state);
// NotFound when the file does not exist; InvalidArgument "state file <path> is corrupt: ..."
// when it cannot be parsed.
Result<AgentState> LoadState(const std::string& path);
// Deletes the file (and with it the device's keys); OK when it is already gone.
Status RemoveState(const std::string& path);

}  // namespace rampart::agent
