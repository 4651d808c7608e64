#include "api/internal.h"
#include "common/crypto.h"
#include "common/json_util.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {
json Time(int64_t t) {
  return t == 0 ? json(nullptr) : json(FormatRfc3339(t));
}
json OrNull(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}
}  // namespace

json ToJson(const core::Institution& v) {
  return {{"id", v.id}, {"name", v.name}, {"created_at", Time(v.created_at)}};
}

json ToJson(const core::Staff& v, const keeper::StaffFields* revealed) {
  return {{"id", v.id},
          {"institution_id", v.institution_id},
          {"name", revealed ? revealed->name : v.masked_name},
          {"mobile", revealed ? revealed->mobile : v.masked_mobile},
          {"email", revealed ? revealed->email : v.masked_email},
          {"revealed", revealed != nullptr},
          {"department", v.department},
          {"created_at", Time(v.created_at)},
          {"updated_at", Time(v.updated_at)}};
}

json ToJson(const core::Group& v) {
  return {{"id", v.id},
          {"institution_id", v.institution_id},
          {"name", v.name},
          {"description", v.description},
          {"created_at", Time(v.created_at)}};
}

json ToJson(const core::DeviceState& v) {
  return {{"os_version", v.os_version},
          {"passcode_set", v.passcode_set},
          {"passcode_length", v.passcode_length},
          {"storage_encrypted", v.storage_encrypted},
          {"compromised", v.compromised},
          {"battery_percent", v.battery_percent < 0 ? json(nullptr) : json(v.battery_percent)},
          {"camera_disabled", v.camera_disabled},
          {"installed_apps", v.installed_apps}};
}

json ToJson(const core::ComplianceReason& v) {
  return {{"policy_id", v.policy_id}, {"code", v.code}, {"message", v.message}};
}

json ToJson(const core::Device& v) {
  json reasons = json::array();
  for (const auto& r : v.compliance_reasons) reasons.push_back(ToJson(r));
  return {{"id", v.id},
          {"institution_id", v.institution_id},
          {"staff_id", OrNull(v.staff_id)},
          {"platform", core::ToString(v.platform)},
          {"model", v.model},
          {"serial", v.serial},
          {"ownership", core::ToString(v.ownership)},
          {"status", core::ToString(v.status)},
          {"enrolled_at", Time(v.enrolled_at)},
          {"last_seen", Time(v.last_seen)},
          {"state", ToJson(v.state)},
          {"compliance",
           {{"state", core::ToString(v.compliance)},
            {"reasons", reasons},
            {"noncompliant_since", Time(v.noncompliant_since)}}}};
}

json ToJson(const core::EnrollmentToken& v) {
  return {{"id", v.id},
          {"institution_id", v.institution_id},
          {"staff_id", OrNull(v.staff_id)},
          {"expires_at", Time(v.expires_at)},
          {"max_uses", v.max_uses},
          {"uses", v.uses},
          {"revoked", v.revoked},
          {"created_at", Time(v.created_at)}};
}

json ToJson(const core::ApiToken& v) {
  return {{"id", v.id},
          {"name", v.name},
          {"role", core::ToString(v.role)},
          {"institution_id", OrNull(v.institution_id)},
          {"expires_at", Time(v.expires_at)},
          {"revoked", v.revoked},
          {"created_at", Time(v.created_at)},
          {"last_used_at", Time(v.last_used_at)},
          {"owner_id", OrNull(v.owner_id)}};
}

json ToJson(const core::AdminUser& v) {
  return {{"id", v.id},
          {"username", v.username},
          {"role", core::ToString(v.role)},
          {"institution_id", OrNull(v.institution_id)},
          {"disabled", v.disabled},
          {"totp_enabled", v.totp_enabled()},
          {"locked_until", Time(v.locked_until)},
          {"created_at", Time(v.created_at)},
          {"updated_at", Time(v.updated_at)},
          {"password_changed_at", Time(v.password_changed_at)}};
}

json ToJson(const core::Alert& v) {
  json evidence = json::array();
  for (const auto& e : v.evidence) {
    json parsed = json::parse(e, nullptr, false);
    evidence.push_back(parsed.is_discarded() ? json(e) : parsed);
  }
  return {{"id", v.id},
          {"institution_id", OrNull(v.institution_id)},
          {"rule", v.rule_id},
          {"title", v.rule_title},
          {"entity", v.entity},
          {"severity", v.severity},
          {"attack", v.attack},
          {"count", v.count},
          {"first_seen", Time(v.first_seen)},
          {"last_seen", Time(v.last_seen)},
          {"first_seen_ms", core::MillisOr(v.first_seen_ms, v.first_seen)},
          {"last_seen_ms", core::MillisOr(v.last_seen_ms, v.last_seen)},
          {"detected_at_ms", core::MillisOr(v.created_at_ms, v.created_at)},
          {"status", core::ToString(v.status)},
          {"acknowledged_by", OrNull(v.acknowledged_by)},
          {"acknowledged_at", Time(v.acknowledged_at)},
          {"evidence", std::move(evidence)}};
}

json ToJson(const core::Command& v) {
  json payload = json::parse(v.payload_json, nullptr, false);
  json result = v.result_json.empty() ? json(nullptr) : json::parse(v.result_json, nullptr, false);
  if (payload.is_discarded()) payload = json::object();
  if (result.is_discarded()) result = nullptr;
  return {{"id", v.id},
          {"device_id", v.device_id},
          {"institution_id", v.institution_id},
          {"seq", v.seq},
          {"type", core::ToString(v.type)},
          {"payload", payload},
          {"state", core::ToString(v.state)},
          {"created_by", v.created_by},
          {"created_at", Time(v.created_at)},
          {"updated_at", Time(v.updated_at)},
          {"expires_at", Time(v.expires_at)},
          {"sent_at", Time(v.sent_at)},
          {"not_before", Time(v.not_before)},
          {"not_now_count", v.not_now_count},
          {"result", result},
          {"error", OrNull(v.error)},
          {"approved_by", OrNull(v.approved_by)},
          {"signature_key_id", OrNull(v.signature_key_id)},
          {"batch_id", OrNull(v.batch_id)},
          {"batch_size", v.batch_size}};
}

json ToJson(const core::PolicyRules& v) {
  json wifi = json::array();
  for (const auto& w : v.wifi) {
    wifi.push_back({{"ssid", w.ssid}, {"security", w.security}, {"hidden", w.hidden}});
  }
  json vpn = json::array();
  for (const auto& p : v.vpn) {
    vpn.push_back(
        {{"name", p.name}, {"type", p.type}, {"server", p.server}, {"always_on", p.always_on}});
  }
  return {
      {"passcode_min_length", v.passcode_min_length},
      {"require_storage_encryption", v.require_storage_encryption},
      {"min_os_version", {{"ios", v.min_os_version_ios}, {"android", v.min_os_version_android}}},
      {"block_compromised", v.block_compromised},
      {"camera_allowed", v.camera_allowed},
      {"required_apps", v.required_apps},
      {"forbidden_apps", v.forbidden_apps},
      {"wifi", wifi},
      {"vpn", vpn},
      {"noncompliance_action", core::ToString(v.action)},
      {"grace_seconds", v.grace_seconds}};
}

json ToJson(const core::Policy& v) {
  return {{"id", v.id},
          {"institution_id", v.institution_id},
          {"name", v.name},
          {"rules", ToJson(v.rules)},
          {"created_at", Time(v.created_at)},
          {"updated_at", Time(v.updated_at)}};
}

json ToJson(const core::PolicyAssignment& v) {
  return {{"id", v.id},
          {"policy_id", v.policy_id},
          {"institution_id", v.institution_id},
          {"target", v.group_id.empty() ? "institution" : "group"},
          {"group_id", OrNull(v.group_id)},
          {"created_at", Time(v.created_at)}};
}

json ToJson(const core::App& v) {
  return {{"id", v.id},
          {"institution_id", v.institution_id},
          {"name", v.name},
          {"bundle_id", v.bundle_id},
          {"version", v.version},
          {"platform", core::ToString(v.platform)},
          {"sha256", v.sha256},
          {"size_bytes", v.size_bytes},
          {"quarantined", v.quarantined},
          {"quarantine_reason", OrNull(v.quarantine_reason)},
          {"quarantined_by", OrNull(v.quarantined_by)},
          {"quarantined_at", v.quarantined_at == 0 ? json(nullptr) : Time(v.quarantined_at)},
          {"created_at", Time(v.created_at)}};
}

json ToJson(const core::AppAssignment& v) {
  return {{"id", v.id},
          {"app_id", v.app_id},
          {"group_id", v.group_id},
          {"institution_id", v.institution_id},
          {"created_at", Time(v.created_at)}};
}

namespace {

bool IsOsVersion(const std::string& v) {
  if (v.size() > 32) return false;
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  }
  return true;
}

}  // namespace

Result<core::PolicyRules> PolicyRulesFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("field 'rules' must be an object");
  RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(
      j, {"passcode_min_length", "require_storage_encryption", "min_os_version",
          "block_compromised", "camera_allowed", "required_apps", "forbidden_apps", "wifi", "vpn",
          "noncompliance_action", "grace_seconds"}));
  core::PolicyRules r;
  int64_t n = 0;
  RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(j, "passcode_min_length", &n, false, 0, 64));
  r.passcode_min_length = static_cast<int32_t>(n);
  RAMPART_RETURN_IF_ERROR(
      jsonutil::GetBool(j, "require_storage_encryption", &r.require_storage_encryption, false));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(j, "block_compromised", &r.block_compromised, false));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(j, "camera_allowed", &r.camera_allowed, false));
  RAMPART_RETURN_IF_ERROR(
      jsonutil::GetStringList(j, "required_apps", &r.required_apps, false, 200));
  RAMPART_RETURN_IF_ERROR(
      jsonutil::GetStringList(j, "forbidden_apps", &r.forbidden_apps, false, 200));
  if (jsonutil::Has(j, "min_os_version")) {
    const json& m = j.at("min_os_version");
    if (!m.is_object()) return Status::InvalidArgument("field 'min_os_version' must be an object");
    RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(m, {"ios", "android"}));
    RAMPART_RETURN_IF_ERROR(jsonutil::GetString(m, "ios", &r.min_os_version_ios, false, 32));
    RAMPART_RETURN_IF_ERROR(
        jsonutil::GetString(m, "android", &r.min_os_version_android, false, 32));
    if (!IsOsVersion(r.min_os_version_ios) || !IsOsVersion(r.min_os_version_android)) {
      return Status::InvalidArgument("min_os_version values must look like 17.4");
    }
  }
  std::string action = "none";
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(j, "noncompliance_action", &action, false, 16));
  auto parsed = core::ParseNonComplianceAction(action);
  if (!parsed) {
    return Status::InvalidArgument("noncompliance_action must be none, notify or lock");
  }
  r.action = *parsed;
  RAMPART_RETURN_IF_ERROR(
      jsonutil::GetInt(j, "grace_seconds", &r.grace_seconds, false, 0, int64_t{365} * 24 * 3600));
  if (jsonutil::Has(j, "wifi")) {
    const json& list = j.at("wifi");
    if (!list.is_array() || list.size() > 50) {
      return Status::InvalidArgument("field 'wifi' must be an array of at most 50 networks");
    }
    for (const auto& w : list) {
      if (!w.is_object()) return Status::InvalidArgument("each wifi entry must be an object");
      RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(w, {"ssid", "security", "hidden"}));
      core::WifiPayload p;
      p.security = "wpa2";
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(w, "ssid", &p.ssid, true, 32));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(w, "security", &p.security, false, 32));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(w, "hidden", &p.hidden, false));
      if (p.ssid.empty()) return Status::InvalidArgument("wifi ssid must not be empty");
      if (p.security != "none" && p.security != "wpa2" && p.security != "wpa3" &&
          p.security != "wpa2-enterprise") {
        return Status::InvalidArgument("wifi security must be none, wpa2, wpa3 or wpa2-enterprise");
      }
      r.wifi.push_back(std::move(p));
    }
  }
  if (jsonutil::Has(j, "vpn")) {
    const json& list = j.at("vpn");
    if (!list.is_array() || list.size() > 20) {
      return Status::InvalidArgument("field 'vpn' must be an array of at most 20 profiles");
    }
    for (const auto& v : list) {
      if (!v.is_object()) return Status::InvalidArgument("each vpn entry must be an object");
      RAMPART_RETURN_IF_ERROR(
          jsonutil::RejectUnknownFields(v, {"name", "type", "server", "always_on"}));
      core::VpnPayload p;
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(v, "name", &p.name, true, 64));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(v, "type", &p.type, true, 16));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetString(v, "server", &p.server, true, 255));
      RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(v, "always_on", &p.always_on, false));
      if (p.type != "ikev2" && p.type != "wireguard" && p.type != "openvpn") {
        return Status::InvalidArgument("vpn type must be ikev2, wireguard or openvpn");
      }
      r.vpn.push_back(std::move(p));
    }
  }
  return r;
}

Result<core::DeviceState> DeviceStateFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("field 'state' must be an object");
  RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(
      j, {"os_version", "passcode_set", "passcode_length", "storage_encrypted", "compromised",
          "battery_percent", "camera_disabled", "installed_apps"}));
  core::DeviceState s;
  int64_t n = 0;
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(j, "os_version", &s.os_version, true, 32));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(j, "passcode_set", &s.passcode_set, true));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(j, "passcode_length", &n, false, 0, 64));
  s.passcode_length = static_cast<int32_t>(n);
  RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(j, "storage_encrypted", &s.storage_encrypted, true));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(j, "compromised", &s.compromised, true));
  n = -1;
  RAMPART_RETURN_IF_ERROR(jsonutil::GetInt(j, "battery_percent", &n, false, -1, 100));
  s.battery_percent = static_cast<int32_t>(n);
  RAMPART_RETURN_IF_ERROR(jsonutil::GetBool(j, "camera_disabled", &s.camera_disabled, false));
  RAMPART_RETURN_IF_ERROR(
      jsonutil::GetStringList(j, "installed_apps", &s.installed_apps, false, 2000, 255));
  return s;
}

}  // namespace rampart::api::internal
