// Four eyes by person, not principal: an admin's own API token is that admin, so it cannot be
// the second admin on the admin's wipe, staff export or lockdown lift; another admin's token can
// (where tokens take part at all). Tokens record their owner, also through a token they mint.
#include "identity_fixture.h"

namespace rampart::api::testing {
namespace {

class FourEyesTest : public IdentityFixture {
 protected:
  void SetUp() override {
    IdentityFixture::SetUp();
    inst_ = CreateInstitution("A");
    alice_ = MakeUser(core::Role::kAdmin, inst_, true);
    bob_ = MakeUser(core::Role::kAdmin, inst_, true);
    alice_s_ = Login(alice_);
    bob_s_ = Login(bob_);
  }

  // An admin token minted through the API by a signed-in user: returns its secret and id.
  std::pair<std::string, std::string> MintToken(const Session& s) {
    Reply r =
        SessionSend("POST", "/api/v1/tokens", s, json{{"name", "automation"}, {"role", "admin"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return {r.body.value("token", ""), r.body.value("id", "")};
  }

  std::vector<audit::Record> Audits(const std::string& action, const std::string& outcome) {
    std::vector<audit::Record> out;
    for (const auto& r : keeper_.WithAction(action)) {
      if (r.outcome == outcome) out.push_back(r);
    }
    return out;
  }

  static bool Names(const audit::Record& r, const std::string& text) {
    return r.details_json.find(text) != std::string::npos;
  }

  std::string inst_;
  TestUser alice_, bob_;
  Session alice_s_, bob_s_;
};

TEST_F(FourEyesTest, TokensRecordTheirOwnerAlsoThroughATokenTheyMint) {
  auto [secret, id] = MintToken(alice_s_);
  Reply listed = Send("GET", "/api/v1/tokens", secret);
  ASSERT_EQ(listed.status, 200) << listed.raw;
  std::string owner_of_minted;
  for (const json& t : listed.body["items"]) {
    if (t["id"] == id) owner_of_minted = t.value("owner_id", "");
  }
  EXPECT_EQ(owner_of_minted, alice_.id);

  // A token minted by alice's token is still alice's.
  Reply child = Send("POST", "/api/v1/tokens", secret, json{{"name", "child"}, {"role", "admin"}});
  ASSERT_EQ(child.status, 201) << child.raw;
  EXPECT_EQ(child.body["owner_id"], alice_.id);
  auto stored = store_->GetApiToken(child.body.value("id", ""));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->owner_id, alice_.id);

  // A token the CLI made has no owner: it is its own person.
  auto cli = IssueApiToken(*store_, clock_, core::Role::kAdmin, inst_, "cli", 0);
  ASSERT_TRUE(cli.ok());
  EXPECT_TRUE(store_->GetApiToken(cli->token.id)->owner_id.empty());
  EXPECT_EQ(store_->GetApiToken("tok_missing").status().code(), Code::kNotFound);
}

TEST_F(FourEyesTest, AnAdminsOwnTokenCannotApproveTheAdminsWipe) {
  SimDevice phone = Enroll(CreateEnrollmentToken(Issue(core::Role::kAdmin, inst_), 5));
  ASSERT_FALSE(phone.id.empty());
  Reply wipe = SessionSend("POST", "/api/v1/devices/" + phone.id + "/commands", alice_s_,
                           json{{"type", "wipe"}, {"mode", "full"}});
  ASSERT_EQ(wipe.status, 201) << wipe.raw;
  ASSERT_EQ(wipe.body["state"], "awaiting_approval");
  const std::string approve = "/api/v1/commands/" + wipe.body.value("id", "") + "/approve";

  auto [alice_token, alice_token_id] = MintToken(alice_s_);
  Reply refused = Send("POST", approve, alice_token);
  EXPECT_EQ(refused.status, 403) << refused.raw;
  EXPECT_NE(refused.raw.find("same person"), std::string::npos) << refused.raw;
  auto denied = Audits("command.approve", "denied");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].actor, alice_token_id);
  EXPECT_TRUE(Names(denied[0], "approver is the same person as the requester"));
  EXPECT_TRUE(Names(denied[0], alice_.id)) << denied[0].details_json;

  auto [bob_token, bob_token_id] = MintToken(bob_s_);
  Reply approved = Send("POST", approve, bob_token);
  ASSERT_EQ(approved.status, 200) << approved.raw;
  EXPECT_EQ(approved.body["commands"][0]["state"], "queued");
  EXPECT_EQ(approved.body["commands"][0]["approved_by"], bob_token_id);
  EXPECT_EQ(Audits("command.approve", "success").size(), 1u);
}

TEST_F(FourEyesTest, ATokenCannotApproveTheWipeOfTheAdminWhoOwnsIt) {
  // The other way round: created with alice's token, approved in alice's session.
  SimDevice phone = Enroll(CreateEnrollmentToken(Issue(core::Role::kAdmin, inst_), 5));
  auto [alice_token, alice_token_id] = MintToken(alice_s_);
  Reply wipe = Send("POST", "/api/v1/devices/" + phone.id + "/commands", alice_token,
                    json{{"type", "wipe"}, {"mode", "full"}});
  ASSERT_EQ(wipe.status, 201) << wipe.raw;
  const std::string approve = "/api/v1/commands/" + wipe.body.value("id", "") + "/approve";
  EXPECT_EQ(SessionSend("POST", approve, alice_s_).status, 403);
  ASSERT_EQ(Audits("command.approve", "denied").size(), 1u);
  Reply approved = SessionSend("POST", approve, bob_s_);
  EXPECT_EQ(approved.status, 200) << approved.raw;
}

TEST_F(FourEyesTest, AnAdminsOwnTokenCannotApproveTheAdminsStaffExport) {
  Reply asked =
      SessionSend("POST", "/api/v1/staff/exports", alice_s_, json{{"reason", "Directory audit"}});
  ASSERT_EQ(asked.status, 201) << asked.raw;
  const std::string id = asked.body.value("id", "");
  auto [alice_token, alice_token_id] = MintToken(alice_s_);
  for (const char* decision : {"approve", "reject"}) {
    Reply refused = Send("POST", "/api/v1/staff/exports/" + id + "/" + decision, alice_token);
    EXPECT_EQ(refused.status, 403) << refused.raw;
    auto denied = Audits(std::string("staff_export.") + decision, "denied");
    ASSERT_EQ(denied.size(), 1u) << decision;
    EXPECT_TRUE(Names(denied[0], "approver is the same person as the requester"));
  }
  EXPECT_EQ(Send("GET", "/api/v1/staff/exports/" + id, alice_token).body["state"], "pending");

  auto [bob_token, bob_token_id] = MintToken(bob_s_);
  Reply approved = Send("POST", "/api/v1/staff/exports/" + id + "/approve", bob_token);
  ASSERT_EQ(approved.status, 200) << approved.raw;
  EXPECT_EQ(approved.body["state"], "approved");
  EXPECT_EQ(approved.body["decided_by"], bob_token_id);
}

TEST_F(FourEyesTest, AnAdminsOwnTokenCannotApproveTheAdminsLockdownLift) {
  const std::string base = "/api/v1/institutions/" + inst_ + "/lockdown";
  ASSERT_EQ(SessionSend("POST", base, alice_s_, json::object()).status, 200);
  // The lockdown refuses minting through the API now: the tokens are made as the route makes
  // them, with their owner.
  auto alice_token =
      IssueApiToken(*store_, clock_, core::Role::kAdmin, inst_, "automation", 0, alice_.id);
  auto bob_token =
      IssueApiToken(*store_, clock_, core::Role::kAdmin, inst_, "automation", 0, bob_.id);
  ASSERT_TRUE(alice_token.ok() && bob_token.ok());
  ASSERT_EQ(SessionSend("POST", base + "/lift-request", alice_s_).status, 202);

  Reply refused = Send("POST", base + "/lift-approve", alice_token->secret, std::string());
  EXPECT_EQ(refused.status, 403) << refused.raw;
  auto failures = Audits("response.lockdown_lift", "failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].actor, alice_token->token.id);
  // Leaving lockdown takes signed-in admins: another admin's token is refused as well.
  EXPECT_EQ(Send("POST", base + "/lift-approve", bob_token->secret, std::string()).status, 403);
  // alice in a second session is alice: refused with the same-person reason.
  clock_.AdvanceSeconds(31);
  Session alice_again = Login(alice_);
  Reply again = SessionSend("POST", base + "/lift-approve", alice_again);
  EXPECT_EQ(again.status, 403);
  EXPECT_NE(again.raw.find("same person"), std::string::npos) << again.raw;
  EXPECT_EQ(Send("GET", base, alice_token->secret).body["locked"], true);

  Reply lifted = SessionSend("POST", base + "/lift-approve", bob_s_);
  ASSERT_EQ(lifted.status, 200) << lifted.raw;
  EXPECT_EQ(lifted.body["locked"], false);
  EXPECT_EQ(Audits("response.lockdown_lift", "failure").size(), 3u);
}

// A stolen session must not swap in the thief's authenticator by minting a token and resetting
// the user's second factor with it.
TEST_F(FourEyesTest, AnAdminsOwnTokenCannotResetTheAdminsSecondFactorOrRole) {
  auto [alice_token, alice_token_id] = MintToken(alice_s_);
  const std::string user = "/api/v1/users/" + alice_.id;
  EXPECT_EQ(Send("POST", user + "/mfa-reset", alice_token).status, 403);
  EXPECT_EQ(Send("PATCH", user, alice_token, json{{"disabled", true}}).status, 403);
  EXPECT_FALSE(store_->GetAdminUser(store::Scope::All(), alice_.id)->totp_secret.empty());
  auto [bob_token, bob_token_id] = MintToken(bob_s_);
  Reply reset = Send("POST", user + "/mfa-reset", bob_token);
  EXPECT_EQ(reset.status, 200) << reset.raw;
  EXPECT_TRUE(store_->GetAdminUser(store::Scope::All(), alice_.id)->totp_secret.empty());
}

}  // namespace
}  // namespace rampart::api::testing
