// Pieces of console sign-in shared by App's authentication (app.cc) and the auth and user
// handlers (auth.cc, users.cc). Private to src/api. Design: docs/identity.md.
#pragma once

#include <string>
#include <string_view>

#include "core/model.h"
#include "http/message.h"

namespace rampart::api::internal {

inline constexpr std::string_view kSessionCookie = "rampart_session";
inline constexpr std::string_view kCsrfHeader = "x-rampart-csrf";
inline constexpr size_t kMinPasswordLength = 12;
// Longer passwords gain nothing and would let a caller make every hash cost more.
inline constexpr size_t kMaxPasswordLength = 256;

// The session secret the request's Cookie header carries, or empty.
std::string SessionSecretFrom(const http::Request& req);
// The CSRF token of a session: derived from its secret (HMAC-SHA256), so it is bound to that
// session, needs no storage and cannot be computed by a page that cannot read the secret.
std::string CsrfTokenFor(std::string_view session_secret);
// Set-Cookie values: the session for `max_age_seconds`, or one that clears it.
std::string SessionCookie(std::string_view secret, int64_t max_age_seconds);
std::string ClearedSessionCookie();
// Roles that may not use the console without a confirmed second factor.
bool RoleRequiresMfa(core::Role role);
// An argon2id hash of a random password nobody knows, made once per process: unknown usernames
// are verified against it so that they take as long as known ones.
const std::string& DummyPasswordHash();
// InvalidArgument unless kMinPasswordLength..kMaxPasswordLength bytes without control
// characters.
Status CheckNewPassword(std::string_view password);

}  // namespace rampart::api::internal
