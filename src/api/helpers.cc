#include <charconv>

#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/commands.h"
#include "core/permissions.h"
#include "keeper/keeper.h"
#include "respond/impact.h"

namespace rampart::api::internal {

using nlohmann::json;

const std::string& Call::Param(std::string_view name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

void RouteTable::Add(std::string method, std::string pattern, std::string permission,
                     ApiHandler handler) {
  router_.Add(std::move(method), std::move(pattern), std::move(permission), nullptr);
  handlers_.push_back(std::move(handler));
}

const ApiHandler& RouteTable::HandlerFor(const http::Route* route) const {
  return handlers_.at(static_cast<size_t>(route - router_.Routes().data()));
}

Result<store::Scope> ReadScope(const Call& call) {
  const Principal& p = call.principal;
  if ((p.kind == Principal::Kind::kApiToken || p.kind == Principal::Kind::kSession) &&
      core::IsCrossInstitution(p.role)) {
    std::string inst;
    if (call.req.QueryParam("institution_id", &inst) && !inst.empty()) {
      return store::Scope::Institution(inst);
    }
    return store::Scope::All();
  }
  if (p.institution_id.empty()) return Status::PermissionDenied("token has no institution");
  return store::Scope::Institution(p.institution_id);
}

Result<std::string> TargetInstitution(const Call& call, Context& c, const json& body) {
  const Principal& p = call.principal;
  std::string inst = p.institution_id;
  if (core::IsCrossInstitution(p.role)) {
    RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "institution_id", &inst, true, 64));
  } else if (jsonutil::Has(body, "institution_id")) {
    std::string requested;
    RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "institution_id", &requested, false, 64));
    // Naming another institution is answered like naming one that does not exist.
    if (requested != inst) return Status::NotFound("institution not found");
  }
  auto found = c.store->GetInstitution(store::Scope::Institution(inst), inst);
  if (!found.ok()) return Status::NotFound("institution not found");
  return inst;
}

Result<store::PageRequest> ReadPage(const Call& call) {
  store::PageRequest page;
  std::string limit;
  if (call.req.QueryParam("limit", &limit)) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), v);
    if (ec != std::errc() || ptr != limit.data() + limit.size() || v < 1 || v > 500) {
      return Status::InvalidArgument("limit must be an integer from 1 to 500");
    }
    page.limit = v;
  }
  std::string cursor;
  if (call.req.QueryParam("cursor", &cursor)) {
    if (cursor.size() > 256) return Status::InvalidArgument("cursor is malformed");
    page.cursor = cursor;
  }
  return page;
}

Result<AdminCommand> ReadAdminCommand(const Call& call, const json& body) {
  std::string type_name;
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "type", &type_name, true, 32));
  auto type = core::ParseCommandType(type_name);
  if (!type) return Status::InvalidArgument("unknown command type '" + type_name + "'");
  // These payloads are built by the server from its own records (an app of the catalogue, a
  // stored policy), never taken from the caller.
  if (*type == core::CommandType::kInstallApp || *type == core::CommandType::kApplyPolicy) {
    return Status::InvalidArgument(
        "use POST /api/v1/apps/{id}/assignments or /api/v1/policies/{id}/assignments for '" +
        type_name + "'");
  }
  if (core::IsDestructive(*type) && !core::RoleHasPermission(call.principal.role, "devices.wipe")) {
    return Status::PermissionDenied("this token's role may not send " + type_name);
  }
  json params = body;
  params.erase("type");
  return AdminCommand{*type, std::move(params)};
}

Result<json> ReadJsonBody(const Call& call) {
  return jsonutil::ParseObject(call.req.body);
}

void EmitEvent(Context& c, SecurityEvent event) {
  if (c.options.events == nullptr) return;
  if (event.timestamp_millis == 0) event.timestamp_millis = c.clock->NowMillis();
  c.options.events->Emit(std::move(event));
}

void EmitEvent(Context& c, const Call& call, SecurityEvent event) {
  if (c.options.events == nullptr) return;
  event.Set("source.ip", call.req.remote_ip).Set("http.request.id", call.req.request_id);
  if (!call.principal.id.empty()) {
    event.Set(call.principal.kind == Principal::Kind::kDevice ? "device.id" : "user.name",
              call.principal.id);
  }
  if (event.institution_id.empty()) event.institution_id = call.principal.institution_id;
  event.actor_institution_id = call.principal.institution_id;
  EmitEvent(c, std::move(event));
}

void RecordAudit(Context& c, audit::Record record) {
  Status status = Status::Unavailable("no keeper configured");
  if (c.options.keeper != nullptr) {
    auto appended = c.options.keeper->AppendAudit(record);
    status = appended.ok() ? Status::Ok() : appended.status();
  }
  if (!status.ok()) {
    c.metrics->Increment("rampart_audit_failures_total", "action", record.action);
    log::Error("audit.append_failed", {{"action", record.action},
                                       {"request_id", record.request_id},
                                       {"error", status.message()}});
  }
}

void RecordAudit(Context& c, const Call& call, std::string action, std::string target,
                 std::string outcome, const nlohmann::json& details, std::string severity) {
  audit::Record r;
  r.actor = call.principal.id;
  r.action = std::move(action);
  r.target = std::move(target);
  r.outcome = std::move(outcome);
  r.institution_id = call.principal.institution_id;
  r.request_id = call.req.request_id;
  r.source_ip = call.req.remote_ip;
  r.severity = std::move(severity);
  r.details_json = details.is_object() ? details.dump() : "{}";
  RecordAudit(c, std::move(r));
}

Status RequirePrintable(std::string_view value, std::string_view field) {
  for (unsigned char ch : value) {
    if (ch < 0x20 || ch == 0x7f) {
      return Status::InvalidArgument("field '" + std::string(field) +
                                     "' must not contain control characters");
    }
  }
  return Status::Ok();
}

Status RequireName(std::string_view value, std::string_view field) {
  if (value.empty()) {
    return Status::InvalidArgument("field '" + std::string(field) + "' must not be empty");
  }
  return RequirePrintable(value, field);
}

json ApplyPolicyParams(const core::Policy& policy) {
  return {{"policy_id", policy.id}, {"rules", ToJson(policy.rules)}};
}

json InstallAppParams(const core::App& app) {
  return {{"app_id", app.id},
          {"bundle_id", app.bundle_id},
          {"version", app.version},
          {"sha256", app.sha256},
          {"size_bytes", app.size_bytes}};
}

http::Response JsonResponse(int status, const json& body) {
  return http::Response::Json(status, jsonutil::Dump(body));
}

// Unix seconds, or RFC 3339 UTC "2026-01-30T09:15:00Z".
Result<std::optional<int64_t>> ReadTimeParam(const Call& call, const char* name) {
  std::string text;
  if (!call.req.QueryParam(name, &text)) return std::optional<int64_t>();
  auto bad = [&] {
    return Status::InvalidArgument(std::string(name) +
                                   " must be Unix seconds or an RFC 3339 UTC time");
  };
  if (text.empty() || text.size() > 32) return bad();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && ptr == text.data() + text.size()) {
    if (v < 0) return bad();
    return std::optional<int64_t>(v);
  }
  // Whole seconds only in a query ("...:15:00Z"), as documented in docs/openapi.yaml.
  if (text.size() != 20) return bad();
  int64_t t = respond::ParseUtcTime(text);
  if (t < 0) return bad();
  return std::optional<int64_t>(t);
}

http::Response ErrorResponse(const Status& status) {
  return http::Response::Error(status);
}

Result<std::string> ReadReason(const Call& call) {
  std::string reason;
  if (call.req.body.empty()) return reason;
  RAMPART_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonBody(call));
  RAMPART_RETURN_IF_ERROR(jsonutil::RejectUnknownFields(body, {"reason"}));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "reason", &reason, false, 500));
  RAMPART_RETURN_IF_ERROR(RequirePrintable(reason, "reason"));
  return reason;
}

Result<std::string> PersonOf(Context& c, const std::string& principal_id) {
  if (!principal_id.starts_with("tok_")) return principal_id;
  auto token = c.store->GetApiToken(principal_id);
  if (token.ok()) return token->owner_id.empty() ? principal_id : token->owner_id;
  if (token.status().code() == Code::kNotFound) return principal_id;
  return token.status();
}

Result<bool> SamePerson(Context& c, const Call& call, const std::string& principal_id) {
  if (principal_id == call.principal.id) return true;
  RAMPART_ASSIGN_OR_RETURN(std::string person, PersonOf(c, principal_id));
  return person == call.principal.person_id;
}

}  // namespace rampart::api::internal
