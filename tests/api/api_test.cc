// Application-layer behaviour through App::Handle: enrollment, signed device requests,
// check-in and compliance, the command queue, apps, tenancy and bad input that changes nothing.
#include "api_fixture.h"

namespace rampart::api::testing {
namespace {

class ApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    inst_ = CreateInstitution("Institution A");
    admin_ = Issue(core::Role::kAdmin, inst_);
    enroll_ = CreateEnrollmentToken(admin_);
  }
  std::string inst_, admin_, enroll_;
};

TEST_F(ApiTest, HealthIsPublicAndEverythingElseNeedsAToken) {
  EXPECT_EQ(Send("GET", "/healthz", "").status, 200);
  Reply r = Send("GET", "/api/v1/devices", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.ErrorCode(), "unauthenticated");
  EXPECT_EQ(Send("GET", "/api/v1/devices", "rmp_notarealtoken").status, 401);
  EXPECT_EQ(Send("GET", "/api/v1/nothing-here", admin_).status, 404);
  EXPECT_EQ(Send("PATCH", "/api/v1/devices", admin_).status, 405);
}

TEST_F(ApiTest, ExpiredAndRevokedTokensAreRefused) {
  auto issued = IssueApiToken(*store_, clock_, core::Role::kAdmin, inst_, "short", 60);
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(Send("GET", "/api/v1/devices", issued->secret).status, 200);
  clock_.AdvanceSeconds(61);
  EXPECT_EQ(Send("GET", "/api/v1/devices", issued->secret).status, 401);

  Reply created = Send("POST", "/api/v1/tokens", admin_, json{{"role", "helpdesk"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string helpdesk = created.body["token"];
  EXPECT_EQ(Send("GET", "/api/v1/devices", helpdesk).status, 200);
  EXPECT_EQ(
      Send("DELETE", "/api/v1/tokens/" + created.body["id"].get<std::string>(), admin_).status,
      200);
  EXPECT_EQ(Send("GET", "/api/v1/devices", helpdesk).status, 401);
}

TEST_F(ApiTest, AdminCannotMintSuperadminOrTokensForOtherInstitutions) {
  std::string other = CreateInstitution("Institution B");
  EXPECT_EQ(Send("POST", "/api/v1/tokens", admin_, json{{"role", "superadmin"}}).status, 403);
  EXPECT_EQ(
      Send("POST", "/api/v1/tokens", admin_, json{{"role", "admin"}, {"institution_id", other}})
          .status,
      404);
  EXPECT_EQ(Send("POST", "/api/v1/tokens", admin_, json{{"role", "wizard"}}).status, 400);
}

TEST_F(ApiTest, EnrollmentRespectsMaxUsesExpiryAndProof) {
  Reply r = Send("POST", "/api/v1/enrollment-tokens", admin_,
                 json{{"max_uses", 2}, {"expires_in_seconds", 3600}});
  ASSERT_EQ(r.status, 201);
  std::string token = r.body["token"];
  Enroll(token);
  Enroll(token);
  // Third use: exhausted.
  SimDevice extra;
  extra.key = crypto::GenerateEd25519();
  std::string pub = crypto::Base64Encode(extra.key.public_key);
  auto body = [&](const std::string& tok, const std::string& proof_for) {
    return json{{"enrollment_token", tok},
                {"public_key", pub},
                {"proof", crypto::Base64Encode(*crypto::SignEd25519(
                              extra.key.secret_key, core::EnrollmentProofString(proof_for, pub)))},
                {"platform", "ios"},
                {"model", "iPhone"},
                {"serial", "X"},
                {"os_version", "17.4"}};
  };
  Reply exhausted = Send("POST", "/device/v1/enroll", "", body(token, token));
  EXPECT_EQ(exhausted.status, 401);
  // A proof made for another token does not verify.
  std::string fresh = CreateEnrollmentToken(admin_);
  EXPECT_EQ(Send("POST", "/device/v1/enroll", "", body(fresh, "something-else")).status, 400);
  // Expired.
  clock_.AdvanceSeconds(8 * 24 * 3600);
  EXPECT_EQ(Send("POST", "/device/v1/enroll", "", body(fresh, fresh)).status, 401);
  Reply devices = Send("GET", "/api/v1/devices", admin_);
  EXPECT_EQ(devices.body["items"].size(), 2u) << "refused enrollments created nothing";
}

TEST_F(ApiTest, DeviceSignaturesTimestampsAndNoncesAreChecked) {
  SimDevice d = Enroll(enroll_);
  std::string body = json{{"state", GoodState()}}.dump();
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body).status, 200);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, "", true).status, 401);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, -301).status, 401);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 301).status, 401);
  std::string nonce = crypto::RandomHex(16);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, nonce).status, 200);
  Reply replay = DeviceSend(d, "POST", "/device/v1/checkin", body, 0, nonce);
  EXPECT_EQ(replay.status, 401) << "a replayed nonce must be refused";
  // The signature covers the body and the target: neither can be swapped after signing.
  std::string other_body = json{{"state", GoodState("9")}}.dump();
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, "", false, "", &other_body).status,
            401);
  EXPECT_EQ(
      DeviceSend(d, "POST", "/device/v1/checkin", body, 0, "", false, "/device/v1/checkin?x=1")
          .status,
      401);
  // A request with a bad signature does not consume its nonce.
  std::string fresh = crypto::RandomHex(16);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, fresh, true).status, 401);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, fresh).status, 200);
  // Another device's key cannot speak for this one.
  SimDevice impostor = Enroll(enroll_);
  impostor.id = d.id;
  EXPECT_EQ(DeviceSend(impostor, "POST", "/device/v1/checkin", body).status, 401);
  // Admin tokens are not device credentials.
  EXPECT_EQ(Send("POST", "/device/v1/checkin", admin_, body).status, 401);
}

TEST_F(ApiTest, CheckinEvaluatesComplianceWithEveryReason) {
  Reply pol = Send("POST", "/api/v1/policies", admin_,
                   json{{"name", "Strict"},
                        {"rules",
                         {{"passcode_min_length", 8},
                          {"require_storage_encryption", true},
                          {"min_os_version", {{"android", "15"}}},
                          {"block_compromised", true}}}});
  ASSERT_EQ(pol.status, 201) << pol.raw;
  Reply assigned =
      Send("POST", "/api/v1/policies/" + pol.body["id"].get<std::string>() + "/assignments", admin_,
           json{{"target", "institution"}});
  ASSERT_EQ(assigned.status, 201) << assigned.raw;
  SimDevice d = Enroll(enroll_);
  json state = GoodState("14");
  state["compromised"] = true;
  Reply r = Checkin(d, state);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["compliance"]["state"], "noncompliant");
  std::set<std::string> codes;
  for (const auto& reason : r.body["compliance"]["reasons"]) codes.insert(reason["code"]);
  EXPECT_EQ(codes,
            (std::set<std::string>{"passcode_too_short", "os_too_old", "device_compromised"}));
  // The policy reached the new device as an apply_policy command.
  ASSERT_EQ(r.body["commands"].size(), 1u);
  EXPECT_EQ(r.body["commands"][0]["type"], "apply_policy");
  Reply listed = Send("GET", "/api/v1/devices?compliance=noncompliant", admin_);
  ASSERT_EQ(listed.body["items"].size(), 1u);
  EXPECT_EQ(listed.body["items"][0]["compliance"]["reasons"].size(), 3u);
  Reply summary = Send("GET", "/api/v1/compliance", admin_);
  EXPECT_EQ(summary.body["noncompliant"], 1);
  EXPECT_EQ(pol.body["rules"]["grace_seconds"], 86400) << "the configured default grace";
}

TEST_F(ApiTest, GracePeriodLockIsQueuedOnce) {
  Reply pol = Send("POST", "/api/v1/policies", admin_,
                   json{{"name", "Lock"},
                        {"rules",
                         {{"passcode_min_length", 6},
                          {"noncompliance_action", "lock"},
                          {"grace_seconds", 3600}}}});
  ASSERT_EQ(pol.status, 201);
  ASSERT_EQ(Send("POST", "/api/v1/policies/" + pol.body["id"].get<std::string>() + "/assignments",
                 admin_, json{{"target", "institution"}})
                .status,
            201);
  SimDevice d = Enroll(enroll_);
  json state = GoodState();
  state["passcode_set"] = false;
  // Checks in and acknowledges what it receives, as an agent does; returns the command types.
  auto cycle = [&]() {
    std::vector<std::string> types;
    Reply reply = Checkin(d, state);
    for (const auto& cmd : reply.body["commands"]) {
      types.push_back(cmd["type"]);
      DeviceSend(d, "POST", "/device/v1/commands/" + cmd["id"].get<std::string>() + "/result",
                 json{{"status", "acknowledged"}}.dump());
    }
    return types;
  };
  EXPECT_EQ(cycle(), std::vector<std::string>{"apply_policy"});
  clock_.AdvanceSeconds(1800);
  EXPECT_TRUE(cycle().empty()) << "still within grace";
  clock_.AdvanceSeconds(1801);
  EXPECT_EQ(cycle(), std::vector<std::string>{"lock"});
  clock_.AdvanceSeconds(3600);
  EXPECT_TRUE(cycle().empty()) << "lock is not queued again";
}

TEST_F(ApiTest, CommandQueueLifecycle) {
  SimDevice d = Enroll(enroll_);
  std::string base = "/api/v1/devices/" + d.id + "/commands";
  Reply lock = Send("POST", base, admin_, json{{"type", "lock"}, {"message", "Lost?"}});
  ASSERT_EQ(lock.status, 201) << lock.raw;
  EXPECT_EQ(lock.body["state"], "queued");
  Reply restart = Send("POST", base, admin_, json{{"type", "restart"}});
  ASSERT_EQ(restart.status, 201);
  // Cancel the restart while queued.
  std::string restart_id = restart.body["id"];
  Reply canceled = Send("DELETE", base + "/" + restart_id, admin_);
  EXPECT_EQ(canceled.status, 200);
  EXPECT_EQ(canceled.body["state"], "canceled");
  // The device gets only the lock.
  Reply checkin = Checkin(d, GoodState());
  ASSERT_EQ(checkin.body["commands"].size(), 1u);
  std::string lock_id = checkin.body["commands"][0]["id"];
  EXPECT_EQ(lock_id, lock.body["id"]);
  EXPECT_EQ(Send("GET", base + "/" + lock_id, admin_).body["state"], "sent");
  EXPECT_EQ(Send("DELETE", base + "/" + lock_id, admin_).status, 409) << "sent: too late";
  std::string result_path = "/device/v1/commands/" + lock_id + "/result";
  Reply ack = DeviceSend(d, "POST", result_path, json{{"status", "acknowledged"}}.dump());
  EXPECT_EQ(ack.status, 200);
  EXPECT_EQ(ack.body["outcome"], "recorded");
  Reply again = DeviceSend(d, "POST", result_path, json{{"status", "acknowledged"}}.dump());
  EXPECT_EQ(again.body["outcome"], "duplicate");
  EXPECT_EQ(DeviceSend(d, "POST", result_path, json{{"status", "error"}}.dump()).status, 409);
  Reply listed = Send("GET", base, admin_);
  ASSERT_EQ(listed.body["items"].size(), 2u);
  EXPECT_EQ(listed.body["items"][0]["state"], "acknowledged");
  EXPECT_EQ(listed.body["items"][1]["state"], "canceled");
}

TEST_F(ApiTest, NotNowIsRetriedLaterAndNeverLoops) {
  SimDevice d = Enroll(enroll_);
  Reply cmd =
      Send("POST", "/api/v1/devices/" + d.id + "/commands", admin_, json{{"type", "restart"}});
  std::string id = cmd.body["id"];
  std::string result_path = "/device/v1/commands/" + id + "/result";
  for (int round = 0; round < 3; ++round) {
    Reply c = Checkin(d, GoodState());
    ASSERT_EQ(c.body["commands"].size(), 1u) << "round " << round;
    DeviceSend(d, "POST", result_path, json{{"status", "not_now"}}.dump());
    EXPECT_EQ(Checkin(d, GoodState()).body["commands"].size(), 0u)
        << "not redelivered before the retry time";
    clock_.AdvanceSeconds(61);
  }
  // max_not_now is 3 in the fixture: the third not_now turned it into an error.
  Reply final_state = Send("GET", "/api/v1/devices/" + d.id + "/commands/" + id, admin_);
  EXPECT_EQ(final_state.body["state"], "error");
  EXPECT_EQ(Checkin(d, GoodState()).body["commands"].size(), 0u);
}

TEST_F(ApiTest, UpdatingAPolicyKeepsTheDefaultGrace) {
  Reply pol = Send("POST", "/api/v1/policies", admin_,
                   json{{"name", "P"}, {"rules", {{"noncompliance_action", "lock"}}}});
  ASSERT_EQ(pol.status, 201);
  Reply put = Send("PUT", "/api/v1/policies/" + pol.body["id"].get<std::string>(), admin_,
                   json{{"rules", {{"passcode_min_length", 8}, {"noncompliance_action", "lock"}}}});
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(put.body["rules"]["grace_seconds"], 86400)
      << "an edit that names no grace must not drop it to zero";
}

TEST_F(ApiTest, LostDeliveriesAreRedeliveredUntilReported) {
  SimDevice d = Enroll(enroll_);
  Reply cmd = Send("POST", "/api/v1/devices/" + d.id + "/commands", admin_, json{{"type", "lock"}});
  ASSERT_EQ(cmd.status, 201);
  std::string id = cmd.body["id"];
  // The lock is delivered, but the device "loses" the response and never reports.
  Reply first = Checkin(d, GoodState());
  ASSERT_EQ(first.body["commands"].size(), 1u);
  EXPECT_EQ(first.body["commands"][0]["id"], id);
  EXPECT_EQ(Checkin(d, GoodState()).body["commands"].size(), 0u) << "not before the interval";
  clock_.AdvanceSeconds(1801);
  Reply again = Checkin(d, GoodState());
  ASSERT_EQ(again.body["commands"].size(), 1u) << "the device never reported: deliver again";
  EXPECT_EQ(again.body["commands"][0]["id"], id);
  DeviceSend(d, "POST", "/device/v1/commands/" + id + "/result",
             json{{"status", "acknowledged"}}.dump());
  clock_.AdvanceSeconds(1801);
  EXPECT_EQ(Checkin(d, GoodState()).body["commands"].size(), 0u);
}

TEST_F(ApiTest, MintedTokensDoNotOutliveTheirParent) {
  auto parent = IssueApiToken(*store_, clock_, core::Role::kAdmin, inst_, "short", 3600);
  ASSERT_TRUE(parent.ok());
  Reply child = Send("POST", "/api/v1/tokens", parent->secret,
                     json{{"role", "helpdesk"}, {"expires_in_seconds", 63072000}});
  ASSERT_EQ(child.status, 201) << child.raw;
  clock_.AdvanceSeconds(3601);
  EXPECT_EQ(Send("GET", "/api/v1/devices", child.body["token"].get<std::string>()).status, 401);
}

TEST_F(ApiTest, HelpdeskMayLockButNotWipe) {
  SimDevice d = Enroll(enroll_);
  std::string helpdesk = Issue(core::Role::kHelpdesk, inst_);
  std::string auditor = Issue(core::Role::kAuditor, inst_);
  std::string base = "/api/v1/devices/" + d.id + "/commands";
  EXPECT_EQ(Send("POST", base, helpdesk, json{{"type", "lock"}}).status, 201);
  EXPECT_EQ(Send("POST", base, helpdesk, json{{"type", "wipe"}}).status, 403);
  EXPECT_EQ(Send("POST", base, auditor, json{{"type", "lock"}}).status, 403);
  Reply wipe = Send("POST", base, admin_, json{{"type", "wipe"}, {"mode", "corporate"}});
  ASSERT_EQ(wipe.status, 201);
  EXPECT_EQ(Send("DELETE", base + "/" + wipe.body["id"].get<std::string>(), helpdesk).status, 403)
      << "cancelling a wipe takes the right to wipe";
  EXPECT_EQ(Send("GET", base + "/" + wipe.body["id"].get<std::string>(), admin_).body["state"],
            "awaiting_approval")
      << "a wipe waits for a second admin (command_signing_test covers approval)";
  EXPECT_EQ(Send("GET", base, admin_).body["items"].size(), 2u);
}

TEST_F(ApiTest, RetireRevokesTheDeviceKey) {
  SimDevice d = Enroll(enroll_);
  Reply cmd =
      Send("POST", "/api/v1/devices/" + d.id + "/commands", admin_, json{{"type", "retire"}});
  ASSERT_EQ(cmd.status, 201);
  std::string second = Issue(core::Role::kAdmin, inst_);
  ASSERT_EQ(
      Send("POST", "/api/v1/commands/" + cmd.body["id"].get<std::string>() + "/approve", second)
          .status,
      200);
  Reply c = Checkin(d, GoodState());
  ASSERT_EQ(c.body["commands"].size(), 1u);
  DeviceSend(d, "POST", "/device/v1/commands/" + cmd.body["id"].get<std::string>() + "/result",
             json{{"status", "acknowledged"}}.dump());
  EXPECT_EQ(Checkin(d, GoodState()).status, 401) << "a retired device's key no longer verifies";
  EXPECT_EQ(Send("GET", "/api/v1/devices/" + d.id, admin_).body["status"], "retired");
}

TEST_F(ApiTest, AppUploadAssignmentAndDownloadByHash) {
  SimDevice android = Enroll(enroll_, "android");
  SimDevice ios = Enroll(enroll_, "ios", "17.4");
  Reply group = Send("POST", "/api/v1/groups", admin_, json{{"name", "Field"}});
  std::string gid = group.body["id"];
  ASSERT_EQ(Send("PUT", "/api/v1/groups/" + gid + "/devices/" + android.id, admin_).status, 200);
  ASSERT_EQ(Send("PUT", "/api/v1/groups/" + gid + "/devices/" + ios.id, admin_).status, 200);
  std::string package = "PK\x03\x04 fake android package " + crypto::RandomHex(8);
  Reply app =
      Send("POST",
           "/api/v1/apps?name=Field%20App&bundle_id=org.example.field&version=1.2&platform=android",
           admin_, package);
  ASSERT_EQ(app.status, 201) << app.raw;
  std::string sha = app.body["sha256"];
  EXPECT_EQ(sha, crypto::Sha256Hex(package));
  EXPECT_EQ(Send("POST",
                 "/api/v1/apps?name=Again&bundle_id=org.example.field&version=1.2&platform=android",
                 admin_, package)
                .status,
            409);
  Reply assign = Send("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/assignments",
                      admin_, json{{"group_id", gid}});
  ASSERT_EQ(assign.status, 201) << assign.raw;
  EXPECT_EQ(assign.body["commands_queued"], 1) << "only the android device";
  Reply c = Checkin(android, GoodState());
  ASSERT_EQ(c.body["commands"].size(), 1u);
  EXPECT_EQ(c.body["commands"][0]["type"], "install_app");
  EXPECT_EQ(c.body["commands"][0]["payload"]["sha256"], sha);
  Reply download = DeviceSend(android, "GET", "/device/v1/apps/" + sha, "");
  EXPECT_EQ(download.status, 200);
  EXPECT_EQ(download.raw, package);
  // Anything but a catalogued hash is 404: no path is taken from the request.
  EXPECT_EQ(DeviceSend(android, "GET", "/device/v1/apps/..%2F..%2Frampart.db", "").status, 404);
  EXPECT_EQ(DeviceSend(android, "GET", "/device/v1/apps/" + std::string(64, 'a'), "").status, 404);
  // Unsigned download is refused.
  EXPECT_EQ(Send("GET", "/device/v1/apps/" + sha, "").status, 401);
  // Quarantine stops downloads.
  ASSERT_EQ(
      Send("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/quarantine", admin_)
          .status,
      200);
  EXPECT_EQ(DeviceSend(android, "GET", "/device/v1/apps/" + sha, "").status, 403);
}

TEST_F(ApiTest, TamperedPackageOnDiskIsNotServed) {
  SimDevice d = Enroll(enroll_);
  std::string package = "original package bytes";
  Reply app =
      Send("POST", "/api/v1/apps?name=A&bundle_id=a.b&version=1&platform=android", admin_, package);
  ASSERT_EQ(app.status, 201);
  std::string sha = app.body["sha256"];
  {
    std::ofstream out(apps_dir_ / sha, std::ios::trunc);
    out << "malicious replacement";
  }
  EXPECT_EQ(DeviceSend(d, "GET", "/device/v1/apps/" + sha, "").status, 500);
}

TEST_F(ApiTest, OtherInstitutionsObjectsAreInvisible) {
  std::string other = CreateInstitution("Institution B");
  std::string other_admin = Issue(core::Role::kAdmin, other);
  SimDevice theirs = Enroll(CreateEnrollmentToken(other_admin));
  Reply staff = Send("POST", "/api/v1/staff", other_admin,
                     json{{"name", "B Person"}, {"mobile", "+32 470 00 00 01"}});
  ASSERT_EQ(staff.status, 201);
  std::string their_staff = staff.body["id"];
  EXPECT_EQ(Send("GET", "/api/v1/devices/" + theirs.id, admin_).status, 404);
  EXPECT_EQ(
      Send("POST", "/api/v1/devices/" + theirs.id + "/commands", admin_, json{{"type", "wipe"}})
          .status,
      404);
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + their_staff, admin_).status, 404);
  EXPECT_EQ(Send("PATCH", "/api/v1/staff/" + their_staff, admin_, json{{"name", "Owned"}}).status,
            404);
  EXPECT_EQ(Send("DELETE", "/api/v1/staff/" + their_staff, admin_).status, 404);
  EXPECT_EQ(Send("GET", "/api/v1/devices", admin_).body["items"].size(), 0u);
  // Naming the other institution explicitly does not help a non-superadmin.
  EXPECT_EQ(Send("GET", "/api/v1/devices?institution_id=" + other, admin_).body["items"].size(),
            0u);
  EXPECT_EQ(
      Send("POST", "/api/v1/staff", admin_, json{{"name", "X"}, {"institution_id", other}}).status,
      404);
  // Nothing changed on their side.
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + their_staff + "?reveal=true", other_admin).body["name"],
            "B Person");
  EXPECT_EQ(
      Send("GET", "/api/v1/devices/" + theirs.id + "/commands", other_admin).body["items"].size(),
      0u);
  // The superadmin sees both.
  EXPECT_EQ(Send("GET", "/api/v1/institutions", superadmin_).body["items"].size(), 2u);
}

TEST_F(ApiTest, BadInputGetsAClearErrorAndChangesNothing) {
  auto count_staff = [&] { return Send("GET", "/api/v1/staff", admin_).body["items"].size(); };
  size_t before = count_staff();
  struct Case {
    std::string body;
    const char* why;
  };
  std::vector<Case> cases = {
      {"{not json", "malformed JSON"},
      {"[1,2]", "not an object"},
      {R"({"name": 42})", "wrong type"},
      {R"({"name": "A", "salary": 1})", "unknown field"},
      {R"({"name": ""})", "empty name"},
      {R"({"name": "A", "mobile": "call me"})", "bad phone"},
      {R"({"name": "A", "email": "no-at-sign"})", "bad email"},
      {R"({"name": "A\u0000B"})", "control character"},
  };
  for (const auto& c : cases) {
    Reply r = Send("POST", "/api/v1/staff", admin_, c.body);
    EXPECT_EQ(r.status, 400) << c.why << ": " << r.raw;
    EXPECT_FALSE(r.ErrorCode().empty()) << c.why;
    EXPECT_TRUE(r.body["error"].contains("message")) << c.why;
  }
  EXPECT_EQ(count_staff(), before);
  // SQL-looking strings are data, stored verbatim.
  Reply sql = Send("POST", "/api/v1/staff", admin_,
                   json{{"name", "Robert'); DROP TABLE staff;--"}, {"department", "' OR 1=1 --"}});
  ASSERT_EQ(sql.status, 201);
  EXPECT_EQ(
      Send("GET", "/api/v1/staff/" + sql.body["id"].get<std::string>() + "?reveal=true", admin_)
          .body["name"],
      "Robert'); DROP TABLE staff;--");
  EXPECT_EQ(count_staff(), before + 1);
  // Bad pagination and filters.
  EXPECT_EQ(Send("GET", "/api/v1/devices?limit=0", admin_).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/devices?limit=abc", admin_).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/devices?cursor=%%%", admin_).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/devices?cursor=not-a-cursor", admin_).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/devices?platform=windows", admin_).status, 400);
  // Bad commands change no queue.
  SimDevice d = Enroll(enroll_);
  std::string base = "/api/v1/devices/" + d.id + "/commands";
  EXPECT_EQ(Send("POST", base, admin_, json{{"type", "format_disk"}}).status, 400);
  EXPECT_EQ(Send("POST", base, admin_, json{{"type", "wipe"}, {"mode", "everything"}}).status, 400);
  EXPECT_EQ(Send("POST", base, admin_, json{{"type", "install_app"}, {"sha256", "x"}}).status, 400);
  EXPECT_EQ(Send("POST", base, admin_, json{{"type", "lost_mode"}}).status, 400);
  EXPECT_EQ(Send("GET", base, admin_).body["items"].size(), 0u);
  // Path traversal in ids is just an unknown id.
  EXPECT_EQ(Send("GET", "/api/v1/devices/..%2F..%2Fetc%2Fpasswd", admin_).status, 404);
}

TEST_F(ApiTest, CheckinWithBadStateChangesNothing) {
  SimDevice d = Enroll(enroll_);
  ASSERT_EQ(Checkin(d, GoodState("14")).status, 200);
  json bad = GoodState("15");
  bad["passcode_set"] = "yes";
  EXPECT_EQ(Checkin(d, bad).status, 400);
  json unknown = GoodState("15");
  unknown["gps"] = "50.8,4.3";
  EXPECT_EQ(Checkin(d, unknown).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/devices/" + d.id, admin_).body["state"]["os_version"], "14");
}

TEST_F(ApiTest, MetricsCountCheckinsAndNeedPermission) {
  SimDevice d = Enroll(enroll_);
  Checkin(d, GoodState());
  Checkin(d, GoodState());
  std::string helpdesk = Issue(core::Role::kHelpdesk, inst_);
  EXPECT_EQ(Send("GET", "/metrics", helpdesk).status, 403);
  EXPECT_EQ(Send("GET", "/metrics", admin_).status, 403)
      << "metrics span institutions: an institution admin must not read them";
  Reply m = Send("GET", "/metrics", superadmin_);
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.raw.find("rampart_checkins_total 2"), std::string::npos) << m.raw;
  EXPECT_NE(m.raw.find("rampart_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(m.raw.find("rampart_devices 1"), std::string::npos);
}

}  // namespace
}  // namespace rampart::api::testing
