// Bulk export of a staff directory in clear, under four eyes: one admin asks (with a reason), a
// second approves, the first downloads once before it expires. Every step is audited; the
// keeper decrypts the records against the institution's daily export allowance, naming both
// admins in its own audit record.
#include "api/internal.h"
#include "api/vault.h"
#include "common/json_util.h"
#include "common/log.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

constexpr int64_t kExportLifetimeSeconds = 24 * 3600;
constexpr size_t kRecordsPerKeeperCall = 500;

// A pending or approved export past its expiry is shown as what it is.
core::StaffExport AsOf(core::StaffExport e, int64_t now) {
  if ((e.state == "pending" || e.state == "approved") && now >= e.expires_at) e.state = "expired";
  return e;
}

json ExportJson(const core::StaffExport& e) {
  auto time_or_null = [](int64_t t) { return t == 0 ? json(nullptr) : json(t); };
  return {{"id", e.id},
          {"institution_id", e.institution_id},
          {"requested_by", e.requested_by},
          {"reason", e.reason},
          {"state", e.state},
          {"decided_by", e.decided_by.empty() ? json(nullptr) : json(e.decided_by)},
          {"created_at", e.created_at},
          {"decided_at", time_or_null(e.decided_at)},
          {"downloaded_at", time_or_null(e.downloaded_at)},
          {"expires_at", e.expires_at},
          {"record_count", e.record_count}};
}

// Approve or reject: never by the admin who asked.
http::Response Decide(Context& c, const Call& call, const std::string& to) {
  RAMPART_API_ASSIGN(auto scope, ReadScope(call));
  RAMPART_API_ASSIGN(auto e, c.store->GetStaffExport(scope, call.Param("id")));
  // The requester's own API token is not a second admin either.
  auto same = SamePerson(c, call, e.requested_by);
  if (!same.ok() || *same) {
    const std::string reason =
        same.ok() ? std::string(kSamePersonReason) : "the requester could not be identified";
    RecordAudit(c, call, "staff_export." + std::string(to == "approved" ? "approve" : "reject"),
                e.id, "denied",
                json{{"reason", reason},
                     {"requested_by", e.requested_by},
                     {"person_id", call.principal.person_id}},
                "warning");
    if (!same.ok()) return ErrorResponse(same.status());
    return ErrorResponse(Status::PermissionDenied(
        "a second admin must decide on an export, not the requester: " + reason));
  }
  RAMPART_API_ASSIGN(auto decided, c.store->TransitionStaffExport(scope, e.id, "pending", to,
                                                                  call.principal.id, c.Now(), 0));
  RecordAudit(c, call, to == "approved" ? "staff_export.approve" : "staff_export.reject", e.id,
              "success", json{{"requested_by", e.requested_by}}, "warning");
  return JsonResponse(200, ExportJson(decided));
}

}  // namespace

void RegisterStaffExportRoutes(RouteTable& t, Context& c) {
  t.Add("POST", "/api/v1/staff/exports", "staff.export", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"reason", "institution_id"}));
    core::StaffExport e;
    RAMPART_API_CHECK(jsonutil::GetString(body, "reason", &e.reason, true, 500));
    RAMPART_API_CHECK(RequireName(e.reason, "reason"));
    RAMPART_API_ASSIGN(e.institution_id, TargetInstitution(call, c, body));
    e.id = core::NewId("exp");
    e.requested_by = call.principal.id;
    e.created_at = c.Now();
    e.expires_at = e.created_at + kExportLifetimeSeconds;
    RAMPART_API_CHECK(c.store->CreateStaffExport(e));
    RecordAudit(c, call, "staff_export.request", e.id, "success", json{{"reason", e.reason}},
                "warning");
    return JsonResponse(201, ExportJson(e));
  });

  t.Add("GET", "/api/v1/staff/exports", "staff.export", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListStaffExports(scope, page));
    int64_t now = c.Now();
    return JsonResponse(
        200, PageToJson(result, [now](const auto& e) { return ExportJson(AsOf(e, now)); }));
  });

  t.Add("GET", "/api/v1/staff/exports/{id}", "staff.export", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto e, c.store->GetStaffExport(scope, call.Param("id")));
    return JsonResponse(200, ExportJson(AsOf(e, c.Now())));
  });

  t.Add("POST", "/api/v1/staff/exports/{id}/approve", "staff.export",
        [&c](const Call& call) { return Decide(c, call, "approved"); });
  t.Add("POST", "/api/v1/staff/exports/{id}/reject", "staff.export",
        [&c](const Call& call) { return Decide(c, call, "rejected"); });

  // Once, by the requester: the export is consumed before the first record is decrypted, so two
  // racing downloads cannot both get the data. If the keeper fails part way the export stays
  // consumed (ask again): the records already decrypted are in the audit log either way.
  t.Add("POST", "/api/v1/staff/exports/{id}/download", "staff.export", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto e, c.store->GetStaffExport(scope, call.Param("id")));
    if (e.requested_by != call.principal.id) {
      return ErrorResponse(Status::PermissionDenied("only the requester downloads an export"));
    }
    if (c.options.keeper == nullptr) {
      return ErrorResponse(Status::Unavailable("the keeper is unavailable"));
    }
    store::Scope inst = store::Scope::Institution(e.institution_id);
    std::vector<core::Staff> rows;
    store::PageRequest page{500, ""};
    while (true) {
      RAMPART_API_ASSIGN(auto list, c.store->ListStaff(inst, {}, page));
      for (auto& s : list.items) rows.push_back(std::move(s));
      if (list.next_cursor.empty()) break;
      page.cursor = list.next_cursor;
    }
    RAMPART_API_ASSIGN(
        e, c.store->TransitionStaffExport(scope, e.id, "approved", "downloaded", call.principal.id,
                                          c.Now(), static_cast<int64_t>(rows.size())));
    json items = json::array();
    for (size_t i = 0; i < rows.size(); i += kRecordsPerKeeperCall) {
      keeper::OpenRequest request{CallerOf(call, "staff.export"), {}, e.decided_by};
      size_t end = std::min(rows.size(), i + kRecordsPerKeeperCall);
      for (size_t j = i; j < end; ++j) request.records.push_back(SealedRefOf(rows[j]));
      auto opened = c.options.keeper->Open(request);
      if (!opened.ok()) {
        RecordAudit(c, call, "staff_export.download", e.id, "failure",
                    json{{"error", opened.status().message()}}, "warning");
        return ErrorResponse(opened.status());
      }
      if (opened->size() != end - i) {
        return ErrorResponse(Status::Unavailable("keeper answered a different number of records"));
      }
      for (size_t j = i; j < end; ++j) {
        const keeper::OpenedStaff& o = (*opened)[j - i];
        if (o.canary) continue;  // decoys stay in the database, out of the file
        items.push_back(ToJson(rows[j], &o.fields));
      }
    }
    RecordAudit(c, call, "staff_export.download", e.id, "success",
                json{{"records", items.size()}, {"approved_by", e.decided_by}}, "warning");
    SecurityEvent ev("staff.export");
    ev.institution_id = e.institution_id;
    EmitEvent(c, call, std::move(ev));
    log::Warn("staff_export.downloaded",
              {{"export_id", e.id}, {"records", static_cast<int64_t>(rows.size())}});
    return JsonResponse(200, json{{"export", ExportJson(e)}, {"items", std::move(items)}});
  });
}

}  // namespace rampart::api::internal
