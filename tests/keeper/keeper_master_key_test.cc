// Master-key rotation and re-wrap: a rotated keeper seals under the new version, re-wrapped data
// keys open the same fields, a key that does not open fails alone, rotations are rate-limited and
// persisted, and the ops behave the same over the socket.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../http/test_util.h"
#include "../support/memory_trail.h"
#include "common/crypto.h"
#include "keeper/client.h"
#include "keeper/service.h"
#include "keeper/socket_server.h"

namespace rampart::keeper {
namespace {

using http::testing::TempDir;
using testing::MemoryTrail;

class KeeperMasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    Reopen();
  }

  void Reopen() {
    keeper_.reset();
    KeeperOptions options;
    options.key_dir = KeyDir();
    auto k = KeeperService::Open(options, &trail_, &clock_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    keeper_ = std::move(k).value();
  }

  std::string KeyDir() const { return dir_.path() + "/keeper"; }

  static Caller Superadmin() {
    return Caller{"usr_root", "superadmin", "", "req_mk", "198.51.100.9", "master_key"};
  }

  SealedRef Sealed(const std::string& staff_id, StaffFields fields,
                   const std::string& institution = "ins_a") {
    auto sealed = keeper_->Seal({Caller{"tok_admin", "admin", institution, "", "", "staff.create"},
                                 institution, staff_id, std::move(fields), false});
    EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
    return SealedRef{institution, staff_id, sealed->ciphertext, sealed->wrapped_key,
                     sealed->key_version};
  }

  static WrappedKeyRef KeyOf(const SealedRef& r) {
    return WrappedKeyRef{r.institution_id, r.staff_id, r.wrapped_key, r.key_version};
  }

  Result<std::vector<OpenedStaff>> OpenAs(const SealedRef& r) {
    return keeper_->Open(
        {Caller{"usr_root", "superadmin", "", "", "", "staff.reveal"}, std::vector{r}});
  }

  std::vector<audit::Record> WithAction(const std::string& action) const {
    std::vector<audit::Record> out;
    for (const auto& r : trail_.records()) {
      if (r.action == action) out.push_back(r);
    }
    return out;
  }

  TempDir dir_;
  ManualClock clock_{1'780'000'000'000};
  MemoryTrail trail_{&clock_};
  std::unique_ptr<KeeperService> keeper_;
};

TEST_F(KeeperMasterKeyTest, RotationAddsAVersionThatWrapsNewSealsAndPersists) {
  auto before = keeper_->GetMasterKeyStatus(Superadmin());
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->current_version, 1);
  ASSERT_EQ(before->versions.size(), 1u);
  EXPECT_EQ(before->versions[0].created_at, clock_.NowSeconds());
  SealedRef old = Sealed("stf_old", {"Jane Doe", "+32 470 12 34 12", "jane@example.org"});
  EXPECT_EQ(old.key_version, 1);

  clock_.AdvanceSeconds(10);
  auto rotated = keeper_->RotateMasterKey(Superadmin());
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(rotated->current_version, 2);
  ASSERT_EQ(rotated->versions.size(), 2u);
  EXPECT_EQ(rotated->versions[1].version, 2);
  EXPECT_EQ(rotated->versions[1].created_at, clock_.NowSeconds());
  EXPECT_EQ(Sealed("stf_new", {"John Roe", "", ""}).key_version, 2);

  auto audits = WithAction("master_key.rotate");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].actor, "usr_root");
  EXPECT_EQ(audits[0].outcome, "success");
  auto details = nlohmann::json::parse(audits[0].details_json);
  EXPECT_EQ(details["old_version"], 1);
  EXPECT_EQ(details["new_version"], 2);

  // A restarted keeper still holds both versions, and the old row still opens.
  Reopen();
  auto after = keeper_->GetMasterKeyStatus(Superadmin());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->current_version, 2);
  EXPECT_EQ(after->versions.size(), 2u);
  auto opened = OpenAs(old);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)[0].fields.name, "Jane Doe");
}

TEST_F(KeeperMasterKeyTest, RotationsAreLimitedToOneAnHourAndToSuperadmins) {
  // The installation's own key does not count as a rotation.
  ASSERT_TRUE(keeper_->RotateMasterKey(Superadmin()).ok());
  auto again = keeper_->RotateMasterKey(Superadmin());
  EXPECT_EQ(again.status().code(), Code::kResourceExhausted);
  clock_.AdvanceSeconds(kMasterKeyRotationInterval - 1);
  EXPECT_EQ(keeper_->RotateMasterKey(Superadmin()).status().code(), Code::kResourceExhausted);
  // Restarting the keeper does not reset the clock of the limit.
  Reopen();
  EXPECT_EQ(keeper_->RotateMasterKey(Superadmin()).status().code(), Code::kResourceExhausted);
  clock_.AdvanceSeconds(1);
  auto third = keeper_->RotateMasterKey(Superadmin());
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->current_version, 3);

  clock_.AdvanceSeconds(kMasterKeyRotationInterval);
  Caller admin{"tok_admin", "admin", "ins_a", "", "", "master_key"};
  EXPECT_EQ(keeper_->RotateMasterKey(admin).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(keeper_->RewrapKeys({admin, {}}).status().code(), Code::kPermissionDenied);
  Caller engine{"system", "system", "", "", "", "master_key.rotate"};
  EXPECT_TRUE(keeper_->RotateMasterKey(engine).ok());

  int denied = 0;
  for (const auto& r : WithAction("master_key.rotate")) denied += r.outcome == "denied";
  EXPECT_EQ(denied, 4) << "three over the limit and the admin's";
}

TEST_F(KeeperMasterKeyTest, RewrappedKeysOpenTheSameFieldsUnderTheNewVersion) {
  SealedRef a = Sealed("stf_a", {"Jane Doe", "+32 470 12 34 12", "jane@example.org"});
  SealedRef b = Sealed("stf_b", {"John Roe", "+33 6 12 34 56 78", "john@example.org"}, "ins_b");
  ASSERT_TRUE(keeper_->RotateMasterKey(Superadmin()).ok());
  const size_t decrypts_before = WithAction("staff.decrypt").size();

  auto rewrapped = keeper_->RewrapKeys({Superadmin(), {KeyOf(a), KeyOf(b)}});
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.status().ToString();
  ASSERT_EQ(rewrapped->size(), 2u);
  for (const auto& r : *rewrapped) {
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.key_version, 2);
  }
  EXPECT_EQ((*rewrapped)[0].staff_id, "stf_a");
  EXPECT_NE((*rewrapped)[0].wrapped_key, a.wrapped_key);
  EXPECT_EQ(WithAction("staff.decrypt").size(), decrypts_before) << "re-wrap decrypted fields";

  SealedRef moved = a;
  moved.wrapped_key = (*rewrapped)[0].wrapped_key;
  moved.key_version = 2;
  auto opened = OpenAs(moved);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)[0].fields.name, "Jane Doe");
  EXPECT_EQ((*opened)[0].fields.email, "jane@example.org");
  // Still bound to its row: a's new wrapped key does not open b's ciphertext.
  SealedRef crossed = b;
  crossed.wrapped_key = moved.wrapped_key;
  crossed.key_version = 2;
  EXPECT_FALSE(OpenAs(crossed).ok());
  // Nor under the old version's label.
  SealedRef relabelled = moved;
  relabelled.key_version = 1;
  EXPECT_FALSE(OpenAs(relabelled).ok());

  auto audits = WithAction("master_key.rewrap");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].outcome, "success");
  auto details = nlohmann::json::parse(audits[0].details_json);
  EXPECT_EQ(details["count"], 2);
  EXPECT_EQ(details["rewrapped"], 2);
  EXPECT_EQ(details["from_versions"]["1"], 2);
  EXPECT_EQ(details["to_version"], 2);
  EXPECT_EQ(audits[0].details_json.find("Jane"), std::string::npos);
}

TEST_F(KeeperMasterKeyTest, AKeyThatDoesNotOpenFailsOnlyItsRecord) {
  SealedRef good = Sealed("stf_good", {"Jane Doe", "", ""});
  SealedRef tampered = Sealed("stf_bad", {"John Roe", "", ""});
  tampered.wrapped_key[30] ^= 1;
  SealedRef moved = Sealed("stf_moved", {"Eve", "", ""});
  moved.staff_id = "stf_other";  // a wrapped key copied into another row
  ASSERT_TRUE(keeper_->RotateMasterKey(Superadmin()).ok());
  WrappedKeyRef unknown = KeyOf(good);
  unknown.key_version = 7;

  auto rewrapped =
      keeper_->RewrapKeys({Superadmin(), {KeyOf(tampered), KeyOf(good), KeyOf(moved), unknown}});
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.status().ToString();
  ASSERT_EQ(rewrapped->size(), 4u);
  EXPECT_FALSE((*rewrapped)[0].ok);
  EXPECT_FALSE((*rewrapped)[0].error.empty());
  EXPECT_TRUE((*rewrapped)[1].ok);
  EXPECT_EQ((*rewrapped)[1].key_version, 2);
  EXPECT_FALSE((*rewrapped)[2].ok);
  EXPECT_FALSE((*rewrapped)[3].ok);

  auto audits = WithAction("master_key.rewrap");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].outcome, "failure");
  auto details = nlohmann::json::parse(audits[0].details_json);
  EXPECT_EQ(details["rewrapped"], 1);
  EXPECT_EQ(details["failed"], 3);
}

TEST_F(KeeperMasterKeyTest, RewrapIsBoundedAndLeavesCurrentKeysAlone) {
  SealedRef a = Sealed("stf_a", {"Jane Doe", "", ""});
  auto same = keeper_->RewrapKeys({Superadmin(), {KeyOf(a)}});
  ASSERT_TRUE(same.ok());
  ASSERT_EQ(same->size(), 1u);
  EXPECT_TRUE((*same)[0].ok);
  EXPECT_EQ((*same)[0].wrapped_key, a.wrapped_key);
  EXPECT_EQ((*same)[0].key_version, 1);

  std::vector<WrappedKeyRef> many(kMaxRewrapPerCall + 1, KeyOf(a));
  EXPECT_EQ(keeper_->RewrapKeys({Superadmin(), many}).status().code(), Code::kInvalidArgument);

  // An institution-bound engine caller re-wraps only its institution's records.
  ASSERT_TRUE(keeper_->RotateMasterKey(Superadmin()).ok());
  Caller bound{"system", "system", "ins_b", "", "", "master_key.rewrap"};
  auto refused = keeper_->RewrapKeys({bound, {KeyOf(a)}});
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE((*refused)[0].ok);

  // No audit, no re-wrap.
  trail_.set_fail(true);
  EXPECT_FALSE(keeper_->RewrapKeys({Superadmin(), {KeyOf(a)}}).ok());
}

TEST_F(KeeperMasterKeyTest, RetiringAVersionRefusesTheCurrentOneAndARunningKeeper) {
  SealedRef a = Sealed("stf_a", {"Jane Doe", "", ""});
  ASSERT_TRUE(keeper_->RotateMasterKey(Superadmin()).ok());
  keeper_.reset();
  {
    // What a running keeper process holds: its audit log's lock.
    int fd = ::open((KeyDir() + "/audit/LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    EXPECT_EQ(KeeperService::RetireMasterKey(KeyDir(), 1, clock_).code(), Code::kConflict);
    ::close(fd);
  }
  EXPECT_EQ(KeeperService::RetireMasterKey(KeyDir(), 2, clock_).code(), Code::kInvalidArgument);
  EXPECT_EQ(KeeperService::RetireMasterKey(KeyDir(), 9, clock_).code(), Code::kNotFound);
  ASSERT_TRUE(KeeperService::RetireMasterKey(KeyDir(), 1, clock_).ok());
  Reopen();
  auto status = keeper_->GetMasterKeyStatus(Superadmin());
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->versions.size(), 1u);
  EXPECT_EQ(status->versions[0].version, 2);
  // What retiring means: a row still on version 1 no longer opens.
  EXPECT_FALSE(OpenAs(a).ok());
}

TEST_F(KeeperMasterKeyTest, MasterKeyOpsTravelOverTheProtocol) {
  std::string socket_path = dir_.path() + "/keeper.sock";
  auto server = SocketServer::Start(keeper_.get(), {socket_path, 4});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  KeeperClient client({socket_path});
  SealedRef a = Sealed("stf_a", {"Jane Doe", "+32 470 12 34 12", ""});

  auto rotated = client.RotateMasterKey(Superadmin());
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(rotated->current_version, 2);
  EXPECT_EQ(client.RotateMasterKey(Superadmin()).status().code(), Code::kResourceExhausted);

  WrappedKeyRef bad = KeyOf(a);
  bad.wrapped_key[0] ^= 1;
  auto rewrapped = client.RewrapKeys({Superadmin(), {KeyOf(a), bad}});
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.status().ToString();
  ASSERT_EQ(rewrapped->size(), 2u);
  EXPECT_TRUE((*rewrapped)[0].ok);
  EXPECT_FALSE((*rewrapped)[1].ok);
  SealedRef moved = a;
  moved.wrapped_key = (*rewrapped)[0].wrapped_key;
  moved.key_version = (*rewrapped)[0].key_version;
  auto opened = OpenAs(moved);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)[0].fields.mobile, "+32 470 12 34 12");

  auto status = client.GetMasterKeyStatus(Superadmin());
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->current_version, 2);
  EXPECT_EQ(status->versions.size(), 2u);
}

}  // namespace
}  // namespace rampart::keeper
