#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

// Policy rules from a request; a policy that names no grace period gets the configured one
// (on update too, so editing a rule never silently drops the grace to zero).
Result<core::PolicyRules> ReadPolicyRules(Context& c, const json& rules_json) {
  RAMPART_ASSIGN_OR_RETURN(core::PolicyRules rules, PolicyRulesFromJson(rules_json));
  if (rules_json.is_object() && !rules_json.contains("grace_seconds")) {
    rules.grace_seconds = c.options.config.compliance_grace_seconds;
  }
  return rules;
}

// Re-sends a changed policy to every device its assignments reach.
void PushPolicyEverywhere(Context& c, const store::Scope& scope, const core::Policy& policy,
                          const Call& call) {
  auto assignments = c.store->ListPolicyAssignments(scope, policy.id);
  if (!assignments.ok()) return;
  for (const auto& a : *assignments) {
    auto pushed = PushPolicyToDevices(c, policy, a, CommandOrigin::Admin(call, "policy.push"));
    if (!pushed.ok()) log::Error("policy.push_failed", {{"policy_id", policy.id}});
  }
}

}  // namespace

void RegisterPolicyRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/policies", "policies.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListPolicies(scope, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("POST", "/api/v1/policies", "policies.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"name", "rules", "institution_id"}));
    core::Policy p;
    RAMPART_API_CHECK(jsonutil::GetString(body, "name", &p.name, true, 100));
    RAMPART_API_CHECK(RequireName(p.name, "name"));
    RAMPART_API_ASSIGN(p.rules, ReadPolicyRules(c, body.value("rules", json::object())));
    RAMPART_API_ASSIGN(p.institution_id, TargetInstitution(call, c, body));
    p.id = core::NewId("pol");
    p.created_at = p.updated_at = c.Now();
    RAMPART_API_CHECK(c.store->CreatePolicy(p));
    log::Info("policy.created", {{"policy_id", p.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "policy.create", p.id, "success",
                json{{"institution_id", p.institution_id}});
    return JsonResponse(201, ToJson(p));
  });

  t.Add("GET", "/api/v1/policies/{id}", "policies.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto p, c.store->GetPolicy(scope, call.Param("id")));
    return JsonResponse(200, ToJson(p));
  });

  t.Add("PUT", "/api/v1/policies/{id}", "policies.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"name", "rules"}));
    RAMPART_API_ASSIGN(core::Policy p, c.store->GetPolicy(scope, call.Param("id")));
    RAMPART_API_CHECK(jsonutil::GetString(body, "name", &p.name, false, 100));
    RAMPART_API_CHECK(RequireName(p.name, "name"));
    if (jsonutil::Has(body, "rules")) {
      RAMPART_API_ASSIGN(p.rules, ReadPolicyRules(c, body["rules"]));
    }
    p.updated_at = c.Now();
    RAMPART_API_CHECK(c.store->UpdatePolicy(scope, p));
    log::Info("policy.updated", {{"policy_id", p.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "policy.update", p.id, "success");
    PushPolicyEverywhere(c, store::Scope::Institution(p.institution_id), p, call);
    return JsonResponse(200, ToJson(p));
  });

  t.Add("DELETE", "/api/v1/policies/{id}", "policies.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->DeletePolicy(scope, call.Param("id")));
    log::Info("policy.deleted", {{"policy_id", call.Param("id")}, {"by", call.principal.id}});
    RecordAudit(c, call, "policy.delete", call.Param("id"), "success");
    return JsonResponse(200, json{{"deleted", call.Param("id")}});
  });

  t.Add("GET", "/api/v1/policies/{id}/assignments", "policies.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto p, c.store->GetPolicy(scope, call.Param("id")));
    RAMPART_API_ASSIGN(auto list, c.store->ListPolicyAssignments(scope, p.id));
    json items = json::array();
    for (const auto& a : list) items.push_back(ToJson(a));
    return JsonResponse(200, json{{"items", items}});
  });

  t.Add("POST", "/api/v1/policies/{id}/assignments", "policies.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"target", "group_id"}));
    RAMPART_API_ASSIGN(auto p, c.store->GetPolicy(scope, call.Param("id")));
    std::string target;
    RAMPART_API_CHECK(jsonutil::GetString(body, "target", &target, true, 16));
    core::PolicyAssignment a;
    if (target == "group") {
      RAMPART_API_CHECK(jsonutil::GetString(body, "group_id", &a.group_id, true, 64));
      // The group must be visible in the policy's own institution.
      auto g = c.store->GetGroup(store::Scope::Institution(p.institution_id), a.group_id);
      if (!g.ok()) return ErrorResponse(Status::NotFound("group not found"));
    } else if (target != "institution") {
      return ErrorResponse(Status::InvalidArgument("target must be 'institution' or 'group'"));
    } else if (jsonutil::Has(body, "group_id")) {
      return ErrorResponse(Status::InvalidArgument("group_id is only for target 'group'"));
    }
    a.id = core::NewId("pas");
    a.institution_id = p.institution_id;
    a.policy_id = p.id;
    a.created_at = c.Now();
    RAMPART_API_CHECK(c.store->AssignPolicy(a));
    // The assignment stands even if queueing fails part way: devices also receive their
    // policies when they enroll or join a group, and a retry would only answer 409.
    auto pushed = PushPolicyToDevices(c, p, a, CommandOrigin::Admin(call, "policy.push"));
    if (!pushed.ok()) log::Error("policy.push_failed", {{"policy_id", p.id}});
    log::Info("policy.assigned",
              {{"policy_id", p.id}, {"assignment_id", a.id}, {"by", call.principal.id}});
    {
      json details = {{"assignment_id", a.id}, {"group_id", a.group_id}};
      AddCreatedCommands(details, pushed);
      RecordAudit(c, call, "policy.assign", p.id, pushed.ok() ? "success" : "failure", details);
    }
    json out = ToJson(a);
    AddCreatedCommands(out, pushed);
    return JsonResponse(201, out);
  });

  t.Add("DELETE", "/api/v1/policies/{id}/assignments/{assignment_id}", "policies.write",
        [&c](const Call& call) {
          RAMPART_API_ASSIGN(auto scope, ReadScope(call));
          RAMPART_API_ASSIGN(auto p, c.store->GetPolicy(scope, call.Param("id")));
          RAMPART_API_ASSIGN(auto list, c.store->ListPolicyAssignments(scope, p.id));
          bool found = false;
          for (const auto& a : list) found = found || a.id == call.Param("assignment_id");
          if (!found) return ErrorResponse(Status::NotFound("assignment not found"));
          RAMPART_API_CHECK(c.store->DeletePolicyAssignment(scope, call.Param("assignment_id")));
          RecordAudit(c, call, "policy.unassign", p.id, "success",
                      json{{"assignment_id", call.Param("assignment_id")}});
          return JsonResponse(200, json{{"deleted", call.Param("assignment_id")}});
        });
}

}  // namespace rampart::api::internal
