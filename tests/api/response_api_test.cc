// The response routes through App: front-door blocks, the CrowdSec decisions stream, and
// lockdown (what it refuses, what keeps working, and the two-admin rule for leaving it).
#include "identity_fixture.h"
#include "respond/actions.h"

namespace rampart::api::testing {
namespace {

class ResponseApiTest : public IdentityFixture {
 protected:
  void SetUp() override {
    IdentityFixture::SetUp();
    inst_a_ = CreateInstitution("A");
    inst_b_ = CreateInstitution("B");
    admin_a_ = Issue(core::Role::kAdmin, inst_a_);
    admin_b_ = Issue(core::Role::kAdmin, inst_b_);
    analyst_a_ = Issue(core::Role::kAnalyst, inst_a_);
  }

  std::vector<audit::Record> Audits(const std::string& action, const std::string& outcome) {
    std::vector<audit::Record> out;
    for (const auto& r : keeper_.WithAction(action)) {
      if (r.outcome == outcome) out.push_back(r);
    }
    return out;
  }

  std::string inst_a_, inst_b_, admin_a_, admin_b_, analyst_a_;
};

TEST_F(ResponseApiTest, BlocksAreCreatedListedAndRemovedWithinTheInstitution) {
  Reply made = Send("POST", "/api/v1/blocks", admin_a_,
                    json{{"value", "203.0.113.0/24"}, {"duration", "2h"}, {"reason", "scan"}});
  ASSERT_EQ(made.status, 201) << made.raw;
  EXPECT_EQ(made.body["scope"], "Range");
  EXPECT_EQ(made.body["expires_at"], clock_.NowSeconds() + 7200);
  EXPECT_FALSE(app_->response().denylist().Admit("203.0.113.9"));

  Reply listed = Send("GET", "/api/v1/blocks", analyst_a_);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body["items"].size(), 1u);
  EXPECT_EQ(Send("POST", "/api/v1/blocks", analyst_a_, json{{"value", "192.0.2.1"}}).status, 403);
  const std::string target = "/api/v1/blocks/" + std::to_string(made.body["id"].get<int64_t>());
  EXPECT_EQ(Send("DELETE", target, admin_b_).status, 404) << "seen by B, removed only by A";
  EXPECT_FALSE(app_->response().denylist().Admit("203.0.113.9"));
  EXPECT_EQ(Send("DELETE", target, admin_a_).status, 200);
  EXPECT_TRUE(app_->response().denylist().Admit("203.0.113.9"));
  EXPECT_EQ(Send("DELETE", target, admin_a_).status, 409);
  EXPECT_EQ(Audits("response.block_address", "success").size(), 1u);
  EXPECT_EQ(Audits("response.unblock_address", "success").size(), 1u);
}

// Regression: an institution's admin could block a /8, cutting off other institutions' users,
// who could not even see the block that refused them.
TEST_F(ResponseApiTest, InstitutionBlocksCannotReachOtherInstitutions) {
  for (const char* wide : {"10.0.0.0/8", "198.51.0.0/16", "203.0.112.0/23", "2001:db8::/48"}) {
    SCOPED_TRACE(wide);
    Reply r = Send("POST", "/api/v1/blocks", admin_a_, json{{"value", wide}});
    EXPECT_EQ(r.status, 403) << r.raw;
    EXPECT_TRUE(r.body.contains("error"));
  }
  EXPECT_TRUE(app_->response().denylist().Admit("10.1.2.3"));
  EXPECT_EQ(Audits("response.block_address", "denied").size(), 4u);
  EXPECT_TRUE(Audits("response.block_address", "success").empty());
  EXPECT_EQ(Send("POST", "/api/v1/blocks", admin_a_, json{{"value", "2001:db8:0:1::/64"}}).status,
            201);

  // A superadmin may block wide; the block is the server's, and every institution sees it.
  Reply server = Send("POST", "/api/v1/blocks", superadmin_,
                      json{{"value", "10.0.0.0/8"}, {"reason", "botnet"}});
  ASSERT_EQ(server.status, 201) << server.raw;
  EXPECT_TRUE(server.body["institution_id"].is_null());
  EXPECT_FALSE(app_->response().denylist().Admit("10.1.2.3"));
  Reply seen = Send("GET", "/api/v1/blocks", admin_b_);
  ASSERT_EQ(seen.status, 200);
  ASSERT_EQ(seen.body["items"].size(), 2u);
  for (const json& item : seen.body["items"]) {
    EXPECT_EQ(item["editable"], false);
    EXPECT_FALSE(item.contains("reason")) << "another owner's reason is not shown";
    EXPECT_FALSE(item.contains("created_by"));
  }
  Reply own = Send("GET", "/api/v1/blocks", admin_a_);
  ASSERT_EQ(own.body["items"].size(), 2u);
  int editable = 0;
  for (const json& item : own.body["items"]) editable += item["editable"].get<bool>() ? 1 : 0;
  EXPECT_EQ(editable, 1);
  const std::string target = "/api/v1/blocks/" + std::to_string(server.body["id"].get<int64_t>());
  EXPECT_EQ(Send("DELETE", target, admin_a_).status, 404);
  EXPECT_FALSE(app_->response().denylist().Admit("10.1.2.3"));
  EXPECT_EQ(Audits("response.unblock_address", "denied").size(), 1u);
  EXPECT_EQ(Send("DELETE", target, superadmin_).status, 200);
}

TEST_F(ResponseApiTest, BadBlocksAreRefusedAndChangeNothing) {
  for (const json& body :
       {json{{"value", "10.0.0.1/33"}}, json{{"value", "not an address"}},
        json{{"value", "0.0.0.0/0"}}, json{{"value", "192.0.2.1"}, {"duration", "forever"}},
        json{{"value", "192.0.2.1"}, {"duration", "400d"}}, json{{"value", "192.0.2.1"}, {"x", 1}},
        json{{"value", "127.0.0.1"}}, json::object()}) {
    SCOPED_TRACE(body.dump());
    Reply r = Send("POST", "/api/v1/blocks", admin_a_, body);
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_TRUE(r.body.contains("error"));
  }
  EXPECT_EQ(Send("DELETE", "/api/v1/blocks/abc", admin_a_).status, 404);
  EXPECT_TRUE(Send("GET", "/api/v1/blocks", superadmin_).body["items"].empty());
  EXPECT_TRUE(keeper_.WithAction("response.block_address").empty());
}

TEST_F(ResponseApiTest, DecisionStreamSpeaksCrowdSec) {
  store::BouncerKey key;
  key.id = core::NewId("bnc");
  key.name = "nginx";
  key.key_hash = crypto::Sha256Hex("rmb_secret");
  ASSERT_TRUE(store_->CreateBouncerKey(key).ok());
  auto pull = [&](const std::string& startup, const std::string& api_key) {
    http::Request r = MakeRequest("GET", "/v1/decisions/stream?startup=" + startup, "");
    if (!api_key.empty()) r.headers.emplace_back("x-api-key", api_key);
    return ToReply(app_->Handle(r));
  };
  EXPECT_EQ(pull("true", "").status, 403);
  EXPECT_EQ(pull("true", "rmb_wrong").status, 403);
  EXPECT_EQ(pull("maybe", "rmb_secret").status, 400);

  Reply made = Send("POST", "/api/v1/blocks", admin_a_, json{{"value", "198.51.100.7"}});
  ASSERT_EQ(made.status, 201);
  Reply first = pull("true", "rmb_secret");
  ASSERT_EQ(first.status, 200) << first.raw;
  ASSERT_EQ(first.body["new"].size(), 1u);
  const json& d = first.body["new"][0];
  EXPECT_EQ(d["value"], "198.51.100.7");
  EXPECT_EQ(d["scope"], "Ip");
  EXPECT_EQ(d["type"], "ban");
  EXPECT_EQ(d["origin"], "rampart");
  EXPECT_EQ(d["duration"], "24h0m0s");
  EXPECT_TRUE(first.body["deleted"].empty());

  Reply quiet = pull("false", "rmb_secret");
  EXPECT_TRUE(quiet.body["new"].empty());
  EXPECT_TRUE(quiet.body["deleted"].empty());

  ASSERT_EQ(
      Send("DELETE", "/api/v1/blocks/" + std::to_string(made.body["id"].get<int64_t>()), admin_a_)
          .status,
      200);
  Reply removed = pull("false", "rmb_secret");
  EXPECT_TRUE(removed.body["new"].empty());
  ASSERT_EQ(removed.body["deleted"].size(), 1u);
  EXPECT_EQ(removed.body["deleted"][0]["value"], "198.51.100.7");
}

TEST_F(ResponseApiTest, LockdownMakesTheAdminApiReadOnlyAndDevicesKeepCheckingIn) {
  std::string enroll = CreateEnrollmentToken(admin_a_);
  SimDevice device = Enroll(CreateEnrollmentToken(admin_a_));
  Reply staff = Send("POST", "/api/v1/staff", admin_a_, json{{"name", "Alice A"}});
  ASSERT_EQ(staff.status, 201);
  const std::string staff_id = staff.body["id"];

  Reply entered = Send("POST", "/api/v1/institutions/" + inst_a_ + "/lockdown", admin_a_,
                       json{{"reason", "canary read"}});
  ASSERT_EQ(entered.status, 200) << entered.raw;
  EXPECT_EQ(entered.body["locked"], true);
  EXPECT_EQ(Audits("response.lockdown", "success").size(), 1u);

  Reply refused = Send("POST", "/api/v1/groups", admin_a_, json{{"name", "G"}});
  EXPECT_EQ(refused.status, 423);
  EXPECT_EQ(refused.ErrorCode(), "locked");
  EXPECT_EQ(
      Send("POST", "/api/v1/devices/" + device.id + "/commands", admin_a_, json{{"type", "lock"}})
          .status,
      423);
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + staff_id + "?reveal=true", admin_a_).status, 423);
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + staff_id, admin_a_).status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/devices", admin_a_).status, 200);
  {
    crypto::Ed25519KeyPair key = crypto::GenerateEd25519();
    std::string pub = crypto::Base64Encode(key.public_key);
    std::string proof = crypto::Base64Encode(
        *crypto::SignEd25519(key.secret_key, core::EnrollmentProofString(enroll, pub)));
    Reply closed = Send("POST", "/device/v1/enroll", "",
                        json{{"enrollment_token", enroll},
                             {"public_key", pub},
                             {"proof", proof},
                             {"platform", "android"},
                             {"model", "Test Phone"},
                             {"serial", "SN1"},
                             {"os_version", "14"}});
    EXPECT_EQ(closed.status, 423) << closed.raw;
  }
  EXPECT_EQ(Checkin(device, GoodState()).status, 200) << "devices keep checking in";
  // Another institution works on.
  EXPECT_EQ(Send("POST", "/api/v1/groups", admin_b_, json{{"name", "GB"}}).status, 201);
  Reply groups = Send("GET", "/api/v1/groups", admin_a_);
  EXPECT_TRUE(groups.body["items"].empty()) << "the refused write changed nothing";
}

TEST_F(ResponseApiTest, LeavingLockdownNeedsTwoDistinctSignedInAdminsOfTheInstitution) {
  TestUser alice = MakeUser(core::Role::kAdmin, inst_a_, true);
  TestUser bob = MakeUser(core::Role::kAdmin, inst_a_, true);
  TestUser eve = MakeUser(core::Role::kAdmin, inst_b_, true);
  Session alice_s = Login(alice), bob_s = Login(bob), eve_s = Login(eve);
  clock_.AdvanceSeconds(31);           // a TOTP code is good once
  Session alice_again = Login(alice);  // a second session of the same person
  const std::string base = "/api/v1/institutions/" + inst_a_ + "/lockdown";
  ASSERT_EQ(Send("POST", base, admin_a_, json::object()).status, 200);

  // A stolen token can neither ask nor approve.
  Reply token_ask = Send("POST", base + "/lift-request", admin_a_, std::string());
  EXPECT_EQ(token_ask.status, 403);
  EXPECT_NE(token_ask.raw.find("API token"), std::string::npos) << token_ask.raw;
  EXPECT_EQ(SessionSend("POST", base + "/lift-approve", bob_s).status, 409) << "nobody asked";
  EXPECT_EQ(SessionSend("POST", base + "/lift-request", eve_s).status, 404);

  Reply asked = SessionSend("POST", base + "/lift-request", alice_s);
  ASSERT_EQ(asked.status, 202) << asked.raw;
  EXPECT_EQ(asked.body["lift_requested_by"], alice.id);
  // The same admin twice, in another session too; another institution's admin; a token.
  EXPECT_EQ(SessionSend("POST", base + "/lift-approve", alice_s).status, 403);
  EXPECT_EQ(SessionSend("POST", base + "/lift-approve", alice_again).status, 403);
  EXPECT_EQ(SessionSend("POST", base + "/lift-approve", eve_s).status, 404);
  EXPECT_EQ(Send("POST", base + "/lift-approve", Issue(core::Role::kAdmin, inst_a_), std::string())
                .status,
            403);
  EXPECT_EQ(Send("GET", base, admin_a_).body["locked"], true);
  EXPECT_EQ(Send("POST", "/api/v1/groups", admin_a_, json{{"name", "G"}}).status, 423);

  Reply lifted = SessionSend("POST", base + "/lift-approve", bob_s);
  ASSERT_EQ(lifted.status, 200) << lifted.raw;
  EXPECT_EQ(lifted.body["locked"], false);
  EXPECT_EQ(Send("POST", "/api/v1/groups", admin_a_, json{{"name", "G"}}).status, 201);

  // Every refusal is on the record, with who tried.
  auto refusals = Audits("response.lockdown_lift", "failure");
  EXPECT_EQ(refusals.size(), 7u);
  bool eve_recorded = false;
  for (const auto& r : refusals) eve_recorded |= r.actor == eve.id;
  EXPECT_TRUE(eve_recorded);
  EXPECT_EQ(Audits("response.lockdown_lift", "pending_approval").size(), 1u);
  auto success = Audits("response.lockdown_lift", "success");
  ASSERT_EQ(success.size(), 1u);
  EXPECT_EQ(success[0].actor, bob.id);
}

// Regression: lift requests never expired; an old one could be approved at any later time.
TEST_F(ResponseApiTest, ExpiredLiftRequestIsShownAndRefused) {
  TestUser alice = MakeUser(core::Role::kAdmin, inst_a_, true);
  TestUser bob = MakeUser(core::Role::kAdmin, inst_a_, true);
  Session alice_s = Login(alice);
  const std::string base = "/api/v1/institutions/" + inst_a_ + "/lockdown";
  ASSERT_EQ(Send("POST", base, admin_a_, json::object()).status, 200);
  Reply asked = SessionSend("POST", base + "/lift-request", alice_s);
  ASSERT_EQ(asked.status, 202) << asked.raw;
  EXPECT_EQ(asked.body["lift_request_expires_at"], clock_.NowSeconds() + 3600);
  EXPECT_EQ(asked.body["lift_request_expired"], false);
  clock_.AdvanceSeconds(3601);
  Session bob_s = Login(bob);  // signed in after the wait, so the session is fresh
  Reply shown = Send("GET", base, admin_a_);
  EXPECT_EQ(shown.body["lift_request_expired"], true);
  Reply late = SessionSend("POST", base + "/lift-approve", bob_s);
  EXPECT_EQ(late.status, 409) << late.raw;
  EXPECT_NE(late.raw.find("expired"), std::string::npos) << late.raw;
  EXPECT_EQ(Send("GET", base, admin_a_).body["locked"], true);
  EXPECT_EQ(Audits("response.lockdown_lift", "failure").size(), 1u);
}

// Regression: a superadmin (server-wide principal) could still write into a locked institution.
TEST_F(ResponseApiTest, InstitutionLockdownHoldsASuperadminToo) {
  SimDevice device = Enroll(CreateEnrollmentToken(admin_a_));
  Reply staff = Send("POST", "/api/v1/staff", admin_a_, json{{"name", "Alice A"}});
  ASSERT_EQ(staff.status, 201);
  const std::string staff_id = staff.body["id"];
  const std::string base = "/api/v1/institutions/" + inst_a_ + "/lockdown";
  ASSERT_EQ(Send("POST", base, admin_a_, json::object()).status, 200);

  Reply create =
      Send("POST", "/api/v1/groups", superadmin_, json{{"name", "G"}, {"institution_id", inst_a_}});
  EXPECT_EQ(create.status, 423) << create.raw;
  EXPECT_EQ(create.ErrorCode(), "locked");
  EXPECT_EQ(Send("POST", "/api/v1/devices/" + device.id + "/commands", superadmin_,
                 json{{"type", "lock"}})
                .status,
            423);
  EXPECT_EQ(
      Send("PATCH", "/api/v1/staff/" + staff_id, superadmin_, json{{"name", "Mallory"}}).status,
      423);
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + staff_id + "?reveal=true", superadmin_).status, 423);
  EXPECT_EQ(Send("GET", "/api/v1/staff?reveal=true", superadmin_).status, 423)
      << "a reveal across every institution includes the locked one";
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + staff_id, superadmin_).status, 200);
  EXPECT_EQ(
      Send("GET", "/api/v1/groups?institution_id=" + inst_a_, superadmin_).body["items"].size(), 0u)
      << "the refused write changed nothing";

  // Other institutions, server-level writes and the lockdown routes stay open.
  EXPECT_EQ(
      Send("POST", "/api/v1/groups", superadmin_, json{{"name", "GB"}, {"institution_id", inst_b_}})
          .status,
      201);
  EXPECT_EQ(Send("POST", "/api/v1/institutions", superadmin_, json{{"name", "C"}}).status, 201);
  EXPECT_EQ(Send("POST", base, superadmin_, json{{"reason", "still"}}).status, 200);
  EXPECT_EQ(Send("POST", base + "/lift-request", superadmin_, std::string()).status, 403)
      << "refused for being a token, not for the lockdown";
}

TEST_F(ResponseApiTest, ServerLockdownIsForSuperadminsAndCoversEveryInstitution) {
  EXPECT_EQ(Send("POST", "/api/v1/lockdown", admin_a_, json::object()).status, 403);
  ASSERT_EQ(Send("POST", "/api/v1/lockdown", superadmin_, json{{"reason", "breach"}}).status, 200);
  EXPECT_EQ(Send("POST", "/api/v1/groups", admin_b_, json{{"name", "GB"}}).status, 423);
  EXPECT_EQ(Send("POST", "/api/v1/groups", admin_a_, json{{"name", "GA"}}).status, 423);
  EXPECT_EQ(Send("POST", "/api/v1/institutions", superadmin_, json{{"name", "C"}}).status, 423);
  Reply state = Send("GET", "/api/v1/lockdown", superadmin_);
  EXPECT_EQ(state.body["locked"], true);
  EXPECT_EQ(state.body["scope"], "*");
}

}  // namespace
}  // namespace rampart::api::testing
