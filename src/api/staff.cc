#include "api/internal.h"
#include "api/vault.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

constexpr std::string_view kRevealPermission = "staff.reveal";

Status ValidateFields(const keeper::StaffFields& f, const std::string& department) {
  RAMPART_RETURN_IF_ERROR(RequireName(f.name, "name"));
  RAMPART_RETURN_IF_ERROR(RequirePrintable(department, "department"));
  if (!f.mobile.empty()) {
    size_t digits = 0;
    for (size_t i = 0; i < f.mobile.size(); ++i) {
      char ch = f.mobile[i];
      if (ch >= '0' && ch <= '9') {
        ++digits;
      } else if (!(ch == ' ' || ch == '-' || (ch == '+' && i == 0))) {
        return Status::InvalidArgument(
            "field 'mobile' must be a phone number: digits, spaces, dashes, leading +");
      }
    }
    if (digits < 6 || digits > 15) {
      return Status::InvalidArgument("field 'mobile' must have 6 to 15 digits");
    }
  }
  if (!f.email.empty()) {
    auto at = f.email.find('@');
    if (at == std::string::npos || at == 0 || at + 1 >= f.email.size() ||
        f.email.find('@', at + 1) != std::string::npos ||
        f.email.find_first_of(" \t\r\n<>") != std::string::npos) {
      return Status::InvalidArgument("field 'email' must be an e-mail address");
    }
  }
  return Status::Ok();
}

// Reads the personal fields present in `body` over `fields`; returns whether any was present.
Result<bool> ReadPersonalFields(const json& body, keeper::StaffFields* fields, bool required) {
  bool any = body.contains("name") || body.contains("mobile") || body.contains("email");
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "name", &fields->name, required, 200));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "mobile", &fields->mobile, false, 32));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "email", &fields->email, false, 254));
  return any;
}

keeper::Keeper* KeeperOf(Context& c) {
  return c.options.keeper;
}

Status NoKeeper() {
  return Status::Unavailable("the keeper is not reachable: staff personal data is unavailable");
}

// ?reveal=true asks for clear values; only roles holding staff.reveal may, within their budget.
Result<bool> WantsReveal(const Call& call) {
  std::string reveal;
  if (!call.req.QueryParam("reveal", &reveal) || reveal == "false") return false;
  if (reveal != "true") return Status::InvalidArgument("'reveal' must be true or false");
  if (!core::RoleHasPermission(call.principal.role, kRevealPermission)) {
    return Status::PermissionDenied("this role may not reveal staff personal data");
  }
  return true;
}

// One event per record the keeper opened, whatever for (shown, or merged into an update): bulk
// reads and canary reads are detection rules.
void EmitRecordOpened(Context& c, const Call& call, const core::Staff& row, bool canary,
                      std::string_view purpose) {
  // Shown, or merged into an update (which shows nothing: a bulk correction is no bulk read).
  SecurityEvent ev(purpose == "staff.update" ? "staff.decrypt_for_update" : "staff.decrypt");
  ev.Set("staff.id", row.id)
      .Set("staff.canary", canary ? "true" : "false")
      .Set("staff.purpose", purpose);
  ev.institution_id = row.institution_id;
  EmitEvent(c, call, std::move(ev));
  if (canary) {
    // The keeper has written the critical audit record already; tell the operators here too.
    c.metrics->Increment("rampart_canary_reads_total");
    log::Error("staff.canary_read", {{"staff_id", row.id},
                                     {"principal", call.principal.id},
                                     {"purpose", purpose},
                                     {"remote_ip", call.req.remote_ip},
                                     {"request_id", call.req.request_id}});
  }
}

// Opens the rows through the keeper (budgeted, audited) and renders them in clear.
Result<std::vector<json>> Reveal(Context& c, const Call& call, const std::vector<core::Staff>& rows,
                                 std::string purpose) {
  keeper::Keeper* k = KeeperOf(c);
  if (k == nullptr) return NoKeeper();
  keeper::OpenRequest request{CallerOf(call, std::move(purpose)), {}};
  for (const auto& s : rows) request.records.push_back(SealedRefOf(s));
  RAMPART_ASSIGN_OR_RETURN(auto opened, k->Open(request));
  if (opened.size() != rows.size()) {
    return Status::Unavailable("keeper answered a different number of records");
  }
  std::vector<json> out;
  for (size_t i = 0; i < rows.size() && i < opened.size(); ++i) {
    EmitRecordOpened(c, call, rows[i], opened[i].canary, request.caller.purpose);
    out.push_back(ToJson(rows[i], &opened[i].fields));
  }
  return out;
}

// Lookup by mobile or e-mail: the keeper computes the blind index the rows were stored under.
Status ReadLookupFilter(Context& c, const Call& call, const store::Scope& scope,
                        store::StaffFilter* filter) {
  std::string mobile;
  std::string email;
  bool by_mobile = call.req.QueryParam("mobile", &mobile);
  bool by_email = call.req.QueryParam("email", &email);
  if (!by_mobile && !by_email) return Status::Ok();
  if (scope.all) {
    return Status::InvalidArgument("lookup by mobile or email needs ?institution_id=");
  }
  keeper::Keeper* k = KeeperOf(c);
  if (k == nullptr) return NoKeeper();
  if (by_mobile) {
    RAMPART_ASSIGN_OR_RETURN(filter->mobile_index,
                             k->BlindIndex(scope.institution_id, "mobile", mobile));
  }
  if (by_email) {
    RAMPART_ASSIGN_OR_RETURN(filter->email_index,
                             k->BlindIndex(scope.institution_id, "email", email));
  }
  return Status::Ok();
}

}  // namespace

keeper::Caller CallerOf(const Call& call, std::string purpose) {
  keeper::Caller caller;
  caller.principal = call.principal.id;
  caller.role = std::string(core::ToString(call.principal.role));
  caller.institution_id = call.principal.institution_id;
  caller.request_id = call.req.request_id;
  caller.source_ip = call.req.remote_ip;
  caller.purpose = std::move(purpose);
  return caller;
}

void RegisterStaffRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/staff", "staff.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(bool reveal, WantsReveal(call));
    store::StaffFilter filter;
    call.req.QueryParam("department", &filter.department);
    RAMPART_API_CHECK(ReadLookupFilter(c, call, scope, &filter));
    RAMPART_API_ASSIGN(auto result, c.store->ListStaff(scope, filter, page));
    if (!reveal) {
      return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
    }
    RAMPART_API_ASSIGN(auto items, Reveal(c, call, result.items, "staff.list_reveal"));
    json out = {{"items", std::move(items)}};
    out["next_cursor"] = result.next_cursor.empty() ? json(nullptr) : json(result.next_cursor);
    return JsonResponse(200, out);
  });

  t.Add("POST", "/api/v1/staff", "staff.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(
        body, {"name", "mobile", "email", "department", "institution_id"}));
    keeper::StaffFields fields;
    core::Staff s;
    RAMPART_API_CHECK(ReadPersonalFields(body, &fields, true).status());
    RAMPART_API_CHECK(jsonutil::GetString(body, "department", &s.department, false, 100));
    RAMPART_API_CHECK(ValidateFields(fields, s.department));
    RAMPART_API_ASSIGN(s.institution_id, TargetInstitution(call, c, body));
    keeper::Keeper* k = KeeperOf(c);
    if (k == nullptr) return ErrorResponse(NoKeeper());
    s.id = core::NewId("stf");
    s.created_at = s.updated_at = c.Now();
    RAMPART_API_CHECK(SealStaff(*k, CallerOf(call, "staff.create"), fields, false, &s));
    RAMPART_API_CHECK(c.store->CreateStaff(s));
    log::Info("staff.created", {{"staff_id", s.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "staff.create", s.id, "success");
    // The institution's first staff member brings its canaries, shaped like it.
    int canaries = static_cast<int>(c.options.config.keeper.canary_staff_per_institution);
    if (canaries > 0) {
      auto first = c.store->ListStaff(store::Scope::Institution(s.institution_id), {},
                                      store::PageRequest{2, ""});
      if (first.ok() && first->items.size() == 1) {
        Status made = CreateCanaryStaff(*c.store, *k, s.institution_id, fields, s.department,
                                        canaries, s.created_at);
        if (!made.ok()) log::Error("staff.canary_create_failed", {{"error", made.message()}});
      }
    }
    return JsonResponse(201, ToJson(s));
  });

  t.Add("GET", "/api/v1/staff/{id}", "staff.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(bool reveal, WantsReveal(call));
    RAMPART_API_ASSIGN(auto s, c.store->GetStaff(scope, call.Param("id")));
    if (!reveal) return JsonResponse(200, ToJson(s));
    RAMPART_API_ASSIGN(auto items, Reveal(c, call, {s}, "staff.reveal"));
    return JsonResponse(200, items.at(0));
  });

  t.Add("PATCH", "/api/v1/staff/{id}", "staff.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(
        jsonutil::RejectUnknownFields(body, {"name", "mobile", "email", "department"}));
    RAMPART_API_ASSIGN(core::Staff s, c.store->GetStaff(scope, call.Param("id")));
    RAMPART_API_CHECK(jsonutil::GetString(body, "department", &s.department, false, 100));
    RAMPART_API_CHECK(RequirePrintable(s.department, "department"));
    bool personal = body.contains("name") || body.contains("mobile") || body.contains("email");
    if (personal) {
      // Fields not in the body keep their values: the keeper opens the row (an audited read
      // with purpose staff.update) and seals the merged record again.
      keeper::Keeper* k = KeeperOf(c);
      if (k == nullptr) return ErrorResponse(NoKeeper());
      RAMPART_API_ASSIGN(auto opened, k->Open({CallerOf(call, "staff.update"), {SealedRefOf(s)}}));
      // Nobody edits a canary: one that is edited was found by going through the records.
      EmitRecordOpened(c, call, s, opened.at(0).canary, "staff.update");
      keeper::StaffFields fields = opened.at(0).fields;
      RAMPART_API_CHECK(ReadPersonalFields(body, &fields, false).status());
      RAMPART_API_CHECK(ValidateFields(fields, s.department));
      RAMPART_API_CHECK(
          SealStaff(*k, CallerOf(call, "staff.update"), fields, opened.at(0).canary, &s));
    }
    s.updated_at = c.Now();
    RAMPART_API_CHECK(c.store->UpdateStaff(scope, s));
    log::Info("staff.updated", {{"staff_id", s.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "staff.update", s.id, "success", json{{"personal_fields", personal}});
    return JsonResponse(200, ToJson(s));
  });

  t.Add("DELETE", "/api/v1/staff/{id}", "staff.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->DeleteStaff(scope, call.Param("id")));
    log::Info("staff.deleted", {{"staff_id", call.Param("id")}, {"by", call.principal.id}});
    RecordAudit(c, call, "staff.delete", call.Param("id"), "success");
    return JsonResponse(200, json{{"deleted", call.Param("id")}});
  });
}

}  // namespace rampart::api::internal
