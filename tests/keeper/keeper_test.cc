// The keeper's rules: sealing binds ciphertexts to their row, decrypts are budgeted and audited,
// canaries are loud, and commands are signed only within policy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "../http/test_util.h"
#include "../support/memory_trail.h"
#include "common/crypto.h"
#include "keeper/service.h"

namespace rampart::keeper {
namespace {

using http::testing::TempDir;
using testing::MemoryTrail;

class KeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    Reopen();
  }

  void Reopen() {
    keeper_.reset();
    KeeperOptions options = options_;
    options.key_dir = dir_.path() + "/keeper";
    auto k = KeeperService::Open(options, &trail_, &clock_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    keeper_ = std::move(k).value();
  }

  static Caller HelpdeskCaller(std::string principal = "tok_helpdesk") {
    return Caller{std::move(principal), "helpdesk",    "ins_a", "req_1",
                  "198.51.100.7",       "staff.reveal"};
  }

  SealedRef Sealed(const std::string& staff_id, StaffFields fields, bool canary = false,
                   const std::string& institution = "ins_a") {
    auto sealed = keeper_->Seal({Caller{"tok_admin", "admin", institution, "", "", "staff.create"},
                                 institution, staff_id, std::move(fields), canary});
    EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
    return SealedRef{institution, staff_id, sealed->ciphertext, sealed->wrapped_key,
                     sealed->key_version};
  }

  SignCommandRequest Command(std::string type, std::string principal = "tok_admin") {
    SignCommandRequest r;
    r.caller = Caller{std::move(principal), "admin", "ins_a", "req_9", "", "command"};
    r.institution_id = "ins_a";
    r.fields = {"dev_1",         "cmd_" + crypto::RandomHex(4), 7,
                std::move(type), crypto::Sha256Hex("{}"),       2000000000};
    return r;
  }

  TempDir dir_;
  ManualClock clock_{1'780'000'000'000};
  MemoryTrail trail_{&clock_};
  KeeperOptions options_;
  std::unique_ptr<KeeperService> keeper_;
};

TEST_F(KeeperTest, SealedRecordsOpenOnlyInTheirOwnRow) {
  SealedRef a = Sealed("stf_a", {"Jane Doe", "+32 470 12 34 12", "jane.doe@example.org"});
  SealedRef b = Sealed("stf_b", {"John Roe", "+33 6 12 34 56 78", "john@example.org"});
  EXPECT_EQ(a.ciphertext.find("Jane"), std::string::npos) << "ciphertext holds the name";

  auto opened = keeper_->Open({HelpdeskCaller(), {a}});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)[0].fields.name, "Jane Doe");
  EXPECT_EQ((*opened)[0].fields.mobile, "+32 470 12 34 12");
  EXPECT_FALSE((*opened)[0].canary);

  // What an attacker with the database could do: move b's sealed data into a's row.
  SealedRef swapped = a;
  swapped.ciphertext = b.ciphertext;
  swapped.wrapped_key = b.wrapped_key;
  EXPECT_EQ(keeper_->Open({HelpdeskCaller(), {swapped}}).status().code(), Code::kInvalidArgument);
  SealedRef flipped = a;
  flipped.ciphertext[30] ^= 1;
  EXPECT_EQ(keeper_->Open({HelpdeskCaller(), {flipped}}).status().code(), Code::kInvalidArgument);
}

TEST_F(KeeperTest, RecordsOfAnotherInstitutionAreRefused) {
  SealedRef other = Sealed("stf_x", {"Eve", "+49 151 0000000", "eve@example.org"}, false, "ins_b");
  EXPECT_EQ(keeper_->Open({HelpdeskCaller(), {other}}).status().code(), Code::kPermissionDenied);
}

TEST_F(KeeperTest, EveryDecryptIsAuditedBeforeDataLeaves) {
  SealedRef a = Sealed("stf_a", {"Jane Doe", "+32 470 12 34 12", "jane@example.org"});
  size_t before = trail_.records().size();
  ASSERT_TRUE(keeper_->Open({HelpdeskCaller(), {a}}).ok());
  auto records = trail_.records();
  ASSERT_EQ(records.size(), before + 1);
  const audit::Record& r = records.back();
  EXPECT_EQ(r.action, "staff.decrypt");
  EXPECT_EQ(r.actor, "tok_helpdesk");
  EXPECT_EQ(r.target, "stf_a");
  EXPECT_EQ(r.request_id, "req_1");
  auto details = nlohmann::json::parse(r.details_json);
  EXPECT_EQ(details["purpose"], "staff.reveal");
  EXPECT_EQ(details["staff_ids"][0], "stf_a");
  EXPECT_EQ(r.details_json.find("Jane"), std::string::npos) << "plaintext in the audit log";

  // No audit, no data.
  trail_.set_fail(true);
  EXPECT_FALSE(keeper_->Open({HelpdeskCaller(), {a}}).ok());
}

TEST_F(KeeperTest, BudgetsCapReadsPerPrincipalAndRefill) {
  std::vector<SealedRef> records;
  for (int i = 0; i < 61; ++i) {
    records.push_back(Sealed("stf_" + std::to_string(i), {"N", "+32 470 00 00 00", ""}));
  }
  std::vector<SealedRef> sixty(records.begin(), records.begin() + 60);
  ASSERT_TRUE(keeper_->Open({HelpdeskCaller(), sixty}).ok()) << "helpdesk may read 60 a minute";
  auto over = keeper_->Open({HelpdeskCaller(), {records[60]}});
  EXPECT_EQ(over.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(trail_.records().back().outcome, "denied") << "refusals are audited too";
  // Another principal has its own budget.
  EXPECT_TRUE(keeper_->Open({HelpdeskCaller("tok_other"), {records[60]}}).ok());
  // A request larger than what is left takes nothing: all or none.
  clock_.AdvanceSeconds(10);  // refills 10 records
  EXPECT_FALSE(keeper_->Open({HelpdeskCaller(), {records.begin(), records.begin() + 11}}).ok());
  EXPECT_TRUE(keeper_->Open({HelpdeskCaller(), {records.begin(), records.begin() + 10}}).ok());
  // Roles without staff-data access read nothing.
  Caller auditor{"tok_aud", "auditor", "ins_a", "", "", "staff.reveal"};
  EXPECT_EQ(keeper_->Open({auditor, {records[0]}}).status().code(), Code::kPermissionDenied);
}

TEST_F(KeeperTest, CanaryReadsAreCriticalAndInvisibleBeforehand) {
  SealedRef canary =
      Sealed("stf_c", {"Mara Quist", "+32 471 55 66 77", "m.quist@example.org"}, true);
  SealedRef normal = Sealed("stf_n", {"Ana Lind", "+32 471 55 66 78", "a.lind@example.org"});
  EXPECT_EQ(canary.ciphertext.size(), normal.ciphertext.size())
      << "a canary must not be recognisable by size";
  auto opened = keeper_->Open({HelpdeskCaller(), {canary}});
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE((*opened)[0].canary);
  auto records = trail_.records();
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records.back().action, "staff.canary_read");
  EXPECT_EQ(records.back().severity, "critical");
  EXPECT_EQ(records.back().target, "stf_c");
}

TEST_F(KeeperTest, BlindIndexesMatchNormalisedValuesPerInstitution) {
  auto sealed = keeper_->Seal({HelpdeskCaller(),
                               "ins_a",
                               "stf_a",
                               {"Jane", "+32 470 12 34 12", "Jane.Doe@Example.org"},
                               false});
  ASSERT_TRUE(sealed.ok());
  auto by_mobile = keeper_->BlindIndex("ins_a", "mobile", "+32470123412");
  auto by_email = keeper_->BlindIndex("ins_a", "email", " jane.doe@example.org ");
  ASSERT_TRUE(by_mobile.ok() && by_email.ok());
  EXPECT_EQ(*by_mobile, sealed->mobile_index);
  EXPECT_EQ(*by_email, sealed->email_index);
  EXPECT_NE(*keeper_->BlindIndex("ins_b", "mobile", "+32470123412"), *by_mobile)
      << "equal numbers in two institutions must not be linkable";
  EXPECT_EQ(keeper_->BlindIndex("ins_a", "name", "Jane").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(sealed->masked.name, "J***");
  EXPECT_EQ(sealed->masked.mobile, "+32 4** *** *12");
  EXPECT_EQ(sealed->masked.email, "J***@Example.org");
}

TEST(Masking, RevealsAlmostNothing) {
  EXPECT_EQ(MaskName("Jane  van Doe"), "J*** v*** D***");
  EXPECT_EQ(MaskName("Élodie"), "É***");
  EXPECT_EQ(MaskMobile("+32 470 12 34 12"), "+32 4** *** *12");
  EXPECT_EQ(MaskMobile("0470123412"), "*** *** *12");
  EXPECT_EQ(MaskMobile("12"), "***");
  EXPECT_EQ(MaskEmail("jane@example.org"), "j***@example.org");
  EXPECT_EQ(MaskEmail("no-at-sign"), "***");
}

TEST_F(KeeperTest, SignedCommandsVerifyWithThePinnedKey) {
  auto key = keeper_->GetCommandKey("ins_a");
  ASSERT_TRUE(key.ok());
  SignCommandRequest req = Command("lock");
  auto sig = keeper_->SignCommand(req);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->key_id, key->key_id);
  std::string message = core::CommandSigningString(req.fields);
  EXPECT_TRUE(crypto::VerifyEd25519(key->public_key, message, sig->signature));
  req.fields.seq = 8;
  EXPECT_FALSE(crypto::VerifyEd25519(key->public_key, core::CommandSigningString(req.fields),
                                     sig->signature));
  EXPECT_EQ(trail_.records().back().action, "command.sign");
  // Keys survive a restart; institutions get distinct keys.
  Reopen();
  EXPECT_EQ(keeper_->GetCommandKey("ins_a")->public_key, key->public_key);
  EXPECT_NE(keeper_->GetCommandKey("ins_b")->public_key, key->public_key);
}

TEST_F(KeeperTest, DestructiveAndMassCommandsNeedASecondAdmin) {
  EXPECT_EQ(keeper_->SignCommand(Command("wipe")).status().code(), Code::kPermissionDenied);
  SignCommandRequest self = Command("wipe");
  self.approved_by = self.caller.principal;
  EXPECT_EQ(keeper_->SignCommand(self).status().code(), Code::kPermissionDenied);
  SignCommandRequest approved = Command("retire");
  approved.approved_by = "tok_second";
  EXPECT_TRUE(keeper_->SignCommand(approved).ok());

  SignCommandRequest mass = Command("lock");
  mass.batch_size = options_.mass_command_threshold + 1;
  EXPECT_EQ(keeper_->SignCommand(mass).status().code(), Code::kPermissionDenied);
  mass.approved_by = "tok_second";
  EXPECT_TRUE(keeper_->SignCommand(mass).ok());
  SignCommandRequest catalogue = Command("install_app");
  catalogue.batch_size = 5000;
  EXPECT_TRUE(keeper_->SignCommand(catalogue).ok()) << "group app installs are not admin-typed";
}

TEST_F(KeeperTest, DestructiveSignaturesHaveAnHourlyCeiling) {
  options_.max_destructive_per_hour = 3;
  Reopen();
  for (int i = 0; i < 3; ++i) {
    SignCommandRequest r = Command("wipe");
    r.approved_by = "tok_second";
    ASSERT_TRUE(keeper_->SignCommand(r).ok());
  }
  SignCommandRequest r = Command("wipe");
  r.approved_by = "tok_second";
  EXPECT_EQ(keeper_->SignCommand(r).status().code(), Code::kResourceExhausted);
  clock_.AdvanceSeconds(3601);
  EXPECT_TRUE(keeper_->SignCommand(r).ok());
}

TEST_F(KeeperTest, RotationIsSignedByTheOldKeyAndPersists) {
  auto old_key = keeper_->GetCommandKey("ins_a");
  ASSERT_TRUE(old_key.ok());
  auto rotation = keeper_->RotateCommandKey(HelpdeskCaller(), "ins_a");
  ASSERT_TRUE(rotation.ok());
  EXPECT_EQ(rotation->fields.old_key_id, old_key->key_id);
  EXPECT_TRUE(crypto::VerifyEd25519(
      old_key->public_key, core::KeyRotationSigningString(rotation->fields), rotation->signature));
  auto new_key = keeper_->GetCommandKey("ins_a");
  EXPECT_EQ(new_key->key_id, rotation->fields.new_key_id);
  EXPECT_EQ(crypto::Base64Encode(new_key->public_key), rotation->fields.new_public_key_b64);
  Reopen();
  auto chain = keeper_->KeyRotations("ins_a");
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 1u);
  EXPECT_EQ((*chain)[0].signature, rotation->signature);
  // Commands are now signed with the new key.
  auto sig = keeper_->SignCommand(Command("lock"));
  EXPECT_EQ(sig->key_id, new_key->key_id);
}

TEST_F(KeeperTest, KeyFilesAreOwnerOnly) {
  struct stat st;
  ASSERT_EQ(::stat((dir_.path() + "/keeper").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_.path() + "/keeper/keys.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(KeeperTest, CheckpointsAreSignedWithThePublishedKey) {
  auto cp = keeper_->MakeCheckpoint();
  ASSERT_TRUE(cp.ok());
  auto pub = keeper_->CheckpointPublicKey();
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(*pub, std::to_string(cp->tree_size), cp->signature));
}

TEST_F(KeeperTest, AuditRecordsFromServeAreBounded) {
  audit::Record r;
  r.actor = "tok_x";
  r.action = "auth.login";
  r.outcome = "success";
  EXPECT_TRUE(keeper_->AppendAudit(r).ok());
  r.details_json = "[1]";
  EXPECT_EQ(keeper_->AppendAudit(r).status().code(), Code::kInvalidArgument);
  r.details_json = "{}";
  r.severity = "apocalyptic";
  EXPECT_EQ(keeper_->AppendAudit(r).status().code(), Code::kInvalidArgument);
  r.severity = "info";
  r.action = std::string(100, 'a');
  EXPECT_EQ(keeper_->AppendAudit(r).status().code(), Code::kInvalidArgument);
}

TEST_F(KeeperTest, ExportsNeedAnApproverAndDrawOnADailyAllowance) {
  options_.export_records_per_day = 3;
  Reopen();
  std::vector<SealedRef> records;
  for (int i = 0; i < 4; ++i) {
    records.push_back(Sealed("stf_" + std::to_string(i), {"N", "+32 470 00 00 00", ""}));
  }
  Caller exporter{"tok_admin", "admin", "ins_a", "req", "", "staff.export"};
  OpenRequest unapproved{exporter, {records[0]}, ""};
  EXPECT_EQ(keeper_->Open(unapproved).status().code(), Code::kPermissionDenied);
  OpenRequest self{exporter, {records[0]}, "tok_admin"};
  EXPECT_EQ(keeper_->Open(self).status().code(), Code::kPermissionDenied);
  OpenRequest approved{exporter, {records[0], records[1], records[2]}, "tok_second"};
  ASSERT_TRUE(keeper_->Open(approved).ok());
  EXPECT_NE(trail_.records().back().details_json.find("tok_second"), std::string::npos);
  OpenRequest more{exporter, {records[3]}, "tok_second"};
  EXPECT_EQ(keeper_->Open(more).status().code(), Code::kResourceExhausted);
  clock_.AdvanceSeconds(86401);
  EXPECT_TRUE(keeper_->Open(more).ok());
}

TEST_F(KeeperTest, QueryAuditFiltersPagesAndIsItselfAudited) {
  auto append = [&](std::string actor, std::string action, std::string ip, std::string inst) {
    audit::Record r;
    r.actor = std::move(actor);
    r.action = std::move(action);
    r.outcome = "success";
    r.source_ip = std::move(ip);
    r.institution_id = std::move(inst);
    ASSERT_TRUE(keeper_->AppendAudit(r).ok());
  };
  const int64_t t0 = clock_.NowSeconds();
  append("tok_x", "staff.decrypt", "203.0.113.7", "ins_a");
  append("tok_y", "staff.decrypt", "198.51.100.1", "ins_a");
  clock_.AdvanceSeconds(100);
  append("tok_x", "command.sign", "203.0.113.7", "ins_a");
  append("tok_x", "command.sign", "203.0.113.7", "ins_b");
  append("tok_x", "auth.login", "203.0.113.7", "ins_a");

  AuditQuery q;
  q.caller = Caller{"system", "superadmin", "", "req_q", "", "incident.figures"};
  q.action_prefixes = {"staff.", "command."};
  q.actors = {"tok_x"};
  q.institution_id = "ins_a";
  auto page = keeper_->QueryAudit(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].action, "staff.decrypt");
  EXPECT_EQ(page->records[0].index, 0);
  EXPECT_EQ(page->records[1].action, "command.sign");
  EXPECT_EQ(page->next_cursor, -1);

  // The time range is inclusive and pages follow the cursor.
  q.actors.clear();
  q.institution_id.clear();
  q.since = t0 + 100;
  q.limit = 1;
  page = keeper_->QueryAudit(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].index, 2);
  q.cursor = page->next_cursor;
  page = keeper_->QueryAudit(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].index, 3);

  q.source_ips = {"198.51.100.1"};
  q.since = 0;
  q.cursor = 0;
  q.limit = 10;
  page = keeper_->QueryAudit(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].actor, "tok_y");

  int queries = 0;
  for (const auto& r : trail_.records()) {
    if (r.action == "audit.query") {
      ++queries;
      EXPECT_EQ(r.actor, "system");
    }
  }
  EXPECT_EQ(queries, 4) << "every query is on record";
}

// Regression: an institution's analyst computing incident figures asked with no institution
// filter and got every institution's response actions (found in review).
TEST_F(KeeperTest, QueryAuditNeverShowsAnInstitutionCallerAnotherInstitutionsRecords) {
  for (const char* inst : {"ins_a", "ins_b", ""}) {
    audit::Record r;
    r.actor = "system";
    r.action = "response.lockdown";
    r.outcome = "success";
    r.institution_id = inst;
    ASSERT_TRUE(keeper_->AppendAudit(r).ok());
  }
  AuditQuery q;
  q.caller = Caller{"tok_analyst_a", "analyst", "ins_a", "req_q", "", "incident.figures"};
  q.action_prefixes = {"response."};
  auto page = keeper_->QueryAudit(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].institution_id, "ins_a");
  EXPECT_EQ(page->records[1].institution_id, "") << "server-wide actions stay visible";
  q.institution_id = "ins_b";  // asking for the other institution by name changes nothing
  page = keeper_->QueryAudit(q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->records.empty());
}

TEST_F(KeeperTest, QueryAuditRefusesOutOfBoundsRequests) {
  AuditQuery q;
  q.caller = Caller{"system", "superadmin", "", "", "", "incident.figures"};
  q.limit = 0;
  EXPECT_EQ(keeper_->QueryAudit(q).status().code(), Code::kInvalidArgument);
  q.limit = kMaxAuditQueryPage + 1;
  EXPECT_EQ(keeper_->QueryAudit(q).status().code(), Code::kInvalidArgument);
  q.limit = 10;
  q.cursor = -1;
  EXPECT_EQ(keeper_->QueryAudit(q).status().code(), Code::kInvalidArgument);
  q.cursor = 0;
  q.actors.assign(kMaxAuditQueryFilterValues + 1, "tok_x");
  EXPECT_EQ(keeper_->QueryAudit(q).status().code(), Code::kInvalidArgument);
  q.actors = {std::string(200, 'a')};
  EXPECT_EQ(keeper_->QueryAudit(q).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace rampart::keeper
