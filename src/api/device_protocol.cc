// The device side of the wire protocol (docs/protocol.md).
#include "api/internal.h"
#include "api/package_store.h"
#include "common/crypto.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/compliance.h"
#include "core/device_signing.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

http::Response Enroll(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(
      jsonutil::RejectUnknownFields(body, {"enrollment_token", "public_key", "proof", "platform",
                                           "model", "serial", "os_version", "ownership"}));
  std::string token, public_key_b64, proof_b64, platform, ownership = "corporate";
  core::Device device;
  RAMPART_API_CHECK(jsonutil::GetString(body, "enrollment_token", &token, true, 128));
  RAMPART_API_CHECK(jsonutil::GetString(body, "public_key", &public_key_b64, true, 64));
  RAMPART_API_CHECK(jsonutil::GetString(body, "proof", &proof_b64, true, 128));
  RAMPART_API_CHECK(jsonutil::GetString(body, "platform", &platform, true, 16));
  RAMPART_API_CHECK(jsonutil::GetString(body, "model", &device.model, true, 100));
  RAMPART_API_CHECK(jsonutil::GetString(body, "serial", &device.serial, true, 64));
  RAMPART_API_CHECK(jsonutil::GetString(body, "os_version", &device.state.os_version, true, 32));
  RAMPART_API_CHECK(jsonutil::GetString(body, "ownership", &ownership, false, 16));
  auto p = core::ParsePlatform(platform);
  if (!p) return ErrorResponse(Status::InvalidArgument("platform must be ios or android"));
  auto o = core::ParseOwnership(ownership);
  if (!o) return ErrorResponse(Status::InvalidArgument("ownership must be corporate or personal"));
  RAMPART_API_CHECK(RequirePrintable(device.model, "model"));
  RAMPART_API_CHECK(RequirePrintable(device.serial, "serial"));
  RAMPART_API_CHECK(RequirePrintable(device.state.os_version, "os_version"));
  auto key = crypto::Base64Decode(public_key_b64);
  if (!key.ok() || key->size() != crypto::kEd25519PublicKeyBytes) {
    return ErrorResponse(Status::InvalidArgument("public_key must be a base64 Ed25519 public key"));
  }
  auto proof = crypto::Base64Decode(proof_b64);
  if (!proof.ok() ||
      !crypto::VerifyEd25519(*key, core::EnrollmentProofString(token, public_key_b64), *proof)) {
    return ErrorResponse(Status::InvalidArgument("proof does not verify with public_key"));
  }
  device.id = core::NewId("dev");
  device.platform = *p;
  device.ownership = *o;
  device.public_key = *key;
  device.status = core::DeviceStatus::kActive;
  int64_t now = c.Now();
  device.enrolled_at = now;
  device.last_seen = now;
  auto enrolled = c.store->EnrollDevice(crypto::Sha256Hex(token), device, now);
  if (!enrolled.ok()) {
    c.metrics->Increment("rampart_enrollments_rejected_total");
    log::Warn("device.enroll_rejected",
              {{"remote_ip", call.req.remote_ip}, {"request_id", call.req.request_id}});
    EmitEvent(c, call, SecurityEvent("device.enroll_rejected"));
    return ErrorResponse(enrolled.status());
  }
  c.metrics->Increment("rampart_enrollments_total");
  {
    SecurityEvent ev("device.enrolled");
    ev.Set("device.id", enrolled->id).Set("user_agent.original", call.req.Header("user-agent"));
    ev.institution_id = enrolled->institution_id;
    EmitEvent(c, call, std::move(ev));
  }
  log::Info("device.enrolled", {{"device_id", enrolled->id},
                                {"institution_id", enrolled->institution_id},
                                {"platform", platform}});
  // Institution-wide policies reach a new device at once.
  auto policies = c.store->PoliciesForDevice(enrolled->id);
  if (policies.ok()) {
    store::Scope scope = store::Scope::Institution(enrolled->institution_id);
    for (const auto& pol : *policies) {
      json params = ApplyPolicyParams(pol);
      QueueCommand(c, scope, enrolled->id, core::CommandType::kApplyPolicy, params, "system")
          .status()
          .IgnoreError();
    }
  }
  return JsonResponse(
      201, json{{"device_id", enrolled->id},
                {"institution_id", enrolled->institution_id},
                {"server",
                 {{"identity_key", crypto::Base64Encode(c.options.server_identity_key)},
                  {"tls_ca_sha256", c.options.tls_ca_fingerprint}}},
                {"checkin_interval_seconds", c.options.config.checkin_interval_seconds}});
}

http::Response Checkin(Context& c, const Call& call) {
  const core::Device& device = call.principal.device;
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"state"}));
  if (!jsonutil::Has(body, "state")) {
    return ErrorResponse(Status::InvalidArgument("field 'state' is required"));
  }
  RAMPART_API_ASSIGN(core::DeviceState state, DeviceStateFromJson(body["state"]));
  int64_t now = c.Now();
  RAMPART_API_ASSIGN(auto policies, c.store->PoliciesForDevice(device.id));
  core::ComplianceVerdict verdict = core::EvaluateCompliance(device.platform, state, policies);
  int64_t since = 0;
  if (verdict.state == core::ComplianceState::kNonCompliant) {
    since = device.noncompliant_since != 0 ? device.noncompliant_since : now;
  }
  int64_t action_at = device.compliance_action_taken_at;
  store::Scope scope = store::Scope::Institution(device.institution_id);
  core::DueAction due = core::DueComplianceAction(verdict, policies, since, action_at, now);
  if (due.action != core::NonComplianceAction::kNone) action_at = now;
  // The check-in (with the time of the action) is stored before the action is queued, so a
  // failed write cannot leave a lock behind that the next check-in would queue again.
  RAMPART_API_CHECK(c.store->RecordCheckin(device.id, state, now, verdict.state, verdict.reasons,
                                           since, action_at));
  c.metrics->Increment("rampart_checkins_total");
  {
    SecurityEvent ev("device.checkin");
    ev.Set("compliance.state", core::ToString(verdict.state));
    EmitEvent(c, call, std::move(ev));
  }
  if (due.action != core::NonComplianceAction::kNone) {
    c.metrics->Increment("rampart_compliance_actions_total", "action", core::ToString(due.action));
    log::Warn("compliance.action", {{"device_id", device.id},
                                    {"policy_id", due.policy_id},
                                    {"action", core::ToString(due.action)}});
    if (due.action == core::NonComplianceAction::kLock) {
      QueueCommand(c, scope, device.id, core::CommandType::kLock,
                   json{{"message", "Locked by policy: device is not compliant"}},
                   "system:compliance")
          .status()
          .IgnoreError();
    }
  }
  RAMPART_API_ASSIGN(auto commands,
                     c.store->TakeDeliverableCommands(
                         device.id, now, 10, now - c.options.config.command_redeliver_seconds));
  json cmds = json::array();
  for (const auto& cmd : commands) {
    json payload = json::parse(cmd.payload_json, nullptr, false);
    cmds.push_back({{"id", cmd.id},
                    {"seq", cmd.seq},
                    {"type", core::ToString(cmd.type)},
                    {"payload", payload.is_discarded() ? json::object() : payload},
                    {"expires_at", cmd.expires_at}});
  }
  if (!commands.empty()) {
    c.metrics->Increment("rampart_commands_delivered_total", {}, {},
                         static_cast<int64_t>(commands.size()));
  }
  json reasons = json::array();
  for (const auto& r : verdict.reasons) reasons.push_back(ToJson(r));
  return JsonResponse(
      200, json{{"compliance", {{"state", core::ToString(verdict.state)}, {"reasons", reasons}}},
                {"commands", cmds},
                {"checkin_interval_seconds", c.options.config.checkin_interval_seconds}});
}

http::Response CommandResult(Context& c, const Call& call) {
  const core::Device& device = call.principal.device;
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"status", "result", "error"}));
  std::string status_name, error;
  RAMPART_API_CHECK(jsonutil::GetString(body, "status", &status_name, true, 16));
  RAMPART_API_CHECK(jsonutil::GetString(body, "error", &error, false, 1000));
  core::CommandState state;
  if (status_name == "acknowledged") {
    state = core::CommandState::kAcknowledged;
  } else if (status_name == "error") {
    state = core::CommandState::kError;
  } else if (status_name == "not_now") {
    state = core::CommandState::kNotNow;
  } else {
    return ErrorResponse(Status::InvalidArgument("status must be acknowledged, error or not_now"));
  }
  std::string result_json;
  if (jsonutil::Has(body, "result") && !body["result"].is_null()) {
    if (!body["result"].is_object()) {
      return ErrorResponse(Status::InvalidArgument("field 'result' must be an object"));
    }
    result_json = jsonutil::Dump(body["result"]);
    if (result_json.size() > 16 * 1024) {
      return ErrorResponse(Status::InvalidArgument("field 'result' is larger than 16 KiB"));
    }
  }
  store::Scope scope = store::Scope::Institution(device.institution_id);
  RAMPART_API_ASSIGN(auto cmd, c.store->GetCommand(scope, device.id, call.Param("id")));
  int64_t now = c.Now();
  RAMPART_API_ASSIGN(auto outcome, c.store->RecordCommandResult(
                                       device.id, cmd.id, state, result_json, error, now,
                                       now + c.options.config.not_now_retry_seconds,
                                       static_cast<int32_t>(c.options.config.max_not_now)));
  if (outcome == store::ResultOutcome::kRecorded) {
    c.metrics->Increment("rampart_command_results_total", "status", status_name);
    log::Info("command.result", {{"command_id", cmd.id},
                                 {"device_id", device.id},
                                 {"type", core::ToString(cmd.type)},
                                 {"status", status_name}});
    // A device that acknowledged retire, or a full wipe, is no longer managed: forget its key.
    bool ends_management =
        state == core::CommandState::kAcknowledged &&
        (cmd.type == core::CommandType::kRetire ||
         (cmd.type == core::CommandType::kWipe &&
          json::parse(cmd.payload_json, nullptr, false).value("mode", "full") == "full"));
    if (ends_management) {
      RAMPART_API_CHECK(c.store->RetireDevice(scope, device.id, now));
      log::Info("device.retired", {{"device_id", device.id}, {"by", "command:" + cmd.id}});
    }
  }
  return JsonResponse(
      200,
      json{{"outcome", outcome == store::ResultOutcome::kRecorded ? "recorded" : "duplicate"}});
}

http::Response DownloadApp(Context& c, const Call& call) {
  const core::Device& device = call.principal.device;
  const std::string& sha = call.Param("sha256");
  if (!IsSha256Hex(sha)) return ErrorResponse(Status::NotFound("no such package"));
  auto app = c.store->FindAppBySha256(store::Scope::Institution(device.institution_id), sha);
  if (!app.ok()) return ErrorResponse(Status::NotFound("no such package"));
  if (app->quarantined) {
    return ErrorResponse(Status::PermissionDenied("package is quarantined"));
  }
  RAMPART_API_ASSIGN(std::string bytes, LoadPackage(c.options.apps_dir, sha));
  c.metrics->Increment("rampart_app_downloads_total");
  http::Response r;
  r.status = 200;
  r.content_type = "application/octet-stream";
  r.headers.emplace_back("X-Content-SHA256", sha);
  r.body = std::move(bytes);
  return r;
}

}  // namespace

void RegisterDeviceProtocolRoutes(RouteTable& t, Context& c) {
  t.Add("POST", "/device/v1/enroll", std::string(core::kPublic),
        [&c](const Call& call) { return Enroll(c, call); });
  t.Add("POST", "/device/v1/checkin", std::string(core::kDevice),
        [&c](const Call& call) { return Checkin(c, call); });
  t.Add("POST", "/device/v1/commands/{id}/result", std::string(core::kDevice),
        [&c](const Call& call) { return CommandResult(c, call); });
  t.Add("GET", "/device/v1/apps/{sha256}", std::string(core::kDevice),
        [&c](const Call& call) { return DownloadApp(c, call); });
  t.Add("POST", "/device/v1/unenroll", std::string(core::kDevice), [&c](const Call& call) {
    const core::Device& device = call.principal.device;
    RAMPART_API_CHECK(c.store->RetireDevice(store::Scope::Institution(device.institution_id),
                                            device.id, c.Now()));
    log::Info("device.unenrolled", {{"device_id", device.id}});
    return JsonResponse(200, json{{"device_id", device.id}, {"status", "retired"}});
  });
}

}  // namespace rampart::api::internal
