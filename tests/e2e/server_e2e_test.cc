// The foundation scenario end to end: the real `rampart serve` on a free loopback port, twenty
// real `rampart-agent` devices, and an HTTPS client playing the administrator.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

class FleetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart) && fs::exists(kAgent)) << "binaries are not built";
    dir_ = fs::temp_directory_path() / ("rampart_e2e_" + crypto::RandomHex(6));
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();
    server_ = new ServerProcess();
    std::string error;
    ASSERT_TRUE(server_->Start(data_, {"--demo"}, &error)) << error;
    ca_ = data_ + "/tls/ca.pem";
    superadmin_ = server_->PrintedValue("superadmin token");
    admin_ = server_->PrintedValue("admin token");
    enrollment_ = server_->PrintedValue("enrollment token");
    ASSERT_FALSE(admin_.empty()) << server_->printed();
  }
  static void TearDownTestSuite() {
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0) << "graceful shutdown exits 0";
    }
    delete server_;
    server_ = nullptr;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static ApiReply Api(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& token = "") {
    return CallApi(server_->url(), ca_, token.empty() ? admin_ : token, method, target, body,
                   method == "POST" && target.rfind("/api/v1/apps?", 0) == 0
                       ? "application/octet-stream"
                       : "application/json");
  }
  static ApiReply ApiJson(const std::string& method, const std::string& target, const json& body,
                          const std::string& token = "") {
    return Api(method, target, body.dump(), token);
  }
  static std::string StatePath(int i) {
    return (dir_ / ("device" + std::to_string(i) + ".json")).string();
  }
  static ProcResult RunOnce(int i) {
    return e2e::Run({kAgent, "run", "--state", StatePath(i), "--once"});
  }

  static inline fs::path dir_;
  static inline std::string data_, ca_, superadmin_, admin_, enrollment_;
  static inline ServerProcess* server_ = nullptr;
};

TEST_F(FleetTest, TwentyDevicesPolicyLockCancelAppAndTenancy) {
  constexpr int kDevices = 20;
  std::map<int, std::string> ids;
  for (int i = 0; i < kDevices; ++i) {
    // Even devices run an old Android: the baseline policy of the demo asks for 13.
    ProcResult r =
        e2e::Run({kAgent, "enroll", "--server", server_->url(), "--ca", ca_, "--token", enrollment_,
                  "--state", StatePath(i), "--platform", "android", "--serial",
                  "E2E" + std::to_string(i), "--os-version", i % 2 == 0 ? "11" : "14"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ids[i] = Trim(r.out);
    ASSERT_EQ(ids[i].rfind("dev_", 0), 0u) << r.out;
  }
  // A stricter policy for the whole institution on top of the demo baseline.
  ApiReply pol = ApiJson(
      "POST", "/api/v1/policies",
      json{{"name", "No rooted phones"},
           {"rules", {{"block_compromised", true}, {"forbidden_apps", {"com.example.torrent"}}}}});
  ASSERT_EQ(pol.status, 201) << pol.raw;
  ApiReply assigned =
      ApiJson("POST", "/api/v1/policies/" + pol.body["id"].get<std::string>() + "/assignments",
              json{{"target", "institution"}});
  ASSERT_EQ(assigned.status, 201) << assigned.raw;
  // Twenty devices is more than mass_command_threshold (10): the push waits for a second admin,
  // whose one approval signs and queues the whole batch.
  EXPECT_EQ(assigned.body["commands_queued"], 0);
  EXPECT_EQ(assigned.body["commands_awaiting_approval"], kDevices);
  ApiReply pending = Api("GET", "/api/v1/devices/" + ids[1] + "/commands?state=awaiting_approval");
  ASSERT_EQ(pending.body["items"].size(), 1u) << pending.raw;
  const std::string approve =
      "/api/v1/commands/" + pending.body["items"][0]["id"].get<std::string>() + "/approve";
  // A token the first admin mints is the same person: not a second admin.
  ApiReply own = ApiJson("POST", "/api/v1/tokens", json{{"role", "admin"}});
  ASSERT_EQ(own.status, 201) << own.raw;
  EXPECT_EQ(Api("POST", approve, "", own.body["token"].get<std::string>()).status, 403);
  // Another person's token: one the superadmin makes for the institution.
  ApiReply device = Api("GET", "/api/v1/devices/" + ids[1]);
  ASSERT_EQ(device.status, 200) << device.raw;
  ApiReply second = ApiJson(
      "POST", "/api/v1/tokens",
      json{{"role", "admin"}, {"institution_id", device.body["institution_id"]}}, superadmin_);
  ASSERT_EQ(second.status, 201) << second.raw;
  ApiReply approved = Api("POST", approve, "", second.body["token"].get<std::string>());
  ASSERT_EQ(approved.status, 200) << approved.raw;
  EXPECT_EQ(approved.body["commands"].size(), static_cast<size_t>(kDevices));
  // Two cycles: the first applies the policies (the simulated user then sets a longer
  // passcode, as a real user answers the prompt), the second reports the resulting state.
  for (int cycle = 0; cycle < 2; ++cycle) {
    for (int i = 0; i < kDevices; ++i) {
      ProcResult r = RunOnce(i);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }

  // Non-compliant devices, each with its reasons.
  ApiReply bad = Api("GET", "/api/v1/devices?compliance=noncompliant&limit=100");
  ASSERT_EQ(bad.status, 200) << bad.raw;
  std::set<std::string> noncompliant;
  for (const auto& d : bad.body["items"]) {
    noncompliant.insert(d["id"].get<std::string>());
    std::set<std::string> codes;
    for (const auto& r : d["compliance"]["reasons"]) codes.insert(r["code"].get<std::string>());
    EXPECT_TRUE(codes.count("os_too_old")) << d.dump();
  }
  for (int i = 0; i < kDevices; i += 2) EXPECT_TRUE(noncompliant.count(ids[i])) << i;
  for (int i = 1; i < kDevices; i += 2) EXPECT_FALSE(noncompliant.count(ids[i])) << i;
  ApiReply why = Api("GET", "/api/v1/devices/" + ids[0] + "/compliance");
  EXPECT_EQ(why.body["state"], "noncompliant");
  EXPECT_FALSE(why.body["reasons"].empty());

  // Lock one device and see the agent acknowledge it.
  ApiReply lock = ApiJson("POST", "/api/v1/devices/" + ids[1] + "/commands",
                          json{{"type", "lock"}, {"message", "Please call the service desk"}});
  ASSERT_EQ(lock.status, 201) << lock.raw;
  EXPECT_EQ(lock.body["state"], "queued");
  ASSERT_EQ(RunOnce(1).exit_code, 0);
  ApiReply after =
      Api("GET", "/api/v1/devices/" + ids[1] + "/commands/" + lock.body["id"].get<std::string>());
  EXPECT_EQ(after.body["state"], "acknowledged") << after.raw;

  // Cancel a queued command: the agent never receives it.
  ApiReply restart =
      ApiJson("POST", "/api/v1/devices/" + ids[3] + "/commands", json{{"type", "restart"}});
  ASSERT_EQ(restart.status, 201);
  std::string restart_id = restart.body["id"];
  ApiReply cancel = Api("DELETE", "/api/v1/devices/" + ids[3] + "/commands/" + restart_id);
  EXPECT_EQ(cancel.status, 200) << cancel.raw;
  EXPECT_EQ(cancel.body["state"], "canceled");
  ASSERT_EQ(RunOnce(3).exit_code, 0);
  EXPECT_EQ(Api("GET", "/api/v1/devices/" + ids[3] + "/commands/" + restart_id).body["state"],
            "canceled");
  EXPECT_EQ(Api("GET", "/api/v1/devices/" + ids[3] + "/commands?state=sent").body["items"].size(),
            0u);

  // Upload an app, assign it to a group of five devices, and see it installed.
  ApiReply group = ApiJson("POST", "/api/v1/groups", json{{"name", "Field team"}});
  ASSERT_EQ(group.status, 201);
  std::string gid = group.body["id"];
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Api("PUT", "/api/v1/groups/" + gid + "/devices/" + ids[i]).status, 200);
  }
  std::string package = "PK\x03\x04" + crypto::RandomBytes(50000);
  ApiReply app = Api(
      "POST", "/api/v1/apps?name=Field&bundle_id=org.example.field&version=2.1&platform=android",
      package);
  ASSERT_EQ(app.status, 201) << app.raw;
  EXPECT_EQ(app.body["sha256"], crypto::Sha256Hex(package));
  ApiReply assign =
      ApiJson("POST", "/api/v1/apps/" + app.body["id"].get<std::string>() + "/assignments",
              json{{"group_id", gid}});
  ASSERT_EQ(assign.status, 201) << assign.raw;
  EXPECT_EQ(assign.body["commands_queued"], 5);
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(RunOnce(i).exit_code, 0);
    ASSERT_EQ(RunOnce(i).exit_code, 0) << "second cycle reports the new state";
  }
  for (int i = 0; i < 6; ++i) {
    ApiReply d = Api("GET", "/api/v1/devices/" + ids[i]);
    bool installed = false;
    for (const auto& a : d.body["state"]["installed_apps"]) installed |= a == "org.example.field";
    EXPECT_EQ(installed, i < 5) << "device " << i << ": " << d.raw;
  }

  // Another institution's administrator sees none of it and changes nothing.
  ApiReply other =
      ApiJson("POST", "/api/v1/institutions", json{{"name", "Other body"}}, superadmin_);
  ASSERT_EQ(other.status, 201) << other.raw;
  ApiReply tok =
      ApiJson("POST", "/api/v1/tokens",
              json{{"role", "admin"}, {"institution_id", other.body["id"]}}, superadmin_);
  ASSERT_EQ(tok.status, 201) << tok.raw;
  std::string other_admin = tok.body["token"];
  EXPECT_EQ(Api("GET", "/api/v1/devices/" + ids[0], "", other_admin).status, 404);
  EXPECT_EQ(ApiJson("POST", "/api/v1/devices/" + ids[0] + "/commands", json{{"type", "wipe"}},
                    other_admin)
                .status,
            404);
  EXPECT_EQ(Api("GET", "/api/v1/devices", "", other_admin).body["items"].size(), 0u);
  EXPECT_EQ(Api("GET", "/api/v1/staff?limit=1", "", other_admin).body["items"].size(), 0u);
  EXPECT_EQ(Api("GET", "/api/v1/devices/" + ids[0] + "/commands?state=queued").body["items"].size(),
            0u);
}

TEST_F(FleetTest, MetricsAndLogsCarryNoSecrets) {
  // Traffic of its own, so the test does not depend on what ran before it.
  ASSERT_EQ(Api("GET", "/api/v1/staff?limit=50").status, 200);
  ApiReply m = Api("GET", "/metrics", "", superadmin_);
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.raw.find("rampart_http_requests_total"), std::string::npos);
  // Revealed on purpose: the clear values must reach the caller and nothing else.
  ApiReply staff = Api("GET", "/api/v1/staff?limit=50&reveal=true");
  ASSERT_EQ(staff.status, 200) << staff.raw;
  std::string log = server_->log();
  for (const std::string& secret : {admin_, superadmin_, enrollment_}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "a token appeared in the log";
    EXPECT_EQ(m.raw.find(secret), std::string::npos) << "a token appeared in the metrics";
  }
  ASSERT_EQ(staff.body["items"].size(), 50u);
  for (const auto& person : staff.body["items"]) {
    for (const char* field : {"name", "mobile", "email"}) {
      std::string value = person[field];
      EXPECT_EQ(log.find(value), std::string::npos) << field << " of a staff member was logged";
    }
  }
  EXPECT_NE(log.find("\"event\":\"http.request\""), std::string::npos);
}

// A server with tiny limits from a configuration file enforces them end to end.
TEST(ServerConfig, LimitsFromYamlAreEnforced) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  fs::path dir = fs::temp_directory_path() / ("rampart_cfg_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  std::string data = (dir / "data").string();
  std::string config = (dir / "rampart.yaml").string();
  std::ofstream(config) << "http:\n  max_body_bytes: 2048\n  max_header_bytes: 4096\n";
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.Start(data, {"--config", config, "--demo"}, &error)) << error;
  std::string ca = data + "/tls/ca.pem";
  std::string admin = server.PrintedValue("admin token");
  ApiReply big = CallApi(server.url(), ca, admin, "POST", "/api/v1/groups",
                         json{{"name", std::string(4000, 'x')}}.dump());
  EXPECT_EQ(big.status, 413) << big.raw;
  EXPECT_TRUE(big.body.contains("error")) << big.raw;
  ApiReply fine =
      CallApi(server.url(), ca, admin, "POST", "/api/v1/groups", json{{"name", "ok"}}.dump());
  EXPECT_EQ(fine.status, 201) << fine.raw;
  auto client = http::HttpClient::Connect({.url = server.url(), .ca_file = ca});
  ASSERT_TRUE(client.ok());
  auto huge_header =
      (*client)->Send("GET", "/healthz", {{"x-padding", std::string(8000, 'a')}}, "");
  ASSERT_TRUE(huge_header.ok()) << huge_header.status().ToString();
  EXPECT_EQ(huge_header->status, 431);
  EXPECT_EQ(server.Stop(), 0);
  fs::remove_all(dir);
}

TEST(ServerConfig, BadConfigurationIsAClearErrorAndNothingStarts) {
  fs::path dir = fs::temp_directory_path() / ("rampart_badcfg_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  std::string config = (dir / "rampart.yaml").string();
  std::ofstream(config) << "http:\n  max_body_byte: 10\n";
  ProcResult r =
      e2e::Run({kRampart, "serve", "--data", (dir / "data").string(), "--config", config});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("http.max_body_byte"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(AdminCli, ContractAndErrors) {
  fs::path dir = fs::temp_directory_path() / ("rampart_cli_" + crypto::RandomHex(6));
  std::string data = (dir / "data").string();
  ProcResult inst =
      e2e::Run({kRampart, "admin", "--data", data, "institution", "create", "Directorate B"});
  ASSERT_EQ(inst.exit_code, 0) << inst.err;
  std::string id = Trim(inst.out);
  EXPECT_EQ(id.rfind("ins_", 0), 0u);
  ProcResult tok = e2e::Run({kRampart, "admin", "--data", data, "token", "create", "--role",
                             "helpdesk", "--institution", id});
  EXPECT_EQ(tok.exit_code, 0) << tok.err;
  EXPECT_EQ(Trim(tok.out).rfind("rmp_", 0), 0u);
  ProcResult enr = e2e::Run({kRampart, "admin", "--data", data, "enrollment", "create",
                             "--institution", id, "--max-uses", "20", "--expires-in", "3600"});
  EXPECT_EQ(enr.exit_code, 0) << enr.err;
  EXPECT_EQ(Trim(enr.out).rfind("enr_", 0), 0u);
  // Errors: a message and a non-zero exit, nothing printed on stdout.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {kRampart, "admin", "--data", data, "token", "create", "--role", "wizard"},
           {kRampart, "admin", "--data", data, "token", "create", "--role", "admin"},
           {kRampart, "admin", "--data", data, "token", "create", "--role", "superadmin",
            "--institution", id},
           {kRampart, "admin", "--data", data, "enrollment", "create", "--institution", "ins_nope"},
           {kRampart, "admin", "--data", data, "enrollment", "create", "--institution", id,
            "--max-uses", "0"},
           {kRampart, "admin", "--data", data, "institution", "create", ""},
           {kRampart, "frobnicate"}}) {
    ProcResult r = e2e::Run(args);
    EXPECT_NE(r.exit_code, 0) << args.back();
    EXPECT_FALSE(r.err.empty()) << args.back();
    EXPECT_TRUE(r.out.empty()) << args.back() << " printed " << r.out;
  }
  fs::remove_all(dir);
}

TEST(Demo, SeedingTwiceKeepsOneInstitution) {
  fs::path dir = fs::temp_directory_path() / ("rampart_demo_" + crypto::RandomHex(6));
  std::string data = (dir / "data").string();
  fs::create_directories(dir);
  std::string previous_token;
  for (int round = 0; round < 2; ++round) {
    ServerProcess server;
    std::string error;
    ASSERT_TRUE(server.Start(data, {"--demo"}, &error)) << error;
    std::string token = server.PrintedValue("superadmin token");
    if (!previous_token.empty()) {
      EXPECT_EQ(CallApi(server.url(), data + "/tls/ca.pem", previous_token, "GET", "/api/v1/staff")
                    .status,
                401)
          << "the previous run's demo token is revoked";
    }
    previous_token = token;
    ApiReply insts =
        CallApi(server.url(), data + "/tls/ca.pem", token, "GET", "/api/v1/institutions");
    EXPECT_EQ(insts.body["items"].size(), 1u) << insts.raw;
    ApiReply staff =
        CallApi(server.url(), data + "/tls/ca.pem", token, "GET", "/api/v1/staff?limit=500");
    EXPECT_EQ(staff.body["items"].size(), 203u) << "200 demo staff and 3 canaries";
    EXPECT_EQ(server.Stop(), 0);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rampart::e2e
