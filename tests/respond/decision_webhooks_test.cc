// Block decisions for external enforcers: the action engine reports every add, extension,
// removal and expiry to its observer in the store's order (each end once), the decision body has
// the documented shape, and DecisionWebhooks POSTs it signed to a loopback receiver.
#include "respond/decision_webhooks.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/crypto.h"
#include "respond/actions.h"
#include "tests/support/fake_keeper.h"
#include "tests/support/webhook_receiver.h"

namespace rampart::respond {
namespace {

using nlohmann::json;
using Kind = BlockChange::Kind;

class BlockObserverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    auto s = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    clock_.SetMillis(1'800'000'000'000);
    ActionEngineOptions options;
    options.sleep = [](int64_t) {};
    engine_ = std::make_unique<ActionEngine>(store_.get(), &keeper_, &clock_, &denylist_,
                                             &lockdowns_, options);
    ASSERT_TRUE(engine_->Load().ok());
    engine_->SetBlockObserver([this](const BlockChange& c) { changes_.push_back(c); });
  }

  // "added 203.0.113.7", "expired 203.0.113.7", ... in the order reported.
  std::vector<std::string> Seen() const {
    std::vector<std::string> out;
    for (const auto& c : changes_)
      out.push_back(std::string(ToString(c.kind)) + " " + c.block.value);
    return out;
  }

  std::unique_ptr<store::Store> store_;
  ManualClock clock_{0};
  testing::FakeKeeper keeper_;
  Denylist denylist_{&clock_};
  LockdownState lockdowns_;
  std::unique_ptr<ActionEngine> engine_;
  std::vector<BlockChange> changes_;
};

TEST_F(BlockObserverTest, AddExtendAndRemoveAreReportedOnce) {
  ActionContext ctx;
  ctx.actor = "usr_admin";
  auto first = engine_->BlockAddress(ctx, "203.0.113.7", 3600, "probe", "");
  ASSERT_TRUE(first.ok());
  clock_.AdvanceSeconds(10);
  ASSERT_TRUE(engine_->BlockAddress(ctx, "203.0.113.7", 7200, "probe", "").ok());
  ASSERT_TRUE(engine_->BlockAddress(ctx, "203.0.113.7", 60, "probe", "").ok())
      << "a shorter block changes nothing: not reported";
  ASSERT_TRUE(engine_->UnblockAddress(ctx, first->id).ok());
  EXPECT_EQ(engine_->UnblockAddress(ctx, first->id).status().code(), Code::kConflict);
  EXPECT_EQ(Seen(), (std::vector<std::string>{"added 203.0.113.7", "extended 203.0.113.7",
                                              "removed 203.0.113.7"}));
  ASSERT_EQ(changes_.size(), 3u);
  EXPECT_EQ(changes_[0].block.id, first->id);
  EXPECT_EQ(changes_[1].block.expires_at, clock_.NowSeconds() + 7200);
  EXPECT_EQ(changes_[2].at, clock_.NowSeconds());
  EXPECT_EQ(changes_[2].block.removed_by, "usr_admin");
  // A removed block never expires later.
  clock_.AdvanceSeconds(8000);
  ASSERT_TRUE(engine_->ExpireBlocks().ok());
  EXPECT_EQ(changes_.size(), 3u);
}

TEST_F(BlockObserverTest, ExpiryIsReportedOnceAndLeavesTheDenylist) {
  ActionContext ctx;
  ASSERT_TRUE(engine_->BlockAddress(ctx, "198.51.100.0/24", 60, "", "").ok());
  ASSERT_TRUE(engine_->BlockAddress(ctx, "203.0.113.9", 600, "", "").ok());
  EXPECT_EQ(denylist_.size(), 2u);
  ASSERT_EQ(*engine_->ExpireBlocks(), 0);
  clock_.AdvanceSeconds(60);
  ASSERT_EQ(*engine_->ExpireBlocks(), 1);
  EXPECT_EQ(*engine_->ExpireBlocks(), 0) << "once";
  EXPECT_EQ(denylist_.size(), 1u);
  EXPECT_EQ(Seen(), (std::vector<std::string>{"added 198.51.100.0/24", "added 203.0.113.9",
                                              "expired 198.51.100.0/24"}));
  EXPECT_EQ(changes_.back().block.scope, "Range");
}

TEST_F(BlockObserverTest, AnExpiredBlockEndsBeforeANewOneOfTheSameValueBegins) {
  ActionContext ctx;
  auto old_block = engine_->BlockAddress(ctx, "203.0.113.7", 60, "", "");
  ASSERT_TRUE(old_block.ok());
  clock_.AdvanceSeconds(61);
  // No sweep ran: the new block's report must still come after the old one's end, or a
  // receiver that keys bans by value would lift the new ban.
  auto new_block = engine_->BlockAddress(ctx, "203.0.113.7", 60, "", "");
  ASSERT_TRUE(new_block.ok());
  EXPECT_NE(new_block->id, old_block->id);
  EXPECT_EQ(Seen(), (std::vector<std::string>{"added 203.0.113.7", "expired 203.0.113.7",
                                              "added 203.0.113.7"}));
  EXPECT_EQ(changes_[1].block.id, old_block->id);
  EXPECT_EQ(changes_[2].block.id, new_block->id);
}

TEST_F(BlockObserverTest, AnotherBlockOfTheSameValueIsReissuedAfterAnUnban) {
  core::Institution inst{core::NewId("ins"), "A", 1};
  ASSERT_TRUE(store_->CreateInstitution(inst).ok());
  ActionContext ctx;
  auto mine = engine_->BlockAddress(ctx, "203.0.113.7", 3600, "", inst.id);
  auto server = engine_->BlockAddress(ctx, "203.0.113.7", 600, "", "");
  ASSERT_TRUE(mine.ok());
  ASSERT_TRUE(server.ok());
  ASSERT_NE(mine->id, server->id) << "one block per owner";
  ASSERT_TRUE(engine_->UnblockAddress(ctx, mine->id).ok());
  EXPECT_EQ(Seen(), (std::vector<std::string>{"added 203.0.113.7", "added 203.0.113.7",
                                              "removed 203.0.113.7", "reissued 203.0.113.7"}));
  EXPECT_EQ(changes_.back().block.id, server->id);
  EXPECT_FALSE(denylist_.Admit("203.0.113.7")) << "the server's block still holds";
}

TEST_F(BlockObserverTest, BlocksInForceAtLoadExpireAfterARestart) {
  ActionContext ctx;
  ASSERT_TRUE(engine_->BlockAddress(ctx, "203.0.113.7", 60, "", "").ok());
  ActionEngine restarted(store_.get(), &keeper_, &clock_, &denylist_, &lockdowns_);
  ASSERT_TRUE(restarted.Load().ok());
  std::vector<BlockChange> seen;
  restarted.SetBlockObserver([&seen](const BlockChange& c) { seen.push_back(c); });
  clock_.AdvanceSeconds(60);
  ASSERT_EQ(*restarted.ExpireBlocks(), 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, Kind::kExpired);
}

// A block that ran out while the server was stopped was never announced: receivers that do
// not expire bans themselves kept it forever.
TEST_F(BlockObserverTest, BlocksThatExpiredWhileStoppedAreAnnouncedOnceAtTheNextStart) {
  ActionContext ctx;
  ctx.actor = "usr_admin";
  auto ran_out = engine_->BlockAddress(ctx, "203.0.113.7", 60, "", "");
  auto lifted = engine_->BlockAddress(ctx, "203.0.113.8", 60, "", "");
  auto lasting = engine_->BlockAddress(ctx, "203.0.113.9", 3600, "", "");
  auto again = engine_->BlockAddress(ctx, "198.51.100.4", 60, "", "");
  ASSERT_TRUE(ran_out.ok() && lifted.ok() && lasting.ok() && again.ok());
  ASSERT_TRUE(engine_->UnblockAddress(ctx, lifted->id).ok());
  engine_.reset();  // stopped; two minutes pass
  clock_.AdvanceSeconds(120);

  auto start = [&](std::vector<BlockChange>* seen) {
    auto engine =
        std::make_unique<ActionEngine>(store_.get(), &keeper_, &clock_, &denylist_, &lockdowns_);
    EXPECT_TRUE(engine->Load().ok());
    engine->SetBlockObserver([seen](const BlockChange& c) { seen->push_back(c); });
    return engine;
  };
  std::vector<BlockChange> seen;
  auto engine = start(&seen);
  // Before any sweep, a new block of a value whose block ran out meanwhile: the old one's
  // unban goes first, or a receiver keying bans by value would lift the new one.
  auto renewed = engine->BlockAddress(ctx, "198.51.100.4", 600, "", "");
  ASSERT_TRUE(renewed.ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].kind, Kind::kExpired);
  EXPECT_EQ(seen[1].kind, Kind::kExpired);
  std::set<int64_t> expired = {seen[0].block.id, seen[1].block.id};
  EXPECT_EQ(expired, (std::set<int64_t>{ran_out->id, again->id}));
  EXPECT_EQ(seen[2].kind, Kind::kAdded);
  EXPECT_EQ(seen[2].block.id, renewed->id);
  EXPECT_EQ(*engine->ExpireBlocks(), 0) << "announced once";
  EXPECT_EQ(seen.size(), 3u);

  // Marked in the store: the next start says nothing of them.
  engine.reset();
  std::vector<BlockChange> after_restart;
  auto next = start(&after_restart);
  EXPECT_EQ(*next->ExpireBlocks(), 0);
  EXPECT_TRUE(after_restart.empty());
  EXPECT_FALSE(denylist_.Admit("203.0.113.9")) << "the lasting block still holds";
}

TEST(DecisionWebhookBody, BanAndUnbanShapes) {
  store::AddressBlock b;
  b.id = 7;
  b.value = "203.0.113.0/24";
  b.scope = "Range";
  b.reason = "fob injection";
  b.scenario = "rampart/epmm-exploit-block";
  b.institution_id = "ins_1";
  b.expires_at = 1769760000 + 86399;
  json ban = DecisionWebhookJson({Kind::kAdded, b, 1769760000}, "dec_1");
  EXPECT_EQ(ban["id"], "dec_1");
  EXPECT_EQ(ban["type"], "ban");
  EXPECT_EQ(ban["event"], "added");
  EXPECT_EQ(ban["block_id"], 7);
  EXPECT_EQ(ban["origin"], "rampart");
  EXPECT_EQ(ban["scope"], "Range");
  EXPECT_EQ(ban["value"], "203.0.113.0/24");
  EXPECT_EQ(ban["scenario"], "rampart/epmm-exploit-block");
  EXPECT_EQ(ban["reason"], "fob injection");
  EXPECT_EQ(ban["institution_id"], "ins_1");
  EXPECT_EQ(ban["duration"], "23h59m59s");
  EXPECT_EQ(ban["until"], "2026-01-31T07:59:59Z");
  EXPECT_EQ(ban["created_at"], "2026-01-30T08:00:00Z");
  EXPECT_EQ(DecisionWebhookJson({Kind::kReissued, b, 1769760000}, "dec_2")["type"], "ban");
  b.institution_id.clear();
  json unban = DecisionWebhookJson({Kind::kExpired, b, 1769846399}, "dec_3");
  EXPECT_EQ(unban["type"], "unban");
  EXPECT_EQ(unban["event"], "expired");
  EXPECT_TRUE(unban["institution_id"].is_null());
  EXPECT_FALSE(unban.contains("duration"));
  EXPECT_FALSE(unban.contains("until"));
  EXPECT_EQ(DecisionWebhookJson({Kind::kRemoved, b, 1}, "dec_4")["type"], "unban");
}

TEST(DecisionWebhooksTest, PostsEveryChangeSignedToEachReceiver) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ::rampart::testing::WebhookReceiver a, b;
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  a.AnswerNext({500});  // one failure: retried
  const std::string dir = ::testing::TempDir();
  const std::string secret_file = dir + "/decision_hook_b_" + crypto::RandomHex(4) + ".key";
  {
    std::ofstream out(secret_file);
    out << "secret-b\n";
  }
  DecisionWebhookConfig ca;
  ca.url = a.Url("/a");
  ca.secret = "secret-a";
  ca.initial_backoff_ms = 1;
  DecisionWebhookConfig cb;
  cb.url = b.Url("/b?token=t");
  cb.secret_file = secret_file;
  auto hooks = DecisionWebhooks::Create({ca, cb});
  ASSERT_TRUE(hooks.ok()) << hooks.status().ToString();
  store::AddressBlock blk;
  blk.id = 3;
  blk.value = "192.0.2.1";
  blk.scope = "Ip";
  blk.expires_at = 2000;
  (*hooks)->Publish({Kind::kAdded, blk, 1000});
  (*hooks)->Publish({Kind::kRemoved, blk, 1500});
  ASSERT_TRUE(a.WaitForCount(3));
  ASSERT_TRUE(b.WaitForCount(2));
  (*hooks)->Stop();
  auto got_a = a.deliveries();
  auto got_b = b.deliveries();
  ASSERT_EQ(got_a.size(), 3u);
  ASSERT_EQ(got_b.size(), 2u);
  for (const auto& d : got_a)
    EXPECT_TRUE(::rampart::testing::WebhookReceiver::SignedWith("secret-a", d));
  for (const auto& d : got_b)
    EXPECT_TRUE(::rampart::testing::WebhookReceiver::SignedWith("secret-b", d));
  EXPECT_EQ(got_b[0].user_agent, "rampart-decisions/1");
  json ban = json::parse(got_b[0].body);
  json unban = json::parse(got_b[1].body);
  EXPECT_EQ(ban["type"], "ban");
  EXPECT_EQ(ban["value"], "192.0.2.1");
  EXPECT_EQ(unban["type"], "unban");
  EXPECT_NE(ban["id"], unban["id"]);
  EXPECT_EQ(json::parse(got_a[2].body)["id"], unban["id"]) << "one id for every receiver";
  auto stats = (*hooks)->stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].stats.delivered, 2u);
  EXPECT_EQ(stats[0].stats.attempts, 3u);
  EXPECT_EQ(stats[1].name, "127.0.0.1:" + std::to_string(b.port()));
  std::string metrics = (*hooks)->RenderMetrics();
  EXPECT_NE(metrics.find("rampart_decision_webhook_delivered_total{webhook=\"1\",receiver=\"" +
                         stats[1].name + "\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("token"), std::string::npos) << "the path is never shown";
  std::remove(secret_file.c_str());
}

TEST(DecisionWebhooksTest, UnreadableSecretFileNamesTheKey) {
  DecisionWebhookConfig ok;
  ok.url = "http://127.0.0.1:1/x";
  ok.secret = "s";
  DecisionWebhookConfig bad = ok;
  bad.secret.clear();
  bad.secret_file = "/nonexistent/rampart/decision.key";
  auto r = DecisionWebhooks::Create({ok, bad});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("response.decision_webhooks[1].secret_file"),
            std::string::npos)
      << r.status().message();
  DecisionWebhookConfig https = ok;
  https.url = "https://127.0.0.1:1/x";
  auto h = DecisionWebhooks::Create({https});
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("response.decision_webhooks[0]"), std::string::npos);
  auto none = DecisionWebhooks::Create({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->size(), 0u);
  EXPECT_EQ((*none)->RenderMetrics(), "");
}

}  // namespace
}  // namespace rampart::respond
