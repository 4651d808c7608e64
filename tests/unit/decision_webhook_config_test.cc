// response.decision_webhooks: every field read, and each mistake refused with the key it is in,
// never with a secret's value.
#include <gtest/gtest.h>

#include "common/config.h"

namespace rampart {
namespace {

TEST(DecisionWebhooksConfig, ReadsEveryField) {
  Config c;
  Status s = ApplyConfigYaml(R"(
response:
  decision_webhooks:
    - url: https://soar.example.eu:8443/hooks/rampart
      secret_file: /etc/rampart/soar.key
      ca_file: /etc/rampart/soar-ca.pem
      timeout_ms: 2500
      max_attempts: 7
      initial_backoff_ms: 250
      queue_capacity: 64
    - url: http://127.0.0.1:9000/fw
      secret: "inline-secret"
)",
                             &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.response.decision_webhooks.size(), 2u);
  const auto& a = c.response.decision_webhooks[0];
  EXPECT_EQ(a.url, "https://soar.example.eu:8443/hooks/rampart");
  EXPECT_EQ(a.secret_file, "/etc/rampart/soar.key");
  EXPECT_EQ(a.ca_file, "/etc/rampart/soar-ca.pem");
  EXPECT_EQ(a.timeout_ms, 2500u);
  EXPECT_EQ(a.max_attempts, 7u);
  EXPECT_EQ(a.initial_backoff_ms, 250u);
  EXPECT_EQ(a.queue_capacity, 64u);
  const auto& b = c.response.decision_webhooks[1];
  EXPECT_EQ(b.secret, "inline-secret");
  EXPECT_EQ(b.timeout_ms, 5000u) << "defaults";
  EXPECT_EQ(b.max_attempts, 5u);
  EXPECT_EQ(b.queue_capacity, 1024u);
  EXPECT_TRUE(Config().response.decision_webhooks.empty()) << "none unless configured";
}

TEST(ResponseConfig, NeverBlockDefaultsToLoopbackAndCanBeReplaced) {
  EXPECT_EQ(Config().response.never_block, (std::vector<std::string>{"127.0.0.1", "::1"}));
  Config c;
  ASSERT_TRUE(ApplyConfigYaml("response:\n  never_block: [10.0.0.5, 2001:db8::/64]\n", &c).ok());
  EXPECT_EQ(c.response.never_block, (std::vector<std::string>{"10.0.0.5", "2001:db8::/64"}));
  ASSERT_TRUE(ApplyConfigYaml("response:\n  never_block: []\n", &c).ok());
  EXPECT_TRUE(c.response.never_block.empty());
  Status bad = ApplyConfigYaml("response:\n  never_block: 127.0.0.1\n", &c);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("response.never_block"), std::string::npos) << bad.message();
}

TEST(DecisionWebhooksConfig, MistakesNameTheKey) {
  struct Case {
    std::string yaml;
    std::string key;
  };
  const std::string head = "response:\n  decision_webhooks:\n";
  const std::string ok = "    - url: http://127.0.0.1:9000/x\n      secret: topsecret\n";
  const std::vector<Case> cases = {
      {"response:\n  decision_webhooks: http://x\n", "response.decision_webhooks"},
      {head + "    - http://127.0.0.1:9000/x\n", "response.decision_webhooks[0]"},
      {head + ok + "    - url: ftp://127.0.0.1/x\n      secret: topsecret\n",
       "response.decision_webhooks[1].url"},
      {head + "    - url: https://127.0.0.1:9000/x\n      secret: topsecret\n",
       "response.decision_webhooks[0].ca_file"},
      {head + "    - url: http://127.0.0.1:9000/x\n", "response.decision_webhooks[0]"},
      {head + ok + "      secret_file: /k\n", "response.decision_webhooks[0]"},
      {head + ok + "      max_attempts: 0\n", "response.decision_webhooks[0].max_attempts"},
      {head + ok + "      max_attempts: 21\n", "response.decision_webhooks[0].max_attempts"},
      {head + ok + "      timeout_ms: 0\n", "response.decision_webhooks[0].timeout_ms"},
      {head + ok + "      timeout_ms: soon\n", "response.decision_webhooks[0].timeout_ms"},
      {head + ok + "      initial_backoff_ms: 0\n",
       "response.decision_webhooks[0].initial_backoff_ms"},
      {head + ok + "      queue_capacity: 0\n", "response.decision_webhooks[0].queue_capacity"},
      {head + ok + "      secrt: x\n", "response.decision_webhooks[0].secrt"},
      {head + "    - url: http://127.0.0.1:9000/x\n      secret: \"\"\n",
       "response.decision_webhooks[0].secret"},
  };
  for (const auto& c : cases) {
    Config config;
    Status s = ApplyConfigYaml(c.yaml, &config);
    ASSERT_FALSE(s.ok()) << c.yaml;
    EXPECT_NE(s.message().find("'" + c.key), std::string::npos) << s.message() << "\n" << c.yaml;
    EXPECT_EQ(s.message().find("topsecret"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace rampart
