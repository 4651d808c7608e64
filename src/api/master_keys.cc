// The keeper's staff-data master key: its versions, how many staff rows each still wraps, and
// rotating it. Rotation is the keeper's (it adds the version and refuses more than one an hour);
// serve's re-wrap job (respond/master_key_rewrap.h) then moves every row to the new version in
// the background. Retiring an old version is not offered here: a compromised web tier could make
// rows unreadable with it; it is done on the keeper host (`rampart keeper retire-master-key`).
#include "api/internal.h"
#include "common/log.h"
#include "respond/master_key_rewrap.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

json JobJson(const respond::MasterKeyRewrapSnapshot& s) {
  return {{"state", s.state},
          {"target_version", s.target_version},
          {"rewrapped", s.rewrapped},
          {"failed", s.failed},
          {"skipped", s.skipped},
          {"started_at", s.started_at},
          {"finished_at", s.finished_at},
          {"last_error", s.last_error},
          {"failed_staff_ids", s.failed_staff_ids}};
}

// The keeper's versions with the rows each wraps, plus versions rows name that the keeper no
// longer holds (retired: those rows do not open).
json StatusJson(const keeper::MasterKeyStatus& status, const std::map<int64_t, int64_t>& rows) {
  json versions = json::array();
  int64_t remaining = 0;
  std::map<int64_t, int64_t> unheld = rows;
  for (const auto& v : status.versions) {
    auto it = rows.find(v.version);
    const int64_t n = it == rows.end() ? 0 : it->second;
    unheld.erase(v.version);
    versions.push_back({{"version", v.version},
                        {"created_at", v.created_at},
                        {"current", v.version == status.current_version},
                        {"held_by_keeper", true},
                        {"rows", n}});
  }
  for (const auto& [version, n] : unheld) {
    versions.push_back({{"version", version},
                        {"created_at", nullptr},
                        {"current", false},
                        {"held_by_keeper", false},
                        {"rows", n}});
  }
  for (const auto& [version, n] : rows) {
    if (version < status.current_version) remaining += n;
  }
  return {{"current_version", status.current_version},
          {"versions", std::move(versions)},
          {"rows_remaining", remaining}};
}

}  // namespace

void RegisterMasterKeyRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/keys/master", "keys.master", [&c](const Call& call) {
    if (c.options.keeper == nullptr) {
      return ErrorResponse(Status::Unavailable("the keeper is unavailable"));
    }
    RAMPART_API_ASSIGN(auto status,
                       c.options.keeper->GetMasterKeyStatus(CallerOf(call, "master_key.status")));
    RAMPART_API_ASSIGN(auto rows, c.store->CountStaffByKeyVersion(store::Scope::All()));
    json out = StatusJson(status, rows);
    out["job"] = c.rewrap != nullptr ? JobJson(c.rewrap->Snapshot()) : json(nullptr);
    return JsonResponse(200, out);
  });

  t.Add("POST", "/api/v1/keys/master/rotate", "keys.master", [&c](const Call& call) {
    keeper::Keeper* k = c.options.keeper;
    if (k == nullptr || c.rewrap == nullptr) {
      return ErrorResponse(Status::Unavailable("the keeper is unavailable"));
    }
    auto rotated = k->RotateMasterKey(CallerOf(call, "master_key.rotate"));
    if (!rotated.ok()) {
      // The keeper has audited its refusal; serve's record says who asked through the API.
      RecordAudit(c, call, "master_key.rotate", "", "failure",
                  {{"error", rotated.status().message()}}, "warning");
      return ErrorResponse(rotated.status());
    }
    c.rewrap->Kick();
    json details = {{"new_version", rotated->current_version}};
    RecordAudit(c, call, "master_key.rotate", "v" + std::to_string(rotated->current_version),
                "success", details, "warning");
    log::Warn("master_key.rotated",
              {{"version", rotated->current_version}, {"by", call.principal.id}});
    // The rotation stands whatever the count says: an unreadable count is shown as none.
    auto rows = c.store->CountStaffByKeyVersion(store::Scope::All());
    json out = StatusJson(*rotated, rows.ok() ? *rows : std::map<int64_t, int64_t>{});
    out["job"] = JobJson(c.rewrap->Snapshot());
    return JsonResponse(200, out);
  });
}

}  // namespace rampart::api::internal
