// Master-key rotation against the real binaries: after POST /api/v1/keys/master/rotate serve's
// background job moves every staff row to the new version and each record still reveals the same
// data; a rotation made while serve was down (through the keeper's socket) is picked up by the
// job when serve starts again, after which the old version can be retired on the keeper host.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/crypto.h"
#include "harness.h"
#include "keeper/client.h"

namespace rampart::e2e {
namespace {

namespace fs = std::filesystem;

class MasterKeyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    dir_ = FreshTestDir("rampart_master_key");
    data_ = (dir_ / "data").string();
  }
  void TearDown() override {
    server_.Stop();
    fs::remove_all(dir_);
  }

  void StartServer() {
    std::string error;
    ASSERT_TRUE(server_.Start(data_, {"--demo"}, &error)) << error;
    // The demo issues fresh tokens at every start.
    superadmin_ = server_.PrintedValue("superadmin token");
    admin_ = server_.PrintedValue("admin token");
    ASSERT_FALSE(superadmin_.empty()) << server_.printed();
    ASSERT_FALSE(admin_.empty()) << server_.printed();
  }

  ApiReply Api(const std::string& token, const std::string& method, const std::string& target,
               const json& body = nullptr) {
    return CallApi(server_.url(), data_ + "/tls/ca.pem", token, method, target,
                   body.is_null() ? "" : body.dump());
  }

  // Staff with known fields, created through the API (the demo's own rows include canaries,
  // which are not to be read).
  void CreateStaff(int n) {
    for (int i = 0; i < n; ++i) {
      std::string name = "Rewrap Person " + std::to_string(i);
      std::string mobile = "+32 470 11 22 " + std::to_string(10 + i);
      ApiReply r = Api(admin_, "POST", "/api/v1/staff",
                       json{{"name", name}, {"mobile", mobile}, {"email", "p@example.org"}});
      ASSERT_EQ(r.status, 201) << r.raw;
      created_[r.body["id"].get<std::string>()] = {name, mobile};
    }
  }

  void ExpectEveryCreatedRecordReveals() {
    for (const auto& [id, fields] : created_) {
      ApiReply r = Api(admin_, "GET", "/api/v1/staff/" + id + "?reveal=true");
      ASSERT_EQ(r.status, 200) << r.raw;
      EXPECT_EQ(r.body["name"], fields.first);
      EXPECT_EQ(r.body["mobile"], fields.second);
    }
  }

  // Polls GET /api/v1/keys/master until the job has moved every row to `version` (30 s at most).
  json WaitForRewrap(int64_t version) {
    json last;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      ApiReply r = Api(superadmin_, "GET", "/api/v1/keys/master");
      if (r.status != 200) return json{{"status", r.status}, {"raw", r.raw}};
      last = r.body;
      if (last["current_version"] == version && last["rows_remaining"] == 0 &&
          last["job"]["state"] == "done") {
        return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return last;
  }

  static int64_t RowsOf(const json& status, int64_t version) {
    for (const auto& v : status["versions"]) {
      if (v["version"] == version) return v["rows"].get<int64_t>();
    }
    return 0;
  }

  fs::path dir_;
  std::string data_;
  ServerProcess server_;
  std::string superadmin_, admin_;
  std::map<std::string, std::pair<std::string, std::string>> created_;
};

TEST_F(MasterKeyE2eTest, RotationReWrapsEveryRowInTheBackground) {
  StartServer();
  CreateStaff(12);
  ApiReply before = Api(superadmin_, "GET", "/api/v1/keys/master");
  ASSERT_EQ(before.status, 200) << before.raw;
  const int64_t total = RowsOf(before.body, 1);
  EXPECT_GT(total, 200) << "the demo's rows and ours";

  EXPECT_EQ(Api(admin_, "POST", "/api/v1/keys/master/rotate").status, 403);
  ApiReply rotated = Api(superadmin_, "POST", "/api/v1/keys/master/rotate");
  ASSERT_EQ(rotated.status, 200) << rotated.raw;
  EXPECT_EQ(rotated.body["current_version"], 2);

  json done = WaitForRewrap(2);
  ASSERT_EQ(done["rows_remaining"], 0) << done.dump();
  EXPECT_EQ(RowsOf(done, 1), 0);
  EXPECT_EQ(RowsOf(done, 2), total);
  EXPECT_EQ(done["job"]["rewrapped"], total);
  EXPECT_EQ(done["job"]["failed"], 0);
  ExpectEveryCreatedRecordReveals();
  EXPECT_EQ(Api(superadmin_, "POST", "/api/v1/keys/master/rotate").status, 429);

  // The keeper's log has the rotation and the re-wrap batches; no field was decrypted for them.
  std::string audit = ReadFile(data_ + "/keeper/audit/records.jsonl");
  EXPECT_NE(audit.find("master_key.rotate"), std::string::npos);
  EXPECT_NE(audit.find("master_key.rewrap"), std::string::npos);
}

TEST_F(MasterKeyE2eTest, ARotationMadeWhileServeWasDownIsReWrappedAtStart) {
  StartServer();
  CreateStaff(6);
  ASSERT_EQ(server_.Stop(), 0);

  // The keeper alone, as on its own host, rotated by a superadmin through its socket.
  const std::string socket = data_ + "/run/rotate-test.sock";
  std::vector<std::string> args = {kRampart, "keeper", "--data", data_, "--socket", socket};
  auto argv = Argv(args);
  pid_t keeper_pid = 0;
  ASSERT_EQ(posix_spawn(&keeper_pid, kRampart.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  keeper::KeeperClient client({socket, 2000, 1});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!client.Ping().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto rotated = client.RotateMasterKey({"usr_e2e", "superadmin", "", "", "", "master_key"});
  ::kill(keeper_pid, SIGTERM);
  int status = 0;
  ::waitpid(keeper_pid, &status, 0);
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(rotated->current_version, 2);

  // No rotate request reaches this serve: the rows still on version 1 say what is left to do.
  StartServer();
  json done = WaitForRewrap(2);
  ASSERT_EQ(done["rows_remaining"], 0) << done.dump();
  EXPECT_EQ(RowsOf(done, 1), 0);
  EXPECT_GT(done["job"]["rewrapped"].get<int64_t>(), 200);
  ExpectEveryCreatedRecordReveals();

  // Version 1 wraps nothing any more: it can be retired on the keeper host, with the keeper down.
  const std::string keys = data_ + "/keeper";
  auto retire = [&](const std::string& version) {
    return e2e::Run(
        {kRampart, "keeper", "retire-master-key", "--keys", keys, "--version", version});
  };
  ProcResult running = retire("1");
  EXPECT_EQ(running.exit_code, 1) << "refused while serve's keeper runs";
  EXPECT_NE(running.err.find("stop it first"), std::string::npos) << running.err;
  ASSERT_EQ(server_.Stop(), 0);
  ProcResult current = retire("2");
  EXPECT_EQ(current.exit_code, 1);
  EXPECT_NE(current.err.find("current master key"), std::string::npos) << current.err;
  ProcResult retired = retire("1");
  ASSERT_EQ(retired.exit_code, 0) << retired.err;
  EXPECT_EQ(e2e::Run({kRampart, "audit", "verify", "--data", data_}).exit_code, 0);

  StartServer();
  ApiReply after = Api(superadmin_, "GET", "/api/v1/keys/master");
  ASSERT_EQ(after.status, 200) << after.raw;
  ASSERT_EQ(after.body["versions"].size(), 1u) << after.raw;
  EXPECT_EQ(after.body["versions"][0]["version"], 2);
  ExpectEveryCreatedRecordReveals();
  EXPECT_NE(ReadFile(keys + "/audit/records.jsonl").find("master_key.retire"), std::string::npos);
}

}  // namespace
}  // namespace rampart::e2e
