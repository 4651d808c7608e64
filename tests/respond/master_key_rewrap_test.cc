// The master-key re-wrap job against the real keeper rules and a real store: after a rotation
// every row moves to the new version and still opens to the same fields, a row whose key does
// not open fails alone, a transient failure resumes from its page, the worker resumes on start,
// and the rewrap_master_key action reuses a rotation less than an hour old.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "../http/test_util.h"
#include "../support/faulty_store.h"
#include "../support/memory_trail.h"
#include "common/crypto.h"
#include "keeper/service.h"
#include "respond/actions.h"
#include "respond/master_key_rewrap.h"
#include "store/store.h"

namespace rampart::respond {
namespace {

using keeper::testing::MemoryTrail;

class MasterKeyRewrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    auto s = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    faulty_ = std::make_unique<store::testing::FaultyStore>(store_.get());
    ASSERT_TRUE(store_->CreateInstitution(core::Institution{"ins_a", "Agency A", 1}).ok());
    ASSERT_TRUE(store_->CreateInstitution(core::Institution{"ins_b", "Agency B", 1}).ok());
    keeper::KeeperOptions options;
    options.key_dir = dir_.path() + "/keeper";
    auto k = keeper::KeeperService::Open(options, &trail_, &clock_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    keeper_ = std::move(k).value();
  }

  static keeper::Caller Root() {
    return keeper::Caller{"usr_root", "superadmin", "", "", "", "test"};
  }

  // A staff row as the staff routes create it: sealed by the keeper, stored as ciphertext.
  void AddStaff(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string institution = i % 2 == 0 ? "ins_a" : "ins_b";
      const std::string id = "stf_" + std::to_string(100 + next_++);
      keeper::StaffFields fields{"Person " + id, "+32 470 00 00 " + std::to_string(10 + i),
                                 id + "@example.org"};
      auto sealed = keeper_->Seal({Root(), institution, id, fields, false});
      ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
      core::Staff s;
      s.id = id;
      s.institution_id = institution;
      s.sealed = sealed->ciphertext;
      s.wrapped_key = sealed->wrapped_key;
      s.key_version = sealed->key_version;
      s.masked_name = sealed->masked.name;
      s.created_at = s.updated_at = clock_.NowSeconds();
      ASSERT_TRUE(store_->CreateStaff(s).ok());
      fields_[id] = fields;
    }
  }

  std::vector<core::Staff> AllStaff() {
    std::vector<core::Staff> out;
    store::PageRequest page{500, ""};
    auto listed = store_->ListStaff(store::Scope::All(), {}, page);
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? listed->items : out;
  }

  // Every row opens to the fields it was created with.
  void ExpectEveryRowOpens() {
    for (const auto& s : AllStaff()) {
      auto opened = keeper_->Open(
          {Root(), {{s.institution_id, s.id, s.sealed, s.wrapped_key, s.key_version}}});
      ASSERT_TRUE(opened.ok()) << s.id << ": " << opened.status().ToString();
      EXPECT_EQ((*opened)[0].fields.name, fields_[s.id].name);
      EXPECT_EQ((*opened)[0].fields.mobile, fields_[s.id].mobile);
      EXPECT_EQ((*opened)[0].fields.email, fields_[s.id].email);
    }
  }

  std::map<int64_t, int64_t> Counts() {
    auto counts = store_->CountStaffByKeyVersion(store::Scope::All());
    EXPECT_TRUE(counts.ok());
    return counts.ok() ? *counts : std::map<int64_t, int64_t>{};
  }

  // Polls the background job until `done` holds or 20 s pass.
  static bool WaitFor(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }

  http::testing::TempDir dir_;
  ManualClock clock_{1'780'000'000'000};
  MemoryTrail trail_{&clock_};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::testing::FaultyStore> faulty_;
  std::unique_ptr<keeper::KeeperService> keeper_;
  std::map<std::string, keeper::StaffFields> fields_;
  int next_ = 0;
};

TEST_F(MasterKeyRewrapTest, APassMovesEveryRowAndEachStillOpensToTheSameFields) {
  AddStaff(7);
  ASSERT_TRUE(keeper_->RotateMasterKey(Root()).ok());
  MasterKeyRewrap job(store_.get(), keeper_.get(), &clock_, {.batch_size = 3});
  ASSERT_TRUE(job.RunPass().ok());

  EXPECT_EQ(Counts(), (std::map<int64_t, int64_t>{{2, 7}}));
  auto snap = job.Snapshot();
  EXPECT_EQ(snap.state, "done");
  EXPECT_EQ(snap.target_version, 2);
  EXPECT_EQ(snap.rewrapped, 7);
  EXPECT_EQ(snap.failed, 0);
  // Three batches of at most three rows, one keeper audit record each; nothing decrypted.
  int rewrap_records = 0;
  for (const auto& r : trail_.records()) {
    rewrap_records += r.action == "master_key.rewrap";
    EXPECT_NE(r.action, "staff.decrypt");
  }
  EXPECT_EQ(rewrap_records, 3);
  ExpectEveryRowOpens();

  // A second pass finds nothing left.
  ASSERT_TRUE(job.RunPass().ok());
  EXPECT_EQ(job.Snapshot().rewrapped, 0);
}

TEST_F(MasterKeyRewrapTest, ARowWhoseKeyDoesNotOpenFailsAloneAndKeepsItsKey) {
  AddStaff(5);
  auto rows = AllStaff();
  core::Staff broken = rows[2];
  broken.wrapped_key[5] ^= 1;
  ASSERT_TRUE(store_->UpdateStaff(store::Scope::All(), broken).ok());
  ASSERT_TRUE(keeper_->RotateMasterKey(Root()).ok());

  MasterKeyRewrap job(store_.get(), keeper_.get(), &clock_, {.batch_size = 2});
  ASSERT_TRUE(job.RunPass().ok());
  auto snap = job.Snapshot();
  EXPECT_EQ(snap.state, "done");
  EXPECT_EQ(snap.rewrapped, 4);
  EXPECT_EQ(snap.failed, 1);
  EXPECT_EQ(snap.failed_staff_ids, std::vector<std::string>{broken.id});
  EXPECT_EQ(Counts(), (std::map<int64_t, int64_t>{{1, 1}, {2, 4}}));
  auto kept = store_->GetStaff(store::Scope::All(), broken.id);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->wrapped_key, broken.wrapped_key);
}

TEST_F(MasterKeyRewrapTest, ATransientFailureIsRetriedUntilEveryRowMoves) {
  AddStaff(6);
  ASSERT_TRUE(keeper_->RotateMasterKey(Root()).ok());
  MasterKeyRewrap job(faulty_.get(), keeper_.get(), &clock_, {.batch_size = 2, .retry_millis = 10});
  faulty_->FailNext("UpdateStaffKeys", 1, Status::Unavailable("database is locked"));
  EXPECT_EQ(job.RunPass().code(), Code::kUnavailable);
  auto snap = job.Snapshot();
  EXPECT_EQ(snap.state, "retrying");
  EXPECT_EQ(snap.last_error, "database is locked");
  EXPECT_EQ(Counts(), (std::map<int64_t, int64_t>{{1, 6}})) << "a failed batch wrote nothing";

  // The worker tries again by itself.
  faulty_->FailNext("UpdateStaffKeys", 2, Status::Unavailable("database is locked"));
  job.Start();
  ASSERT_TRUE(WaitFor([&] { return job.Snapshot().state == "done"; }));
  job.Stop();
  EXPECT_EQ(Counts(), (std::map<int64_t, int64_t>{{2, 6}}));
  EXPECT_EQ(job.Snapshot().rewrapped, 6);
  EXPECT_GE(faulty_->calls("UpdateStaffKeys"), 6);
  ExpectEveryRowOpens();
}

TEST_F(MasterKeyRewrapTest, TheWorkerResumesOnStartAndRunsAgainWhenKicked) {
  AddStaff(9);
  // A rotation whose re-wrap a restart cut off: rows are still on version 1.
  ASSERT_TRUE(keeper_->RotateMasterKey(Root()).ok());
  MasterKeyRewrap job(store_.get(), keeper_.get(), &clock_, {.batch_size = 4});
  job.Start();
  ASSERT_TRUE(WaitFor([&] { return Counts() == std::map<int64_t, int64_t>{{2, 9}}; }));
  ASSERT_TRUE(WaitFor([&] { return job.Snapshot().state == "done"; }));

  clock_.AdvanceSeconds(keeper::kMasterKeyRotationInterval);
  AddStaff(2);  // sealed under version 2
  ASSERT_TRUE(keeper_->RotateMasterKey(Root()).ok());
  job.Kick();
  ASSERT_TRUE(WaitFor([&] { return Counts() == std::map<int64_t, int64_t>{{3, 11}}; }));
  job.Stop();
  ExpectEveryRowOpens();
}

TEST_F(MasterKeyRewrapTest, TheActionReusesARecentRotationAndStartsTheJob) {
  AddStaff(4);
  Denylist denylist(&clock_);
  LockdownState lockdowns;
  ActionEngineOptions options;
  options.sleep = [](int64_t) {};
  ActionEngine engine(store_.get(), keeper_.get(), &clock_, &denylist, &lockdowns, options);
  ActionContext ctx;
  ctx.playbook = "keeper-compromise";

  // Without a job the action cannot do its work: a failure, on record.
  EXPECT_EQ(engine.RewrapMasterKey(ctx).status().code(), Code::kUnavailable);

  MasterKeyRewrap job(store_.get(), keeper_.get(), &clock_);
  engine.SetMasterKeyRewrap(&job);
  job.Start();
  auto first = engine.RewrapMasterKey(ctx);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->rotated);
  EXPECT_EQ(first->version, 2);
  ASSERT_TRUE(WaitFor([&] { return Counts() == std::map<int64_t, int64_t>{{2, 4}}; }));

  clock_.AdvanceSeconds(600);
  auto again = engine.RewrapMasterKey(ctx);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->rotated);
  EXPECT_EQ(again->version, 2);

  clock_.AdvanceSeconds(keeper::kMasterKeyRotationInterval);
  auto later = engine.RewrapMasterKey(ctx);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->rotated);
  EXPECT_EQ(later->version, 3);
  ASSERT_TRUE(WaitFor([&] { return Counts() == std::map<int64_t, int64_t>{{3, 4}}; }));
  job.Stop();

  std::vector<nlohmann::json> outcomes;
  for (const auto& r : trail_.records()) {
    if (r.action != "response.rewrap_master_key") continue;
    EXPECT_EQ(r.actor, "system");
    EXPECT_TRUE(r.institution_id.empty());
    auto d = nlohmann::json::parse(r.details_json);
    d["outcome"] = r.outcome;
    outcomes.push_back(d);
  }
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0]["outcome"], "failure");
  EXPECT_EQ(outcomes[1]["rotated"], true);
  EXPECT_EQ(outcomes[2]["rotated"], false);
  EXPECT_EQ(outcomes[3]["rotated"], true);
  EXPECT_EQ(outcomes[3]["playbook"], "keeper-compromise");
  ExpectEveryRowOpens();
}

}  // namespace
}  // namespace rampart::respond
