#include "agent/device_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "common/crypto.h"
#include "common/json_util.h"

namespace rampart::agent {

using nlohmann::json;
namespace ju = rampart::jsonutil;

namespace {

// Apps a user may install on their own; the drift model picks from these.
constexpr std::array<std::string_view, 12> kPersonalApps = {
    "com.whatsapp",          "org.telegram.messenger",
    "com.spotify.music",     "com.netflix.mediaclient",
    "com.instagram.android", "org.mozilla.firefox",
    "com.duolingo",          "com.strava",
    "de.db.navigator",       "com.booking",
    "org.wikipedia",         "com.shazam.android",
};

Outcome Acknowledged(json result = json::object()) {
  Outcome o;
  o.status = "acknowledged";
  o.result = std::move(result);
  return o;
}

Outcome Failed(std::string error) {
  Outcome o;
  o.status = "error";
  o.error = std::move(error);
  return o;
}

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void Erase(std::vector<std::string>& v, std::string_view s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
}

// Bernoulli draw; p outside [0,1] is clamped.
bool Chance(std::mt19937_64& rng, double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < p;
}

// Turns a fractional change into whole percent points without a systematic bias: the fraction
// becomes one extra point with that probability.
int32_t RoundStochastic(std::mt19937_64& rng, double v) {
  double whole = std::floor(v);
  return static_cast<int32_t>(whole) + (Chance(rng, v - whole) ? 1 : 0);
}

std::string NextMinorVersion(const std::string& version) {
  auto dot = version.rfind('.');
  if (dot == std::string::npos) return version + ".1";
  std::string_view last(version.data() + dot + 1, version.size() - dot - 1);
  int64_t n = 0;
  for (char c : last) {
    if (c < '0' || c > '9' || n > 100000) return version + ".1";
    n = n * 10 + (c - '0');
  }
  return version.substr(0, dot + 1) + std::to_string(n + 1);
}

// Management removed (retire, corporate wipe): managed apps and policy restrictions go.
void RemoveManagement(SimDevice& d) {
  for (const auto& app : d.managed_apps) Erase(d.state.installed_apps, app);
  d.managed_apps.clear();
  d.policies = json::object();
  d.passcode_prompt_min_length = 0;
  d.state.camera_disabled = false;
}

Outcome DoInstall(SimDevice& d, const WireCommand& c, const Result<std::string>* package) {
  std::string bundle_id, sha256, version;
  Status s = ju::GetString(c.payload, "bundle_id", &bundle_id, true, 256);
  if (s.ok()) s = ju::GetString(c.payload, "sha256", &sha256, true, 64);
  if (s.ok()) s = ju::GetString(c.payload, "version", &version, false, 64);
  if (!s.ok()) return Failed("invalid install_app payload: " + s.message());
  if (bundle_id.empty()) return Failed("invalid install_app payload: empty bundle_id");
  if (!IsLowerHex64(sha256)) return Failed("invalid install_app payload: malformed sha256");
  if (package == nullptr) return Failed("package was not downloaded");
  if (!package->ok()) return Failed("package download failed: " + package->status().message());
  if (crypto::Sha256Hex(package->value()) != sha256) {
    return Failed("package hash mismatch: downloaded bytes do not have the announced sha256");
  }
  if (!Contains(d.state.installed_apps, bundle_id)) d.state.installed_apps.push_back(bundle_id);
  if (!Contains(d.managed_apps, bundle_id)) d.managed_apps.push_back(bundle_id);
  return Acknowledged(
      {{"bundle_id", bundle_id}, {"version", version}, {"size_bytes", package->value().size()}});
}

Outcome DoApplyPolicy(SimDevice& d, const WireCommand& c) {
  std::string policy_id;
  Status s = ju::GetString(c.payload, "policy_id", &policy_id, true, 128);
  if (!s.ok()) return Failed("invalid apply_policy payload: " + s.message());
  auto rules_it = c.payload.find("rules");
  if (rules_it == c.payload.end() || !rules_it->is_object()) {
    return Failed("invalid apply_policy payload: field 'rules' must be an object");
  }
  const json& rules = *rules_it;
  int64_t min_length = 0;
  bool camera_allowed = true;
  bool require_encryption = false;
  s = ju::GetInt(rules, "passcode_min_length", &min_length, false, 0, 64);
  if (s.ok()) s = ju::GetBool(rules, "camera_allowed", &camera_allowed, false);
  if (s.ok()) s = ju::GetBool(rules, "require_storage_encryption", &require_encryption, false);
  if (!s.ok()) return Failed("invalid apply_policy rules: " + s.message());

  d.policies[policy_id] = rules;
  // Like a real device, the most restrictive setting over all applied policies wins, so a
  // lenient policy never undoes a strict one and a changed policy can lift its own restriction.
  bool camera_disabled = false;
  for (const auto& [id, r] : d.policies.items()) {
    camera_disabled = camera_disabled || (r.is_object() && !r.value("camera_allowed", true));
  }
  d.state.camera_disabled = camera_disabled;
  // Encryption is a setting the device turns on by itself once a policy requires it.
  if (require_encryption) d.state.storage_encrypted = true;
  bool prompt = min_length > 0 && (!d.state.passcode_set || d.state.passcode_length < min_length);
  if (prompt) {
    d.passcode_prompt_min_length =
        std::max(d.passcode_prompt_min_length, static_cast<int32_t>(min_length));
  }
  return Acknowledged({{"policy_id", policy_id}, {"passcode_prompt", prompt}});
}

}  // namespace

SimDevice NewDevice(core::Platform platform, std::string os_version) {
  SimDevice d;
  d.platform = platform;
  d.state.os_version = std::move(os_version);
  d.state.passcode_set = true;
  d.state.passcode_length = 4;
  d.state.storage_encrypted = true;
  d.state.compromised = false;
  d.state.battery_percent = 80;
  d.state.camera_disabled = false;
  return d;
}

std::optional<std::string> PackageForInstall(const WireCommand& command) {
  if (command.type != "install_app" || !command.payload.is_object()) return std::nullopt;
  auto it = command.payload.find("sha256");
  if (it == command.payload.end() || !it->is_string()) return std::nullopt;
  const auto& sha = it->get_ref<const std::string&>();
  if (!IsLowerHex64(sha)) return std::nullopt;
  return sha;
}

Outcome Execute(SimDevice& d, const WireCommand& c, const Result<std::string>* package) {
  if (!c.payload.is_object()) return Failed("payload must be a JSON object");
  auto type = core::ParseCommandType(c.type);
  if (!type) return Failed("unknown command type '" + c.type.substr(0, 64) + "'");
  switch (*type) {
    case core::CommandType::kLock: {
      std::string message;
      Status s = ju::GetString(c.payload, "message", &message, false, 1024);
      if (!s.ok()) return Failed("invalid lock payload: " + s.message());
      d.locked = true;
      d.lock_message = message;
      return Acknowledged({{"locked", true}});
    }
    case core::CommandType::kWipe: {
      std::string mode;
      Status s = ju::GetString(c.payload, "mode", &mode, true, 16);
      if (!s.ok()) return Failed("invalid wipe payload: " + s.message());
      if (mode == "full") {
        core::Platform platform = d.platform;
        std::string os = d.state.os_version;
        d = SimDevice{};
        d.platform = platform;
        d.state.os_version = os;
        d.state.storage_encrypted = true;
        d.state.battery_percent = 50;
        Outcome o = Acknowledged({{"mode", "full"}});
        o.effect = Effect::kForgetEnrollment;
        return o;
      }
      if (mode == "corporate") {
        size_t removed = d.managed_apps.size();
        RemoveManagement(d);
        return Acknowledged({{"mode", "corporate"}, {"apps_removed", removed}});
      }
      return Failed("invalid wipe payload: mode must be 'full' or 'corporate'");
    }
    case core::CommandType::kLostMode: {
      std::string message, phone;
      Status s = ju::GetString(c.payload, "message", &message, true, 1024);
      if (s.ok()) s = ju::GetString(c.payload, "phone", &phone, false, 64);
      if (!s.ok()) return Failed("invalid lost_mode payload: " + s.message());
      d.locked = true;
      d.lost_mode = true;
      d.lock_message = message;
      d.lost_phone = phone;
      return Acknowledged({{"locked", true}, {"lost_mode", true}});
    }
    case core::CommandType::kClearPasscode:
      d.state.passcode_set = false;
      d.state.passcode_length = 0;
      d.passcode_prompt_min_length = 0;
      return Acknowledged();
    case core::CommandType::kRestart:
      ++d.restarts;
      return Acknowledged({{"restarts", d.restarts}});
    case core::CommandType::kInstallApp:
      return DoInstall(d, c, package);
    case core::CommandType::kRemoveApp: {
      std::string bundle_id;
      Status s = ju::GetString(c.payload, "bundle_id", &bundle_id, true, 256);
      if (!s.ok()) return Failed("invalid remove_app payload: " + s.message());
      // Idempotent: a redelivered removal of an app already gone still succeeds.
      bool was_installed = Contains(d.state.installed_apps, bundle_id);
      Erase(d.state.installed_apps, bundle_id);
      Erase(d.managed_apps, bundle_id);
      return Acknowledged({{"bundle_id", bundle_id}, {"removed", was_installed}});
    }
    case core::CommandType::kApplyPolicy:
      return DoApplyPolicy(d, c);
    case core::CommandType::kRetire: {
      RemoveManagement(d);
      Outcome o = Acknowledged();
      o.effect = Effect::kRetire;
      return o;
    }
  }
  return Failed("unknown command type '" + c.type.substr(0, 64) + "'");
}

void BeforeCheckin(SimDevice& d) {
  if (d.passcode_prompt_min_length > 0) {
    d.state.passcode_set = true;
    d.state.passcode_length = d.passcode_prompt_min_length;
    d.passcode_prompt_min_length = 0;
  }
}

void Drift(SimDevice& d, std::mt19937_64& rng, int64_t elapsed_seconds, const DriftRates& rates) {
  if (elapsed_seconds < 0) elapsed_seconds = 0;
  double hours = static_cast<double>(elapsed_seconds) / 3600.0;
  int32_t battery = std::clamp(d.state.battery_percent < 0 ? 80 : d.state.battery_percent, 0, 100);
  if (d.charging) {
    battery += RoundStochastic(rng, 30.0 * hours);
  } else {
    battery -= RoundStochastic(rng, 6.0 * hours);
  }
  battery = std::clamp(battery, 0, 100);
  if (d.charging && (battery >= 100 || Chance(rng, 0.02))) {
    d.charging = false;
  } else if (!d.charging && battery <= 20 && Chance(rng, 0.5)) {
    d.charging = true;
  }
  d.state.battery_percent = battery;

  if (Chance(rng, rates.os_update)) d.state.os_version = NextMinorVersion(d.state.os_version);
  if (Chance(rng, rates.compromise)) d.state.compromised = true;
  if (Chance(rng, rates.install_personal_app)) {
    auto pick =
        kPersonalApps[std::uniform_int_distribution<size_t>(0, kPersonalApps.size() - 1)(rng)];
    if (!Contains(d.state.installed_apps, pick)) d.state.installed_apps.emplace_back(pick);
  }
  if (Chance(rng, rates.remove_personal_app)) {
    std::vector<std::string> personal;
    for (const auto& app : d.state.installed_apps) {
      if (!Contains(d.managed_apps, app)) personal.push_back(app);
    }
    if (!personal.empty()) {
      Erase(d.state.installed_apps,
            personal[std::uniform_int_distribution<size_t>(0, personal.size() - 1)(rng)]);
    }
  }
}

json DeviceStateToJson(const core::DeviceState& s) {
  return {{"os_version", s.os_version},           {"passcode_set", s.passcode_set},
          {"passcode_length", s.passcode_length}, {"storage_encrypted", s.storage_encrypted},
          {"compromised", s.compromised},         {"battery_percent", s.battery_percent},
          {"camera_disabled", s.camera_disabled}, {"installed_apps", s.installed_apps}};
}

Result<core::DeviceState> DeviceStateFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("device state must be an object");
  core::DeviceState s;
  int64_t passcode_length = 0, battery = -1;
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "os_version", &s.os_version, true, 64));
  RAMPART_RETURN_IF_ERROR(ju::GetBool(j, "passcode_set", &s.passcode_set, true));
  RAMPART_RETURN_IF_ERROR(ju::GetInt(j, "passcode_length", &passcode_length, true, 0, 64));
  RAMPART_RETURN_IF_ERROR(ju::GetBool(j, "storage_encrypted", &s.storage_encrypted, true));
  RAMPART_RETURN_IF_ERROR(ju::GetBool(j, "compromised", &s.compromised, true));
  RAMPART_RETURN_IF_ERROR(ju::GetInt(j, "battery_percent", &battery, true, -1, 100));
  RAMPART_RETURN_IF_ERROR(ju::GetBool(j, "camera_disabled", &s.camera_disabled, true));
  RAMPART_RETURN_IF_ERROR(ju::GetStringList(j, "installed_apps", &s.installed_apps, true));
  s.passcode_length = static_cast<int32_t>(passcode_length);
  s.battery_percent = static_cast<int32_t>(battery);
  return s;
}

json SimDeviceToJson(const SimDevice& d) {
  return {{"platform", core::ToString(d.platform)},
          {"state", DeviceStateToJson(d.state)},
          {"locked", d.locked},
          {"lost_mode", d.lost_mode},
          {"lock_message", d.lock_message},
          {"lost_phone", d.lost_phone},
          {"restarts", d.restarts},
          {"managed_apps", d.managed_apps},
          {"applied_policies", d.policies},
          {"passcode_prompt_min_length", d.passcode_prompt_min_length},
          {"charging", d.charging}};
}

Result<SimDevice> SimDeviceFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("device must be an object");
  SimDevice d;
  std::string platform;
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "platform", &platform, true, 16));
  auto p = core::ParsePlatform(platform);
  if (!p) return Status::InvalidArgument("field 'platform' must be 'ios' or 'android'");
  d.platform = *p;
  auto st = j.find("state");
  if (st == j.end()) return Status::InvalidArgument("field 'state' is required");
  RAMPART_ASSIGN_OR_RETURN(d.state, DeviceStateFromJson(*st));
  int64_t prompt = 0;
  RAMPART_RETURN_IF_ERROR(ju::GetBool(j, "locked", &d.locked, true));
  RAMPART_RETURN_IF_ERROR(ju::GetBool(j, "lost_mode", &d.lost_mode, true));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "lock_message", &d.lock_message, true));
  RAMPART_RETURN_IF_ERROR(ju::GetString(j, "lost_phone", &d.lost_phone, true, 64));
  RAMPART_RETURN_IF_ERROR(ju::GetInt(j, "restarts", &d.restarts, true, 0, INT64_MAX));
  RAMPART_RETURN_IF_ERROR(ju::GetStringList(j, "managed_apps", &d.managed_apps, true));
  RAMPART_RETURN_IF_ERROR(ju::GetInt(j, "passcode_prompt_min_length", &prompt, true, 0, 64));
  RAMPART_RETURN_IF_ERROR(ju::GetBool(j, "charging", &d.charging, true));
  d.passcode_prompt_min_length = static_cast<int32_t>(prompt);
  auto pol = j.find("applied_policies");
  if (pol != j.end() && !pol->is_null()) {
    if (!pol->is_object()) {
      return Status::InvalidArgument("field 'applied_policies' must be an object");
    }
    d.policies = *pol;
  }
  return d;
}

}  // namespace rampart::agent
