// Command batches (/api/v1/command-batches/{id}): the commands a mass or destructive action
// created together, and pausing them. A paused batch is neither approved, signed nor delivered
// (store.h, CommandBatch); pausing is containment and stays open in lockdown, resuming is not.
#include "api/internal.h"
#include "core/commands.h"
#include "core/model.h"
#include "core/permissions.h"
#include "respond/actions.h"

namespace rampart::api::internal {
namespace {

using nlohmann::json;

constexpr std::string_view kBatchPrefix = "bat_";
constexpr size_t kBatchIdSize = 4 + 24;  // core::NewId("bat"): prefix and 12 random bytes in hex

Status CheckBatchId(const std::string& id) {
  bool ok = id.size() == kBatchIdSize && id.rfind(kBatchPrefix, 0) == 0;
  for (size_t i = kBatchPrefix.size(); ok && i < id.size(); ++i) {
    ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
  }
  if (!ok) return Status::InvalidArgument("a command batch id is 'bat_' and 24 hex digits");
  return Status::Ok();
}

json BatchJson(const store::CommandBatch& b) {
  json counts = json::object();
  int64_t total = 0;
  int64_t unfinished = 0;
  for (const auto& [state, n] : b.counts) {
    counts[std::string(core::ToString(state))] = n;
    total += n;
    if (!core::IsFinal(state)) unfinished += n;
  }
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  auto time_or_null = [](int64_t t) { return t == 0 ? json(nullptr) : json(t); };
  return json{{"id", b.id},
              {"institution_id", b.institution_id},
              {"type", b.type},
              {"created_by", b.created_by},
              {"created_at", b.created_at},
              {"commands", total},
              {"unfinished", unfinished},
              {"counts", std::move(counts)},
              {"paused", b.paused},
              {"paused_by", or_null(b.paused_by)},
              {"paused_at", time_or_null(b.paused_at)},
              {"pause_reason", or_null(b.pause_reason)},
              {"resumed_by", or_null(b.resumed_by)},
              {"resumed_at", time_or_null(b.resumed_at)}};
}

http::Response ToResponse(const Result<store::CommandBatch>& batch) {
  if (!batch.ok()) return ErrorResponse(batch.status());
  return JsonResponse(200, BatchJson(*batch));
}

// The caller's scope for a route naming a batch, once the id is well formed.
Result<store::Scope> BatchScope(const Call& call) {
  RAMPART_RETURN_IF_ERROR(CheckBatchId(call.Param("id")));
  return ReadScope(call);
}

}  // namespace

void RegisterCommandBatchRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/command-batches/{id}", "devices.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, BatchScope(call));
    RAMPART_API_ASSIGN(auto batch, c.store->GetCommandBatch(scope, call.Param("id")));
    return JsonResponse(200, BatchJson(batch));
  });

  t.Add("POST", "/api/v1/command-batches/{id}/pause", "devices.command", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, BatchScope(call));
    RAMPART_API_ASSIGN(std::string reason, ReadReason(call));
    return ToResponse(
        c.response->PauseCommandBatch(ActionContextOf(call), scope, call.Param("id"), reason));
  });

  // Resuming lets wipes go on: a role that may not decide on wipes may not resume them either.
  t.Add("POST", "/api/v1/command-batches/{id}/resume", "devices.command", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, BatchScope(call));
    RAMPART_API_CHECK(ReadReason(call).status());
    RAMPART_API_ASSIGN(auto found, c.store->GetCommandBatch(scope, call.Param("id")));
    auto type = core::ParseCommandType(found.type);
    if (type && core::IsDestructive(*type) &&
        !core::RoleHasPermission(call.principal.role, "devices.wipe")) {
      return ErrorResponse(
          Status::PermissionDenied("this token's role may not resume " + found.type + " commands"));
    }
    return ToResponse(c.response->ResumeCommandBatch(ActionContextOf(call), scope, found.id));
  });
}

}  // namespace rampart::api::internal
