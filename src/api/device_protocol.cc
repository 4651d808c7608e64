// The device side of the wire protocol (docs/protocol.md).
#include "api/internal.h"
#include "api/package_store.h"
#include "common/crypto.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/compliance.h"
#include "core/device_signing.h"
#include "core/permissions.h"
#include "keeper/keeper.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

constexpr char kKeeperDown[] = "the keeper is unavailable: try again later";

json RotationToJson(const keeper::KeyRotation& r) {
  return json{{"institution_id", r.fields.institution_id},
              {"old_key_id", r.fields.old_key_id},
              {"new_key_id", r.fields.new_key_id},
              {"new_public_key", r.fields.new_public_key_b64},
              {"issued_at", r.fields.issued_at},
              {"signature", crypto::Base64Encode(r.signature)}};
}

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
  // The device must leave enrollment pinned to its institution's command key, or it could never
  // verify a command: without the keeper there is no enrollment, and no device row.
  if (c.options.keeper == nullptr) return ErrorResponse(Status::Unavailable(kKeeperDown));
  keeper::CommandKey command_key;
  if (auto tok = c.store->FindEnrollmentToken(crypto::Sha256Hex(token)); tok.ok()) {
    if (c.response != nullptr && c.response->lockdowns().IsLocked(tok->institution_id)) {
      return http::Response::Error(423, "locked",
                                   "the institution is in lockdown: enrollment is closed");
    }
    auto key = c.options.keeper->GetCommandKey(tok->institution_id);
    if (!key.ok()) {
      log::Error("device.enroll_keeper_failed", {{"request_id", call.req.request_id}});
      return ErrorResponse(Status::Unavailable(kKeeperDown));
    }
    command_key = std::move(key).value();
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
  if (command_key.institution_id != enrolled->institution_id) {
    // Unreachable unless the token changed hands between the two reads; never hand out a key
    // of another institution.
    auto key = c.options.keeper->GetCommandKey(enrolled->institution_id);
    if (!key.ok()) {
      c.store->RetireDevice(store::Scope::Institution(enrolled->institution_id), enrolled->id, now)
          .IgnoreError();
      return ErrorResponse(Status::Unavailable(kKeeperDown));
    }
    command_key = std::move(key).value();
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
      auto cmd = QueueCommand(c, scope, enrolled->id, core::CommandType::kApplyPolicy, params,
                              CommandOrigin::System("system", "enrollment.policy"));
      if (!cmd.ok()) log::Error("policy.push_failed", {{"policy_id", pol.id}});
    }
  }
  return JsonResponse(
      201, json{{"device_id", enrolled->id},
                {"institution_id", enrolled->institution_id},
                {"server",
                 {{"identity_key", crypto::Base64Encode(c.options.server_identity_key)},
                  {"tls_ca_sha256", c.options.tls_ca_fingerprint}}},
                {"command_key",
                 {{"key_id", command_key.key_id},
                  {"public_key", crypto::Base64Encode(command_key.public_key)}}},
                {"checkin_interval_seconds", c.options.config.checkin_interval_seconds}});
}

http::Response Checkin(Context& c, const Call& call) {
  const core::Device& device = call.principal.device;
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"state", "command_key_id"}));
  if (!jsonutil::Has(body, "state")) {
    return ErrorResponse(Status::InvalidArgument("field 'state' is required"));
  }
  // The command key the device has pinned; "" from agents that do not say.
  std::string pinned_key_id;
  RAMPART_API_CHECK(jsonutil::GetString(body, "command_key_id", &pinned_key_id, false, 64));
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
  // Without the keeper a lock cannot be signed: the action stays due for the next check-in.
  if (due.action == core::NonComplianceAction::kLock && c.options.keeper == nullptr) {
    due.action = core::NonComplianceAction::kNone;
  }
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
      auto cmd = QueueCommand(c, scope, device.id, core::CommandType::kLock,
                              json{{"message", "Locked by policy: device is not compliant"}},
                              CommandOrigin::System("system:compliance", "compliance.lock"));
      if (!cmd.ok()) log::Error("compliance.action_failed", {{"device_id", device.id}});
    }
  }
  // A device pinned to an older command key first needs the rotations that lead to the current
  // one, or it would refuse every command signed since. When they cannot be had (keeper down),
  // commands wait for a later check-in rather than be sent to a device that must refuse them.
  json rotations = json::array();
  bool deliver = true;
  if (!pinned_key_id.empty()) {
    deliver = false;
    if (c.options.keeper != nullptr) {
      auto current = c.options.keeper->GetCommandKey(device.institution_id);
      if (current.ok() && current->key_id == pinned_key_id) {
        deliver = true;
      } else if (current.ok()) {
        auto chain = c.options.keeper->KeyRotations(device.institution_id);
        if (chain.ok()) {
          for (const auto& r : *chain) rotations.push_back(RotationToJson(r));
          deliver = true;
        }
      }
    }
    if (!deliver) log::Warn("checkin.keeper_unavailable", {{"device_id", device.id}});
  }
  std::vector<core::Command> commands;
  if (deliver) {
    RAMPART_API_ASSIGN(commands,
                       c.store->TakeDeliverableCommands(
                           device.id, now, 10, now - c.options.config.command_redeliver_seconds));
  }
  json cmds = json::array();
  for (const auto& cmd : commands) {
    json payload = json::parse(cmd.payload_json, nullptr, false);
    if (payload.is_discarded()) payload = json::object();
    cmds.push_back(
        {{"id", cmd.id},
         {"seq", cmd.seq},
         {"type", core::ToString(cmd.type)},
         {"payload", payload},
         {"payload_sha256", crypto::Sha256Hex(payload.dump())},
         {"expires_at", cmd.expires_at},
         {"signature",
          {{"key_id", cmd.signature_key_id}, {"value", crypto::Base64Encode(cmd.signature)}}}});
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
                {"key_rotations", rotations},
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
  } else if (status_name == "rejected") {
    state = core::CommandState::kRejected;
  } else {
    return ErrorResponse(
        Status::InvalidArgument("status must be acknowledged, error, not_now or rejected"));
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
    if (state == core::CommandState::kRejected) {
      // The device refused a command the server delivered: either a forged or replayed row in
      // the database, or a key the device does not trust. Either way a security event.
      c.metrics->Increment("rampart_commands_rejected_by_device_total");
      log::Warn("command.rejected_by_device", {{"command_id", cmd.id},
                                               {"device_id", device.id},
                                               {"institution_id", device.institution_id}});
      audit::Record r;
      r.actor = device.id;
      r.action = "command.rejected_by_device";
      r.target = cmd.id;
      r.outcome = "failure";
      r.institution_id = device.institution_id;
      r.request_id = call.req.request_id;
      r.source_ip = call.req.remote_ip;
      r.severity = "critical";
      r.details_json = json{{"device_id", device.id},
                            {"type", core::ToString(cmd.type)},
                            {"seq", cmd.seq},
                            {"signature_key_id", cmd.signature_key_id},
                            {"reason", error.substr(0, 100)}}
                           .dump();
      RecordAudit(c, std::move(r));
    }
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
