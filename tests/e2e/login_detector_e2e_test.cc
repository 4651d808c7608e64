// rampart-admin-login-new-address end to end: the real `rampart serve` with working hours that
// never apply (no working day), console logins of the demo admin from several loopback source
// addresses, and the alert read back through GET /api/v1/alerts. The learned addresses survive
// a restart of the server.
#include <gtest/gtest.h>

#include <chrono>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

constexpr char kNewAddressRule[] = "rampart-admin-login-new-address";

class LoginDetectorE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart)) << "binaries are not built";
    dir_ = fs::temp_directory_path() / ("rampart_login_e2e_" + crypto::RandomHex(6));
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();
    config_ = (dir_ / "rampart.yml").string();
    std::ofstream out(config_);
    // No working day: every login happens outside working hours. No playbooks: this test looks
    // at the alert only.
    out << "response:\n"
        << "  playbooks: false\n"
        << "detection:\n"
        << "  working_hours:\n"
        << "    days: []\n";
  }
  void TearDown() override {
    server_.Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void StartServer(bool first) {
    std::vector<std::string> args = {"--config", config_};
    if (first) args.insert(args.begin(), "--demo");
    std::string error;
    ASSERT_TRUE(server_.Start(data_, args, &error)) << error;
    ca_ = data_ + "/tls/ca.pem";
    if (first) {
      superadmin_ = server_.PrintedValue("superadmin token");
      username_ = server_.PrintedValue("admin user");
      password_ = server_.PrintedValue("admin password");
      ASSERT_FALSE(superadmin_.empty() || username_.empty() || password_.empty())
          << server_.printed();
    }
  }

  // A console login (password stage) from `address`; returns the HTTP status.
  int LoginFrom(const std::string& address) {
    auto client =
        http::HttpClient::Connect({.url = server_.url(), .ca_file = ca_, .local_address = address});
    EXPECT_TRUE(client.ok()) << address << ": " << client.status().ToString() << "\n"
                             << server_.log();
    if (!client.ok()) return 0;
    json body = {{"username", username_}, {"password", password_}};
    auto r = (*client)->Send("POST", "/api/v1/auth/login", {{"content-type", "application/json"}},
                             body.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->status : 0;
  }

  // The rule's alerts, as the API lists them.
  json Alerts() {
    ApiReply list = CallApi(server_.url(), ca_, superadmin_, "GET",
                            std::string("/api/v1/alerts?rule=") + kNewAddressRule);
    EXPECT_EQ(list.status, 200) << list.raw;
    return list.body["items"];
  }

  // Polls until the rule's single alert has reached `count` (the engine stores alerts on its own
  // thread), then returns it; null when it never did.
  json WaitForCount(int64_t count) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      json items = Alerts();
      if (items.size() == 1 && items[0]["count"].get<int64_t>() >= count) return items[0];
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return nullptr;
  }

  fs::path dir_;
  std::string data_, config_, ca_, superadmin_, username_, password_;
  ServerProcess server_;
};

TEST_F(LoginDetectorE2E, NewAddressOutsideWorkingHoursAlertsOnceAndIsRemembered) {
  StartServer(true);
  // The first login ever is learned without an alert; so is the same address again.
  ASSERT_EQ(LoginFrom("127.0.0.1"), 200);
  ASSERT_EQ(LoginFrom("127.0.0.1"), 200);
  // A new address, outside working hours: one alert naming the user and the address.
  ASSERT_EQ(LoginFrom("127.0.0.29"), 200);
  json alert = WaitForCount(1);
  ASSERT_FALSE(alert.is_null()) << "no alert; server log:\n" << server_.log();
  EXPECT_EQ(alert["count"], 1) << "the known address 127.0.0.1 did not alert";
  EXPECT_EQ(alert["severity"], "high");
  EXPECT_EQ(alert["entity"].get<std::string>().rfind("user.name=usr_", 0), 0u) << alert.dump();
  ASSERT_FALSE(alert["evidence"].empty());
  EXPECT_EQ(alert["evidence"].back()["source.ip"], "127.0.0.29") << alert.dump(2);
  EXPECT_NE(std::find(alert["attack"].begin(), alert["attack"].end(), "T1078"),
            alert["attack"].end());

  // 127.0.0.29 is now known: logging in from it again, before and after a restart, adds nothing;
  // the next new address (127.0.0.30) is what moves the count to 2, and it is the latest evidence.
  ASSERT_EQ(LoginFrom("127.0.0.29"), 200);
  ASSERT_EQ(server_.Stop(), 0);
  StartServer(false);
  ASSERT_EQ(LoginFrom("127.0.0.29"), 200);
  ASSERT_EQ(LoginFrom("127.0.0.1"), 200);
  ASSERT_EQ(LoginFrom("127.0.0.30"), 200);
  alert = WaitForCount(2);
  ASSERT_FALSE(alert.is_null()) << "no second alert; server log:\n" << server_.log();
  EXPECT_EQ(alert["count"], 2) << "a remembered address alerted again: " << alert.dump(2);
  EXPECT_EQ(alert["evidence"].back()["source.ip"], "127.0.0.30") << alert.dump(2);
}

}  // namespace
}  // namespace rampart::e2e
