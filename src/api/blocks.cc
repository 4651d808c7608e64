// Front-door blocks (/api/v1/blocks) and the CrowdSec-compatible decisions stream
// (/v1/decisions/stream) that lets external bouncers enforce them.
#include <charconv>

#include "api/internal.h"
#include "common/crypto.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/permissions.h"
#include "respond/decisions.h"
#include "respond/playbook.h"

namespace rampart::api::internal {
namespace {

using nlohmann::json;

json BlockJson(const store::AddressBlock& b) {
  return json{{"id", b.id},
              {"value", b.value},
              {"scope", b.scope},
              {"reason", b.reason},
              {"origin", b.origin},
              {"scenario", b.scenario},
              {"created_by", b.created_by},
              {"institution_id", b.institution_id.empty() ? json(nullptr) : json(b.institution_id)},
              {"created_at", b.created_at},
              {"expires_at", b.expires_at},
              {"removed_at", b.removed_at == 0 ? json(nullptr) : json(b.removed_at)},
              {"removed_by", b.removed_by}};
}

// Every block is enforced for every connection (the front door does not know institutions), so
// every caller sees every block that can refuse its users: its own in full, the others' (another
// institution's, the server's) without who made them or why. Only the owner, or a superadmin,
// may remove a block.
bool Owned(const Call& call, const store::AddressBlock& b) {
  return core::IsCrossInstitution(call.principal.role) ||
         (!b.institution_id.empty() && b.institution_id == call.principal.institution_id);
}

json VisibleBlockJson(const Call& call, const store::AddressBlock& b) {
  if (Owned(call, b)) {
    json j = BlockJson(b);
    j["editable"] = true;
    return j;
  }
  return json{{"id", b.id},
              {"value", b.value},
              {"scope", b.scope},
              {"owner", b.institution_id.empty() ? "server" : "another institution"},
              {"created_at", b.created_at},
              {"expires_at", b.expires_at},
              {"removed_at", b.removed_at == 0 ? json(nullptr) : json(b.removed_at)},
              {"editable", false}};
}

http::Response ListBlocks(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(auto blocks, c.store->ListActiveAddressBlocks(c.Now()));
  json items = json::array();
  for (const auto& b : blocks) items.push_back(VisibleBlockJson(call, b));
  return JsonResponse(200, json{{"items", std::move(items)}});
}

http::Response CreateBlock(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  std::string value, reason, duration = "24h";
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"value", "reason", "duration"}));
  RAMPART_API_CHECK(jsonutil::GetString(body, "value", &value, true, 64));
  RAMPART_API_CHECK(jsonutil::GetString(body, "reason", &reason, false, 500));
  RAMPART_API_CHECK(jsonutil::GetString(body, "duration", &duration, false, 16));
  RAMPART_API_CHECK(RequirePrintable(reason, "reason"));
  RAMPART_API_ASSIGN(int64_t seconds, respond::ParseDuration(duration));
  if (seconds > respond::kMaxBlockSeconds) {
    return ErrorResponse(Status::InvalidArgument("duration is longer than a year"));
  }
  // A block of the caller's own address would cut this very console off.
  auto self = respond::ParseBlockTarget(call.req.remote_ip);
  auto target = respond::ParseBlockTarget(value);
  if (!target.ok()) return ErrorResponse(target.status());
  if (self.ok() && self->value == target->value) {
    return ErrorResponse(Status::InvalidArgument("refusing to block your own address"));
  }
  // A superadmin's block is server-wide; anyone else's belongs to their institution and must stay
  // narrow enough not to reach other institutions.
  const bool server_wide = core::IsCrossInstitution(call.principal.role);
  if (!server_wide) {
    Status width = respond::CheckInstitutionBlockWidth(*target);
    if (!width.ok()) {
      RecordAudit(c, call, "response.block_address", target->value, "denied",
                  json{{"error", width.message()}}, "warning");
      return ErrorResponse(width);
    }
  }
  RAMPART_API_ASSIGN(auto block,
                     c.response->BlockAddress(ActionContextOf(call), value, seconds, reason,
                                              server_wide ? "" : call.principal.institution_id));
  json out = BlockJson(block);
  out["editable"] = true;
  return JsonResponse(201, out);
}

http::Response DeleteBlock(Context& c, const Call& call) {
  const std::string& text = call.Param("block_id");
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    return ErrorResponse(Status::NotFound("block not found"));
  }
  auto existing = c.store->GetAddressBlock(id);
  if (!existing.ok()) return ErrorResponse(Status::NotFound("block not found"));
  if (!Owned(call, *existing)) {
    // Listed to every caller but removed only by its owner; answered like any other tenant's
    // object, and recorded.
    RecordAudit(c, call, "response.unblock_address", existing->value, "denied",
                json{{"block_id", id}, {"error", "not the caller's block"}}, "warning");
    return ErrorResponse(Status::NotFound("block not found"));
  }
  RAMPART_API_ASSIGN(auto removed, c.response->UnblockAddress(ActionContextOf(call), id));
  json out = BlockJson(removed);
  out["editable"] = true;
  return JsonResponse(200, out);
}

// CrowdSec bouncers authenticate with X-Api-Key; an unknown key is 403 as in CrowdSec's LAPI.
http::Response DecisionStream(Context& c, const Call& call) {
  std::string_view key = call.req.Header("x-api-key");
  if (key.empty() || key.size() > 256) {
    return http::Response::Error(403, "forbidden", "missing or invalid X-Api-Key");
  }
  auto bouncer = c.store->FindBouncerKeyByHash(crypto::Sha256Hex(key));
  if (!bouncer.ok()) {
    log::Warn("bouncer.key_rejected", {{"remote_ip", call.req.remote_ip}});
    return http::Response::Error(403, "forbidden", "missing or invalid X-Api-Key");
  }
  std::string startup = "false";
  call.req.QueryParam("startup", &startup);
  if (startup != "true" && startup != "false") {
    return ErrorResponse(Status::InvalidArgument("startup must be true or false"));
  }
  const int64_t now = c.Now();
  std::vector<store::AddressBlock> rows;
  int64_t max_seq = bouncer->last_seq;
  if (startup == "true") {
    // The cursor is read before the active blocks: a block added in between is then sent now
    // and again on the next pull (harmless), never skipped.
    RAMPART_API_ASSIGN(auto changes, c.store->ListAddressBlockChanges(bouncer->last_seq, 100000));
    for (const auto& b : changes) max_seq = std::max(max_seq, b.change_seq);
    RAMPART_API_ASSIGN(rows, c.store->ListActiveAddressBlocks(now));
  } else {
    RAMPART_API_ASSIGN(rows, c.store->ListAddressBlockChanges(bouncer->last_seq, 10000));
  }
  json out = respond::DecisionStream(rows, now, &max_seq);
  RAMPART_API_CHECK(c.store->UpdateBouncerCursor(bouncer->id, max_seq, now));
  return JsonResponse(200, out);
}

}  // namespace

respond::ActionContext ActionContextOf(const Call& call) {
  respond::ActionContext ctx;
  ctx.actor = call.principal.id;
  ctx.request_id = call.req.request_id;
  ctx.source_ip = call.req.remote_ip;
  return ctx;
}

void RegisterBlockRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/blocks", "blocks.read",
        [&c](const Call& call) { return ListBlocks(c, call); });
  t.Add("POST", "/api/v1/blocks", "blocks.write",
        [&c](const Call& call) { return CreateBlock(c, call); });
  t.Add("DELETE", "/api/v1/blocks/{block_id}", "blocks.write",
        [&c](const Call& call) { return DeleteBlock(c, call); });
  t.Add("GET", "/v1/decisions/stream", std::string(core::kPublic),
        [&c](const Call& call) { return DecisionStream(c, call); });
}

}  // namespace rampart::api::internal
