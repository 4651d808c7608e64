// /api/v1/auth: console sign-in. Login is the one public admin route; everything else here is
// the caller's own account (permission account.self). Design and decisions: docs/identity.md.
#include "api/identity.h"
#include "api/internal.h"
#include "common/crypto.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/totp.h"
#include "core/permissions.h"

namespace rampart::api::internal {

using nlohmann::json;

namespace {

constexpr std::string_view kLoginFailed = "invalid username, password or code";
constexpr std::string_view kTotpIssuer = "Rampart";

audit::Record LoginRecord(const Call& call, std::string action, std::string target,
                          std::string institution_id, std::string outcome, json details,
                          std::string severity = "info") {
  audit::Record r;
  r.actor = target.empty() ? "anonymous" : target;
  r.action = std::move(action);
  r.target = std::move(target);
  r.outcome = std::move(outcome);
  r.institution_id = std::move(institution_id);
  r.request_id = call.req.request_id;
  r.source_ip = call.req.remote_ip;
  r.severity = std::move(severity);
  r.details_json = details.dump();
  return r;
}

Status RequireSession(const Call& call) {
  if (call.principal.kind != Principal::Kind::kSession) {
    return Status::InvalidArgument("this needs a signed-in user; API tokens have no account");
  }
  return Status::Ok();
}

http::Response Login(Context& c, const Call& call) {
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"username", "password", "totp"}));
  std::string username, password, code;
  RAMPART_API_CHECK(jsonutil::GetString(body, "username", &username, true, 64));
  RAMPART_API_CHECK(jsonutil::GetString(body, "password", &password, true, kMaxPasswordLength));
  RAMPART_API_CHECK(jsonutil::GetString(body, "totp", &code, false, 16));
  const auto& config = c.options.config;
  int64_t now = c.Now();

  // Every refusal below looks the same to the caller (status, body and, thanks to the dummy
  // hash, time); only the audit trail and the log say which it was.
  auto fail = [&](const std::string& user_id, const std::string& institution_id,
                  std::string_view reason) {
    c.metrics->Increment("rampart_auth_failures_total", "reason", "bad_login");
    log::Warn("auth.login_failed", {{"reason", reason},
                                    {"remote_ip", call.req.remote_ip},
                                    {"request_id", call.req.request_id}});
    RecordAudit(c, LoginRecord(call, "auth.login", user_id, institution_id, "failure",
                               json{{"reason", reason}}, "warning"));
    SecurityEvent ev("auth.login_failed");
    ev.Set("event.reason", reason);
    if (!user_id.empty()) ev.Set("user.name", user_id);
    ev.institution_id = institution_id;
    EmitEvent(c, call, std::move(ev));
    return ErrorResponse(Status::Unauthenticated(std::string(kLoginFailed)));
  };
  // Counts a wrong password or code; the failure that reaches the limit locks the account.
  auto count_failure = [&](const core::AdminUser& user, std::string_view reason) {
    auto locked_until =
        c.store->RecordLoginFailure(user.id, now, config.login_failure_window_seconds,
                                    config.login_max_failures, config.login_lockout_seconds);
    if (locked_until.ok() && *locked_until > now && !(user.locked_until > now)) {
      log::Warn("auth.account_locked", {{"user_id", user.id}, {"request_id", call.req.request_id}});
      RecordAudit(c, LoginRecord(call, "auth.lockout", user.id, user.institution_id, "success",
                                 json{{"locked_until", FormatRfc3339(*locked_until)}}, "warning"));
    }
    return fail(user.id, user.institution_id, reason);
  };

  auto found = c.store->FindAdminUserByUsername(username);
  if (!found.ok()) {
    crypto::VerifyPassword(DummyPasswordHash(), password);
    // The attempted name is not recorded: people type passwords into the username field.
    return fail("", "", "unknown_user");
  }
  const core::AdminUser& user = *found;
  bool password_ok = crypto::VerifyPassword(user.password_hash, password);
  if (user.locked_until > now) return fail(user.id, user.institution_id, "locked");
  if (user.disabled) return fail(user.id, user.institution_id, "disabled");
  if (!password_ok) return count_failure(user, "bad_password");
  if (user.totp_enabled()) {
    auto step = totp::Match(user.totp_secret, code, now, user.totp_last_step);
    if (!step) return count_failure(user, code.empty() ? "missing_totp" : "bad_totp");
    // Two logins racing with one code: only one may record its step.
    if (!c.store->UseTotpStep(user.id, *step).ok()) return count_failure(user, "reused_totp");
  }
  c.store->ClearLoginFailures(user.id).IgnoreError();

  std::string secret = crypto::RandomToken("rms");
  core::AdminSession session;
  session.id = core::NewId("ses");
  session.user_id = user.id;
  session.institution_id = user.institution_id;
  session.secret_hash = crypto::Sha256Hex(secret);
  session.created_at = session.last_seen_at = now;
  session.expires_at = now + config.session_lifetime_seconds;
  RAMPART_API_ASSIGN(
      int64_t evicted,
      c.store->CreateAdminSession(session, config.max_sessions_per_user,
                                  now - static_cast<int64_t>(config.session_idle_timeout_seconds)));
  bool mfa_setup_required = RoleRequiresMfa(user.role) && !user.totp_enabled();
  log::Info("auth.login", {{"user_id", user.id}, {"request_id", call.req.request_id}});
  RecordAudit(c, LoginRecord(call, "auth.login", user.id, user.institution_id, "success",
                             json{{"session_id", session.id},
                                  {"sessions_ended", evicted},
                                  {"mfa", user.totp_enabled()}}));
  // The detection engine's rampart-admin-login-new-address reads user.name and source.ip.
  SecurityEvent login_event("auth.login");
  login_event.Set("user.name", user.id).Set("user.roles", core::ToString(user.role));
  login_event.institution_id = user.institution_id;
  EmitEvent(c, call, std::move(login_event));
  if (evicted > 0) {
    RecordAudit(c, LoginRecord(call, "session.revoke", user.id, user.institution_id, "success",
                               json{{"reason", "session_cap"}, {"count", evicted}}));
  }
  json out = {{"user", ToJson(user)},
              {"session_id", session.id},
              {"csrf_token", CsrfTokenFor(secret)},
              {"expires_at", FormatRfc3339(session.expires_at)},
              {"idle_timeout_seconds", config.session_idle_timeout_seconds},
              {"mfa_setup_required", mfa_setup_required}};
  http::Response r = JsonResponse(200, out);
  r.headers.emplace_back("Set-Cookie", SessionCookie(secret, config.session_lifetime_seconds));
  return r;
}

http::Response Logout(Context& c, const Call& call) {
  RAMPART_API_CHECK(RequireSession(call));
  RAMPART_API_CHECK(c.store->DeleteAdminSession(call.principal.session_id));
  RecordAudit(c, call, "auth.logout", call.principal.id, "success",
              json{{"session_id", call.principal.session_id}});
  http::Response r = JsonResponse(200, json{{"signed_out", true}});
  r.headers.emplace_back("Set-Cookie", ClearedSessionCookie());
  return r;
}

http::Response WhoAmI(Context& c, const Call& call) {
  const Principal& p = call.principal;
  if (p.kind != Principal::Kind::kSession) {
    return JsonResponse(200,
                        json{{"kind", "api_token"},
                             {"id", p.id},
                             {"role", core::ToString(p.role)},
                             {"institution_id",
                              p.institution_id.empty() ? json(nullptr) : json(p.institution_id)}});
  }
  RAMPART_API_ASSIGN(auto user, c.store->GetAdminUser(store::Scope::All(), p.id));
  return JsonResponse(200,
                      json{{"kind", "session"},
                           {"user", ToJson(user)},
                           {"session_id", p.session_id},
                           {"csrf_token", p.csrf_token},
                           {"expires_at", FormatRfc3339(p.session_expires_at)},
                           {"idle_timeout_seconds", c.options.config.session_idle_timeout_seconds},
                           {"mfa_setup_required", p.mfa_setup_required}});
}

http::Response ChangePassword(Context& c, const Call& call) {
  RAMPART_API_CHECK(RequireSession(call));
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"current_password", "new_password"}));
  std::string current, fresh;
  RAMPART_API_CHECK(
      jsonutil::GetString(body, "current_password", &current, true, kMaxPasswordLength));
  RAMPART_API_CHECK(jsonutil::GetString(body, "new_password", &fresh, true, kMaxPasswordLength));
  RAMPART_API_CHECK(CheckNewPassword(fresh));
  int64_t now = c.Now();
  RAMPART_API_ASSIGN(auto user, c.store->GetAdminUser(store::Scope::All(), call.principal.id));
  if (!crypto::VerifyPassword(user.password_hash, current)) {
    // Counted like a failed login: a stolen session must not become a password oracle.
    const auto& config = c.options.config;
    c.store
        ->RecordLoginFailure(user.id, now, config.login_failure_window_seconds,
                             config.login_max_failures, config.login_lockout_seconds)
        .status()
        .IgnoreError();
    RecordAudit(c, call, "auth.password_change", user.id, "failure",
                json{{"reason", "bad_current_password"}}, "warning");
    return ErrorResponse(Status::PermissionDenied("the current password is wrong"));
  }
  if (fresh == current) {
    return ErrorResponse(Status::InvalidArgument("the new password must differ from the old"));
  }
  RAMPART_API_ASSIGN(std::string hash, crypto::HashPassword(fresh));
  RAMPART_API_CHECK(c.store->SetAdminPassword(user.id, hash, now, call.principal.session_id));
  log::Info("auth.password_changed", {{"user_id", user.id}, {"request_id", call.req.request_id}});
  RecordAudit(c, call, "auth.password_change", user.id, "success",
              json{{"other_sessions_ended", true}});
  return JsonResponse(200, json{{"password_changed_at", FormatRfc3339(now)}});
}

http::Response StartTotp(Context& c, const Call& call) {
  RAMPART_API_CHECK(RequireSession(call));
  RAMPART_API_ASSIGN(auto user, c.store->GetAdminUser(store::Scope::All(), call.principal.id));
  if (user.totp_enabled()) {
    return ErrorResponse(
        Status::Conflict("two-factor authentication is already on; another admin can reset it"));
  }
  std::string secret = crypto::RandomBytes(totp::kSecretBytes);
  RAMPART_API_CHECK(c.store->SetPendingTotp(user.id, secret, c.Now()));
  RecordAudit(c, call, "auth.totp_setup", user.id, "success");
  return JsonResponse(200, json{{"secret", totp::Base32Encode(secret)},
                                {"otpauth_uri", totp::Uri(kTotpIssuer, user.username, secret)},
                                {"digits", totp::kDigits},
                                {"period", totp::kStepSeconds}});
}

http::Response ConfirmTotp(Context& c, const Call& call) {
  RAMPART_API_CHECK(RequireSession(call));
  RAMPART_API_ASSIGN(json body, ReadJsonBody(call));
  RAMPART_API_CHECK(jsonutil::RejectUnknownFields(body, {"code"}));
  std::string code;
  RAMPART_API_CHECK(jsonutil::GetString(body, "code", &code, true, 16));
  RAMPART_API_ASSIGN(auto user, c.store->GetAdminUser(store::Scope::All(), call.principal.id));
  if (user.totp_enabled()) {
    return ErrorResponse(Status::Conflict("two-factor authentication is already on"));
  }
  if (user.totp_pending_secret.empty()) {
    return ErrorResponse(Status::Conflict("start with POST /api/v1/auth/totp"));
  }
  int64_t now = c.Now();
  auto step = totp::Match(user.totp_pending_secret, code, now, -1);
  if (!step) {
    RecordAudit(c, call, "auth.totp_enable", user.id, "failure", json{{"reason", "bad_code"}});
    return ErrorResponse(Status::InvalidArgument("that code does not match; check the clock"));
  }
  RAMPART_API_CHECK(c.store->ConfirmTotp(user.id, user.totp_pending_secret, *step, now));
  log::Info("auth.totp_enabled", {{"user_id", user.id}, {"request_id", call.req.request_id}});
  RecordAudit(c, call, "auth.totp_enable", user.id, "success");
  return JsonResponse(200, json{{"totp_enabled", true}});
}

}  // namespace

void RegisterAuthRoutes(RouteTable& t, Context& c) {
  // Made now, not at the first unknown-user login, which would otherwise take twice as long as
  // any later one.
  DummyPasswordHash();
  const std::string self(core::kAccountSelf);
  t.Add("POST", "/api/v1/auth/login", std::string(core::kPublic),
        [&c](const Call& call) { return Login(c, call); });
  t.Add("POST", "/api/v1/auth/logout", self, [&c](const Call& call) { return Logout(c, call); });
  t.Add("GET", "/api/v1/auth/session", self, [&c](const Call& call) { return WhoAmI(c, call); });
  t.Add("POST", "/api/v1/auth/password", self,
        [&c](const Call& call) { return ChangePassword(c, call); });
  t.Add("POST", "/api/v1/auth/totp", self, [&c](const Call& call) { return StartTotp(c, call); });
  t.Add("POST", "/api/v1/auth/totp/confirm", self,
        [&c](const Call& call) { return ConfirmTotp(c, call); });
}

}  // namespace rampart::api::internal
