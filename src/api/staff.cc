#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

Status ValidateStaff(const core::Staff& s) {
  RAMPART_RETURN_IF_ERROR(RequireName(s.name, "name"));
  RAMPART_RETURN_IF_ERROR(RequirePrintable(s.department, "department"));
  if (!s.mobile.empty()) {
    size_t digits = 0;
    for (size_t i = 0; i < s.mobile.size(); ++i) {
      char ch = s.mobile[i];
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
  if (!s.email.empty()) {
    auto at = s.email.find('@');
    if (at == std::string::npos || at == 0 || at + 1 >= s.email.size() ||
        s.email.find('@', at + 1) != std::string::npos ||
        s.email.find_first_of(" \t\r\n<>") != std::string::npos) {
      return Status::InvalidArgument("field 'email' must be an e-mail address");
    }
  }
  return Status::Ok();
}

Status ReadStaffFields(const json& body, core::Staff* s, bool required) {
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "name", &s->name, required, 200));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "mobile", &s->mobile, false, 32));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "email", &s->email, false, 254));
  RAMPART_RETURN_IF_ERROR(jsonutil::GetString(body, "department", &s->department, false, 100));
  return ValidateStaff(*s);
}

}  // namespace

void RegisterStaffRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/staff", "staff.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    store::StaffFilter filter;
    call.req.QueryParam("department", &filter.department);
    RAMPART_API_ASSIGN(auto result, c.store->ListStaff(scope, filter, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("POST", "/api/v1/staff", "staff.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(
        body, {"name", "mobile", "email", "department", "institution_id"}));
    core::Staff s;
    RAMPART_API_CHECK(ReadStaffFields(body, &s, true));
    RAMPART_API_ASSIGN(s.institution_id, TargetInstitution(call, c, body));
    s.id = core::NewId("stf");
    s.created_at = s.updated_at = c.Now();
    RAMPART_API_CHECK(c.store->CreateStaff(s));
    log::Info("staff.created", {{"staff_id", s.id}, {"by", call.principal.id}});
    return JsonResponse(201, ToJson(s));
  });

  t.Add("GET", "/api/v1/staff/{id}", "staff.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto s, c.store->GetStaff(scope, call.Param("id")));
    return JsonResponse(200, ToJson(s));
  });

  t.Add("PATCH", "/api/v1/staff/{id}", "staff.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(
        jsonutil::RejectUnknownFields(body, {"name", "mobile", "email", "department"}));
    RAMPART_API_ASSIGN(core::Staff s, c.store->GetStaff(scope, call.Param("id")));
    RAMPART_API_CHECK(ReadStaffFields(body, &s, false));
    s.updated_at = c.Now();
    RAMPART_API_CHECK(c.store->UpdateStaff(scope, s));
    log::Info("staff.updated", {{"staff_id", s.id}, {"by", call.principal.id}});
    return JsonResponse(200, ToJson(s));
  });

  t.Add("DELETE", "/api/v1/staff/{id}", "staff.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->DeleteStaff(scope, call.Param("id")));
    log::Info("staff.deleted", {{"staff_id", call.Param("id")}, {"by", call.principal.id}});
    return JsonResponse(200, json{{"deleted", call.Param("id")}});
  });
}

}  // namespace rampart::api::internal
