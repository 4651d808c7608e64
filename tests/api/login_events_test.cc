// Console sign-ins are events for the detection engine: auth.login carries the user id and the
// address (what rampart-admin-login-new-address reads), auth.login_failed the reason; neither
// carries the login name or the password.
#include <mutex>

#include "common/event_sink.h"
#include "identity_fixture.h"
#include "tests/support/capturing_sink.h"

namespace rampart::api::testing {
namespace {

using rampart::testing::CapturingSink;

class LoginEventsTest : public IdentityFixture {
 protected:
  void SetUp() override {
    IdentityFixture::SetUp();
    AppOptions options;
    options.apps_dir = apps_dir_.string();
    options.server_identity_key = crypto::GenerateEd25519().public_key;
    options.tls_ca_fingerprint = "00";
    options.keeper = &keeper_;
    options.events = &sink_;
    app_ = std::make_unique<App>(options, store_.get(), &clock_);
  }
  CapturingSink sink_;
};

TEST_F(LoginEventsTest, SuccessAndFailureAreEventsWithoutNamesOrSecrets) {
  std::string inst = CreateInstitution("A");
  TestUser admin = MakeUser(core::Role::kAdmin, inst, true);
  EXPECT_EQ(RawLogin(admin.username, "wrong password").status, 401);
  Session s = Login(admin);
  ASSERT_FALSE(s.secret.empty());

  auto ok = sink_.WithAction("auth.login");
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].Get("user.name"), admin.id);
  EXPECT_EQ(ok[0].Get("source.ip"), "127.0.0.1");
  EXPECT_EQ(ok[0].Get("user.roles"), "admin");
  EXPECT_EQ(ok[0].institution_id, inst);
  EXPECT_NE(ok[0].timestamp_millis, 0);

  auto failed = sink_.WithAction("auth.login_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].Get("user.name"), admin.id);
  EXPECT_EQ(failed[0].Get("event.reason"), "bad_password");
  for (const auto& e : {ok[0], failed[0]}) {
    for (const auto& [k, v] : e.fields) {
      EXPECT_EQ(v.find(admin.username), std::string::npos) << k;
      EXPECT_EQ(v.find(admin.password), std::string::npos) << k;
    }
  }
  EXPECT_EQ(RawLogin("nobody-" + crypto::RandomHex(3), "x").status, 401);
  auto unknown = sink_.WithAction("auth.login_failed");
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[1].Get("user.name"), "") << "an unknown name is never recorded";
  EXPECT_EQ(unknown[1].Get("event.reason"), "unknown_user");
}

// Each event names whose doing it is (SecurityEvent::actor_institution_id, which keeps the
// correlation windows apart): a sign-in attempt is nobody's yet, whatever account it is for; a
// request is its signed-in principal's institution's; a server-wide principal's is no one
// institution's.
TEST_F(LoginEventsTest, EventsNameTheInstitutionOfWhoeverCausedThem) {
  std::string inst = CreateInstitution("A");
  TestUser admin = MakeUser(core::Role::kAdmin, inst, true);
  TestUser root = MakeUser(core::Role::kSuperAdmin, "", true);
  EXPECT_EQ(RawLogin(admin.username, "wrong password").status, 401);
  Session as_admin = Login(admin);
  Session as_root = Login(root);
  EXPECT_EQ(SessionSend("GET", "/api/v1/devices", as_admin).status, 200);
  EXPECT_EQ(SessionSend("GET", "/api/v1/institutions", as_root).status, 200);

  auto failed = sink_.WithAction("auth.login_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].institution_id, inst) << "the account's institution sees it";
  EXPECT_EQ(failed[0].actor_institution_id, "") << "but the one guessing is nobody yet";
  auto requests = sink_.WithAction("http.request");
  ASSERT_GE(requests.size(), 2u);
  const auto& by_admin = requests[requests.size() - 2];
  const auto& by_root = requests.back();
  EXPECT_EQ(by_admin.Get("url.path"), "/api/v1/devices");
  EXPECT_EQ(by_admin.Get("user.name"), admin.id);
  EXPECT_EQ(by_admin.actor_institution_id, inst);
  EXPECT_EQ(by_root.Get("user.name"), root.id);
  EXPECT_EQ(by_root.actor_institution_id, "");
}

// A token sent where none is checked is still a use of it: the canary-token alert reads
// user.name, so the request's event must name the token (by id, never by secret).
TEST_F(LoginEventsTest, ATokenSentWhereNoneIsCheckedIsNamedOnTheEvent) {
  std::string inst = CreateInstitution("A");
  auto issued = IssueApiToken(*store_, clock_, core::Role::kAdmin, inst, "canary", 0);
  ASSERT_TRUE(issued.ok());
  sink_.Take();
  EXPECT_EQ(Send("GET", "/api/v1/nonexistent", issued->secret).status, 404);
  EXPECT_EQ(Send("GET", "/healthz", issued->secret).status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/alerts?x=%zz", issued->secret).status, 400);
  // A device route checks a device's signature, not a bearer token.
  EXPECT_EQ(Send("POST", "/device/v1/checkin", issued->secret, json{{"state", "x"}}).status, 401);
  EXPECT_EQ(Send("GET", "/healthz", "not-a-token").status, 200);
  auto events = sink_.WithAction("http.request");
  ASSERT_EQ(events.size(), 5u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(events[i].Get("user.name"), issued->token.id) << events[i].Get("url.path");
    EXPECT_EQ(events[i].institution_id, inst);
    for (const auto& [k, v] : events[i].fields) {
      EXPECT_EQ(v.find(issued->secret), std::string::npos) << k;
    }
  }
  EXPECT_EQ(events[4].Get("user.name"), "") << "an unknown token names nobody";
}

}  // namespace
}  // namespace rampart::api::testing
