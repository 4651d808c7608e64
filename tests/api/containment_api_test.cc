// Containment routes of issue 5: pausing and resuming a command batch (nothing of a paused
// batch is approved, signed or delivered) and quarantining and releasing an app package.
#include "api_fixture.h"

namespace rampart::api::testing {
namespace {

class ContainmentApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    // Three devices make a mass action.
    options_.config.mass_command_threshold = 2;
    app_ = std::make_unique<App>(options_, store_.get(), &clock_);
    inst_ = CreateInstitution("Institution A");
    other_ = CreateInstitution("Institution B");
    admin_ = Issue(core::Role::kAdmin, inst_);
    second_admin_ = Issue(core::Role::kAdmin, inst_);
    other_admin_ = Issue(core::Role::kAdmin, other_);
    std::string enroll = CreateEnrollmentToken(admin_, 10);
    for (int i = 0; i < 3; ++i) phones_.push_back(Enroll(enroll));
    Reply g = Send("POST", "/api/v1/groups", admin_, json{{"name", "Fleet"}});
    EXPECT_EQ(g.status, 201) << g.raw;
    group_ = g.body.value("id", "");
    for (const auto& p : phones_) {
      EXPECT_EQ(Send("PUT", "/api/v1/groups/" + group_ + "/devices/" + p.id, admin_).status, 200);
    }
  }

  // A lock for the whole group: above the threshold, so it awaits approval as one batch.
  Reply LockFleet() {
    Reply r =
        Send("POST", "/api/v1/groups/" + group_ + "/commands", admin_, json{{"type", "lock"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["state"], "awaiting_approval");
    return r;
  }

  // How many lock commands a check-in of the phone hands out.
  int LocksDelivered(const SimDevice& phone) {
    Reply r = Checkin(phone, GoodState());
    EXPECT_EQ(r.status, 200) << r.raw;
    int n = 0;
    for (const auto& cmd : r.body["commands"]) n += cmd["type"] == "lock" ? 1 : 0;
    return n;
  }

  size_t AuditCount(const std::string& action, const std::string& outcome) {
    size_t n = 0;
    for (const auto& r : keeper_.audit_records()) {
      n += r.action == action && r.outcome == outcome ? 1 : 0;
    }
    return n;
  }

  std::string inst_, other_, admin_, second_admin_, other_admin_, group_;
  std::vector<SimDevice> phones_;
};

TEST_F(ContainmentApiTest, PausedBatchIsNeitherApprovedNorDeliveredUntilResumed) {
  Reply lock = LockFleet();
  const std::string batch = lock.body["batch_id"];
  const std::string first = lock.body["commands"][0]["id"];
  const std::string base = "/api/v1/command-batches/" + batch;

  Reply paused = Send("POST", base + "/pause", admin_, json{{"reason", "wipe storm"}});
  ASSERT_EQ(paused.status, 200) << paused.raw;
  EXPECT_EQ(paused.body["paused"], true);
  EXPECT_EQ(paused.body["pause_reason"], "wipe storm");
  EXPECT_EQ(paused.body["counts"]["awaiting_approval"], 3);
  EXPECT_EQ(AuditCount("response.pause_command_batch", "success"), 1u);

  // Paused: the second admin's approval is refused and nothing is signed.
  const size_t signed_before = keeper_.signed_requests().size();
  Reply refused = Send("POST", "/api/v1/commands/" + first + "/approve", second_admin_);
  EXPECT_EQ(refused.status, 409) << refused.raw;
  EXPECT_EQ(keeper_.signed_requests().size(), signed_before);

  // Pausing again changes nothing and says the same.
  Reply again = Send("POST", base + "/pause", admin_);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["paused_at"], paused.body["paused_at"]);

  ASSERT_EQ(Send("POST", base + "/resume", admin_).status, 200);
  ASSERT_EQ(Send("POST", "/api/v1/commands/" + first + "/approve", second_admin_).status, 200);
  EXPECT_EQ(keeper_.signed_requests().size(), signed_before + 3);

  // Approved and signed, but paused again before the devices come: none is handed out.
  ASSERT_EQ(Send("POST", base + "/pause", second_admin_).status, 200);
  for (const auto& p : phones_) EXPECT_EQ(LocksDelivered(p), 0) << p.id;
  Reply shown = Send("GET", base, admin_);
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["paused"], true);
  EXPECT_EQ(shown.body["counts"]["queued"], 3);
  EXPECT_EQ(shown.body["unfinished"], 3);
  EXPECT_EQ(shown.body["type"], "lock");

  Reply resumed = Send("POST", base + "/resume", admin_);
  ASSERT_EQ(resumed.status, 200) << resumed.raw;
  EXPECT_EQ(resumed.body["paused"], false);
  EXPECT_TRUE(resumed.body["resumed_by"].is_string());
  EXPECT_EQ(AuditCount("response.resume_command_batch", "success"), 2u);
  for (const auto& p : phones_) EXPECT_EQ(LocksDelivered(p), 1) << p.id;
  EXPECT_EQ(Send("GET", base, admin_).body["counts"]["sent"], 3);
}

TEST_F(ContainmentApiTest, BatchRoutesRefuseBadInputAndOtherInstitutions) {
  const std::string batch = LockFleet().body["batch_id"];
  const std::string base = "/api/v1/command-batches/" + batch;
  Reply bad = Send("POST", "/api/v1/command-batches/not-a-batch/pause", admin_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_FALSE(bad.ErrorCode().empty());
  EXPECT_EQ(Send("GET", "/api/v1/command-batches/bat_xyz", admin_).status, 400);
  EXPECT_EQ(
      Send("POST", "/api/v1/command-batches/bat_" + std::string(24, '0') + "/pause", admin_).status,
      404);
  EXPECT_EQ(Send("POST", base + "/pause", admin_, json{{"bogus", 1}}).status, 400);
  // Another institution's batch does not exist for its admins.
  EXPECT_EQ(Send("GET", base, other_admin_).status, 404);
  EXPECT_EQ(Send("POST", base + "/pause", other_admin_).status, 404);
  Reply shown = Send("GET", base, admin_);
  EXPECT_EQ(shown.body["paused"], false) << "no refused call changed anything";
  EXPECT_EQ(AuditCount("response.pause_command_batch", "success"), 0u);
}

TEST_F(ContainmentApiTest, LockdownAllowsPausingButNotResuming) {
  const std::string batch = LockFleet().body["batch_id"];
  const std::string base = "/api/v1/command-batches/" + batch;
  Reply block = Send("POST", "/api/v1/blocks", admin_, json{{"value", "198.51.100.7"}});
  ASSERT_EQ(block.status, 201) << block.raw;
  Reply token = Send("POST", "/api/v1/tokens", admin_, json{{"name", "ci"}, {"role", "helpdesk"}});
  ASSERT_EQ(token.status, 201) << token.raw;
  Reply other_token =
      Send("POST", "/api/v1/tokens", other_admin_, json{{"name", "ci"}, {"role", "helpdesk"}});
  ASSERT_EQ(other_token.status, 201) << other_token.raw;
  ASSERT_EQ(Send("POST", "/api/v1/institutions/" + inst_ + "/lockdown", admin_,
                 json{{"reason", "wipe storm"}})
                .status,
            200);
  ASSERT_EQ(Send("POST", base + "/pause", admin_).status, 200);
  Reply resume = Send("POST", base + "/resume", admin_);
  EXPECT_EQ(resume.status, 423);
  EXPECT_EQ(resume.ErrorCode(), "locked");
  // The institution's lockdown holds a superadmin too: the batch and the block name it.
  EXPECT_EQ(Send("POST", base + "/resume", superadmin_).status, 423);
  EXPECT_EQ(Send("DELETE", "/api/v1/blocks/" + std::to_string(block.body["id"].get<int64_t>()),
                 superadmin_)
                .status,
            423);
  // So does a token of the locked institution; another institution's is a superadmin's to
  // revoke.
  EXPECT_EQ(
      Send("DELETE", "/api/v1/tokens/" + token.body["id"].get<std::string>(), superadmin_).status,
      423);
  EXPECT_EQ(
      Send("DELETE", "/api/v1/tokens/" + other_token.body["id"].get<std::string>(), superadmin_)
          .status,
      200);
  EXPECT_EQ(Send("GET", base, admin_).body["paused"], true);
}

TEST_F(ContainmentApiTest, QuarantinedPackageIsNotOfferedDownloadedOrInstalledUntilReleased) {
  const std::string package = "suspicious package bytes";
  Reply app = Send("POST", "/api/v1/apps?name=Tool&bundle_id=org.tool&version=1&platform=android",
                   admin_, package);
  ASSERT_EQ(app.status, 201) << app.raw;
  const std::string app_id = app.body["id"];
  const std::string sha = app.body["sha256"];
  const std::string base = "/api/v1/apps/" + app_id;
  // Three phones are a mass action: the installs wait for approval, still undelivered.
  Reply assigned = Send("POST", base + "/assignments", admin_, json{{"group_id", group_}});
  ASSERT_EQ(assigned.status, 201) << assigned.raw;
  EXPECT_EQ(assigned.body["commands_awaiting_approval"], 3);

  EXPECT_EQ(Send("POST", base + "/quarantine", admin_, json{{"reason", 5}}).status, 400);
  EXPECT_EQ(Send("POST", base + "/quarantine", other_admin_).status, 404);
  EXPECT_EQ(Send("GET", base, admin_).body["quarantined"], false) << "refusals changed nothing";

  Reply q = Send("POST", base + "/quarantine", admin_, json{{"reason", "IoC match"}});
  ASSERT_EQ(q.status, 200) << q.raw;
  EXPECT_EQ(q.body["quarantined"], true);
  EXPECT_EQ(q.body["quarantine_reason"], "IoC match");
  EXPECT_EQ(AuditCount("response.quarantine_app", "success"), 1u);
  ASSERT_EQ(Send("POST", base + "/quarantine", admin_).status, 200) << "idempotent";
  EXPECT_EQ(Send("GET", base, admin_).body["quarantine_reason"], "IoC match");

  // Its pending installs were canceled, a new install is refused, the download too.
  Reply cmds = Send("GET", "/api/v1/devices/" + phones_[0].id + "/commands", admin_);
  for (const auto& cmd : cmds.body["items"]) {
    if (cmd["type"] == "install_app") {
      EXPECT_EQ(cmd["state"], "canceled");
    }
  }
  Reply again = Send("POST", base + "/assignments", admin_, json{{"group_id", group_}});
  EXPECT_EQ(again.status, 409);
  Reply download = DeviceSend(phones_[0], "GET", "/device/v1/apps/" + sha, "");
  EXPECT_EQ(download.status, 403);
  EXPECT_FALSE(download.ErrorCode().empty()) << "a JSON error, not the package";

  // Lockdown: quarantining stays possible, releasing does not.
  ASSERT_EQ(Send("POST", "/api/v1/institutions/" + inst_ + "/lockdown", admin_).status, 200);
  EXPECT_EQ(Send("POST", base + "/quarantine", admin_).status, 200);
  EXPECT_EQ(Send("POST", base + "/release", admin_).status, 423);
  EXPECT_EQ(Send("GET", base, admin_).body["quarantined"], true);
}

TEST_F(ContainmentApiTest, ReleasedPackageIsServedAgain) {
  Reply app = Send("POST", "/api/v1/apps?name=Tool&bundle_id=org.tool&version=1&platform=android",
                   admin_, std::string("package"));
  ASSERT_EQ(app.status, 201) << app.raw;
  const std::string base = "/api/v1/apps/" + app.body["id"].get<std::string>();
  ASSERT_EQ(Send("POST", base + "/quarantine", admin_).status, 200);
  EXPECT_EQ(Send("POST", base + "/release", other_admin_).status, 404);
  Reply released = Send("POST", base + "/release", admin_);
  ASSERT_EQ(released.status, 200) << released.raw;
  EXPECT_EQ(released.body["quarantined"], false);
  EXPECT_EQ(AuditCount("response.release_app", "success"), 1u);
  EXPECT_EQ(
      DeviceSend(phones_[0], "GET", "/device/v1/apps/" + app.body["sha256"].get<std::string>(), "")
          .status,
      200);
}

}  // namespace
}  // namespace rampart::api::testing
