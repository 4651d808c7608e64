// Console sign-in end to end: users made with `rampart admin create-user`, the real
// `rampart serve` on a free loopback port, and an HTTPS client acting as a browser (cookie plus
// CSRF header): login, TOTP setup for an admin, lockout after three bad logins, logout.
#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/totp.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

struct BrowserReply {
  int status = 0;
  json body;
  std::string raw;
  std::string set_cookie;
};

class IdentityE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart)) << "binaries are not built";
    dir_ = fs::temp_directory_path() / ("rampart_identity_e2e_" + crypto::RandomHex(6));
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();
    ProcResult inst =
        e2e::Run({kRampart, "admin", "--data", data_, "institution", "create", "Ops"});
    ASSERT_EQ(inst.exit_code, 0) << inst.err;
    institution_ = Trim(inst.out);
    std::string error;
    ASSERT_TRUE(server_.Start(data_, {}, &error)) << error;
    ca_ = data_ + "/tls/ca.pem";
  }
  void TearDown() override {
    EXPECT_EQ(server_.Stop(), 0);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // `rampart admin create-user`: the password is the only thing on stdout.
  std::string CreateUser(const std::string& username, const std::string& role) {
    ProcResult r = e2e::Run({kRampart, "admin", "create-user", "--data", data_, "--username",
                             username, "--role", role, "--institution", institution_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("usr_"), std::string::npos) << r.err;
    return Trim(r.out);
  }

  BrowserReply Browse(const std::string& method, const std::string& target,
                      const std::string& cookie, const std::string& csrf,
                      const std::string& body = "") {
    BrowserReply reply;
    auto client = http::HttpClient::Connect({.url = server_.url(), .ca_file = ca_});
    if (!client.ok()) {
      reply.raw = client.status().ToString();
      return reply;
    }
    http::HeaderList headers;
    if (!cookie.empty()) headers.emplace_back("cookie", "rampart_session=" + cookie);
    if (!csrf.empty()) headers.emplace_back("x-rampart-csrf", csrf);
    if (!body.empty()) headers.emplace_back("content-type", "application/json");
    auto r = (*client)->Send(method, target, headers, body);
    if (!r.ok()) {
      reply.raw = r.status().ToString();
      return reply;
    }
    reply.status = r->status;
    reply.raw = r->body;
    reply.body = json::parse(r->body, nullptr, false);
    reply.set_cookie = r->Header("set-cookie");
    return reply;
  }

  BrowserReply Login(const std::string& username, const std::string& password,
                     const std::string& code = "") {
    json body = {{"username", username}, {"password", password}};
    if (!code.empty()) body["totp"] = code;
    return Browse("POST", "/api/v1/auth/login", "", "", body.dump());
  }

  static std::string CookieValue(const std::string& set_cookie) {
    const std::string prefix = "rampart_session=";
    if (set_cookie.rfind(prefix, 0) != 0) return "";
    return set_cookie.substr(prefix.size(), set_cookie.find(';') - prefix.size());
  }

  fs::path dir_;
  std::string data_, ca_, institution_;
  ServerProcess server_;
};

TEST_F(IdentityE2E, LoginCookieCsrfLockoutAndLogout) {
  std::string password = CreateUser("desk.one", "helpdesk");
  ASSERT_GE(password.size(), 12u);

  BrowserReply login = Login("desk.one", password);
  ASSERT_EQ(login.status, 200) << login.raw;
  for (const char* attr : {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"}) {
    EXPECT_NE(login.set_cookie.find(attr), std::string::npos) << login.set_cookie;
  }
  std::string cookie = CookieValue(login.set_cookie);
  std::string csrf = login.body["csrf_token"];
  ASSERT_FALSE(cookie.empty());

  EXPECT_EQ(Browse("GET", "/api/v1/devices", cookie, "").status, 200);
  EXPECT_EQ(Browse("GET", "/api/v1/auth/session", cookie, "").body["user"]["username"], "desk.one");
  EXPECT_EQ(Browse("POST", "/api/v1/enrollment-tokens", cookie, "", "{}").status, 403)
      << "a cookie alone does not change anything";
  EXPECT_EQ(Browse("POST", "/api/v1/enrollment-tokens", cookie, csrf, "{}").status, 201);

  // Logout ends the session: the same cookie is refused afterwards.
  EXPECT_EQ(Browse("POST", "/api/v1/auth/logout", cookie, csrf).status, 200);
  EXPECT_EQ(Browse("GET", "/api/v1/devices", cookie, "").status, 401);

  // Three bad logins lock the account; the fourth, correct, attempt is refused alike.
  std::string refusal;
  for (int i = 0; i < 3; ++i) {
    BrowserReply bad = Login("desk.one", "not the password " + std::to_string(i));
    EXPECT_EQ(bad.status, 401);
    EXPECT_TRUE(bad.set_cookie.empty());
    refusal = bad.raw;
  }
  BrowserReply locked = Login("desk.one", password);
  EXPECT_EQ(locked.status, 401);
  EXPECT_EQ(locked.raw, refusal) << "a locked account reads like a wrong password";
  EXPECT_TRUE(locked.set_cookie.empty());

  // Nothing secret reached the server's log.
  std::string log = server_.log();
  EXPECT_NE(log.find("auth.account_locked"), std::string::npos);
  EXPECT_EQ(log.find(password), std::string::npos);
  EXPECT_EQ(log.find(cookie), std::string::npos);
  EXPECT_EQ(log.find("not the password"), std::string::npos);
}

TEST_F(IdentityE2E, AnAdminSetsUpTotpBeforeUsingTheConsole) {
  std::string password = CreateUser("admin.one", "admin");
  BrowserReply login = Login("admin.one", password);
  ASSERT_EQ(login.status, 200) << login.raw;
  EXPECT_TRUE(login.body["mfa_setup_required"].get<bool>());
  std::string cookie = CookieValue(login.set_cookie);
  std::string csrf = login.body["csrf_token"];
  EXPECT_EQ(Browse("GET", "/api/v1/devices", cookie, "").status, 403);

  BrowserReply setup = Browse("POST", "/api/v1/auth/totp", cookie, csrf);
  ASSERT_EQ(setup.status, 200) << setup.raw;
  std::string secret = *totp::Base32Decode(setup.body["secret"].get<std::string>());
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string code = totp::Code(secret, totp::StepAt(now));
  BrowserReply confirm =
      Browse("POST", "/api/v1/auth/totp/confirm", cookie, csrf, json{{"code", code}}.dump());
  ASSERT_EQ(confirm.status, 200) << confirm.raw;
  EXPECT_EQ(Browse("GET", "/api/v1/devices", cookie, "").status, 200);
  // Once TOTP is on, a password alone no longer signs in.
  EXPECT_EQ(Login("admin.one", password).status, 401);
}

}  // namespace
}  // namespace rampart::e2e
