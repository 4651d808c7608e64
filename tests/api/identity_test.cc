// Console sign-in and user management through App::Handle: login, lockout, TOTP, sessions
// (cookie, CSRF, idle and absolute expiry, cap, revocation), users and their audit records.
#include "identity_fixture.h"

namespace rampart::api::testing {
namespace {

class IdentityTest : public IdentityFixture {
 protected:
  void SetUp() override {
    IdentityFixture::SetUp();
    inst_ = CreateInstitution("Institution A");
    other_inst_ = CreateInstitution("Institution B");
  }
  std::string inst_, other_inst_;
};

TEST_F(IdentityTest, LoginSetsAStrictCookieAndTheSessionActsAsTheUser) {
  TestUser admin = MakeUser(core::Role::kAdmin, inst_, true);
  Session s = Login(admin);
  ASSERT_FALSE(s.secret.empty());
  for (const char* attr : {"; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"}) {
    EXPECT_NE(s.set_cookie.find(attr), std::string::npos) << attr << " in " << s.set_cookie;
  }
  EXPECT_EQ(s.secret.rfind("rms_", 0), 0u);
  // Only the hash is stored.
  EXPECT_TRUE(store_->FindAdminSessionByHash(crypto::Sha256Hex(s.secret)).ok());
  EXPECT_FALSE(store_->FindAdminSessionByHash(s.secret).ok());

  Reply me = SessionSend("GET", "/api/v1/auth/session", s);
  ASSERT_EQ(me.status, 200) << me.raw;
  EXPECT_EQ(me.body["kind"], "session");
  EXPECT_EQ(me.body["user"]["id"], admin.id);
  EXPECT_EQ(me.body["user"]["role"], "admin");
  EXPECT_EQ(me.body["csrf_token"], s.csrf);
  EXPECT_EQ(me.body["user"].count("password_hash"), 0u);
  EXPECT_EQ(me.raw.find("argon2"), std::string::npos);

  // Reads need only the cookie; changes need the CSRF token of this very session.
  EXPECT_EQ(SessionSend("GET", "/api/v1/devices", s, std::string(), false).status, 200);
  Reply no_csrf = SessionSend("POST", "/api/v1/groups", s, json{{"name", "G"}}, false);
  EXPECT_EQ(no_csrf.status, 403) << no_csrf.raw;
  Session forged = s;
  forged.csrf = std::string(64, 'a');
  EXPECT_EQ(SessionSend("POST", "/api/v1/groups", forged, json{{"name", "G"}}).status, 403);
  EXPECT_EQ(Send("GET", "/api/v1/groups", superadmin_).body["items"].size(), 0u)
      << "refused requests created nothing";
  Reply created = SessionSend("POST", "/api/v1/groups", s, json{{"name", "G"}});
  EXPECT_EQ(created.status, 201) << created.raw;
  // The group landed in the user's institution, and the audit names the user.
  EXPECT_EQ(created.body["institution_id"], inst_);
  auto audited = keeper_.WithAction("group.create");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].actor, admin.id);
  EXPECT_EQ(audited[0].institution_id, inst_);

  // Bearer tokens work exactly as before, and a bearer header wins over a cookie.
  std::string token = Issue(core::Role::kAuditor, inst_);
  Reply tok = Send("GET", "/api/v1/auth/session", token);
  EXPECT_EQ(tok.body["kind"], "api_token");
  EXPECT_EQ(tok.body["role"], "auditor");
  EXPECT_EQ(Send("GET", "/api/v1/devices", "").status, 401);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", Session{"rms_forged", "", ""}).status, 401);
}

TEST_F(IdentityTest, EveryLoginFailureLooksTheSameAndThreeLockTheAccount) {
  TestUser user = MakeUser(core::Role::kAdmin, inst_, true);
  auto failure = [&](const std::string& name, const std::string& password,
                     const std::string& code) {
    http::Response r = RawLogin(name, password, code);
    EXPECT_EQ(r.status, 401);
    for (const auto& h : r.headers) EXPECT_NE(h.first, "Set-Cookie");
    return r.body;
  };
  std::string unknown = failure("nobody-here", user.password, CurrentCode(user));
  std::string bad_password = failure(user.username, "wrong password!", CurrentCode(user));
  EXPECT_EQ(unknown, bad_password);
  std::string bad_code = failure(user.username, user.password, "000000");
  EXPECT_EQ(unknown, bad_code);
  EXPECT_TRUE(keeper_.WithAction("auth.lockout").empty()) << "an unknown name locks nobody";
  failure(user.username, "wrong password!", CurrentCode(user));
  // That was the third failure of this user within 15 minutes: locked, even with everything
  // right, and the refusal still reads the same.
  std::string locked = failure(user.username, user.password, CurrentCode(user));
  EXPECT_EQ(unknown, locked);
  EXPECT_EQ(keeper_.WithAction("auth.lockout").size(), 1u);
  std::vector<std::string> reasons;
  for (const auto& r : keeper_.WithAction("auth.login")) {
    EXPECT_EQ(r.outcome, "failure");
    EXPECT_EQ(r.details_json.find(user.password), std::string::npos) << "no password in audit";
    EXPECT_EQ(r.details_json.find("wrong password"), std::string::npos);
    reasons.push_back(json::parse(r.details_json)["reason"]);
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"unknown_user", "bad_password", "bad_totp",
                                               "bad_password", "locked"}));
  EXPECT_EQ(keeper_.WithAction("auth.login")[0].target, "") << "unknown names are not recorded";

  // The lock lasts 15 minutes, then a correct login works and clears the count.
  clock_.AdvanceSeconds(config_.login_lockout_seconds - 30);
  failure(user.username, user.password, CurrentCode(user));
  clock_.AdvanceSeconds(30);
  Session s = Login(user);
  EXPECT_FALSE(s.secret.empty());
  EXPECT_EQ(store_->GetAdminUser(store::Scope::All(), user.id)->failed_logins, 0);

  // Failures spread wider than the window never lock.
  clock_.AdvanceSeconds(60);
  failure(user.username, "wrong password!", "");
  failure(user.username, "wrong password!", "");
  clock_.AdvanceSeconds(config_.login_failure_window_seconds);
  failure(user.username, "wrong password!", "");
  EXPECT_FALSE(Login(user).secret.empty());

  // Malformed bodies are plain 400s: they say nothing about any user.
  EXPECT_EQ(ToReply(app_->Handle(MakeRequest("POST", "/api/v1/auth/login", "{}"))).status, 400);
  EXPECT_EQ(ToReply(app_->Handle(MakeRequest("POST", "/api/v1/auth/login",
                                             R"({"username":"a","password":"b","extra":1})")))
                .status,
            400);
}

TEST_F(IdentityTest, DisabledUsersCannotSignIn) {
  TestUser user = MakeUser(core::Role::kHelpdesk, inst_, false);
  Session s = Login(user);
  ASSERT_TRUE(store_
                  ->UpdateAdminUserAccess(store::Scope::All(), user.id, core::Role::kHelpdesk, true,
                                          clock_.NowSeconds())
                  .ok());
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", s).status, 401);
  EXPECT_EQ(RawLogin(user.username, user.password).status, 401);
}

TEST_F(IdentityTest, AdminsSetUpTotpBeforeAnythingElseAndCodesAreSingleUse) {
  TestUser admin = MakeUser(core::Role::kAdmin, inst_, false);
  // First login: password only, then the session reaches nothing but the account routes.
  http::Response first = RawLogin(admin.username, admin.password);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(json::parse(first.body)["mfa_setup_required"].get<bool>());
  Session s = Login(admin);
  Reply blocked = SessionSend("GET", "/api/v1/devices", s);
  EXPECT_EQ(blocked.status, 403) << blocked.raw;
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", s).status, 200);

  EXPECT_EQ(SessionSend("POST", "/api/v1/auth/totp/confirm", s, json{{"code", "123456"}}).status,
            409)
      << "nothing to confirm yet";
  Reply setup = SessionSend("POST", "/api/v1/auth/totp", s, std::string());
  ASSERT_EQ(setup.status, 200) << setup.raw;
  std::string secret = *totp::Base32Decode(setup.body["secret"].get<std::string>());
  EXPECT_EQ(secret.size(), totp::kSecretBytes);
  std::string uri = setup.body["otpauth_uri"];
  EXPECT_EQ(uri.rfind("otpauth://totp/Rampart:" + admin.username + "?secret=", 0), 0u) << uri;
  EXPECT_EQ(keeper_.WithAction("auth.totp_setup").size(), 1u);

  std::string wrong = totp::Code(secret, totp::StepAt(clock_.NowSeconds()) + 5);
  EXPECT_EQ(SessionSend("POST", "/api/v1/auth/totp/confirm", s, json{{"code", wrong}}).status, 400);
  EXPECT_FALSE(store_->GetAdminUser(store::Scope::All(), admin.id)->totp_enabled());
  std::string code = totp::Code(secret, totp::StepAt(clock_.NowSeconds()));
  Reply confirmed = SessionSend("POST", "/api/v1/auth/totp/confirm", s, json{{"code", code}});
  ASSERT_EQ(confirmed.status, 200) << confirmed.raw;
  EXPECT_EQ(keeper_.WithAction("auth.totp_enable").back().outcome, "success");
  EXPECT_EQ(SessionSend("GET", "/api/v1/devices", s).status, 200);
  EXPECT_EQ(SessionSend("POST", "/api/v1/auth/totp", s, std::string()).status, 409)
      << "a second setup would let a stolen session swap the authenticator";

  // From now on the code is required, and the code that confirmed setup is spent.
  EXPECT_EQ(RawLogin(admin.username, admin.password).status, 401);
  EXPECT_EQ(RawLogin(admin.username, admin.password, code).status, 401);
  clock_.AdvanceSeconds(totp::kStepSeconds);
  std::string next = totp::Code(secret, totp::StepAt(clock_.NowSeconds()));
  EXPECT_EQ(RawLogin(admin.username, admin.password, next).status, 200);
  EXPECT_EQ(RawLogin(admin.username, admin.password, next).status, 401) << "replayed code";
}

TEST_F(IdentityTest, SessionsEndWhenIdleAndAtTheirAbsoluteLifetime) {
  TestUser user = MakeUser(core::Role::kHelpdesk, inst_, false);
  Session idle = Login(user);
  clock_.AdvanceSeconds(config_.session_idle_timeout_seconds - 1);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", idle).status, 200);
  clock_.AdvanceSeconds(config_.session_idle_timeout_seconds);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", idle).status, 401);

  Session busy = Login(user);
  int64_t started = clock_.NowSeconds();
  while (clock_.NowSeconds() + 600 < started + config_.session_lifetime_seconds) {
    clock_.AdvanceSeconds(600);
    ASSERT_EQ(SessionSend("GET", "/api/v1/auth/session", busy).status, 200);
  }
  clock_.SetMillis((started + config_.session_lifetime_seconds) * 1000);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", busy).status, 401)
      << "activity does not extend a session past its lifetime";
}

TEST_F(IdentityTest, TheFourthSessionEndsTheLeastRecentlyUsed) {
  TestUser user = MakeUser(core::Role::kAnalyst, inst_, false);
  std::vector<Session> sessions;
  for (int i = 0; i < 3; ++i) {
    sessions.push_back(Login(user));
    clock_.AdvanceSeconds(20);
  }
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", sessions[0]).status, 200);  // used now
  clock_.AdvanceSeconds(20);
  Session fourth = Login(user);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", sessions[1]).status, 401);
  for (const Session* s : {&sessions[0], &sessions[2], &fourth}) {
    EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", *s).status, 200);
  }
  auto revoked = keeper_.WithAction("session.revoke");
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_NE(revoked[0].details_json.find("session_cap"), std::string::npos);
}

TEST_F(IdentityTest, LogoutEndsOnlyThatSession) {
  TestUser user = MakeUser(core::Role::kAuditor, inst_, false);
  Session a = Login(user);
  Session b = Login(user);
  EXPECT_EQ(SessionSend("POST", "/api/v1/auth/logout", a, std::string(), false).status, 403)
      << "logout needs the CSRF token too";
  Session crossed = a;
  crossed.csrf = b.csrf;
  EXPECT_EQ(SessionSend("POST", "/api/v1/auth/logout", crossed).status, 403)
      << "a CSRF token is bound to its own session";
  http::Request r = MakeRequest("POST", "/api/v1/auth/logout", "");
  r.headers.emplace_back("cookie", "rampart_session=" + a.secret);
  r.headers.emplace_back("x-rampart-csrf", a.csrf);
  http::Response out = app_->Handle(r);
  EXPECT_EQ(out.status, 200);
  bool cleared = false;
  for (const auto& [name, value] : out.headers) {
    cleared = cleared || (name == "Set-Cookie" && value.find("Max-Age=0") != std::string::npos);
  }
  EXPECT_TRUE(cleared);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", a).status, 401);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", b).status, 200);
  EXPECT_EQ(keeper_.WithAction("auth.logout").size(), 1u);
  EXPECT_EQ(Send("POST", "/api/v1/auth/logout", superadmin_).status, 400)
      << "an API token has no session";
}

TEST_F(IdentityTest, PasswordChangeNeedsTheCurrentPasswordAndEndsOtherSessions) {
  TestUser user = MakeUser(core::Role::kHelpdesk, inst_, false);
  Session mine = Login(user);
  Session other = Login(user);
  auto change = [&](const std::string& current, const std::string& fresh) {
    return SessionSend("POST", "/api/v1/auth/password", mine,
                       json{{"current_password", current}, {"new_password", fresh}});
  };
  EXPECT_EQ(change(user.password, "short").status, 400);
  EXPECT_EQ(change(user.password, user.password).status, 400);
  EXPECT_EQ(change("not the password", "a much longer password").status, 403);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", other).status, 200)
      << "refused changes end nothing";
  EXPECT_EQ(store_->GetAdminUser(store::Scope::All(), user.id)->failed_logins, 1)
      << "a wrong current password counts like a failed login";
  Reply ok = change(user.password, "a much longer password");
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", mine).status, 200);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", other).status, 401);
  EXPECT_EQ(RawLogin(user.username, user.password).status, 401);
  EXPECT_EQ(RawLogin(user.username, "a much longer password").status, 200);
  auto audited = keeper_.WithAction("auth.password_change");
  ASSERT_EQ(audited.size(), 2u);
  EXPECT_EQ(audited[0].outcome, "failure");
  EXPECT_EQ(audited[1].outcome, "success");
  for (const auto& r : audited) EXPECT_EQ(r.details_json.find("longer"), std::string::npos);
}

TEST_F(IdentityTest, AdminsManageUsersOfTheirOwnInstitutionOnly) {
  TestUser admin = MakeUser(core::Role::kAdmin, inst_, true);
  TestUser peer = MakeUser(core::Role::kAdmin, inst_, true);
  TestUser foreign = MakeUser(core::Role::kHelpdesk, other_inst_, false);
  Session s = Login(admin);

  Reply created = SessionSend("POST", "/api/v1/users", s,
                              json{{"username", "helper.one"}, {"role", "helpdesk"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string helper_id = created.body["id"];
  std::string password = created.body["password"];
  EXPECT_GE(password.size(), 12u);
  EXPECT_EQ(created.body["institution_id"], inst_);
  EXPECT_EQ(RawLogin("helper.one", password).status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/users/" + helper_id, superadmin_).body.count("password"), 0u)
      << "the password is shown once";
  auto audited = keeper_.WithAction("user.create");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].target, helper_id);
  EXPECT_EQ(audited[0].details_json.find(password), std::string::npos);

  // Never a stronger role, never another institution, never a bad name.
  EXPECT_EQ(
      SessionSend("POST", "/api/v1/users", s, json{{"username", "boss"}, {"role", "superadmin"}})
          .status,
      403);
  EXPECT_EQ(
      SessionSend("POST", "/api/v1/users", s,
                  json{{"username", "spy"}, {"role", "admin"}, {"institution_id", other_inst_}})
          .status,
      404);
  EXPECT_EQ(
      SessionSend("POST", "/api/v1/users", s, json{{"username", "a b"}, {"role", "admin"}}).status,
      400);
  EXPECT_EQ(
      SessionSend("POST", "/api/v1/users", s, json{{"username", "helper.one"}, {"role", "auditor"}})
          .status,
      409);
  Reply list = SessionSend("GET", "/api/v1/users", s);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["items"].size(), 3u) << "admin, peer and helper; nobody from B";
  EXPECT_EQ(list.raw.find(foreign.id), std::string::npos);
  EXPECT_EQ(SessionSend("GET", "/api/v1/users/" + foreign.id, s).status, 404);
  EXPECT_EQ(SessionSend("PATCH", "/api/v1/users/" + foreign.id, s, json{{"disabled", true}}).status,
            404);
  EXPECT_FALSE(store_->GetAdminUser(store::Scope::All(), foreign.id)->disabled);

  // Role changes and disabling; never oneself.
  EXPECT_EQ(SessionSend("PATCH", "/api/v1/users/" + admin.id, s, json{{"role", "helpdesk"}}).status,
            403);
  EXPECT_EQ(SessionSend("PATCH", "/api/v1/users/" + admin.id, s, json{{"disabled", true}}).status,
            403);
  EXPECT_EQ(SessionSend("PATCH", "/api/v1/users/" + helper_id, s, json{{"role", "wizard"}}).status,
            400);
  EXPECT_EQ(
      SessionSend("PATCH", "/api/v1/users/" + helper_id, s, json{{"role", "superadmin"}}).status,
      403);
  Reply promoted = SessionSend("PATCH", "/api/v1/users/" + helper_id, s, json{{"role", "analyst"}});
  ASSERT_EQ(promoted.status, 200) << promoted.raw;
  EXPECT_EQ(promoted.body["role"], "analyst");
  TestUser helper{helper_id, "helper.one", password, ""};
  Session helper_session = Login(helper);
  EXPECT_EQ(SessionSend("GET", "/api/v1/staff", helper_session).status, 403)
      << "the new role applies to existing sessions at once";
  EXPECT_EQ(SessionSend("PATCH", "/api/v1/users/" + helper_id, s, json{{"disabled", true}}).status,
            200);
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", helper_session).status, 401);
  EXPECT_EQ(keeper_.WithAction("user.update").size(), 1u);
  EXPECT_EQ(keeper_.WithAction("user.disable").size(), 1u);

  // MFA reset by another admin only; it ends the target's sessions.
  EXPECT_EQ(
      SessionSend("POST", "/api/v1/users/" + admin.id + "/mfa-reset", s, std::string()).status,
      403);
  clock_.AdvanceSeconds(totp::kStepSeconds);
  Session peer_session = Login(peer);
  Reply reset = SessionSend("POST", "/api/v1/users/" + peer.id + "/mfa-reset", s, std::string());
  ASSERT_EQ(reset.status, 200) << reset.raw;
  EXPECT_FALSE(store_->GetAdminUser(store::Scope::All(), peer.id)->totp_enabled());
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", peer_session).status, 401);
  EXPECT_EQ(keeper_.WithAction("user.mfa_reset").size(), 1u);
  EXPECT_TRUE(
      json::parse(RawLogin(peer.username, peer.password).body)["mfa_setup_required"].get<bool>());

  // Revoking every session of a user.
  Session p1 = Login(peer);
  Reply revoked = SessionSend("DELETE", "/api/v1/users/" + peer.id + "/sessions", s);
  ASSERT_EQ(revoked.status, 200) << revoked.raw;
  EXPECT_EQ(revoked.body["sessions_ended"], 2) << "the two logins since the reset";
  EXPECT_EQ(SessionSend("GET", "/api/v1/auth/session", p1).status, 401);
  EXPECT_EQ(SessionSend("DELETE", "/api/v1/users/" + foreign.id + "/sessions", s).status, 404);
  EXPECT_FALSE(keeper_.WithAction("session.revoke").empty());
}

TEST_F(IdentityTest, SuperadminsCreateUsersAnywhere) {
  Reply root = Send("POST", "/api/v1/users", superadmin_,
                    json{{"username", "root2"}, {"role", "superadmin"}});
  ASSERT_EQ(root.status, 201) << root.raw;
  EXPECT_TRUE(root.body["institution_id"].is_null());
  Reply b = Send("POST", "/api/v1/users", superadmin_,
                 json{{"username", "b-admin"}, {"role", "admin"}, {"institution_id", other_inst_}});
  ASSERT_EQ(b.status, 201) << b.raw;
  EXPECT_EQ(b.body["institution_id"], other_inst_);
  EXPECT_EQ(Send("POST", "/api/v1/users", superadmin_,
                 json{{"username", "root3"}, {"role", "superadmin"}, {"institution_id", inst_}})
                .status,
            400);
  EXPECT_EQ(
      Send("POST", "/api/v1/users", superadmin_, json{{"username", "x-admin"}, {"role", "admin"}})
          .status,
      400)
      << "an institution role needs an institution";
  // An admin token of A sees neither the superadmin nor B's admin.
  std::string admin_a = Issue(core::Role::kAdmin, inst_);
  EXPECT_EQ(Send("GET", "/api/v1/users/" + root.body["id"].get<std::string>(), admin_a).status,
            404);
  EXPECT_EQ(Send("GET", "/api/v1/users", admin_a).body["items"].size(), 0u);
}

TEST_F(IdentityTest, TokenAndOtherAdminChangesAreAudited) {
  std::string admin = Issue(core::Role::kAdmin, inst_);
  Reply tok = Send("POST", "/api/v1/tokens", admin, json{{"role", "auditor"}});
  ASSERT_EQ(tok.status, 201);
  std::string token_id = tok.body["id"];
  ASSERT_EQ(Send("DELETE", "/api/v1/tokens/" + token_id, admin).status, 200);
  auto created = keeper_.WithAction("api_token.create");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].target, token_id);
  EXPECT_EQ(created[0].details_json.find(tok.body["token"].get<std::string>()), std::string::npos)
      << "never the secret";
  EXPECT_EQ(keeper_.WithAction("api_token.revoke").size(), 1u);

  std::string group = Send("POST", "/api/v1/groups", admin, json{{"name", "G"}}).body["id"];
  std::string policy = Send("POST", "/api/v1/policies", admin, json{{"name", "P"}}).body["id"];
  Send("PUT", "/api/v1/policies/" + policy, admin, json{{"name", "P2"}});
  Send("POST", "/api/v1/policies/" + policy + "/assignments", admin,
       json{{"target", "group"}, {"group_id", group}});
  Send("POST", "/api/v1/enrollment-tokens", admin, json::object());
  Reply app = Send("POST", "/api/v1/apps?name=A&bundle_id=a.a&version=1&platform=android", admin,
                   std::string("package"));
  Send("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/quarantine", admin);
  Send("DELETE", "/api/v1/groups/" + group, admin);
  Send("DELETE", "/api/v1/policies/" + policy, admin);
  for (const char* action : {"institution.create", "group.create", "policy.create", "policy.update",
                             "policy.assign", "enrollment_token.create", "app.upload",
                             "response.quarantine_app", "group.delete", "policy.delete"}) {
    EXPECT_FALSE(keeper_.WithAction(action).empty()) << action;
  }
}

TEST_F(IdentityTest, AuditFailuresNeverReachTheCaller) {
  // Without a keeper every audit append fails; the request still succeeds and is counted.
  AppOptions options;
  options.apps_dir = apps_dir_.string();
  app_ = std::make_unique<App>(options, store_.get(), &clock_);
  TestUser user = MakeUser(core::Role::kHelpdesk, inst_, false);
  EXPECT_FALSE(Login(user).secret.empty());
  Reply metrics = Send("GET", "/metrics", superadmin_);
  EXPECT_NE(metrics.raw.find("rampart_audit_failures_total{action=\"auth.login\"}"),
            std::string::npos);
}

}  // namespace
}  // namespace rampart::api::testing
