// Devices obey only signed commands: every path that creates a command has the keeper sign it,
// without a keeper nothing is created, destructive and mass actions wait for a second admin,
// and a device's refusal is recorded as a security event. Deliveries are checked with the
// agent's own verifier, so server and agent agree on the wire format.
#include "core/command_signing.h"
#include "agent/command_verifier.h"
#include "agent/protocol_client.h"
#include "api_fixture.h"

namespace rampart::api::testing {
namespace {

class CommandSigningTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    inst_ = CreateInstitution("Institution A");
    admin_ = Issue(core::Role::kAdmin, inst_);
    second_admin_ = Issue(core::Role::kAdmin, inst_);
    helpdesk_ = Issue(core::Role::kHelpdesk, inst_);
    enroll_ = CreateEnrollmentToken(admin_, 100);
  }

  // Enrolls and returns the device with the trust it pinned from the enrollment answer.
  struct Phone {
    SimDevice dev;
    agent::CommandTrust trust;
  };
  Phone EnrollPhone(const std::string& platform = "android") {
    Phone p;
    p.dev.key = crypto::GenerateEd25519();
    std::string pub = crypto::Base64Encode(p.dev.key.public_key);
    std::string proof = crypto::Base64Encode(
        *crypto::SignEd25519(p.dev.key.secret_key, core::EnrollmentProofString(enroll_, pub)));
    Reply r = Send("POST", "/device/v1/enroll", "",
                   json{{"enrollment_token", enroll_},
                        {"public_key", pub},
                        {"proof", proof},
                        {"platform", platform},
                        {"model", "Test Phone"},
                        {"serial", "SN" + crypto::RandomHex(4)},
                        {"os_version", "14"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    auto parsed = agent::ParseEnrollResponse(r.raw);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    if (parsed.ok()) {
      p.dev.id = parsed->device_id;
      p.trust.pin = parsed->command_key;
    }
    return p;
  }

  // Checks in and verifies every delivered command as the agent would; returns them.
  std::vector<agent::WireCommand> CheckinVerified(Phone& p, const std::string& key_id = "") {
    json body = {{"state", GoodState()}};
    if (!key_id.empty()) body["command_key_id"] = key_id;
    Reply r = DeviceSend(p.dev, "POST", "/device/v1/checkin", body.dump());
    EXPECT_EQ(r.status, 200) << r.raw;
    auto parsed = agent::ParseCheckinResponse(r.raw);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    if (!parsed.ok()) return {};
    agent::FollowRotations(p.trust, inst_, parsed->key_rotations);
    for (const auto& cmd : parsed->commands) {
      auto why = agent::CheckCommand(p.trust, p.dev.id, cmd, clock_.NowSeconds());
      EXPECT_FALSE(why.has_value()) << cmd.type << " refused: " << agent::ToString(*why);
      if (!why) agent::MarkExecuted(p.trust, cmd);
    }
    return parsed->commands;
  }

  json Commands(const std::string& device_id) {
    Reply r = Send("GET", "/api/v1/devices/" + device_id + "/commands", admin_);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body["items"];
  }

  std::string CreateGroupWith(const std::vector<Phone>& phones) {
    Reply g = Send("POST", "/api/v1/groups", admin_, json{{"name", "G" + crypto::RandomHex(3)}});
    EXPECT_EQ(g.status, 201);
    std::string gid = g.body.value("id", "");
    for (const auto& p : phones) {
      EXPECT_EQ(Send("PUT", "/api/v1/groups/" + gid + "/devices/" + p.dev.id, admin_).status, 200);
    }
    return gid;
  }

  bool Audited(const std::string& action, const std::string& outcome,
               const std::string& severity = "") {
    for (const auto& r : keeper_.audit_records()) {
      if (r.action == action && r.outcome == outcome &&
          (severity.empty() || r.severity == severity))
        return true;
    }
    return false;
  }

  std::string inst_, admin_, second_admin_, helpdesk_, enroll_;
};

TEST_F(CommandSigningTest, AdminCommandIsSignedOverItsSeqAndCanonicalPayload) {
  Phone p = EnrollPhone();
  ASSERT_FALSE(p.trust.pin.key_id.empty());
  Reply sent = Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_,
                    json{{"type", "lock"}, {"message", "Call IT"}});
  ASSERT_EQ(sent.status, 201) << sent.raw;
  EXPECT_EQ(sent.body["state"], "queued");
  EXPECT_EQ(sent.body["signature_key_id"], p.trust.pin.key_id);

  auto requests = keeper_.signed_requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& f = requests[0].fields;
  EXPECT_EQ(f.device_id, p.dev.id);
  EXPECT_EQ(f.command_id, sent.body["id"]);
  EXPECT_EQ(f.seq, sent.body["seq"]);
  EXPECT_EQ(f.type, "lock");
  EXPECT_EQ(f.payload_sha256_hex, crypto::Sha256Hex(R"({"message":"Call IT"})"));
  EXPECT_GT(f.expires_at, clock_.NowSeconds());
  EXPECT_EQ(requests[0].institution_id, inst_);
  EXPECT_EQ(requests[0].batch_size, 1);
  EXPECT_EQ(requests[0].caller.role, "admin");

  auto delivered = CheckinVerified(p, p.trust.pin.key_id);
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].signature_key_id, p.trust.pin.key_id);
  EXPECT_EQ(delivered[0].payload_sha256, f.payload_sha256_hex);
}

TEST_F(CommandSigningTest, EveryPathThatCreatesCommandsSignsThem) {
  // Enrollment: an institution-wide policy reaches the new device.
  Reply pol = Send(
      "POST", "/api/v1/policies", admin_,
      json{{"name", "Base"},
           {"rules",
            {{"passcode_min_length", 8}, {"noncompliance_action", "lock"}, {"grace_seconds", 0}}}});
  ASSERT_EQ(pol.status, 201) << pol.raw;
  std::string pol_id = pol.body["id"];
  // Policy assignment with no device yet, then enrollment.
  ASSERT_EQ(Send("POST", "/api/v1/policies/" + pol_id + "/assignments", admin_,
                 json{{"target", "institution"}})
                .status,
            201);
  Phone p = EnrollPhone();
  // Group membership: the group's policy and app.
  Reply g = Send("POST", "/api/v1/groups", admin_, json{{"name", "Field"}});
  std::string gid = g.body["id"];
  Reply gpol =
      Send("POST", "/api/v1/policies", admin_, json{{"name", "Field"}, {"rules", json::object()}});
  ASSERT_EQ(Send("POST", "/api/v1/policies/" + gpol.body["id"].get<std::string>() + "/assignments",
                 admin_, json{{"target", "group"}, {"group_id", gid}})
                .status,
            201);
  std::string package = "PK\x03\x04 signed app " + crypto::RandomHex(8);
  Reply app = Send("POST", "/api/v1/apps?name=F&bundle_id=org.example.f&version=1&platform=android",
                   admin_, package);
  ASSERT_EQ(app.status, 201) << app.raw;
  ASSERT_EQ(Send("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/assignments",
                 admin_, json{{"group_id", gid}})
                .status,
            201);
  ASSERT_EQ(Send("PUT", "/api/v1/groups/" + gid + "/devices/" + p.dev.id, admin_).status, 200);
  // App assignment to a group the device is in already.
  std::string package2 = "PK\x03\x04 second app " + crypto::RandomHex(8);
  Reply app2 =
      Send("POST", "/api/v1/apps?name=G&bundle_id=org.example.g&version=1&platform=android", admin_,
           package2);
  Reply assigned =
      Send("POST", "/api/v1/apps/" + app2.body["id"].get<std::string>() + "/assignments", admin_,
           json{{"group_id", gid}});
  ASSERT_EQ(assigned.status, 201) << assigned.raw;
  EXPECT_EQ(assigned.body["commands_queued"], 1);
  // Policy edit re-push, bulk group command, admin command.
  ASSERT_EQ(Send("PUT", "/api/v1/policies/" + pol_id, admin_,
                 json{{"rules",
                       {{"passcode_min_length", 10},
                        {"noncompliance_action", "lock"},
                        {"grace_seconds", 0}}}})
                .status,
            200);
  Reply bulk =
      Send("POST", "/api/v1/groups/" + gid + "/commands", admin_, json{{"type", "restart"}});
  ASSERT_EQ(bulk.status, 201) << bulk.raw;
  EXPECT_EQ(bulk.body["state"], "queued");
  ASSERT_EQ(Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_,
                 json{{"type", "lost_mode"}, {"message", "Found?"}, {"phone", "+32 2 000"}})
                .status,
            201);
  // The first check-in is non-compliant (passcode 6 < 10, grace 0): the compliance lock.
  auto first = CheckinVerified(p, p.trust.pin.key_id);
  auto second = CheckinVerified(p, p.trust.pin.key_id);
  std::set<std::string> types;
  for (const auto& c : first) types.insert(c.type);
  for (const auto& c : second) types.insert(c.type);
  EXPECT_EQ(types,
            (std::set<std::string>{"apply_policy", "install_app", "restart", "lost_mode", "lock"}));
  json all = Commands(p.dev.id);
  EXPECT_EQ(all.size(), first.size() + second.size());
  auto requests = keeper_.signed_requests();
  EXPECT_EQ(requests.size(), all.size());
  for (const auto& c : all) {
    EXPECT_FALSE(c["signature_key_id"].is_null()) << c.dump();
  }
}

TEST_F(CommandSigningTest, WithoutTheKeeperNothingIsCreated) {
  Phone p = EnrollPhone();
  std::string gid = CreateGroupWith({p});
  keeper_.SetAvailable(false);
  Reply r =
      Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_, json{{"type", "lock"}});
  EXPECT_EQ(r.status, 503) << r.raw;
  EXPECT_EQ(r.ErrorCode(), "unavailable");
  Reply bulk =
      Send("POST", "/api/v1/groups/" + gid + "/commands", admin_, json{{"type", "restart"}});
  EXPECT_EQ(bulk.status, 503);
  EXPECT_TRUE(Commands(p.dev.id).empty());
  // A device cannot enroll without learning the command key: 503, and no device row.
  Reply before = Send("GET", "/api/v1/devices", admin_);
  SimDevice d;
  d.key = crypto::GenerateEd25519();
  std::string pub = crypto::Base64Encode(d.key.public_key);
  Reply enroll =
      Send("POST", "/device/v1/enroll", "",
           json{{"enrollment_token", enroll_},
                {"public_key", pub},
                {"proof", crypto::Base64Encode(*crypto::SignEd25519(
                              d.key.secret_key, core::EnrollmentProofString(enroll_, pub)))},
                {"platform", "android"},
                {"model", "M"},
                {"serial", "S1"},
                {"os_version", "14"}});
  EXPECT_EQ(enroll.status, 503) << enroll.raw;
  EXPECT_EQ(Send("GET", "/api/v1/devices", admin_).body["items"].size(),
            before.body["items"].size());
  // A check-in still works; commands wait until the keeper is back.
  keeper_.SetAvailable(true);
  ASSERT_EQ(
      Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_, json{{"type", "lock"}})
          .status,
      201);
  keeper_.SetAvailable(false);
  Reply c = DeviceSend(p.dev, "POST", "/device/v1/checkin",
                       json{{"state", GoodState()}, {"command_key_id", p.trust.pin.key_id}}.dump());
  EXPECT_EQ(c.status, 200);
  EXPECT_TRUE(c.body["commands"].empty());
  keeper_.SetAvailable(true);
  EXPECT_EQ(CheckinVerified(p, p.trust.pin.key_id).size(), 1u);
}

TEST_F(CommandSigningTest, AnAppWithoutKeeperAnswers503ForCommandsAndEnrollment) {
  Phone p = EnrollPhone();
  AppOptions no_keeper = options_;
  no_keeper.keeper = nullptr;
  App app(no_keeper, store_.get(), &clock_);
  http::Request req = MakeRequest("POST", "/api/v1/devices/" + p.dev.id + "/commands",
                                  json{{"type", "lock"}}.dump());
  req.headers.emplace_back("authorization", "Bearer " + admin_);
  Reply r = ToReply(app.Handle(req));
  EXPECT_EQ(r.status, 503) << r.raw;
  EXPECT_TRUE(Commands(p.dev.id).empty());
  http::Request bad = MakeRequest("POST", "/device/v1/enroll", "{}");
  EXPECT_EQ(ToReply(app.Handle(bad)).status, 400) << "bad input is still refused first";
  auto key = crypto::GenerateEd25519();
  std::string pub = crypto::Base64Encode(key.public_key);
  http::Request enroll =
      MakeRequest("POST", "/device/v1/enroll",
                  json{{"enrollment_token", enroll_},
                       {"public_key", pub},
                       {"proof", crypto::Base64Encode(*crypto::SignEd25519(
                                     key.secret_key, core::EnrollmentProofString(enroll_, pub)))},
                       {"platform", "android"},
                       {"model", "M"},
                       {"serial", "S2"},
                       {"os_version", "14"}}
                      .dump());
  EXPECT_EQ(ToReply(app.Handle(enroll)).status, 503);
  EXPECT_EQ(Send("GET", "/api/v1/devices", admin_).body["items"].size(), 1u) << "no new device";
}

TEST_F(CommandSigningTest, WipeWaitsForASecondAdminOfTheSameInstitution) {
  Phone p = EnrollPhone();
  Reply wipe = Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_,
                    json{{"type", "wipe"}, {"mode", "full"}});
  ASSERT_EQ(wipe.status, 201) << wipe.raw;
  EXPECT_EQ(wipe.body["state"], "awaiting_approval");
  EXPECT_TRUE(wipe.body["signature_key_id"].is_null());
  EXPECT_TRUE(keeper_.signed_requests().empty());
  std::string id = wipe.body["id"];
  EXPECT_TRUE(CheckinVerified(p, p.trust.pin.key_id).empty()) << "nothing deliverable yet";

  // The creator cannot approve; a helpdesk token may not decide on a wipe; another
  // institution does not even see it; a superadmin has no institution to approve for.
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/approve", admin_).status, 403);
  EXPECT_TRUE(Audited("command.approve", "denied"));
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/approve", helpdesk_).status, 403);
  std::string other = CreateInstitution("Institution B");
  std::string other_admin = Issue(core::Role::kAdmin, other);
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/approve", other_admin).status, 404);
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/reject", other_admin).status, 404);
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/approve", superadmin_).status, 403);
  EXPECT_EQ(Send("POST", "/api/v1/commands/cmd_unknown/approve", second_admin_).status, 404);
  EXPECT_EQ(Commands(p.dev.id)[0]["state"], "awaiting_approval");

  Reply ok = Send("POST", "/api/v1/commands/" + id + "/approve", second_admin_);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  ASSERT_EQ(ok.body["commands"].size(), 1u);
  EXPECT_EQ(ok.body["commands"][0]["state"], "queued");
  EXPECT_FALSE(ok.body["commands"][0]["approved_by"].is_null());
  EXPECT_TRUE(Audited("command.approve", "success"));
  auto requests = keeper_.signed_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].approved_by.empty());
  EXPECT_NE(requests[0].approved_by, requests[0].caller.principal);
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/approve", second_admin_).status, 409);

  auto delivered = CheckinVerified(p, p.trust.pin.key_id);
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].type, "wipe");
}

TEST_F(CommandSigningTest, BatchAboveTheThresholdWaitsAndOneApprovalQueuesItAll) {
  std::vector<Phone> phones;
  for (int i = 0; i < 11; ++i) phones.push_back(EnrollPhone());
  std::string big = CreateGroupWith(phones);
  std::string small = CreateGroupWith({phones[0], phones[1]});

  Reply few = Send("POST", "/api/v1/groups/" + small + "/commands", admin_, json{{"type", "lock"}});
  ASSERT_EQ(few.status, 201) << few.raw;
  EXPECT_EQ(few.body["state"], "queued");
  EXPECT_EQ(few.body["batch_size"], 2);
  EXPECT_EQ(keeper_.signed_requests().size(), 2u);
  EXPECT_EQ(keeper_.signed_requests()[0].batch_size, 2);

  Reply many =
      Send("POST", "/api/v1/groups/" + big + "/commands", admin_, json{{"type", "restart"}});
  ASSERT_EQ(many.status, 201) << many.raw;
  EXPECT_EQ(many.body["state"], "awaiting_approval");
  EXPECT_EQ(many.body["batch_size"], 11);
  ASSERT_TRUE(many.body["batch_id"].is_string());
  ASSERT_EQ(many.body["commands"].size(), 11u);
  EXPECT_EQ(keeper_.signed_requests().size(), 2u) << "nothing of the batch is signed yet";

  std::string one = many.body["commands"][5]["id"];
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + one + "/approve", admin_).status, 403);
  // A helpdesk token may approve a non-destructive batch (devices.command) if it is not the
  // creator.
  Reply ok = Send("POST", "/api/v1/commands/" + one + "/approve", helpdesk_);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["commands"].size(), 11u);
  auto requests = keeper_.signed_requests();
  ASSERT_EQ(requests.size(), 13u);
  for (size_t i = 2; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].batch_size, 11);
    EXPECT_FALSE(requests[i].approved_by.empty());
  }
  for (auto& p : phones) {
    bool got_restart = false;
    for (const auto& c : CheckinVerified(p, p.trust.pin.key_id)) {
      got_restart = got_restart || c.type == "restart";
    }
    EXPECT_TRUE(got_restart) << p.dev.id;
  }
}

TEST_F(CommandSigningTest, RejectingCancelsTheWholeBatch) {
  std::vector<Phone> phones;
  for (int i = 0; i < 2; ++i) phones.push_back(EnrollPhone());
  std::string gid = CreateGroupWith(phones);
  Reply wipe = Send("POST", "/api/v1/groups/" + gid + "/commands", admin_,
                    json{{"type", "wipe"}, {"mode", "corporate"}});
  ASSERT_EQ(wipe.status, 201) << wipe.raw;
  EXPECT_EQ(wipe.body["state"], "awaiting_approval");
  std::string id = wipe.body["commands"][0]["id"];
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/reject", helpdesk_).status, 403)
      << "rejecting a wipe takes devices.wipe as well";
  Reply no = Send("POST", "/api/v1/commands/" + id + "/reject", second_admin_);
  ASSERT_EQ(no.status, 200) << no.raw;
  EXPECT_EQ(no.body["commands"].size(), 2u);
  EXPECT_TRUE(Audited("command.reject", "success"));
  for (auto& p : phones) {
    EXPECT_EQ(Commands(p.dev.id)[0]["state"], "canceled");
    EXPECT_TRUE(CheckinVerified(p).empty());
  }
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + id + "/approve", second_admin_).status, 409);
}

TEST_F(CommandSigningTest, AwaitingApprovalExpires) {
  Phone p = EnrollPhone();
  Reply wipe =
      Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_, json{{"type", "retire"}});
  ASSERT_EQ(wipe.status, 201);
  EXPECT_EQ(wipe.body["state"], "awaiting_approval");
  clock_.AdvanceSeconds(8 * 24 * 3600);
  app_->RunMaintenance();
  EXPECT_EQ(Commands(p.dev.id)[0]["state"], "expired");
  EXPECT_EQ(Send("POST", "/api/v1/commands/" + wipe.body["id"].get<std::string>() + "/approve",
                 second_admin_)
                .status,
            409);
}

TEST_F(CommandSigningTest, DeviceRefusalIsFinalAndACriticalSecurityEvent) {
  Phone p = EnrollPhone();
  Reply sent =
      Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_, json{{"type", "restart"}});
  ASSERT_EQ(sent.status, 201);
  std::string id = sent.body["id"];
  Reply c = Checkin(p.dev, GoodState());
  ASSERT_EQ(c.body["commands"].size(), 1u);
  std::string result = json{{"status", "rejected"}, {"error", "bad_signature"}}.dump();
  Reply r = DeviceSend(p.dev, "POST", "/device/v1/commands/" + id + "/result", result);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["outcome"], "recorded");
  json cmd = Commands(p.dev.id)[0];
  EXPECT_EQ(cmd["state"], "rejected");
  EXPECT_EQ(cmd["error"], "bad_signature");
  EXPECT_TRUE(Audited("command.rejected_by_device", "failure", "critical"));
  EXPECT_EQ(
      DeviceSend(p.dev, "POST", "/device/v1/commands/" + id + "/result", result).body["outcome"],
      "duplicate");
  EXPECT_EQ(DeviceSend(p.dev, "POST", "/device/v1/commands/" + id + "/result",
                       json{{"status", "acknowledged"}}.dump())
                .status,
            409);
  EXPECT_TRUE(Checkin(p.dev, GoodState()).body["commands"].empty());
}

TEST_F(CommandSigningTest, ADeviceOnAnOldKeyGetsTheRotationChain) {
  Phone p = EnrollPhone();
  std::string first_key = p.trust.pin.key_id;
  ASSERT_TRUE(keeper_.RotateCommandKey(keeper::Caller{}, inst_).ok());
  ASSERT_TRUE(keeper_.RotateCommandKey(keeper::Caller{}, inst_).ok());
  ASSERT_EQ(
      Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_, json{{"type", "restart"}})
          .status,
      201);
  Reply c = DeviceSend(p.dev, "POST", "/device/v1/checkin",
                       json{{"state", GoodState()}, {"command_key_id", first_key}}.dump());
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.body["key_rotations"].size(), 2u);
  EXPECT_EQ(c.body["key_rotations"][0]["old_key_id"], first_key);
  // Verified as the agent does: both links followed, the command verifies with the new key.
  auto parsed = agent::ParseCheckinResponse(c.raw);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(agent::FollowRotations(p.trust, inst_, parsed->key_rotations), 2);
  ASSERT_EQ(parsed->commands.size(), 1u);
  EXPECT_FALSE(agent::CheckCommand(p.trust, p.dev.id, parsed->commands[0], clock_.NowSeconds()));
  // A device on the current key gets no rotations.
  Reply again =
      DeviceSend(p.dev, "POST", "/device/v1/checkin",
                 json{{"state", GoodState()}, {"command_key_id", p.trust.pin.key_id}}.dump());
  EXPECT_TRUE(again.body["key_rotations"].empty());
}

TEST_F(CommandSigningTest, BulkRouteRefusesBadInputAndChangesNothing) {
  Phone p = EnrollPhone();
  std::string gid = CreateGroupWith({p});
  EXPECT_EQ(
      Send("POST", "/api/v1/groups/" + gid + "/commands", admin_, json{{"type", "nuke"}}).status,
      400);
  EXPECT_EQ(Send("POST", "/api/v1/groups/" + gid + "/commands", admin_,
                 json{{"type", "lock"}, {"colour", "red"}})
                .status,
            400);
  EXPECT_EQ(
      Send("POST", "/api/v1/groups/" + gid + "/commands", admin_, json{{"type", "install_app"}})
          .status,
      400);
  EXPECT_EQ(
      Send("POST", "/api/v1/groups/" + gid + "/commands", helpdesk_, json{{"type", "wipe"}}).status,
      403);
  EXPECT_EQ(
      Send("POST", "/api/v1/groups/grp_unknown/commands", admin_, json{{"type", "lock"}}).status,
      404);
  Reply empty = Send("POST", "/api/v1/groups", admin_, json{{"name", "Empty"}});
  EXPECT_EQ(Send("POST", "/api/v1/groups/" + empty.body["id"].get<std::string>() + "/commands",
                 admin_, json{{"type", "lock"}})
                .status,
            409);
  EXPECT_TRUE(Commands(p.dev.id).empty());
}

TEST_F(CommandSigningTest, RotatingThroughTheApiResignsPendingCommandsButNoForgedOnes) {
  Phone p = EnrollPhone();
  std::string first_key = p.trust.pin.key_id;
  ASSERT_EQ(
      Send("POST", "/api/v1/devices/" + p.dev.id + "/commands", admin_, json{{"type", "restart"}})
          .status,
      201);
  // A row an intruder in the web tier wrote, claiming the first key with a made-up signature.
  core::Command forged;
  forged.id = core::NewId("cmd");
  forged.device_id = p.dev.id;
  forged.type = core::CommandType::kLock;
  forged.payload_json = "{}";
  forged.state = core::CommandState::kQueued;
  forged.created_by = "tok_intruder";
  forged.created_at = forged.updated_at = clock_.NowSeconds();
  forged.expires_at = clock_.NowSeconds() + 3600;
  ASSERT_TRUE(
      store_
          ->EnqueueCommand(store::Scope::Institution(inst_), forged,
                           [&](const core::Command&) -> Result<store::CommandSignatureParts> {
                             return store::CommandSignatureParts{first_key, std::string(64, 'x')};
                           })
          .ok());

  EXPECT_EQ(Send("POST", "/api/v1/institutions/" + inst_ + "/command-key/rotate", helpdesk_).status,
            403);
  Reply rot = Send("POST", "/api/v1/institutions/" + inst_ + "/command-key/rotate", admin_);
  ASSERT_EQ(rot.status, 200) << rot.raw;
  EXPECT_EQ(rot.body["old_key_id"], first_key);
  EXPECT_EQ(rot.body["resigned"], 1) << "the genuine command only";
  Reply key = Send("GET", "/api/v1/institutions/" + inst_ + "/command-key", admin_);
  ASSERT_EQ(key.status, 200) << key.raw;
  EXPECT_EQ(key.body["key_id"], rot.body["new_key_id"]);
  EXPECT_EQ(key.body["rotations"], 1);

  // The device follows the rotation; the re-signed command verifies, the forged one does not.
  Reply c = DeviceSend(p.dev, "POST", "/device/v1/checkin",
                       json{{"state", GoodState()}, {"command_key_id", first_key}}.dump());
  ASSERT_EQ(c.status, 200) << c.raw;
  auto parsed = agent::ParseCheckinResponse(c.raw);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(agent::FollowRotations(p.trust, inst_, parsed->key_rotations), 1);
  ASSERT_EQ(parsed->commands.size(), 2u);
  int verified = 0;
  int refused = 0;
  for (const auto& cmd : parsed->commands) {
    if (agent::CheckCommand(p.trust, p.dev.id, cmd, clock_.NowSeconds())) {
      ++refused;
    } else {
      ++verified;
    }
  }
  EXPECT_EQ(verified, 1);
  EXPECT_EQ(refused, 1);
}

}  // namespace
}  // namespace rampart::api::testing
