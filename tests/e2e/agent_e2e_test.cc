// End to end: the real `rampart serve` (build/bin/rampart) on 127.0.0.1 with a free port and its
// own TLS CA, driven through the admin API, and the real `rampart-agent` binary enrolling,
// checking in and executing commands over the device protocol.
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/crypto.h"
#include "harness.h"
#include "http/client.h"

namespace rampart::agent {
namespace {

using e2e::ApiReply;
using e2e::kAgent;
using e2e::kRampart;
using e2e::ProcResult;
using e2e::ServerProcess;
using e2e::Trim;
namespace fs = std::filesystem;
using nlohmann::json;

class AgentE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart)) << kRampart << " is not built";
    ASSERT_TRUE(fs::exists(kAgent)) << kAgent << " is not built";
    dir_ = fs::temp_directory_path() / ("rampart_agent_e2e_" + crypto::RandomHex(6));
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();

    // The server creates the database on first start; the admin commands then work beside it.
    server_ = new ServerProcess();
    std::string error;
    ASSERT_TRUE(server_->Start(data_, {}, &error)) << error;
    ca_ = data_ + "/tls/ca.pem";
    ASSERT_TRUE(fs::exists(ca_));

    ProcResult inst =
        e2e::Run({kRampart, "admin", "--data", data_, "institution", "create", "E2E"});
    ASSERT_EQ(inst.exit_code, 0) << inst.err;
    institution_ = Trim(inst.out);
    ProcResult tok = e2e::Run({kRampart, "admin", "--data", data_, "token", "create", "--role",
                               "admin", "--institution", institution_});
    ASSERT_EQ(tok.exit_code, 0) << tok.err;
    admin_token_ = Trim(tok.out);
    // Wipe and retire wait for a second admin's approval.
    ProcResult tok2 = e2e::Run({kRampart, "admin", "--data", data_, "token", "create", "--role",
                                "admin", "--institution", institution_});
    ASSERT_EQ(tok2.exit_code, 0) << tok2.err;
    second_admin_token_ = Trim(tok2.out);
    ProcResult enr = e2e::Run({kRampart, "admin", "--data", data_, "enrollment", "create",
                               "--institution", institution_, "--max-uses", "1000"});
    ASSERT_EQ(enr.exit_code, 0) << enr.err;
    enrollment_token_ = Trim(enr.out);
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      server_->Stop();
      delete server_;
      server_ = nullptr;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static ApiReply Api(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      const std::string& content_type = "application/json") {
    ApiReply reply;
    auto client = http::HttpClient::Connect({.url = server_->url(), .ca_file = ca_});
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) return reply;
    http::HeaderList headers = {{"authorization", "Bearer " + admin_token_}};
    if (!body.empty()) headers.emplace_back("content-type", content_type);
    auto r = (*client)->Send(method, target, headers, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return reply;
    reply.status = r->status;
    reply.body = json::parse(r->body, nullptr, false);
    return reply;
  }

  // The second admin approves a command awaiting approval.
  static void Approve(const std::string& command_id) {
    ApiReply r = e2e::CallApi(server_->url(), ca_, second_admin_token_, "POST",
                              "/api/v1/commands/" + command_id + "/approve");
    EXPECT_EQ(r.status, 200) << r.raw;
  }

  static std::string StatePath(const std::string& name) { return (dir_ / name).string(); }

  static std::string Enroll(const std::string& state, const std::string& serial) {
    ProcResult r = e2e::Run({kAgent, "enroll", "--server", server_->url(), "--ca", ca_, "--token",
                             enrollment_token_, "--state", state, "--platform", "android",
                             "--model", "Pixel 8", "--serial", serial, "--os-version", "14"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Trim(r.out);
  }

  static ProcResult RunOnce(const std::string& state) {
    return e2e::Run({kAgent, "run", "--state", state, "--once"});
  }

  static json ReadJsonFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str(), nullptr, false);
  }

  static std::string QueueCommand(const std::string& device_id, const json& command) {
    ApiReply r = Api("POST", "/api/v1/devices/" + device_id + "/commands", command.dump());
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }

  static std::map<std::string, json> CommandsByType(const std::string& device_id) {
    ApiReply r = Api("GET", "/api/v1/devices/" + device_id + "/commands?limit=100");
    EXPECT_EQ(r.status, 200) << r.body.dump();
    std::map<std::string, json> out;
    if (r.body.contains("items")) {
      for (const auto& c : r.body["items"]) out[c["type"].get<std::string>()] = c;
    }
    return out;
  }

  static std::string CreateGroupWith(const std::string& name, const std::string& device_id) {
    ApiReply g = Api("POST", "/api/v1/groups", json{{"name", name}}.dump());
    EXPECT_EQ(g.status, 201) << g.body.dump();
    std::string gid = g.body.value("id", "");
    ApiReply m = Api("PUT", "/api/v1/groups/" + gid + "/devices/" + device_id);
    EXPECT_EQ(m.status, 200) << m.body.dump();
    return gid;
  }

  static ApiReply UploadApp(const std::string& bundle_id, const std::string& bytes) {
    return Api("POST",
               "/api/v1/apps?name=E2E&bundle_id=" + bundle_id + "&version=1.0&platform=android",
               bytes, "application/octet-stream");
  }

  static bool Contains(const json& list, const std::string& v) {
    for (const auto& x : list) {
      if (x == v) return true;
    }
    return false;
  }

  static inline fs::path dir_;
  static inline std::string data_;
  static inline std::string ca_;
  static inline std::string institution_;
  static inline std::string admin_token_;
  static inline std::string second_admin_token_;
  static inline std::string enrollment_token_;
  static inline ServerProcess* server_ = nullptr;
};

TEST_F(AgentE2ETest, EnrollCheckInExecuteCommandsAndBecomeCompliant) {
  std::string state = StatePath("device1.json");
  std::string device_id = Enroll(state, "E2E0001");
  ASSERT_EQ(device_id.rfind("dev_", 0), 0u) << device_id;
  struct stat st;
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  ApiReply dev = Api("GET", "/api/v1/devices/" + device_id);
  ASSERT_EQ(dev.status, 200) << dev.body.dump();
  EXPECT_EQ(dev.body["serial"], "E2E0001");
  EXPECT_EQ(dev.body["platform"], "android");

  // An app and a policy reach the device through a group; lock and restart directly.
  std::string gid = CreateGroupWith("e2e-group-1", device_id);
  ApiReply app = UploadApp("org.e2e.vpn", "e2e package bytes v1");
  ASSERT_EQ(app.status, 201) << app.body.dump();
  ApiReply assign =
      Api("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/assignments",
          json{{"group_id", gid}}.dump());
  ASSERT_EQ(assign.status, 201) << assign.body.dump();
  ApiReply pol = Api("POST", "/api/v1/policies",
                     json{{"name", "e2e passcode"},
                          {"rules", {{"passcode_min_length", 8}, {"camera_allowed", false}}}}
                         .dump());
  ASSERT_EQ(pol.status, 201) << pol.body.dump();
  std::string policy_id = pol.body["id"];
  ApiReply pas = Api("POST", "/api/v1/policies/" + policy_id + "/assignments",
                     json{{"target", "group"}, {"group_id", gid}}.dump());
  ASSERT_EQ(pas.status, 201) << pas.body.dump();
  QueueCommand(device_id, {{"type", "lock"}, {"message", "e2e lock"}});
  QueueCommand(device_id, {{"type", "restart"}});

  ProcResult first = RunOnce(state);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto commands = CommandsByType(device_id);
  for (const char* type : {"install_app", "apply_policy", "lock", "restart"}) {
    ASSERT_TRUE(commands.count(type)) << type;
    EXPECT_EQ(commands[type]["state"], "acknowledged") << commands[type].dump();
  }

  json s = ReadJsonFile(state);
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["device"]["locked"], true);
  EXPECT_EQ(s["device"]["lock_message"], "e2e lock");
  EXPECT_EQ(s["device"]["restarts"], 1);
  EXPECT_TRUE(Contains(s["device"]["state"]["installed_apps"], "org.e2e.vpn"));
  EXPECT_EQ(s["device"]["state"]["camera_disabled"], true);
  EXPECT_TRUE(s["device"]["applied_policies"].contains(policy_id)) << s["device"].dump();
  EXPECT_GE(s["last_command_seq"].get<int64_t>(), 4);
  // The first check-in reported the 4-digit passcode: the policy made the device non-compliant.
  dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["compliance"]["state"], "noncompliant") << dev.body.dump();

  // The user answered the passcode prompt; the next check-in reports a compliant device.
  ProcResult second = RunOnce(state);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["state"]["passcode_length"], 8) << dev.body.dump();
  EXPECT_EQ(dev.body["state"]["camera_disabled"], true);
  EXPECT_TRUE(Contains(dev.body["state"]["installed_apps"], "org.e2e.vpn"));
  EXPECT_EQ(dev.body["compliance"]["state"], "compliant") << dev.body.dump();

  QueueCommand(device_id, {{"type", "remove_app"}, {"bundle_id", "org.e2e.vpn"}});
  ProcResult third = RunOnce(state);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(CommandsByType(device_id)["remove_app"]["state"], "acknowledged");
  s = ReadJsonFile(state);
  EXPECT_FALSE(Contains(s["device"]["state"]["installed_apps"], "org.e2e.vpn"));
}

TEST_F(AgentE2ETest, PackageSwappedOnDiskIsNeverInstalled) {
  std::string state = StatePath("device2.json");
  std::string device_id = Enroll(state, "E2E0002");
  ASSERT_FALSE(device_id.empty());
  std::string gid = CreateGroupWith("e2e-group-2", device_id);
  ApiReply app = UploadApp("org.e2e.swapped", "genuine package bytes");
  ASSERT_EQ(app.status, 201) << app.body.dump();
  std::string sha = app.body["sha256"];
  {
    std::ofstream swap(data_ + "/apps/" + sha, std::ios::trunc | std::ios::binary);
    swap << "malicious replacement";
  }
  ApiReply assign =
      Api("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/assignments",
          json{{"group_id", gid}}.dump());
  ASSERT_EQ(assign.status, 201) << assign.body.dump();

  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto commands = CommandsByType(device_id);
  ASSERT_TRUE(commands.count("install_app"));
  EXPECT_EQ(commands["install_app"]["state"], "error") << commands["install_app"].dump();
  json s = ReadJsonFile(state);
  EXPECT_FALSE(Contains(s["device"]["state"]["installed_apps"], "org.e2e.swapped"));
}

TEST_F(AgentE2ETest, UnknownCommandTypeIsNeverQueuedAndLostModeWorks) {
  std::string state = StatePath("device3.json");
  std::string device_id = Enroll(state, "E2E0003");
  ApiReply bad = Api("POST", "/api/v1/devices/" + device_id + "/commands",
                     json{{"type", "format_disk"}}.dump());
  EXPECT_EQ(bad.status, 400);
  QueueCommand(device_id, {{"type", "lost_mode"}, {"message", "Lost"}, {"phone", "+32 2 123"}});
  QueueCommand(device_id, {{"type", "clear_passcode"}});
  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto commands = CommandsByType(device_id);
  EXPECT_EQ(commands["lost_mode"]["state"], "acknowledged");
  EXPECT_EQ(commands["clear_passcode"]["state"], "acknowledged");
  json s = ReadJsonFile(state);
  EXPECT_EQ(s["device"]["lost_mode"], true);
  EXPECT_EQ(s["device"]["lost_phone"], "+32 2 123");
  EXPECT_EQ(s["device"]["state"]["passcode_set"], false);
}

TEST_F(AgentE2ETest, AForeignKeyIsRefused) {
  std::string state = StatePath("device4.json");
  ASSERT_FALSE(Enroll(state, "E2E0004").empty());
  json s = ReadJsonFile(state);
  auto other = crypto::GenerateEd25519();
  s["secret_key"] = crypto::Base64Encode(other.secret_key);
  s["public_key"] = crypto::Base64Encode(other.public_key);
  std::ofstream(state, std::ios::trunc) << s.dump();
  ProcResult r = RunOnce(state);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
}

TEST_F(AgentE2ETest, BadEnrollmentTokenCreatesNoState) {
  std::string state = StatePath("device5.json");
  ProcResult r = e2e::Run({kAgent, "enroll", "--server", server_->url(), "--ca", ca_, "--token",
                           "enr_not_a_real_token", "--state", state});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(state));
}

TEST_F(AgentE2ETest, RetireAcknowledgesThenForgetsEnrollment) {
  std::string state = StatePath("device6.json");
  std::string device_id = Enroll(state, "E2E0006");
  Approve(QueueCommand(device_id, {{"type", "retire"}}));
  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(state));
  ApiReply dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["status"], "retired") << dev.body.dump();
  ProcResult again = RunOnce(state);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("does not exist"), std::string::npos) << again.err;
}

TEST_F(AgentE2ETest, FullWipeForgetsEnrollment) {
  std::string state = StatePath("device7.json");
  std::string device_id = Enroll(state, "E2E0007");
  Approve(QueueCommand(device_id, {{"type", "wipe"}, {"mode", "full"}}));
  ProcResult r = RunOnce(state);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(state));
  EXPECT_EQ(CommandsByType(device_id)["wipe"]["state"], "acknowledged");
  ApiReply dev = Api("GET", "/api/v1/devices/" + device_id);
  EXPECT_EQ(dev.body["status"], "retired") << dev.body.dump();
}

TEST_F(AgentE2ETest, SimulatorEnrollsAndChecksInAFleet) {
  ProcResult r = e2e::Run({kAgent, "simulate", "--server", server_->url(), "--ca", ca_, "--token",
                           enrollment_token_, "--devices", "20", "--interval", "1", "--duration",
                           "4", "--connections", "4", "--seed", "7", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json summary = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << r.out;
  EXPECT_EQ(summary["devices_requested"], 20);
  EXPECT_EQ(summary["devices_enrolled"], 20) << r.out;
  EXPECT_GT(summary["checkins"].get<int64_t>(), 0) << r.out;
  EXPECT_TRUE(summary["errors"].empty()) << r.out;
  EXPECT_EQ(summary["checkin_latency_ms"]["count"], summary["checkins"]);
}

}  // namespace
}  // namespace rampart::agent
