#include "api/internal.h"
#include "api/package_store.h"
#include "common/crypto.h"
#include "common/json_util.h"
#include "common/log.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

Status ValidateToken(const std::string& value, std::string_view field, size_t max) {
  if (value.empty() || value.size() > max) {
    return Status::InvalidArgument("query parameter '" + std::string(field) + "' must have 1 to " +
                                   std::to_string(max) + " characters");
  }
  for (char ch : value) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_';
    if (!ok) {
      return Status::InvalidArgument("query parameter '" + std::string(field) +
                                     "' may hold only letters, digits, '.', '-' and '_'");
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterAppRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/apps", "apps.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto page, ReadPage(call));
    RAMPART_API_ASSIGN(auto result, c.store->ListApps(scope, page));
    return JsonResponse(200, PageToJson(result, [](const auto& v) { return ToJson(v); }));
  });

  // The package is the raw request body; metadata travels in the query string.
  t.Add("POST", "/api/v1/apps", "apps.write", [&c](const Call& call) {
    core::App app;
    std::string platform;
    std::string institution;
    call.req.QueryParam("name", &app.name);
    call.req.QueryParam("bundle_id", &app.bundle_id);
    call.req.QueryParam("version", &app.version);
    call.req.QueryParam("platform", &platform);
    if (app.name.size() > 100) {
      return ErrorResponse(
          Status::InvalidArgument("query parameter 'name' must have 1 to 100 characters"));
    }
    RAMPART_API_CHECK(RequireName(app.name, "name"));
    RAMPART_API_CHECK(ValidateToken(app.bundle_id, "bundle_id", 255));
    RAMPART_API_CHECK(ValidateToken(app.version, "version", 64));
    auto p = core::ParsePlatform(platform);
    if (!p)
      return ErrorResponse(
          Status::InvalidArgument("query parameter 'platform' must be ios or android"));
    app.platform = *p;
    if (call.req.body.empty())
      return ErrorResponse(Status::InvalidArgument("package body is empty"));
    json target = json::object();
    if (call.req.QueryParam("institution_id", &institution)) target["institution_id"] = institution;
    RAMPART_API_ASSIGN(app.institution_id, TargetInstitution(call, c, target));
    store::Scope inst_scope = store::Scope::Institution(app.institution_id);
    app.sha256 = crypto::Sha256Hex(call.req.body);
    if (c.store->FindAppBySha256(inst_scope, app.sha256).ok()) {
      return ErrorResponse(Status::AlreadyExists("this package is already in the catalogue"));
    }
    RAMPART_API_CHECK(StorePackage(c.options.apps_dir, call.req.body, app.sha256));
    app.id = core::NewId("app");
    app.size_bytes = static_cast<int64_t>(call.req.body.size());
    app.created_at = c.Now();
    RAMPART_API_CHECK(c.store->CreateApp(app));
    log::Info("app.uploaded", {{"app_id", app.id},
                               {"sha256", app.sha256},
                               {"size_bytes", app.size_bytes},
                               {"by", call.principal.id}});
    RecordAudit(
        c, call, "app.upload", app.id, "success",
        json{{"sha256", app.sha256}, {"bundle_id", app.bundle_id}, {"version", app.version}});
    return JsonResponse(201, ToJson(app));
  });

  t.Add("GET", "/api/v1/apps/{id}", "apps.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto app, c.store->GetApp(scope, call.Param("id")));
    return JsonResponse(200, ToJson(app));
  });

  t.Add("GET", "/api/v1/apps/{id}/assignments", "apps.read", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto app, c.store->GetApp(scope, call.Param("id")));
    RAMPART_API_ASSIGN(auto list, c.store->ListAppAssignments(scope, app.id));
    json items = json::array();
    for (const auto& a : list) items.push_back(ToJson(a));
    return JsonResponse(200, json{{"items", items}});
  });

  // Assigning an app to a group queues install_app for every active device of the group on
  // the app's platform.
  t.Add("POST", "/api/v1/apps/{id}/assignments", "apps.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
    RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"group_id"}));
    RAMPART_API_ASSIGN(auto app, c.store->GetApp(scope, call.Param("id")));
    if (app.quarantined) {
      return ErrorResponse(Status::Conflict("app is quarantined and cannot be assigned"));
    }
    core::AppAssignment a;
    RAMPART_API_CHECK(jsonutil::GetString(body, "group_id", &a.group_id, true, 64));
    // The assignment is worth nothing if its install commands cannot be signed.
    if (c.options.keeper == nullptr) {
      return ErrorResponse(
          Status::Unavailable("the keeper is unavailable: commands cannot be signed now"));
    }
    store::Scope inst_scope = store::Scope::Institution(app.institution_id);
    if (!c.store->GetGroup(inst_scope, a.group_id).ok()) {
      return ErrorResponse(Status::NotFound("group not found"));
    }
    a.id = core::NewId("aas");
    a.institution_id = app.institution_id;
    a.app_id = app.id;
    a.created_at = c.Now();
    RAMPART_API_CHECK(c.store->AssignApp(a));
    RAMPART_API_ASSIGN(auto members, c.store->ListGroupMembers(inst_scope, a.group_id));
    std::vector<std::string> targets;
    for (const auto& device_id : members) {
      auto device = c.store->GetDevice(inst_scope, device_id);
      if (!device.ok() || device->status != core::DeviceStatus::kActive ||
          device->platform != app.platform) {
        continue;
      }
      targets.push_back(device_id);
    }
    // The assignment stands even if signing fails part way (devices also receive the app when
    // they join the group); the answer says how many commands exist and in which state.
    auto created = CreateCommands(c, inst_scope, targets, core::CommandType::kInstallApp,
                                  InstallAppParams(app), CommandOrigin::Admin(call, "app.install"));
    if (!created.ok()) log::Error("app.push_failed", {{"app_id", app.id}});
    {
      json details = {{"assignment_id", a.id}, {"group_id", a.group_id}};
      AddCreatedCommands(details, created);
      RecordAudit(c, call, "app.assign", app.id, created.ok() ? "success" : "failure", details);
    }
    json out = ToJson(a);
    AddCreatedCommands(out, created);
    return JsonResponse(201, out);
  });

  // Containment (open in lockdown): the package is no longer offered, downloaded or installed,
  // and its install commands not yet sent are canceled. Audited as response.quarantine_app.
  t.Add("POST", "/api/v1/apps/{id}/quarantine", "apps.write", [&c](const Call& call) {
    RAMPART_API_ASSIGN(std::string reason, ReadReason(call));
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto app, c.response->QuarantineApp(ActionContextOf(call), scope,
                                                           call.Param("id"), reason));
    return JsonResponse(200, ToJson(app));
  });

  // Refused in lockdown like every other write. Install commands canceled by the quarantine
  // are not re-created: assign the app again to push it.
  t.Add("POST", "/api/v1/apps/{id}/release", "apps.write", [&c](const Call& call) {
    RAMPART_API_CHECK(ReadReason(call).status());
    RAMPART_API_ASSIGN(auto scope, ReadScope(call));
    RAMPART_API_ASSIGN(auto app,
                       c.response->ReleaseApp(ActionContextOf(call), scope, call.Param("id")));
    return JsonResponse(200, ToJson(app));
  });
}

}  // namespace rampart::api::internal
