// How commands come to exist, get signed and get approved.
//
// Devices obey only commands signed by their institution's command key, which only the keeper
// holds. Every handler that creates commands goes through CreateCommands: it either has the
// keeper sign each command as the store writes it (seq assigned, one transaction), or, for
// destructive and mass actions, stores them awaiting_approval and unsigned until a second admin
// approves them here. A row written into the database by anyone else carries no valid
// signature, and the agent refuses it (docs/protocol.md, "Signed commands").
#include "api/internal.h"
#include "common/crypto.h"
#include "common/log.h"
#include "core/command_signing.h"
#include "core/commands.h"
#include "core/permissions.h"
#include "keeper/keeper.h"

namespace rampart::api::internal {

using nlohmann::json;

CommandOrigin CommandOrigin::Admin(const Call& call, std::string purpose) {
  return CommandOrigin{&call, call.principal.id, std::move(purpose)};
}

CommandOrigin CommandOrigin::System(std::string created_by, std::string purpose) {
  return CommandOrigin{nullptr, std::move(created_by), std::move(purpose)};
}

namespace {

// The keeper is told who asked for the command (the creator, also when a second admin's approval
// is what triggers the signature: approved_by then names the approver, and the keeper refuses
// the two being the same), and which request it came with.
keeper::Caller CallerOf(const CommandOrigin& origin) {
  keeper::Caller caller;
  caller.principal = origin.created_by;
  caller.purpose = origin.purpose;
  if (origin.call != nullptr) {
    const Call& call = *origin.call;
    caller.role = std::string(core::ToString(call.principal.role));
    caller.institution_id = call.principal.institution_id;
    caller.request_id = call.req.request_id;
    caller.source_ip = call.req.remote_ip;
  }
  return caller;
}

Status KeeperMissing() {
  return Status::Unavailable("the keeper is unavailable: commands cannot be signed now");
}

// Cancels what an action created before it failed, so that nothing of it stays deliverable.
void Undo(Context& c, const store::Scope& scope, const std::vector<core::Command>& created) {
  for (const auto& cmd : created) {
    Status s = c.store->CancelCommand(scope, cmd.device_id, cmd.id, c.Now());
    if (!s.ok()) log::Error("command.undo_failed", {{"command_id", cmd.id}});
  }
}

}  // namespace

store::CommandSigner KeeperSigner(Context& c, const CommandOrigin& origin) {
  keeper::Keeper* keeper = c.options.keeper;
  keeper::Caller caller = CallerOf(origin);
  return [keeper, caller](const core::Command& cmd) -> Result<store::CommandSignatureParts> {
    if (keeper == nullptr) return KeeperMissing();
    RAMPART_ASSIGN_OR_RETURN(std::string canonical, core::CanonicalPayload(cmd.payload_json));
    keeper::SignCommandRequest req;
    req.caller = caller;
    req.institution_id = cmd.institution_id;
    req.fields.device_id = cmd.device_id;
    req.fields.command_id = cmd.id;
    req.fields.seq = cmd.seq;
    req.fields.type = std::string(core::ToString(cmd.type));
    req.fields.payload_sha256_hex = crypto::Sha256Hex(canonical);
    req.fields.expires_at = cmd.expires_at;
    req.approved_by = cmd.approved_by;
    req.batch_size = cmd.batch_size;
    RAMPART_ASSIGN_OR_RETURN(keeper::CommandSignature sig, keeper->SignCommand(req));
    return store::CommandSignatureParts{std::move(sig.key_id), std::move(sig.signature)};
  };
}

Result<CreatedCommands> CreateCommands(Context& c, const store::Scope& scope,
                                       const std::vector<std::string>& device_ids,
                                       core::CommandType type, const json& params,
                                       const CommandOrigin& origin) {
  RAMPART_ASSIGN_OR_RETURN(std::string payload, core::ValidateCommandPayload(type, params));
  CreatedCommands out;
  if (device_ids.empty()) return out;
  if (type == core::CommandType::kInstallApp) {
    // Every install goes through here: a quarantined package is never pushed, whoever asks.
    RAMPART_ASSIGN_OR_RETURN(core::App app,
                             c.store->GetApp(scope, params.value("app_id", std::string())));
    if (app.quarantined) return Status::Conflict("app is quarantined and cannot be installed");
  }
  const int64_t batch_size = static_cast<int64_t>(device_ids.size());
  out.awaiting_approval =
      core::IsDestructive(type) ||
      (origin.call != nullptr && batch_size > c.options.config.mass_command_threshold);
  if (out.awaiting_approval && batch_size > 1) out.batch_id = core::NewId("bat");
  if (!out.awaiting_approval && c.options.keeper == nullptr) return KeeperMissing();
  store::CommandSigner sign;
  if (!out.awaiting_approval) sign = KeeperSigner(c, origin);
  const int64_t now = c.Now();
  for (const std::string& device_id : device_ids) {
    core::Command cmd;
    cmd.id = core::NewId("cmd");
    cmd.device_id = device_id;
    cmd.type = type;
    cmd.payload_json = payload;
    cmd.state =
        out.awaiting_approval ? core::CommandState::kAwaitingApproval : core::CommandState::kQueued;
    cmd.created_by = origin.created_by;
    cmd.created_at = now;
    cmd.updated_at = now;
    cmd.expires_at = now + c.options.config.command_expiry_seconds;
    cmd.batch_size = batch_size;
    cmd.batch_id = out.batch_id;
    auto stored = c.store->EnqueueCommand(scope, std::move(cmd), sign);
    if (!stored.ok()) {
      Code code = stored.status().code();
      // A device retired or gone since the targets were listed just drops out of a batch.
      if (batch_size > 1 && (code == Code::kNotFound || code == Code::kConflict)) continue;
      Undo(c, scope, out.commands);
      if (code == Code::kUnavailable) {
        c.metrics->Increment("rampart_command_sign_failures_total");
        log::Error("command.sign_failed", {{"type", core::ToString(type)},
                                           {"institution_id", scope.institution_id},
                                           {"by", origin.created_by}});
      }
      return stored.status();
    }
    out.commands.push_back(std::move(stored).value());
  }
  c.metrics->Increment(out.awaiting_approval ? "rampart_commands_awaiting_approval_total"
                                             : "rampart_commands_queued_total",
                       "type", core::ToString(type), static_cast<int64_t>(out.commands.size()));
  // Every command requested is an event, approved or not: a storm of wipe requests is what the
  // detection rules look for, whether or not a second admin ever approves them.
  for (const core::Command& cmd : out.commands) {
    SecurityEvent ev("command.queued");
    ev.Set("command.type", core::ToString(type))
        .Set("device.id", cmd.device_id)
        .Set("user.name", origin.created_by);
    ev.institution_id = cmd.institution_id;
    if (origin.call != nullptr) {
      EmitEvent(c, *origin.call, std::move(ev));
    } else {
      EmitEvent(c, std::move(ev));
    }
  }
  return out;
}

Result<core::Command> QueueCommand(Context& c, const store::Scope& scope,
                                   const std::string& device_id, core::CommandType type,
                                   const json& params, const CommandOrigin& origin) {
  RAMPART_ASSIGN_OR_RETURN(CreatedCommands created,
                           CreateCommands(c, scope, {device_id}, type, params, origin));
  if (created.commands.empty()) return Status::Internal("no command was created");
  return std::move(created.commands.front());
}

Result<CreatedCommands> PushPolicyToDevices(Context& c, const core::Policy& policy,
                                            const core::PolicyAssignment& assignment,
                                            const CommandOrigin& origin) {
  store::Scope scope = store::Scope::Institution(assignment.institution_id);
  std::vector<std::string> targets;
  store::DeviceFilter filter;
  filter.status = core::DeviceStatus::kActive;
  filter.group_id = assignment.group_id;
  store::PageRequest page{500, ""};
  while (true) {
    RAMPART_ASSIGN_OR_RETURN(auto devices, c.store->ListDevices(scope, filter, page));
    for (const auto& d : devices.items) targets.push_back(d.id);
    if (devices.next_cursor.empty()) break;
    page.cursor = devices.next_cursor;
  }
  return CreateCommands(c, scope, targets, core::CommandType::kApplyPolicy,
                        ApplyPolicyParams(policy), origin);
}

void AddCreatedCommands(json& out, const Result<CreatedCommands>& created) {
  int64_t queued = 0;
  int64_t awaiting = 0;
  json batch_id = nullptr;
  if (created.ok()) {
    auto n = static_cast<int64_t>(created->commands.size());
    (created->awaiting_approval ? awaiting : queued) = n;
    if (!created->batch_id.empty()) batch_id = created->batch_id;
  }
  out["commands_queued"] = queued;
  out["commands_awaiting_approval"] = awaiting;
  out["batch_id"] = batch_id;
}

namespace {

// The approval decision shared by approve and reject: loads the command in the caller's own
// institution and checks the caller may decide on it.
Result<core::Command> LoadForDecision(Context& c, const Call& call) {
  // Approval is an institution's own decision: a cross-institution token has no institution
  // whose second admin it could be.
  if (call.principal.institution_id.empty()) {
    return Status::PermissionDenied("only an admin of the command's institution may decide on it");
  }
  store::Scope scope = store::Scope::Institution(call.principal.institution_id);
  RAMPART_ASSIGN_OR_RETURN(core::Command cmd, c.store->FindCommand(scope, call.Param("id")));
  if (core::IsDestructive(cmd.type) &&
      !core::RoleHasPermission(call.principal.role, "devices.wipe")) {
    return Status::PermissionDenied("this token's role may not decide on " +
                                    std::string(core::ToString(cmd.type)));
  }
  if (cmd.state != core::CommandState::kAwaitingApproval) {
    return Status::Conflict("command is not awaiting approval");
  }
  return cmd;
}

// A second admin's decision is an event like the request it decides on: who approved or
// refused which command (a batch counts its commands).
void EmitDecisionEvent(Context& c, const Call& call, const char* action, const core::Command& cmd,
                       size_t commands) {
  SecurityEvent ev(action);
  ev.Set("command.type", core::ToString(cmd.type))
      .Set("device.id", cmd.device_id)
      .Set("command.id", cmd.id)
      .Set("command.created_by", cmd.created_by)
      .Set("command.count", std::to_string(commands));
  if (!cmd.batch_id.empty()) ev.Set("command.batch_id", cmd.batch_id);
  ev.institution_id = cmd.institution_id;
  EmitEvent(c, call, std::move(ev));
}

json DecisionJson(const std::vector<core::Command>& commands, const core::Command& first) {
  json items = json::array();
  for (const auto& cmd : commands) items.push_back(ToJson(cmd));
  return json{{"command_id", first.id},
              {"batch_id", first.batch_id.empty() ? json(nullptr) : json(first.batch_id)},
              {"commands", std::move(items)}};
}

}  // namespace

void RegisterApprovalRoutes(RouteTable& t, Context& c) {
  t.Add("POST", "/api/v1/commands/{id}/approve", "devices.command", [&c](const Call& call) {
    auto loaded = LoadForDecision(c, call);
    if (!loaded.ok()) {
      if (loaded.status().code() == Code::kPermissionDenied) {
        RecordAudit(c, call, "command.approve", call.Param("id"), "denied",
                    json{{"reason", loaded.status().message()}}, "warning");
      }
      return ErrorResponse(loaded.status());
    }
    const core::Command& cmd = *loaded;
    // Four eyes: whoever created the command cannot also be the second pair, neither with the
    // same credential nor with another one of theirs (an API token they made).
    auto same = SamePerson(c, call, cmd.created_by);
    if (!same.ok() || *same) {
      const std::string reason =
          same.ok() ? std::string(kSamePersonReason) : "the requester could not be identified";
      RecordAudit(c, call, "command.approve", cmd.id, "denied",
                  json{{"reason", reason},
                       {"batch_id", cmd.batch_id},
                       {"created_by", cmd.created_by},
                       {"person_id", call.principal.person_id}},
                  "warning");
      if (!same.ok()) return ErrorResponse(same.status());
      return ErrorResponse(Status::PermissionDenied(
          "a command must be approved by someone other than its creator: " + reason));
    }
    if (c.options.keeper == nullptr) return ErrorResponse(KeeperMissing());
    store::Scope scope = store::Scope::Institution(cmd.institution_id);
    CommandOrigin origin = CommandOrigin::Admin(call, "command.approve");
    origin.created_by = cmd.created_by;
    auto queued = c.store->ApproveCommands(scope, cmd.id, call.principal.id, c.Now(),
                                           KeeperSigner(c, origin));
    if (!queued.ok()) {
      RecordAudit(c, call, "command.approve", cmd.id, "failure",
                  json{{"reason", queued.status().message()}, {"batch_id", cmd.batch_id}},
                  "warning");
      return ErrorResponse(queued.status());
    }
    RecordAudit(c, call, "command.approve", cmd.id, "success",
                json{{"type", core::ToString(cmd.type)},
                     {"batch_id", cmd.batch_id},
                     {"batch_size", cmd.batch_size},
                     {"queued", queued->size()},
                     {"created_by", cmd.created_by}});
    c.metrics->Increment("rampart_commands_approved_total", "type", core::ToString(cmd.type),
                         static_cast<int64_t>(queued->size()));
    log::Info("command.approved", {{"command_id", cmd.id},
                                   {"batch_id", cmd.batch_id},
                                   {"queued", static_cast<int64_t>(queued->size())},
                                   {"by", call.principal.id}});
    EmitDecisionEvent(c, call, "command.approved", cmd, queued->size());
    return JsonResponse(200, DecisionJson(*queued, cmd));
  });

  t.Add("POST", "/api/v1/commands/{id}/reject", "devices.command", [&c](const Call& call) {
    auto loaded = LoadForDecision(c, call);
    if (!loaded.ok()) {
      if (loaded.status().code() == Code::kPermissionDenied) {
        RecordAudit(c, call, "command.reject", call.Param("id"), "denied",
                    json{{"reason", loaded.status().message()}}, "warning");
      }
      return ErrorResponse(loaded.status());
    }
    const core::Command& cmd = *loaded;
    RAMPART_API_ASSIGN(
        auto canceled,
        c.store->RejectApproval(store::Scope::Institution(cmd.institution_id), cmd.id, c.Now()));
    RecordAudit(c, call, "command.reject", cmd.id, "success",
                json{{"type", core::ToString(cmd.type)},
                     {"batch_id", cmd.batch_id},
                     {"canceled", canceled.size()},
                     {"created_by", cmd.created_by}});
    log::Info("command.approval_refused",
              {{"command_id", cmd.id}, {"batch_id", cmd.batch_id}, {"by", call.principal.id}});
    EmitDecisionEvent(c, call, "command.rejected", cmd, canceled.size());
    return JsonResponse(200, DecisionJson(canceled, cmd));
  });
}

}  // namespace rampart::api::internal
