// The signed webhook sender against a loopback receiver: the signature verifies with the secret,
// a failing receiver is retried with backoff until it answers 2xx or the attempts run out, bodies
// leave in the order submitted, a full queue refuses and counts, and Stop() ends a long backoff
// wait and abandons what it may not deliver.
#include "http/webhook_sender.h"

#include <gtest/gtest.h>
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "tests/support/webhook_receiver.h"

namespace rampart::http {
namespace {

using ::rampart::testing::WebhookReceiver;

constexpr const char* kSecret = "decision-webhook-secret";

WebhookOptions OptionsFor(const WebhookReceiver& rx) {
  WebhookOptions o;
  o.url = rx.Url("/hooks/rampart?tenant=eu");
  o.secret = kSecret;
  o.max_attempts = 4;
  o.initial_backoff_ms = 1;
  o.timeout_ms = 30000;
  return o;
}

std::string Body(int n) {
  return nlohmann::json{{"id", "dec_" + std::to_string(n)}, {"created_at", "2026-01-30T08:00:00Z"}}
      .dump();
}

// Polls until the sender has finished with `n` bodies (delivered or failed), for up to 30 s.
bool WaitSettled(const WebhookSender& s, uint64_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (s.stats().delivered + s.stats().failed < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class WebhookSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(rx_.Start());
  }
  WebhookReceiver rx_;
};

TEST_F(WebhookSenderTest, SignatureVerifiesWithTheSecretOverTheExactBody) {
  auto sender = WebhookSender::Create(OptionsFor(rx_), 16);
  ASSERT_TRUE(sender.ok()) << sender.status().ToString();
  ASSERT_TRUE((*sender)->Submit(Body(1)));
  ASSERT_TRUE(WaitSettled(**sender, 1));
  auto got = rx_.deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, Body(1)) << "the body arrives byte for byte";
  EXPECT_EQ(got[0].target, "/hooks/rampart?tenant=eu");
  EXPECT_EQ(got[0].user_agent, "rampart-webhook/1");
  EXPECT_EQ(got[0].signature.rfind("sha256=", 0), 0u);
  EXPECT_TRUE(WebhookReceiver::SignedWith(kSecret, got[0]));
  EXPECT_FALSE(WebhookReceiver::SignedWith("another-secret", got[0]));
  WebhookReceiver::Delivery tampered = got[0];
  tampered.body.insert(tampered.body.size() - 1, " ");
  EXPECT_FALSE(WebhookReceiver::SignedWith(kSecret, tampered)) << "one byte more breaks it";
  EXPECT_EQ(WebhookSignature(kSecret, got[0].body), got[0].signature);
  EXPECT_EQ((*sender)->stats().delivered, 1u);
  // The timed signature binds the send time to the body: a receiver refuses a stale replay, and
  // moving the time (or the body) breaks it.
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  ASSERT_FALSE(got[0].timestamp.empty());
  const int64_t sent = std::stoll(got[0].timestamp);
  EXPECT_LE(sent, now);
  EXPECT_GE(sent, now - 60);
  EXPECT_TRUE(WebhookReceiver::TimedSignedWith(kSecret, got[0]));
  EXPECT_EQ(WebhookTimedSignature(kSecret, sent, got[0].body), got[0].timed_signature);
  WebhookReceiver::Delivery replayed = got[0];
  replayed.timestamp = std::to_string(sent + 3600);
  EXPECT_FALSE(WebhookReceiver::TimedSignedWith(kSecret, replayed)) << "a later time is refused";
  EXPECT_FALSE(WebhookReceiver::TimedSignedWith(kSecret, tampered));
  EXPECT_FALSE(WebhookReceiver::TimedSignedWith("another-secret", got[0]));
}

TEST_F(WebhookSenderTest, RetriesAfterServerErrorsThenSucceeds) {
  rx_.AnswerNext({500, 503});
  auto sender = WebhookSender::Create(OptionsFor(rx_), 16);
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->Submit(Body(1)));
  ASSERT_TRUE(WaitSettled(**sender, 1));
  WebhookStats s = (*sender)->stats();
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.attempts, 3u) << "two failures, then the success";
  auto got = rx_.deliveries();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& d : got) {
    EXPECT_EQ(d.body, Body(1)) << "a retry sends the same body (same id)";
    EXPECT_TRUE(WebhookReceiver::SignedWith(kSecret, d));
    EXPECT_TRUE(WebhookReceiver::TimedSignedWith(kSecret, d)) << "each attempt timed as sent";
  }
  EXPECT_LE(std::stoll(got[0].timestamp), std::stoll(got[2].timestamp));
}

TEST_F(WebhookSenderTest, GivesUpAfterMaxAttemptsAndGoesOnWithTheNextBody) {
  rx_.AnswerNext({500, 500, 500, 500});
  auto sender = WebhookSender::Create(OptionsFor(rx_), 16);
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->Submit(Body(1)));
  ASSERT_TRUE((*sender)->Submit(Body(2)));
  ASSERT_TRUE(WaitSettled(**sender, 2));
  WebhookStats s = (*sender)->stats();
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.attempts, 5u) << "max_attempts (4) for the first, one for the second";
  auto got = rx_.deliveries();
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i].body, Body(1));
  EXPECT_EQ(got[4].body, Body(2));
}

TEST_F(WebhookSenderTest, DeliversInSubmissionOrder) {
  auto sender = WebhookSender::Create(OptionsFor(rx_), 64);
  ASSERT_TRUE(sender.ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*sender)->Submit(Body(i)));
  ASSERT_TRUE(WaitSettled(**sender, 20));
  auto got = rx_.deliveries();
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i].body, Body(i));
}

TEST_F(WebhookSenderTest, FullQueueRefusesAndCountsDrops) {
  rx_.CloseGate();
  auto sender = WebhookSender::Create(OptionsFor(rx_), 2);
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->Submit(Body(0)));
  // The receiver holds the first request: the sender's thread is busy and the queue is empty.
  ASSERT_TRUE(rx_.WaitForCount(1));
  EXPECT_TRUE((*sender)->Submit(Body(1)));
  EXPECT_TRUE((*sender)->Submit(Body(2)));
  EXPECT_FALSE((*sender)->Submit(Body(3)));
  EXPECT_FALSE((*sender)->Submit(Body(4)));
  EXPECT_EQ((*sender)->stats().dropped, 2u);
  EXPECT_EQ((*sender)->queued(), 2u);
  rx_.OpenGate();
  ASSERT_TRUE(WaitSettled(**sender, 3));
  EXPECT_EQ((*sender)->stats().delivered, 3u);
  auto got = rx_.deliveries();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].body, Body(2));
}

TEST_F(WebhookSenderTest, StopEndsABackoffWaitAndAbandonsWhatIsLeft) {
  rx_.AnswerOtherwise(500);
  WebhookOptions o = OptionsFor(rx_);
  o.max_attempts = 10;
  o.initial_backoff_ms = 600000;  // ten minutes: only Stop() can end this wait
  o.max_backoff_ms = 600000;
  auto sender = WebhookSender::Create(o, 8);
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->Submit(Body(1)));
  ASSERT_TRUE((*sender)->Submit(Body(2)));
  ASSERT_TRUE((*sender)->Submit(Body(3)));
  ASSERT_TRUE(rx_.WaitForCount(1));
  (*sender)->Stop(0);
  WebhookStats s = (*sender)->stats();
  EXPECT_EQ(s.failed, 1u) << "the body in its backoff wait gives up";
  EXPECT_EQ(s.dropped, 2u) << "no grace left for the queued ones";
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(rx_.count(), 1u);
  EXPECT_FALSE((*sender)->Submit(Body(4))) << "a stopped sender refuses";
  EXPECT_EQ((*sender)->stats().dropped, 3u);
  (*sender)->Stop();  // idempotent
}

TEST_F(WebhookSenderTest, StopGivesEachQueuedBodyOneAttemptWithinTheGrace) {
  rx_.AnswerOtherwise(500);
  WebhookOptions o = OptionsFor(rx_);
  o.initial_backoff_ms = 600000;
  o.max_backoff_ms = 600000;
  auto sender = WebhookSender::Create(o, 8);
  ASSERT_TRUE(sender.ok());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE((*sender)->Submit(Body(i)));
  ASSERT_TRUE(rx_.WaitForCount(1));
  (*sender)->Stop(600000);
  WebhookStats s = (*sender)->stats();
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.attempts, 3u) << "one each: no retry after Stop()";
  auto got = rx_.deliveries();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].body, Body(3));
}

TEST(WebhookOptionsTest, BadOptionsAreRefusedWithoutNamingTheSecret) {
  WebhookOptions o;
  o.url = "https://127.0.0.1:1/x";
  o.secret = "s3cr3t-value";
  auto r = WebhookPoster::Create(o);
  ASSERT_FALSE(r.ok()) << "https without a CA to pin";
  EXPECT_EQ(r.status().message().find("s3cr3t-value"), std::string::npos);
  o.url = "http://127.0.0.1:1/x";
  o.secret = "";
  EXPECT_FALSE(WebhookPoster::Create(o).ok()) << "no secret";
  o.secret = "s";
  o.url = "ftp:/nope";
  EXPECT_FALSE(WebhookSender::Create(o, 4).ok());
  o.url = "gopher://127.0.0.1:1/x";
  EXPECT_FALSE(WebhookSender::Create(o, 4).ok());
  o.url = "http://127.0.0.1:1/x";
  o.timeout_ms = 0;
  EXPECT_FALSE(WebhookSender::Create(o, 4).ok());
  o.timeout_ms = 100;
  EXPECT_TRUE(WebhookSender::Create(o, 4).ok());
}

}  // namespace
}  // namespace rampart::http
