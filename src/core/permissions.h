// Roles and permissions: every admin route names one permission (http::Route::permission) and
// this table says which roles hold it. One table, so a test can walk every route and role.
#pragma once

#include <string_view>

#include "core/model.h"

namespace rampart::core {

// Permission names used by routes. "public" (no authentication) and "device" (a signed device
// request) are not held by roles.
inline constexpr std::string_view kPublic = "public";
inline constexpr std::string_view kDevice = "device";
// Held by every role: the caller's own sign-in (docs/identity.md). The only permission a
// session whose user still has to set up a required second factor may use.
inline constexpr std::string_view kAccountSelf = "account.self";

// Returns whether `role` holds `permission` (e.g. "devices.command"). Unknown permissions are
// held by nobody, so a typo in a route table fails closed.
bool RoleHasPermission(Role role, std::string_view permission);

// Roles whose tokens may act across institutions.
bool IsCrossInstitution(Role role);

}  // namespace rampart::core
