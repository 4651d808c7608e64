// The master-key routes: only the superadmin rotates or reads them, a rotation is limited to one
// an hour and refused in a server lockdown, the status counts the rows left on each version, and
// after the re-wrap job every staff record still reveals the same data.
#include "api_fixture.h"
#include "respond/master_key_rewrap.h"

namespace rampart::api::testing {
namespace {

class MasterKeyApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    inst_ = CreateInstitution("Agency");
    admin_ = Issue(core::Role::kAdmin, inst_);
  }

  std::string CreateStaff(const std::string& name, const std::string& mobile) {
    Reply r = Send("POST", "/api/v1/staff", admin_,
                   json{{"name", name}, {"mobile", mobile}, {"email", "x@example.org"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  // The rows of `version` in the status' versions list (0 when absent).
  static int64_t RowsOf(const json& status, int64_t version) {
    for (const auto& v : status["versions"]) {
      if (v["version"] == version) return v["rows"].get<int64_t>();
    }
    return 0;
  }

  std::string inst_, admin_;
};

TEST_F(MasterKeyApiTest, RotationReWrapsEveryRowAndRevealStillShowsTheSameData) {
  std::map<std::string, std::string> names;
  for (int i = 0; i < 5; ++i) {
    std::string name = "Person " + std::to_string(i);
    names[CreateStaff(name, "+32 470 00 00 0" + std::to_string(i))] = name;
  }
  Reply before = Send("GET", "/api/v1/keys/master", superadmin_);
  ASSERT_EQ(before.status, 200) << before.raw;
  EXPECT_EQ(before.body["current_version"], 1);
  EXPECT_EQ(before.body["rows_remaining"], 0);
  EXPECT_EQ(RowsOf(before.body, 1), 5);
  EXPECT_EQ(before.body["job"]["state"], "idle");
  EXPECT_EQ(before.raw.find("\"key\""), std::string::npos) << "no key material";

  EXPECT_EQ(Send("POST", "/api/v1/keys/master/rotate", admin_).status, 403);
  EXPECT_EQ(Send("GET", "/api/v1/keys/master", admin_).status, 403);

  Reply rotated = Send("POST", "/api/v1/keys/master/rotate", superadmin_);
  ASSERT_EQ(rotated.status, 200) << rotated.raw;
  EXPECT_EQ(rotated.body["current_version"], 2);
  EXPECT_EQ(rotated.body["rows_remaining"], 5);
  EXPECT_EQ(Send("POST", "/api/v1/keys/master/rotate", superadmin_).status, 429);
  // A record created now is sealed under the new version.
  names[CreateStaff("Late Comer", "+32 470 99 99 99")] = "Late Comer";

  // The job's pass, as serve's worker runs it.
  respond::MasterKeyRewrap* job = app_->master_key_rewrap();
  ASSERT_NE(job, nullptr);
  ASSERT_TRUE(job->RunPass().ok());
  Reply after = Send("GET", "/api/v1/keys/master", superadmin_);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body["rows_remaining"], 0);
  EXPECT_EQ(RowsOf(after.body, 1), 0);
  EXPECT_EQ(RowsOf(after.body, 2), 6);
  EXPECT_EQ(after.body["job"]["state"], "done");
  EXPECT_EQ(after.body["job"]["rewrapped"], 5);
  EXPECT_EQ(after.body["job"]["target_version"], 2);

  for (const auto& [id, name] : names) {
    Reply clear = Send("GET", "/api/v1/staff/" + id + "?reveal=true", admin_);
    ASSERT_EQ(clear.status, 200) << clear.raw;
    EXPECT_EQ(clear.body["name"], name);
  }

  int rotate_records = 0;
  for (const auto& r : trail_.records()) {
    if (r.action == "master_key.rotate" && r.outcome == "success") ++rotate_records;
  }
  EXPECT_EQ(rotate_records, 1) << "the keeper's record (serve's goes to the recording keeper)";
  bool serve_record = false;
  for (const auto& r : keeper_.audit_records()) {
    serve_record |= r.action == "master_key.rotate" && r.outcome == "success";
  }
  EXPECT_TRUE(serve_record);
}

TEST_F(MasterKeyApiTest, RotationIsRefusedDuringAServerLockdown) {
  ASSERT_EQ(Send("POST", "/api/v1/lockdown", superadmin_, json{{"reason", "breach"}}).status, 200);
  EXPECT_EQ(Send("POST", "/api/v1/keys/master/rotate", superadmin_).status, 423);
  EXPECT_EQ(Send("GET", "/api/v1/keys/master", superadmin_).status, 200);
  auto status = vault_->GetMasterKeyStatus(keeper::Caller{"usr_t", "superadmin", "", "", "", ""});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->current_version, 1);
}

TEST_F(MasterKeyApiTest, AnInstitutionLockdownDoesNotHoldTheServerWideRotation) {
  ASSERT_EQ(Send("POST", "/api/v1/institutions/" + inst_ + "/lockdown", admin_,
                 json{{"reason", "breach"}})
                .status,
            200);
  Reply rotated = Send("POST", "/api/v1/keys/master/rotate", superadmin_);
  EXPECT_EQ(rotated.status, 200) << rotated.raw;
}

}  // namespace
}  // namespace rampart::api::testing
