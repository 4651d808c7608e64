// ApiFixture plus console sign-in: a FakeKeeper that records audit records, console users made
// directly in the store, and requests sent with a session cookie and CSRF header.
#pragma once

#include "api_fixture.h"
#include "common/totp.h"
#include "fake_keeper.h"

namespace rampart::api::testing {

struct Session {
  std::string secret;  // the rampart_session cookie value
  std::string csrf;
  std::string set_cookie;  // the whole Set-Cookie header of the login
};

struct TestUser {
  std::string id;
  std::string username;
  std::string password;
  std::string totp_secret;  // raw; empty when TOTP is off
};

class IdentityFixture : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    AppOptions options;
    options.apps_dir = apps_dir_.string();
    options.server_identity_key = crypto::GenerateEd25519().public_key;
    options.tls_ca_fingerprint = "00";
    keeper_.set_inner(&(this->ApiFixture::keeper_));
    options.keeper = &keeper_;
    config_ = options.config;
    app_ = std::make_unique<App>(options, store_.get(), &clock_);
  }

  // A user made in the store; with_totp confirms a random TOTP secret for it.
  TestUser MakeUser(core::Role role, const std::string& institution, bool with_totp) {
    TestUser u;
    u.username = "user-" + crypto::RandomHex(4);
    auto issued = IssueAdminUser(*store_, clock_, u.username, role, institution);
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    if (!issued.ok()) return u;
    u.id = issued->user.id;
    u.password = issued->password;
    if (with_totp) {
      u.totp_secret = crypto::RandomBytes(totp::kSecretBytes);
      EXPECT_TRUE(store_->SetPendingTotp(u.id, u.totp_secret, clock_.NowSeconds()).ok());
      EXPECT_TRUE(store_->ConfirmTotp(u.id, u.totp_secret, -1, clock_.NowSeconds()).ok());
    }
    return u;
  }

  std::string CurrentCode(const TestUser& u) const {
    return totp::Code(u.totp_secret, totp::StepAt(clock_.NowSeconds()));
  }

  http::Response RawLogin(const std::string& username, const std::string& password,
                          const std::string& code = "") {
    json body = {{"username", username}, {"password", password}};
    if (!code.empty()) body["totp"] = code;
    return app_->Handle(MakeRequest("POST", "/api/v1/auth/login", body.dump()));
  }

  // Logs in (with the current TOTP code when the user has one); an empty secret on failure.
  Session Login(const TestUser& u) {
    http::Response r =
        RawLogin(u.username, u.password, u.totp_secret.empty() ? "" : CurrentCode(u));
    Session s;
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return s;
    for (const auto& [name, value] : r.headers) {
      if (name == "Set-Cookie") s.set_cookie = value;
    }
    auto start = s.set_cookie.find("rampart_session=");
    auto end = s.set_cookie.find(';');
    if (start == 0 && end != std::string::npos) s.secret = s.set_cookie.substr(16, end - 16);
    s.csrf = json::parse(r.body).value("csrf_token", "");
    return s;
  }

  Reply SessionSend(const std::string& method, const std::string& target, const Session& s,
                    const std::string& body = "", bool with_csrf = true) {
    http::Request r = MakeRequest(method, target, body);
    r.headers.emplace_back("cookie", "theme=dark; rampart_session=" + s.secret);
    if (with_csrf) r.headers.emplace_back("x-rampart-csrf", s.csrf);
    return ToReply(app_->Handle(r));
  }
  Reply SessionSend(const std::string& method, const std::string& target, const Session& s,
                    const json& body, bool with_csrf = true) {
    return SessionSend(method, target, s, body.dump(), with_csrf);
  }

  FakeKeeper keeper_;
  Config config_;
};

}  // namespace rampart::api::testing
