// An institution's command key: which key its devices pin, and rotating it. Rotation is the
// keeper's (it signs the new key with the old one); serve then moves every pending command to
// the new key, after checking that the old key really signed it, so that a row an intruder
// wrote into the database is not laundered by the rotation.
#include "api/internal.h"
#include "common/crypto.h"
#include "common/log.h"
#include "respond/actions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

json KeyJson(const keeper::CommandKey& k) {
  return {{"institution_id", k.institution_id},
          {"key_id", k.key_id},
          {"public_key", crypto::Base64Encode(k.public_key)},
          {"created_at", k.created_at}};
}

}  // namespace

void RegisterCommandKeyRoutes(RouteTable& t, Context& c) {
  t.Add("GET", "/api/v1/institutions/{id}/command-key", "institutions.read",
        [&c](const Call& call) {
          RAMPART_API_ASSIGN(auto scope, ReadScope(call));
          RAMPART_API_ASSIGN(auto inst, c.store->GetInstitution(scope, call.Param("id")));
          if (c.options.keeper == nullptr) {
            return ErrorResponse(Status::Unavailable("the keeper is unavailable"));
          }
          RAMPART_API_ASSIGN(auto key, c.options.keeper->GetCommandKey(inst.id));
          RAMPART_API_ASSIGN(auto rotations, c.options.keeper->KeyRotations(inst.id));
          json out = KeyJson(key);
          out["rotations"] = rotations.size();
          return JsonResponse(200, out);
        });

  t.Add("POST", "/api/v1/institutions/{id}/command-key/rotate", "keys.rotate",
        [&c](const Call& call) {
          RAMPART_API_ASSIGN(auto scope, ReadScope(call));
          RAMPART_API_ASSIGN(auto inst, c.store->GetInstitution(scope, call.Param("id")));
          keeper::Keeper* k = c.options.keeper;
          if (k == nullptr) return ErrorResponse(Status::Unavailable("the keeper is unavailable"));
          RAMPART_API_ASSIGN(auto old_key, k->GetCommandKey(inst.id));
          RAMPART_API_ASSIGN(auto rotation,
                             k->RotateCommandKey(CallerOf(call, "command_key.rotate"), inst.id));
          if (rotation.fields.old_key_id != old_key.key_id) {
            // Another rotation ran in between: the commands to move are on a key this request
            // did not read. Re-running the rotation request finishes the job.
            return ErrorResponse(Status::Conflict(
                "a concurrent rotation moved the key; pending commands were not re-signed"));
          }
          // Devices learn the new key from the rotation at their next check-in; commands still
          // waiting for them must carry the new key's signature by then.
          auto resigned = c.store->ResignPendingCommands(
              store::Scope::Institution(inst.id), old_key.key_id, c.Now(),
              respond::PendingCommandResigner(k, old_key, CallerOf(call, "command_key.resign")));
          json details = {{"old_key_id", rotation.fields.old_key_id},
                          {"new_key_id", rotation.fields.new_key_id},
                          {"resigned", resigned.ok() ? *resigned : 0}};
          RecordAudit(c, call, "command_key.rotate", inst.id, resigned.ok() ? "success" : "failure",
                      details, "warning");
          log::Warn("command_key.rotated", {{"institution_id", inst.id},
                                            {"new_key_id", rotation.fields.new_key_id},
                                            {"by", call.principal.id}});
          if (!resigned.ok()) {
            // The rotation stands (devices will move); pending commands stay on the old key and
            // devices refuse them: say so rather than pretend.
            return ErrorResponse(
                Status::Unavailable("key rotated, but pending commands could not be re-signed: " +
                                    resigned.status().message()));
          }
          json out = details;
          out["issued_at"] = rotation.fields.issued_at;
          return JsonResponse(200, out);
        });
}

}  // namespace rampart::api::internal
