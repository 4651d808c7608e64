// The breach-resistance promises, against the real binaries: after `serve --demo` the database
// (and its WAL) holds no staff name, number or e-mail in clear; every reveal is in the keeper's
// audit log, which verifies; a keeper that is down makes reveals fail closed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

namespace fs = std::filesystem;

class VaultE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    dir_ = fs::temp_directory_path() / ("rampart_vault_" + crypto::RandomHex(6));
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();
    std::string error;
    ASSERT_TRUE(server_.Start(data_, {"--demo"}, &error)) << error;
    token_ = server_.PrintedValue("superadmin token");
    ASSERT_FALSE(token_.empty());
  }
  void TearDown() override {
    server_.Stop();
    fs::remove_all(dir_);
  }

  ApiReply Api(const std::string& method, const std::string& target) {
    return CallApi(server_.url(), data_ + "/tls/ca.pem", token_, method, target);
  }

  fs::path dir_;
  std::string data_;
  ServerProcess server_;
  std::string token_;
};

TEST_F(VaultE2eTest, TheDatabaseHoldsNoStaffPersonalDataInClear) {
  ApiReply staff = Api("GET", "/api/v1/staff?limit=500&reveal=true");
  ASSERT_EQ(staff.status, 200) << staff.raw;
  ASSERT_EQ(staff.body["items"].size(), 203u);
  // What an intruder on the web tier could copy: the database, its WAL and shared memory.
  std::string stolen;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    stolen += ReadFile(data_ + "/rampart.db" + suffix);
  }
  ASSERT_GT(stolen.size(), 10000u) << "the database files were not found";
  std::string audit = ReadFile(data_ + "/keeper/audit/records.jsonl");
  ASSERT_FALSE(audit.empty());
  std::string log = server_.log();
  size_t checked = 0;
  for (const auto& person : staff.body["items"]) {
    ASSERT_TRUE(person["revealed"].get<bool>());
    for (const char* field : {"name", "mobile", "email"}) {
      std::string value = person[field];
      if (value.empty()) continue;
      ++checked;
      EXPECT_EQ(stolen.find(value), std::string::npos) << field << " in clear in the database";
      EXPECT_EQ(audit.find(value), std::string::npos) << field << " in clear in the audit log";
      EXPECT_EQ(log.find(value), std::string::npos) << field << " in the server log";
    }
  }
  EXPECT_EQ(checked, 3u * 203u);
  // Masked forms are what the database may hold.
  EXPECT_NE(stolen.find("@demo.example"), std::string::npos);
}

TEST_F(VaultE2eTest, RevealsAreAuditedAndTheLogVerifies) {
  ApiReply one = Api("GET", "/api/v1/staff?limit=1");
  ASSERT_EQ(one.status, 200);
  std::string id = one.body["items"][0]["id"];
  ASSERT_EQ(Api("GET", "/api/v1/staff/" + id + "?reveal=true").status, 200);
  EXPECT_EQ(server_.Stop(), 0);
  std::string audit = ReadFile(data_ + "/keeper/audit/records.jsonl");
  EXPECT_NE(audit.find("\"staff.decrypt\""), std::string::npos);
  EXPECT_NE(audit.find(id), std::string::npos) << "the audit record names the staff member read";
  ProcResult verify = e2e::Run({kRampart, "audit", "verify", "--data", data_});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  // The keeper's key directory is its own.
  struct stat st;
  ASSERT_EQ(::stat((data_ + "/keeper").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((data_ + "/keeper/keys.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(VaultE2eTest, AKeeperThatIsDownFailsClosed) {
  ApiReply one = Api("GET", "/api/v1/staff?limit=1");
  ASSERT_EQ(one.status, 200);
  std::string id = one.body["items"][0]["id"];
  auto children = ChildrenOf(server_.pid());
  ASSERT_EQ(children.size(), 1u) << "serve runs exactly one keeper";
  ASSERT_EQ(::kill(children[0], SIGKILL), 0);
  // Gone, or a zombie that serve reaps at its next maintenance tick (and then starts a new
  // keeper: the check below must come before that, so the wait ends as soon as it can).
  auto gone = [pid = children[0]] { return ProcessGone(pid); };
  for (int i = 0; i < 100 && !gone(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(gone());
  ApiReply reveal = Api("GET", "/api/v1/staff/" + id + "?reveal=true");
  EXPECT_EQ(reveal.status, 503) << reveal.raw;
  EXPECT_TRUE(reveal.body["error"].contains("message"));
  ApiReply masked = Api("GET", "/api/v1/staff/" + id);
  EXPECT_EQ(masked.status, 200) << "masked reads need no keeper";
  EXPECT_NE(masked.raw.find("***"), std::string::npos);
}

}  // namespace
}  // namespace rampart::e2e
