#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/commands.h"
#include "core/compliance.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

Result<store::DeviceFilter> ReadDeviceFilter(const Call& call) {
  store::DeviceFilter f;
  std::string v;
  if (call.req.QueryParam("platform", &v)) {
    f.platform = core::ParsePlatform(v);
    if (!f.platform) return Status::InvalidArgument("platform must be ios or android");
  }
  if (call.req.QueryParam("compliance", &v)) {
    f.compliance = core::ParseComplianceState(v);
    if (!f.compliance) {
      return Status::InvalidArgument("compliance must be compliant, noncompliant or unknown");
    }
  }
  if (call.req.QueryParam("status", &v)) {
    f.status = core::ParseDeviceStatus(v);
    if (!f.status) return Status::InvalidArgument("status must be active or retired");
  }
  call.req.QueryParam("staff_id", &f.staff_id);
  call.req.QueryParam("group_id", &f.group_id);
  return f;
}

}  // namespace

void RegisterDeviceRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/devices", "devices.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto filter, ReadDeviceFilter(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListDevices(scope, filter, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("GET", "/api/v1/devices/{id}", "devices.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto device, c.store->GetDevice(scope, call.Param("id")));
    json out = ToJson(device);
    RAMPART_API_ASSIGN(auto groups, c.store->ListDeviceGroups(scope, device.id));
    out["group_ids"] = groups;
    return JsonResponse(200, out);
  });

  t.Add("PATCH", "/api/v1/devices/{id}", "devices.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto device, c.store->GetDevice(scope, call.Param("id")));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"staff_id", "ownership"}));
    std::string staff_id = device.staff_id;
    if (jsonutil::Has(body, "staff_id") && body["staff_id"].is_null()) {
      staff_id.clear();
    } else {
      RAMPART_API_CHECK(jsonutil::GetString(body, "staff_id", &staff_id, false, 64));
    }
    std::string ownership(core::ToString(device.ownership));
    RAMPART_API_CHECK(jsonutil::GetString(body, "ownership", &ownership, false, 16));
    auto parsed = core::ParseOwnership(ownership);
    if (!parsed)
      return ErrorResponse(Status::InvalidArgument("ownership must be corporate or personal"));
    RAMPART_API_CHECK(c.store->UpdateDeviceAssignment(scope, device.id, staff_id, *parsed));
    RAMPART_API_ASSIGN(auto updated, c.store->GetDevice(scope, device.id));
    return JsonResponse(200, ToJson(updated));
  });

  t.Add("POST", "/api/v1/devices/{id}/retire", "devices.wipe", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->RetireDevice(scope, call.Param("id"), c.Now()));
    log::Info("device.retired", {{"device_id", call.Param("id")}, {"by", call.principal.id}});
    RAMPART_API_ASSIGN(auto device, c.store->GetDevice(scope, call.Param("id")));
    return JsonResponse(200, ToJson(device));
  });

  t.Add("GET", "/api/v1/devices/{id}/compliance", "compliance.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto device, c.store->GetDevice(scope, call.Param("id")));
    RAMPART_API_ASSIGN(auto policies, c.store->PoliciesForDevice(device.id));
    json reasons = json::array();
    for (const auto& r : device.compliance_reasons) reasons.push_back(ToJson(r));
    json policy_ids = json::array();
    for (const auto& p : policies) policy_ids.push_back(p.id);
    return JsonResponse(
        200, json{{"device_id", device.id},
                  {"state", core::ToString(device.compliance)},
                  {"reasons", reasons},
                  {"policy_ids", policy_ids},
                  {"evaluated_at",
                   device.last_seen == 0 ? json(nullptr) : json(FormatRfc3339(device.last_seen))}});
  });
}

void RegisterCommandRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/devices/{id}/commands", "devices.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    store::CommandFilter filter;
    std::string state;
    if (call.req.QueryParam("state", &state)) {
      filter.state = core::ParseCommandState(state);
      if (!filter.state) return ErrorResponse(Status::InvalidArgument("unknown command state"));
    }
    RAMPART_API_ASSIGN(auto result, c.store->ListCommands(scope, call.Param("id"), filter, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("POST", "/api/v1/devices/{id}/commands", "devices.command", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_ASSIGN(AdminCommand request, ReadAdminCommand(call, body));
    const core::CommandType type = request.type;
    const json& params = request.params;
    // Existence and tenancy are checked before payload validation so that another
    // institution's device id is answered 404 whatever the body.
    RAMPART_API_ASSIGN(auto device, c.store->GetDevice(scope, call.Param("id")));
    RAMPART_API_ASSIGN(
        auto cmd, QueueCommand(c, store::Scope::Institution(device.institution_id), device.id, type,
                               params, CommandOrigin::Admin(call, "command.admin")));
    log::Info(cmd.state == core::CommandState::kAwaitingApproval ? "command.awaiting_approval"
                                                                 : "command.queued",
              {{"command_id", cmd.id},
               {"device_id", device.id},
               {"type", core::ToString(type)},
               {"by", call.principal.id}});
    return JsonResponse(201, ToJson(cmd));
  });

  t.Add("GET", "/api/v1/devices/{id}/commands/{command_id}", "devices.read",
        [&c](const Call& call) {
          RAMPART_API_ASSIGN(auto scope, ReadScope(call));
          RAMPART_API_ASSIGN(
              auto cmd, c.store->GetCommand(scope, call.Param("id"), call.Param("command_id")));
          return JsonResponse(200, ToJson(cmd));
        });

  t.Add("DELETE", "/api/v1/devices/{id}/commands/{command_id}", "devices.command",
        [&c](const Call& call) {
          RAMPART_API_ASSIGN(auto scope, ReadScope(call));
          RAMPART_API_ASSIGN(
              auto queued, c.store->GetCommand(scope, call.Param("id"), call.Param("command_id")));
          // Cancelling a wipe or retire undoes a destructive decision: it takes the same right.
          if (core::IsDestructive(queued.type) &&
              !core::RoleHasPermission(call.principal.role, "devices.wipe")) {
            return ErrorResponse(Status::PermissionDenied(
                "this token's role may not cancel " + std::string(core::ToString(queued.type))));
          }
          RAMPART_API_CHECK(
              c.store->CancelCommand(scope, call.Param("id"), call.Param("command_id"), c.Now()));
          RAMPART_API_ASSIGN(
              auto cmd, c.store->GetCommand(scope, call.Param("id"), call.Param("command_id")));
          log::Info("command.canceled", {{"command_id", cmd.id}, {"by", call.principal.id}});
          return JsonResponse(200, ToJson(cmd));
        });
}

void RegisterComplianceRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/compliance", "compliance.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto summary, c.store->SummarizeCompliance(scope));
    return JsonResponse(200, json{{"compliant", summary.compliant},
                                  {"noncompliant", summary.noncompliant},
                                  {"unknown", summary.unknown}});
  });
}

}  // namespace rampart::api::internal
