// Decision webhooks end to end with the real binary: `rampart serve` configured with
// response.decision_webhooks (an inline secret and a secret file) POSTs a signed ban when an
// admin blocks an address through the API and a signed unban when the block is lifted, to two
// loopback receivers; a receiver's failure is retried; /metrics counts the deliveries; the
// secrets never reach the log.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "harness.h"
#include "tests/support/webhook_receiver.h"

namespace rampart::e2e {
namespace {

using ::rampart::testing::WebhookReceiver;

TEST(DecisionWebhookE2e, BlockAndUnblockThroughTheApiArePostedSigned) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = FreshTestDir("rampart_decision_webhook_e2e");
  const std::string data = (dir / "data").string();
  const std::string inline_secret = "inline-" + crypto::RandomHex(16);
  const std::string file_secret = "file-" + crypto::RandomHex(16);
  const std::string key_file = (dir / "enforcer.key").string();
  WriteFile(key_file, file_secret + "\n");

  WebhookReceiver soar, firewall;
  ASSERT_TRUE(soar.Start());
  ASSERT_TRUE(firewall.Start());
  firewall.AnswerNext({503});  // the first decision is retried
  const std::string config = (dir / "rampart.yaml").string();
  WriteFile(config,
            "response:\n"
            "  decision_webhooks:\n"
            "    - url: " +
                soar.Url("/hooks/decisions") +
                "\n"
                "      secret: \"" +
                inline_secret +
                "\"\n"
                "    - url: " +
                firewall.Url("/fw") +
                "\n"
                "      secret_file: " +
                key_file +
                "\n"
                "      initial_backoff_ms: 10\n"
                "      max_attempts: 3\n");

  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  const std::string& url = demo.process.url();

  ApiReply created = CallApi(
      url, demo.ca, demo.superadmin, "POST", "/api/v1/blocks",
      R"({"value": "198.51.100.23", "reason": "scanning the fob paths", "duration": "2h"})");
  ASSERT_EQ(created.status, 201) << created.raw;
  const int64_t block_id = created.body["id"];

  ASSERT_TRUE(soar.WaitForCount(1)) << demo.process.log();
  ASSERT_TRUE(firewall.WaitForCount(2)) << "a failure and its retry\n" << demo.process.log();
  auto ban_delivery = soar.deliveries()[0];
  EXPECT_EQ(ban_delivery.target, "/hooks/decisions");
  EXPECT_TRUE(WebhookReceiver::SignedWith(inline_secret, ban_delivery));
  EXPECT_FALSE(WebhookReceiver::SignedWith(file_secret, ban_delivery));
  json ban = json::parse(ban_delivery.body);
  EXPECT_EQ(ban["type"], "ban");
  EXPECT_EQ(ban["event"], "added");
  EXPECT_EQ(ban["value"], "198.51.100.23");
  EXPECT_EQ(ban["scope"], "Ip");
  EXPECT_EQ(ban["block_id"], block_id);
  EXPECT_EQ(ban["origin"], "rampart");
  EXPECT_EQ(ban["scenario"], "rampart/manual");
  EXPECT_EQ(ban["reason"], "scanning the fob paths");
  EXPECT_TRUE(ban["institution_id"].is_null()) << "a superadmin's block is server-wide";
  EXPECT_EQ(ban["until"], FormatRfc3339(created.body["expires_at"].get<int64_t>()));
  EXPECT_EQ(ban["id"].get<std::string>().rfind("dec_", 0), 0u);
  auto fw = firewall.deliveries();
  EXPECT_EQ(fw[0].body, fw[1].body) << "the retry carries the same decision";
  EXPECT_EQ(fw[1].body, ban_delivery.body) << "one decision, one id, for every receiver";
  EXPECT_TRUE(WebhookReceiver::SignedWith(file_secret, fw[1]));

  ApiReply removed = CallApi(url, demo.ca, demo.superadmin, "DELETE",
                             "/api/v1/blocks/" + std::to_string(block_id));
  ASSERT_EQ(removed.status, 200) << removed.raw;
  ASSERT_TRUE(soar.WaitForCount(2)) << demo.process.log();
  ASSERT_TRUE(firewall.WaitForCount(3)) << demo.process.log();
  auto unban_delivery = soar.deliveries()[1];
  EXPECT_TRUE(WebhookReceiver::SignedWith(inline_secret, unban_delivery));
  EXPECT_TRUE(WebhookReceiver::SignedWith(file_secret, firewall.deliveries()[2]));
  json unban = json::parse(unban_delivery.body);
  EXPECT_EQ(unban["type"], "unban");
  EXPECT_EQ(unban["event"], "removed");
  EXPECT_EQ(unban["value"], "198.51.100.23");
  EXPECT_EQ(unban["block_id"], block_id);
  EXPECT_NE(unban["id"], ban["id"]);
  EXPECT_FALSE(unban.contains("until"));

  // The receiver saw the last request before the sender counted its answer: poll.
  const std::string fw_name = "127.0.0.1:" + std::to_string(firewall.port());
  const std::string delivered =
      "rampart_decision_webhook_delivered_total{webhook=\"1\",receiver=\"" + fw_name + "\"} 2";
  const std::string attempts =
      "rampart_decision_webhook_attempts_total{webhook=\"1\",receiver=\"" + fw_name + "\"} 3";
  ApiReply metrics;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    metrics = CallApi(url, demo.ca, demo.superadmin, "GET", "/metrics");
    ASSERT_EQ(metrics.status, 200) << metrics.raw;
    if (metrics.raw.find(delivered) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(metrics.raw.find(delivered), std::string::npos) << metrics.raw;
  EXPECT_NE(metrics.raw.find(attempts), std::string::npos) << metrics.raw;

  EXPECT_EQ(demo.process.Stop(), 0);
  const std::string log = demo.process.log();
  EXPECT_EQ(log.find(inline_secret), std::string::npos);
  EXPECT_EQ(log.find(file_secret), std::string::npos);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(DecisionWebhookE2e, ABadDecisionWebhookConfigStopsTheServerNamingTheKey) {
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = FreshTestDir("rampart_decision_webhook_bad");
  const std::string config = (dir / "rampart.yaml").string();
  WriteFile(config,
            "response:\n  decision_webhooks:\n    - url: http://127.0.0.1:9/x\n"
            "      secret_file: " +
                (dir / "missing.key").string() + "\n");
  ProcResult r = e2e::Run({kRampart, "serve", "--data", (dir / "data").string(), "--listen",
                           "127.0.0.1:0", "--config", config});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("response.decision_webhooks[0].secret_file"), std::string::npos) << r.err;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace rampart::e2e
