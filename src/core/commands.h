// Command rules: which parameters each command type takes, and the queue's state machine.
//
//   queued ──deliver──▶ sent ──device──▶ acknowledged | error | not_now
//   not_now ──retry time reached, redeliver──▶ sent        (never before not_before)
//   sent ──no report for the redelivery interval──▶ sent   (the response carrying it was lost)
//   queued | not_now ──admin──▶ canceled;  queued | sent | not_now ──device retired──▶ canceled
//   queued | sent | not_now ──expires_at passed──▶ expired
// acknowledged, error, canceled and expired are final. An admin cannot cancel a sent command
// (the device may be executing it); retiring the device cancels everything still pending.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/status.h"
#include "core/model.h"

namespace rampart::core {

bool IsFinal(CommandState state);
bool IsAllowedTransition(CommandState from, CommandState to);

// Validates the parameters an admin sent beside "type" (the object without "type") and returns
// the canonical payload JSON stored with the command. Unknown parameters are refused.
// install_app, apply_policy and retire are built by the server itself (from an app, a policy,
// a retire request), so `params` for them come from trusted code paths, but they are checked
// the same way.
Result<std::string> ValidateCommandPayload(CommandType type, const nlohmann::json& params);

// Wipe and retire end management of the device's data: the API layer treats them as
// destructive (and the keeper issue adds four-eyes approval for them).
bool IsDestructive(CommandType type);

}  // namespace rampart::core
