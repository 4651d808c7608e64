// Shared pieces of the API handlers. Private to src/api.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/app.h"
#include "api/metrics.h"
#include "api/nonce_cache.h"
#include "audit/record.h"
#include "common/clock.h"
#include "common/event_sink.h"
#include "core/alert.h"
#include "core/model.h"
#include "http/message.h"
#include "http/router.h"
#include "keeper/keeper.h"
#include "respond/actions.h"
#include "store/store.h"

namespace rampart::respond {
class PlaybookRunner;
}

namespace rampart::api::internal {

struct Principal {
  enum class Kind { kNone, kApiToken, kDevice, kSession };
  Kind kind = Kind::kNone;
  std::string id;  // API token id, device id, or for a session the user id ("usr_...")
  // The person behind the principal, for four-eyes rules: the user id for a session, the
  // token's owner for an API token (the token id itself when it has none: made by the CLI or
  // before migration 9), the device id for a device.
  std::string person_id;
  core::Role role = core::Role::kAuditor;
  std::string institution_id;  // empty only for cross-institution tokens
  int64_t expires_at = 0;      // the API token's expiry (0: none)
  core::Device device;         // for kDevice
  // For kSession: the session, and whether the user still has to set up a second factor their
  // role requires (then only kAccountSelf routes are open).
  std::string session_id;
  int64_t session_expires_at = 0;
  bool mfa_setup_required = false;
  std::string csrf_token;
};

struct Call {
  const http::Request& req;
  const http::PathParams& params;
  const Principal& principal;
  const std::string& Param(std::string_view name) const;
};

using ApiHandler = std::function<http::Response(const Call&)>;

// What every handler may use. Owned by App::Impl; outlives all handlers.
struct Context {
  AppOptions options;
  store::Store* store = nullptr;
  const Clock* clock = nullptr;
  Metrics* metrics = nullptr;
  NonceCache* nonces = nullptr;
  respond::ActionEngine* response = nullptr;       // containment actions (blocks, lockdown, revoke)
  respond::PlaybookRunner* runner = nullptr;       // playbook steps waiting for approval
  respond::EvidenceCollector* evidence = nullptr;  // null: evidence capture is not configured
  respond::MasterKeyRewrap* rewrap = nullptr;      // null: no keeper, so nothing to re-wrap
  int64_t Now() const { return clock->NowSeconds(); }
};

// Hands a security event to the configured sink (if any), stamped with the clock's time.
void EmitEvent(Context& c, SecurityEvent event);
// The same for an event about an authenticated call: adds source.ip, http.request.id, user.name
// (the principal id) and the principal's institution.
void EmitEvent(Context& c, const Call& call, SecurityEvent event);

// Appends a security-relevant action to the keeper's audit log, filling actor, institution,
// request id and source address from the call. Serve's own records are best effort: a failure
// is logged and counted (rampart_audit_failures_total), never shown to the caller. Decrypts and
// signatures need no call here: the keeper records those itself.
void RecordAudit(Context& c, const Call& call, std::string action, std::string target,
                 std::string outcome, const nlohmann::json& details = nlohmann::json::object(),
                 std::string severity = "info");
// The same for actions without an authenticated call (login attempts, system jobs).
void RecordAudit(Context& c, audit::Record record);

// Who is asking, for the keeper's budget and audit record.
keeper::Caller CallerOf(const Call& call, std::string purpose);

// The person behind a stored principal id (a command's created_by, an export's requested_by):
// an API token's owner when it has one, else the id itself. An error other than NotFound when
// the token cannot be read: the caller refuses rather than guess (a guess could let an admin's
// own token pass as a second admin).
Result<std::string> PersonOf(Context& c, const std::string& principal_id);
// Whether the caller is the person behind `principal_id`; errors as PersonOf.
Result<bool> SamePerson(Context& c, const Call& call, const std::string& principal_id);
// The refusal reason every four-eyes check audits and answers.
inline constexpr std::string_view kSamePersonReason =
    "approver is the same person as the requester";

// The route table: http::Router for matching, plus the API handler of each route by index.
class RouteTable {
 public:
  void Add(std::string method, std::string pattern, std::string permission, ApiHandler handler);
  const http::Router& router() const { return router_; }
  const ApiHandler& HandlerFor(const http::Route* route) const;

 private:
  http::Router router_;
  std::vector<ApiHandler> handlers_;
};

// Each resource file registers its routes.
void RegisterInstitutionRoutes(RouteTable& t, Context& c);
void RegisterCommandKeyRoutes(RouteTable& t, Context& c);
void RegisterMasterKeyRoutes(RouteTable& t, Context& c);  // master_keys.cc
void RegisterStaffExportRoutes(RouteTable& t, Context& c);
void RegisterStaffRoutes(RouteTable& t, Context& c);
void RegisterDeviceRoutes(RouteTable& t, Context& c);
void RegisterCommandRoutes(RouteTable& t, Context& c);
void RegisterGroupRoutes(RouteTable& t, Context& c);
void RegisterEnrollmentRoutes(RouteTable& t, Context& c);
void RegisterPolicyRoutes(RouteTable& t, Context& c);
void RegisterAppRoutes(RouteTable& t, Context& c);
void RegisterComplianceRoutes(RouteTable& t, Context& c);
void RegisterTokenRoutes(RouteTable& t, Context& c);
void RegisterAuthRoutes(RouteTable& t, Context& c);
void RegisterUserRoutes(RouteTable& t, Context& c);
void RegisterDeviceProtocolRoutes(RouteTable& t, Context& c);
void RegisterAlertRoutes(RouteTable& t, Context& c);
void RegisterIncidentRoutes(RouteTable& t, Context& c);
void RegisterBlockRoutes(RouteTable& t, Context& c);         // blocks.cc (response)
void RegisterLockdownRoutes(RouteTable& t, Context& c);      // lockdown.cc (response)
void RegisterCommandBatchRoutes(RouteTable& t, Context& c);  // command_batches.cc (response)
// An admin's manual response action: the principal as actor, the request's id and address.
respond::ActionContext ActionContextOf(const Call& call);

// --- Request helpers ---

// The scope a read runs in: a cross-institution principal sees every institution, or one when
// it passes ?institution_id=; anyone else sees only their own institution.
Result<store::Scope> ReadScope(const Call& call);
// The institution a new object belongs to: the principal's own, or for a cross-institution
// principal the body's "institution_id" (required then). The institution must exist.
Result<std::string> TargetInstitution(const Call& call, Context& c, const nlohmann::json& body);
// ?limit= (1..500, default 50) and ?cursor=.
Result<store::PageRequest> ReadPage(const Call& call);
// ?NAME= as Unix seconds or an RFC 3339 UTC time ("2026-01-30T09:15:00Z"); nullopt when
// absent, so that an explicit 0 ("until the epoch") is not taken for "no bound".
Result<std::optional<int64_t>> ReadTimeParam(const Call& call, const char* name);
// Body parsed as a JSON object, or InvalidArgument.
Result<nlohmann::json> ReadJsonBody(const Call& call);
// The optional body {"reason": "..."} of a containment route (at most 500 printable
// characters); "" for an empty body. InvalidArgument for anything else.
Result<std::string> ReadReason(const Call& call);

// InvalidArgument naming the field when `value` holds a control character (names, labels and
// identifiers are shown in consoles and reports; they never need one).
Status RequirePrintable(std::string_view value, std::string_view field);
// The same, and the value must not be empty.
Status RequireName(std::string_view value, std::string_view field);

// A command an admin asked for: {"type": ..., params...}. Refuses unknown types, the types the
// server builds only from its own records (install_app, apply_policy), and wipe/retire for a
// role without devices.wipe. The parameters are validated later, by CreateCommands.
struct AdminCommand {
  core::CommandType type;
  nlohmann::json params;
};
Result<AdminCommand> ReadAdminCommand(const Call& call, const nlohmann::json& body);

// Command parameters the server builds from its own records.
nlohmann::json ApplyPolicyParams(const core::Policy& policy);
nlohmann::json InstallAppParams(const core::App& app);

http::Response JsonResponse(int status, const nlohmann::json& body);
http::Response ErrorResponse(const Status& status);

template <typename T, typename F>
nlohmann::json PageToJson(const store::Page<T>& page, F&& to_json) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : page.items) items.push_back(to_json(item));
  nlohmann::json out = {{"items", std::move(items)}};
  out["next_cursor"] =
      page.next_cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(page.next_cursor);
  return out;
}

// --- Serialisation (wire shapes documented in docs/openapi.yaml) ---
nlohmann::json ToJson(const core::Institution& v);
// Masked by default; with `revealed` (from the keeper) the clear values, marked "revealed": true.
nlohmann::json ToJson(const core::Staff& v, const keeper::StaffFields* revealed = nullptr);
nlohmann::json ToJson(const core::Group& v);
nlohmann::json ToJson(const core::Device& v);
nlohmann::json ToJson(const core::DeviceState& v);
nlohmann::json ToJson(const core::ComplianceReason& v);
nlohmann::json ToJson(const core::EnrollmentToken& v);
nlohmann::json ToJson(const core::ApiToken& v);
nlohmann::json ToJson(const core::AdminUser& v);  // never the hash or the TOTP secrets
nlohmann::json ToJson(const core::Command& v);
nlohmann::json ToJson(const core::PolicyRules& v);
nlohmann::json ToJson(const core::Policy& v);
nlohmann::json ToJson(const core::PolicyAssignment& v);
nlohmann::json ToJson(const core::App& v);
nlohmann::json ToJson(const core::AppAssignment& v);
nlohmann::json ToJson(const core::Alert& v);
Result<core::PolicyRules> PolicyRulesFromJson(const nlohmann::json& j);
Result<core::DeviceState> DeviceStateFromJson(const nlohmann::json& j);

// --- Shared domain operations ---

// Who caused a set of commands: an admin's request, or the server itself (a compliance action,
// an enrollment's institution-wide policies).
struct CommandOrigin {
  const Call* call = nullptr;  // the admin request; null for the server's own actions
  std::string created_by;      // the principal id, or "system", "system:compliance"
  std::string purpose;         // why, for the keeper's audit: "command.admin", "policy.push", ...
  static CommandOrigin Admin(const Call& call, std::string purpose);
  static CommandOrigin System(std::string created_by, std::string purpose);
};

struct CreatedCommands {
  std::vector<core::Command> commands;  // one per device that received one
  bool awaiting_approval = false;       // created unsigned; a second admin must approve
  std::string batch_id;                 // set when several commands await approval together
};

// The one path by which commands come to exist (command_pipeline.cc). Validates the payload and
// creates one command of `type` for each device, as a single admin action of
// batch_size = device_ids.size():
//  - wipe and retire, and any admin action for more than mass_command_threshold devices, are
//    stored awaiting_approval, unsigned (sharing a batch id when there are several);
//  - everything else is signed by the keeper, after the store assigned its seq and inside the
//    same store transaction, and stored queued.
// Unavailable when the keeper is missing or down: then no command of the action remains
// deliverable (those created before the failure are canceled). With several devices, one that
// is gone or retired meanwhile is skipped; with one, its NotFound/Conflict is returned.
Result<CreatedCommands> CreateCommands(Context& c, const store::Scope& scope,
                                       const std::vector<std::string>& device_ids,
                                       core::CommandType type, const nlohmann::json& params,
                                       const CommandOrigin& origin);
// CreateCommands for one device; returns its command.
Result<core::Command> QueueCommand(Context& c, const store::Scope& scope,
                                   const std::string& device_id, core::CommandType type,
                                   const nlohmann::json& params, const CommandOrigin& origin);
// The signer the store calls for each command (keeper->SignCommand over
// core::CommandSignatureFields); Unavailable without a keeper.
store::CommandSigner KeeperSigner(Context& c, const CommandOrigin& origin);
// Queues apply_policy for every active device a policy assignment reaches, as one action.
Result<CreatedCommands> PushPolicyToDevices(Context& c, const core::Policy& policy,
                                            const core::PolicyAssignment& assignment,
                                            const CommandOrigin& origin);
// Adds "commands_queued", "commands_awaiting_approval" and "batch_id" (null when none) to the
// answer of a route that created commands for several devices; zeros when creation failed.
void AddCreatedCommands(nlohmann::json& out, const Result<CreatedCommands>& created);
// Approval routes: POST /api/v1/commands/{id}/approve and /reject.
void RegisterApprovalRoutes(RouteTable& t, Context& c);

}  // namespace rampart::api::internal

// In a handler: assigns the value of a Result, or returns its error as the HTTP response.
#define RAMPART_API_ASSIGN(lhs, expr)                    \
  auto RAMPART_CONCAT(api_result_, __LINE__) = (expr);   \
  if (!RAMPART_CONCAT(api_result_, __LINE__).ok())       \
    return ::rampart::api::internal::ErrorResponse(      \
        RAMPART_CONCAT(api_result_, __LINE__).status()); \
  lhs = std::move(RAMPART_CONCAT(api_result_, __LINE__)).value()

// In a handler: returns the error of a non-OK Status as the HTTP response.
#define RAMPART_API_CHECK(expr)                                                         \
  do {                                                                                  \
    ::rampart::Status api_status_ = (expr);                                             \
    if (!api_status_.ok()) return ::rampart::api::internal::ErrorResponse(api_status_); \
  } while (0)
