#include "agent/state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace rampart::agent {
namespace {

namespace fs = std::filesystem;

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    dir_ = fs::temp_directory_path() / ("rampart_agent_state_" + crypto::RandomHex(8));
    fs::create_directories(dir_);
    path_ = (dir_ / "device.json").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static AgentState Sample() {
    AgentState s;
    auto keys = crypto::GenerateEd25519();
    s.server_url = "https://127.0.0.1:8443";
    s.ca_file = "/var/lib/rampart/tls/ca.pem";
    s.device_id = "dev_abc";
    s.institution_id = "ins_1";
    s.server_identity_key = crypto::Base64Encode(std::string(32, 'k'));
    s.tls_ca_sha256 = std::string(64, 'e');
    s.public_key = keys.public_key;
    s.secret_key = keys.secret_key;
    s.model = "iPhone 15";
    s.serial = "F2LX";
    s.ownership = core::Ownership::kPersonal;
    s.checkin_interval_seconds = 60;
    s.trust.low_watermark = 7;
    s.trust.pin = {"ck_1", crypto::GenerateEd25519().public_key};
    s.trust.recent_ids = {"cmd_6", "cmd_7"};
    s.last_checkin_at = 1769770000;
    s.device = NewDevice(core::Platform::kIos, "17.4");
    s.device.state.installed_apps = {"org.corp.mail"};
    s.device.managed_apps = {"org.corp.mail"};
    s.device.policies = {{"pol_1", {{"passcode_min_length", 6}}}};
    Outcome o;
    o.status = "acknowledged";
    o.result = {{"locked", true}};
    o.effect = Effect::kRetire;
    s.pending_results.push_back({"cmd_9", o});
    return s;
  }

  void WriteRaw(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }

  fs::path dir_;
  std::string path_;
};

TEST_F(StateFileTest, RoundTripsEveryField) {
  AgentState s = Sample();
  ASSERT_TRUE(SaveState(path_, s).ok());
  auto back = LoadState(path_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StateToJson(*back), StateToJson(s));
  EXPECT_EQ(back->secret_key, s.secret_key);
  EXPECT_EQ(back->public_key, s.public_key);
  EXPECT_EQ(back->device_id, "dev_abc");
  EXPECT_EQ(back->ownership, core::Ownership::kPersonal);
  EXPECT_EQ(back->device.platform, core::Platform::kIos);
  EXPECT_EQ(back->device.state.installed_apps, s.device.state.installed_apps);
  EXPECT_EQ(back->device.policies, s.device.policies);
  EXPECT_EQ(back->trust.low_watermark, 7);
  EXPECT_EQ(back->trust.pin.key_id, "ck_1");
  EXPECT_EQ(back->trust.pin.public_key, s.trust.pin.public_key);
  EXPECT_EQ(back->trust.recent_ids, s.trust.recent_ids);
  ASSERT_EQ(back->pending_results.size(), 1u);
  EXPECT_EQ(back->pending_results[0].command_id, "cmd_9");
  EXPECT_EQ(back->pending_results[0].outcome.effect, Effect::kRetire);
  // Keys are stored as base64.
  auto j = nlohmann::json::parse(StateToJson(s));
  EXPECT_EQ(j["secret_key"], crypto::Base64Encode(s.secret_key));
}

TEST_F(StateFileTest, IsWrittenWithMode0600AndNoTemporaryFileRemains) {
  ASSERT_TRUE(SaveState(path_, Sample()).ok());
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // Replacing an existing, looser file also ends at 0600.
  ::chmod(path_.c_str(), 0644);
  ASSERT_TRUE(SaveState(path_, Sample()).ok());
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(StateFileTest, SaveReplacesTheOldContent) {
  AgentState s = Sample();
  ASSERT_TRUE(SaveState(path_, s).ok());
  s.trust.low_watermark = 99;
  ASSERT_TRUE(SaveState(path_, s).ok());
  EXPECT_EQ(LoadState(path_)->trust.low_watermark, 99);
}

TEST_F(StateFileTest, MissingFileIsNotFoundWithAHint) {
  auto r = LoadState(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("enroll"), std::string::npos);
}

TEST_F(StateFileTest, CorruptFileIsAClearError) {
  WriteRaw("{\"version\": 1, \"server_url\": ");
  auto r = LoadState(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("is corrupt"), std::string::npos);
  EXPECT_NE(r.status().message().find(path_), std::string::npos);
}

TEST_F(StateFileTest, WrongFieldsAreCorruptAndNamed) {
  auto j = nlohmann::json::parse(StateToJson(Sample()));
  j["secret_key"] = "not base64!";
  WriteRaw(j.dump());
  auto r = LoadState(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("secret_key"), std::string::npos);

  j = nlohmann::json::parse(StateToJson(Sample()));
  j["device"]["state"]["battery_percent"] = 250;
  WriteRaw(j.dump());
  r = LoadState(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("battery_percent"), std::string::npos);

  j = nlohmann::json::parse(StateToJson(Sample()));
  j.erase("device_id");
  WriteRaw(j.dump());
  EXPECT_FALSE(LoadState(path_).ok());
}

TEST_F(StateFileTest, RemoveDeletesTheFileAndIsIdempotent) {
  ASSERT_TRUE(SaveState(path_, Sample()).ok());
  ASSERT_TRUE(RemoveState(path_).ok());
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_TRUE(RemoveState(path_).ok());
}

TEST_F(StateFileTest, SaveIntoAMissingDirectoryFails) {
  Status s = SaveState((dir_ / "no" / "such" / "dir.json").string(), Sample());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInternal);
}

}  // namespace
}  // namespace rampart::agent
