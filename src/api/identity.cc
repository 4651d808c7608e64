#include "api/identity.h"

#include "common/crypto.h"

namespace rampart::api::internal {

std::string SessionSecretFrom(const http::Request& req) {
  // Cookie: a=b; rampart_session=...; c=d  (RFC 6265 section 4.2.1). Several Cookie headers
  // are allowed too; the first rampart_session wins.
  for (const auto& [name, value] : req.headers) {
    if (name != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != kSessionCookie) continue;
      std::string_view secret = pair.substr(eq + 1);
      while (!secret.empty() && secret.back() == ' ') secret.remove_suffix(1);
      // A real secret is "rms_" plus 43 base64url characters; anything longer is not one and
      // is not worth hashing.
      if (secret.size() > 64) return "";
      return std::string(secret);
    }
  }
  return "";
}

std::string CsrfTokenFor(std::string_view session_secret) {
  return crypto::HmacSha256Hex(session_secret, "rampart-csrf-v1");
}

std::string SessionCookie(std::string_view secret, int64_t max_age_seconds) {
  return std::string(kSessionCookie) + "=" + std::string(secret) +
         "; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=" + std::to_string(max_age_seconds);
}

std::string ClearedSessionCookie() {
  return std::string(kSessionCookie) + "=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0";
}

bool RoleRequiresMfa(core::Role role) {
  return role == core::Role::kSuperAdmin || role == core::Role::kAdmin;
}

const std::string& DummyPasswordHash() {
  static const std::string kHash = [] {
    auto hash = crypto::HashPassword(crypto::RandomHex(16));
    // Without memory for one hash no login can be verified either; an empty dummy then fails
    // fast, which is the least bad outcome.
    return hash.ok() ? *hash : std::string();
  }();
  return kHash;
}

Status CheckNewPassword(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return Status::InvalidArgument("a password needs at least " +
                                   std::to_string(kMinPasswordLength) + " characters");
  }
  if (password.size() > kMaxPasswordLength) {
    return Status::InvalidArgument("a password may have at most " +
                                   std::to_string(kMaxPasswordLength) + " characters");
  }
  for (unsigned char ch : password) {
    if (ch < 0x20 || ch == 0x7f) {
      return Status::InvalidArgument("a password must not contain control characters");
    }
  }
  return Status::Ok();
}

}  // namespace rampart::api::internal
