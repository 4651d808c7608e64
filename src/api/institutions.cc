#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"

namespace rampart::api::internal {

using nlohmann::json;

void RegisterInstitutionRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/institutions", "institutions.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListInstitutions(scope, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("POST", "/api/v1/institutions", "institutions.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"name"}));
    core::Institution inst;
    RAMPART_API_CHECK(jsonutil::GetString(body, "name", &inst.name, true, 200));
    RAMPART_API_CHECK(RequireName(inst.name, "name"));
    inst.id = core::NewId("ins");
    inst.created_at = c.Now();
    RAMPART_API_CHECK(c.store->CreateInstitution(inst));
    log::Info("institution.created", {{"institution_id", inst.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "institution.create", inst.id, "success");
    return JsonResponse(201, ToJson(inst));
  });

  t.Add("GET", "/api/v1/institutions/{id}", "institutions.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto inst, c.store->GetInstitution(scope, call.Param("id")));
    return JsonResponse(200, ToJson(inst));
  });
}

}  // namespace rampart::api::internal
