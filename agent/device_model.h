// The simulated device behind the reference agent and the simulator: its state, how it executes
// MDM commands, and how its state drifts over time. Pure: no I/O, no clock, no global randomness
// (callers pass the generator), so every behaviour is unit-testable.
//
//   agent::SimDevice dev = agent::NewDevice(core::Platform::kAndroid, "14");
//   agent::WireCommand cmd = ...;                      // parsed from a check-in response
//   if (auto sha = agent::PackageForInstall(cmd)) {    // install_app needs the package first
//     Result<std::string> bytes = Download(*sha);
//     outcome = agent::Execute(dev, cmd, &bytes);
//   } else {
//     outcome = agent::Execute(dev, cmd, nullptr);
//   }
//   // report outcome.status / outcome.result / outcome.error; honour outcome.effect
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/model.h"

namespace rampart::agent {

// What the device knows beyond the reported core::DeviceState.
struct SimDevice {
  core::Platform platform = core::Platform::kAndroid;
  core::DeviceState state;
  bool locked = false;
  bool lost_mode = false;
  std::string lock_message;
  std::string lost_phone;
  int64_t restarts = 0;
  // Apps installed through install_app; a corporate wipe removes exactly these.
  std::vector<std::string> managed_apps;
  // Policies applied with apply_policy: policy id -> rules as received. Several policies can
  // apply to one device; the device enforces the most restrictive setting of each.
  nlohmann::json policies = nlohmann::json::object();
  // A policy asked for a longer passcode than the device has: a real device prompts its user,
  // who sets one before the next check-in. 0 when no prompt is pending.
  int32_t passcode_prompt_min_length = 0;
  // Battery simulation: whether the device is on its charger.
  bool charging = false;
};

// A fresh device as it leaves the box with the platform's usual defaults: a 4-digit passcode,
// storage encrypted, not compromised, battery at 80%.
SimDevice NewDevice(core::Platform platform, std::string os_version);

// One command as delivered in a check-in response.
struct WireCommand {
  std::string id;
  int64_t seq = 0;
  std::string type;  // kept as text: an unknown type must still be answered with an error
  nlohmann::json payload = nlohmann::json::object();
  int64_t expires_at = 0;
  // The keeper's signature (agent/command_verifier.h checks it before anything runs).
  std::string payload_sha256;    // hex, as signed; "" when the server did not state it
  std::string signature_key_id;  // "" when unsigned
  std::string signature;         // raw 64 bytes; "" when unsigned or not valid base64
};

// What the agent must do after reporting the outcome of a command.
enum class Effect {
  kNone,
  kForgetEnrollment,  // full wipe: the device is factory-reset, the agent deletes its keys
  kRetire,            // management removed: the agent deletes its keys and stops
};

struct Outcome {
  std::string status;  // "acknowledged", "error", or "rejected" (refused unverified command)
  nlohmann::json result = nlohmann::json::object();
  std::string error;  // set when status is "error"
  Effect effect = Effect::kNone;
};

// For an install_app command with a well-formed payload, the SHA-256 (lower-case hex) of the
// package the device must download before Execute; nullopt for every other command.
std::optional<std::string> PackageForInstall(const WireCommand& command);

// Executes the command on the device. For install_app, `package` is the downloaded package or
// the download's error (nullptr when no download was attempted); the package is installed only
// when its SHA-256 equals the payload's. Unknown types and malformed payloads leave the device
// untouched and yield an "error" outcome.
Outcome Execute(SimDevice& device, const WireCommand& command, const Result<std::string>* package);

// Called just before a check-in: the user answers a pending passcode prompt by setting a
// passcode of exactly the required length.
void BeforeCheckin(SimDevice& device);

// Per-check-in probabilities of the rarer events, so tests can force or forbid them.
struct DriftRates {
  double os_update = 0.002;
  double compromise = 0.0005;
  double install_personal_app = 0.01;
  double remove_personal_app = 0.005;
};

// Advances the device's state by `elapsed_seconds` of simulated life: the battery drains off
// the charger (about 6%/hour) and charges on it (about 30%/hour), staying within 0..100; with
// the given probabilities the OS gets a minor update, the device is rooted or jailbroken (it
// stays so until wiped), or the user installs or removes a personal app.
void Drift(SimDevice& device, std::mt19937_64& rng, int64_t elapsed_seconds,
           const DriftRates& rates = {});

// JSON forms used in the check-in body and the state file.
nlohmann::json DeviceStateToJson(const core::DeviceState& state);
Result<core::DeviceState> DeviceStateFromJson(const nlohmann::json& j);
nlohmann::json SimDeviceToJson(const SimDevice& device);
Result<SimDevice> SimDeviceFromJson(const nlohmann::json& j);

}  // namespace rampart::agent
