#include "api/internal.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/commands.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

// A device that joins a group receives what the group carries: its policies and its apps.
void PushGroupContentToDevice(Context& c, const store::Scope& scope, const core::Device& device,
                              const std::string& group_id, const Call& call) {
  CommandOrigin origin = CommandOrigin::Admin(call, "group.join");
  store::PageRequest page{500, ""};
  for (;;) {
    auto policies = c.store->ListPolicies(scope, page);
    if (!policies.ok()) break;
    for (const auto& p : policies->items) {
      auto assignments = c.store->ListPolicyAssignments(scope, p.id);
      if (!assignments.ok()) continue;
      for (const auto& a : *assignments) {
        if (a.group_id != group_id) continue;
        json params = ApplyPolicyParams(p);
        auto cmd =
            QueueCommand(c, scope, device.id, core::CommandType::kApplyPolicy, params, origin);
        if (!cmd.ok()) log::Error("group.push_failed", {{"group_id", group_id}});
      }
    }
    if (policies->next_cursor.empty()) break;
    page.cursor = policies->next_cursor;
  }
  page.cursor.clear();
  for (;;) {
    auto apps = c.store->ListApps(scope, page);
    if (!apps.ok()) break;
    for (const auto& app : apps->items) {
      if (app.quarantined || app.platform != device.platform) continue;
      auto assignments = c.store->ListAppAssignments(scope, app.id);
      if (!assignments.ok()) continue;
      for (const auto& a : *assignments) {
        if (a.group_id != group_id) continue;
        auto cmd = QueueCommand(c, scope, device.id, core::CommandType::kInstallApp,
                                InstallAppParams(app), origin);
        if (!cmd.ok()) log::Error("group.push_failed", {{"group_id", group_id}});
      }
    }
    if (apps->next_cursor.empty()) break;
    page.cursor = apps->next_cursor;
  }
}

}  // namespace

void RegisterGroupRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/groups", "groups.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListGroups(scope, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  t.Add("POST", "/api/v1/groups", "groups.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(
        jsonutil::RejectUnknownFields(body, {"name", "description", "institution_id"}));
    core::Group g;
    RAMPART_API_CHECK(jsonutil::GetString(body, "name", &g.name, true, 100));
    RAMPART_API_CHECK(jsonutil::GetString(body, "description", &g.description, false, 500));
    RAMPART_API_CHECK(RequireName(g.name, "name"));
    RAMPART_API_CHECK(RequirePrintable(g.description, "description"));
    RAMPART_API_ASSIGN(g.institution_id, TargetInstitution(call, c, body));
    g.id = core::NewId("grp");
    g.created_at = c.Now();
    RAMPART_API_CHECK(c.store->CreateGroup(g));
    log::Info("group.created", {{"group_id", g.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "group.create", g.id, "success",
                json{{"institution_id", g.institution_id}});
    return JsonResponse(201, ToJson(g));
  });

  t.Add("GET", "/api/v1/groups/{id}", "groups.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto g, c.store->GetGroup(scope, call.Param("id")));
    return JsonResponse(200, ToJson(g));
  });

  t.Add("DELETE", "/api/v1/groups/{id}", "groups.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_CHECK(c.store->DeleteGroup(scope, call.Param("id")));
    log::Info("group.deleted", {{"group_id", call.Param("id")}, {"by", call.principal.id}});
    RecordAudit(c, call, "group.delete", call.Param("id"), "success");
    return JsonResponse(200, json{{"deleted", call.Param("id")}});
  });

  t.Add("GET", "/api/v1/groups/{id}/devices", "groups.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto members, c.store->ListGroupMembers(scope, call.Param("id")));
    return JsonResponse(200, json{{"group_id", call.Param("id")}, {"device_ids", members}});
  });

  t.Add("PUT", "/api/v1/groups/{id}/devices/{device_id}", "groups.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto device, c.store->GetDevice(scope, call.Param("device_id")));
    RAMPART_API_ASSIGN(auto before, c.store->ListDeviceGroups(scope, device.id));
    RAMPART_API_CHECK(c.store->AddGroupMember(scope, call.Param("id"), device.id));
    log::Info(
        "group.member_added",
        {{"group_id", call.Param("id")}, {"device_id", device.id}, {"by", call.principal.id}});
    RecordAudit(c, call, "group.member_add", call.Param("id"), "success",
                json{{"device_id", device.id}});
    bool joined = std::find(before.begin(), before.end(), call.Param("id")) == before.end();
    if (joined && device.status == core::DeviceStatus::kActive) {
      PushGroupContentToDevice(c, store::Scope::Institution(device.institution_id), device,
                               call.Param("id"), call);
    }
    return JsonResponse(200, json{{"group_id", call.Param("id")}, {"device_id", device.id}});
  });

  // One command type to every active device of the group, as one admin action: above
  // mass_command_threshold devices (and for wipe and retire) it waits for a second admin.
  t.Add("POST", "/api/v1/groups/{id}/commands", "devices.command", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto group, c.store->GetGroup(scope, call.Param("id")));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_ASSIGN(AdminCommand request, ReadAdminCommand(call, body));
    const core::CommandType type = request.type;
    const json& params = request.params;
    store::Scope inst_scope = store::Scope::Institution(group.institution_id);
    store::DeviceFilter filter;
    filter.status = core::DeviceStatus::kActive;
    filter.group_id = group.id;
    std::vector<std::string> targets;
    store::PageRequest page{500, ""};
    for (;;) {
      RAMPART_API_ASSIGN(auto devices, c.store->ListDevices(inst_scope, filter, page));
      for (const auto& d : devices.items) targets.push_back(d.id);
      if (devices.next_cursor.empty()) break;
      page.cursor = devices.next_cursor;
    }
    if (targets.empty()) {
      // Validate anyway, so a bad payload is a 400 whatever the group holds.
      RAMPART_API_CHECK(core::ValidateCommandPayload(type, params).status());
      return ErrorResponse(Status::Conflict("the group has no active device"));
    }
    RAMPART_API_ASSIGN(auto created, CreateCommands(c, inst_scope, targets, type, params,
                                                    CommandOrigin::Admin(call, "group.command")));
    log::Info("group.command", {{"group_id", group.id},
                                {"type", core::ToString(type)},
                                {"devices", static_cast<int64_t>(created.commands.size())},
                                {"awaiting_approval", created.awaiting_approval},
                                {"by", call.principal.id}});
    json items = json::array();
    for (const auto& cmd : created.commands) items.push_back(ToJson(cmd));
    return JsonResponse(
        201, json{{"group_id", group.id},
                  {"type", core::ToString(type)},
                  {"batch_size", static_cast<int64_t>(targets.size())},
                  {"batch_id", created.batch_id.empty() ? json(nullptr) : json(created.batch_id)},
                  {"state", created.awaiting_approval ? "awaiting_approval" : "queued"},
                  {"commands", std::move(items)}});
  });

  t.Add("DELETE", "/api/v1/groups/{id}/devices/{device_id}", "groups.write",
        [&c](const Call& call) {
          RAMPART_API_ASSIGN(auto scope, ReadScope(call));
          RAMPART_API_CHECK(
              c.store->RemoveGroupMember(scope, call.Param("id"), call.Param("device_id")));
          RecordAudit(c, call, "group.member_remove", call.Param("id"), "success",
                      json{{"device_id", call.Param("device_id")}});
          return JsonResponse(
              200, json{{"group_id", call.Param("id")}, {"removed", call.Param("device_id")}});
        });
}

}  // namespace rampart::api::internal
