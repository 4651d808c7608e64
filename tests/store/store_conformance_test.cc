// The conformance battery every Store backend must pass. A new backend is one more entry in
// Backends(); nothing else here is backend-specific except the SqliteMigrations tests at the end.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <latch>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "core/model.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

// Filters are written as designated initialisers naming only the fields a case sets; GCC 12
// warns about the omitted ones even though they take their default member initialisers.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace rampart {

void PrintTo(Code code, std::ostream* os) {
  *os << CodeName(code);
}

namespace store {
namespace {

// Resend cutoff that redelivers no sent command (sent_at is never negative).
constexpr int64_t kNoResend = -1;

using core::CommandState;
using core::CommandType;
using core::ComplianceState;
using core::Platform;

// ------------------------------------------------------------------------------------------
// Backends under test

struct Backend {
  std::string name;
  // Opens the store kept in `dir` (an empty temporary directory owned by the test).
  std::function<Result<std::unique_ptr<Store>>(const std::filesystem::path& dir)> open;
  bool persistent;  // a second open() of the same dir sees the data of the first
};

void PrintTo(const Backend& backend, std::ostream* os) {
  *os << backend.name;
}

std::vector<Backend> Backends() {
  return {
      {"SqliteFile",
       [](const std::filesystem::path& dir) {
         return OpenStore("sqlite:" + (dir / "rampart.db").string());
       },
       true},
      {"SqliteMemory", [](const std::filesystem::path&) { return OpenStore("sqlite::memory:"); },
       false},
  };
}

// ------------------------------------------------------------------------------------------
// Helpers

const Status& StatusOf(const Status& s) {
  return s;
}
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    const auto& rampart_r_ = (expr);                                           \
    ASSERT_TRUE(StatusOf(rampart_r_).ok()) << StatusOf(rampart_r_).ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                        \
  do {                                                                         \
    const auto& rampart_r_ = (expr);                                           \
    EXPECT_TRUE(StatusOf(rampart_r_).ok()) << StatusOf(rampart_r_).ToString(); \
  } while (0)
#define EXPECT_CODE(expr, expected) EXPECT_EQ(StatusOf(expr).code(), Code::expected)

// Unwraps a Result inside helpers that return values (where ASSERT_* cannot be used); a failure
// ends the test through the exception GoogleTest reports.
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) throw std::runtime_error("unexpected error: " + r.status().ToString());
  return std::move(r).value();
}
void Must(const Status& s) {
  if (!s.ok()) throw std::runtime_error("unexpected error: " + s.ToString());
}

// Follows next_cursor until the last page; checks page sizes along the way.
template <typename Fetch>
std::vector<std::string> CollectIds(Fetch fetch, int64_t limit, int* pages = nullptr) {
  std::vector<std::string> ids;
  std::string cursor;
  int count = 0;
  for (int guard = 0; guard < 10000; ++guard) {
    auto page = Must(fetch(PageRequest{limit, cursor}));
    ++count;
    EXPECT_LE(static_cast<int64_t>(page.items.size()), limit);
    for (const auto& item : page.items) ids.push_back(item.id);
    if (page.next_cursor.empty()) break;
    EXPECT_EQ(static_cast<int64_t>(page.items.size()), limit) << "short page before the end";
    cursor = page.next_cursor;
  }
  if (pages != nullptr) *pages = count;
  return ids;
}

std::set<std::string> AsSet(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

core::PolicyRules RichRules() {
  core::PolicyRules r;
  r.passcode_min_length = 8;
  r.require_storage_encryption = true;
  r.min_os_version_ios = "17.2";
  r.min_os_version_android = "14";
  r.block_compromised = true;
  r.camera_allowed = false;
  r.required_apps = {"eu.europa.secure-mail", "com.example.vpn"};
  r.forbidden_apps = {"com.example.\"quoted\"", "unicode.\xc3\xa9t\xc3\xa9"};
  r.wifi = {{"EC-Staff", "wpa2-enterprise", true}, {"Guest", "none", false}};
  r.vpn = {{"Brussels", "ikev2", "vpn.example.eu", true},
           {"Backup", "wireguard", "10.0.0.1", false}};
  r.action = core::NonComplianceAction::kLock;
  r.grace_seconds = 86400;
  return r;
}

// ------------------------------------------------------------------------------------------
// Fixture

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_OK(crypto::InitCrypto());
    dir_ = std::filesystem::temp_directory_path() / core::NewId("rampart-store-test");
    std::filesystem::create_directories(dir_);
    auto opened = GetParam().open(dir_);
    ASSERT_OK(opened);
    store_ = std::move(opened).value();
    inst_a_ = MakeInstitution("European Commission");
    inst_b_ = MakeInstitution("Other Agency");
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Strictly increasing timestamps, so creation order is unambiguous unless a test wants ties.
  int64_t Tick() { return ++clock_; }

  Scope A() const { return Scope::Institution(inst_a_); }
  Scope B() const { return Scope::Institution(inst_b_); }

  std::string MakeInstitution(const std::string& name) {
    core::Institution inst{core::NewId("ins"), name, Tick()};
    Must(store_->CreateInstitution(inst));
    return inst.id;
  }

  core::Staff MakeStaff(const std::string& inst, const std::string& name = "Ada Lovelace",
                        const std::string& department = "DG DIGIT") {
    core::Staff s;
    s.id = core::NewId("stf");
    s.institution_id = inst;
    // The store never sees clear personal data: sealed bytes (with a NUL, as ciphertext has),
    // indexes and masks stand in for what the keeper produces.
    s.masked_name = name;
    s.sealed = std::string("sealed\0", 7) + name;
    s.wrapped_key = std::string("key\0", 4) + s.id;
    s.key_version = 1;
    s.mobile_index = "mobile-index-" + s.id;
    s.email_index = "email-index-" + s.id;
    s.masked_mobile = "+32 2** *** *11";
    s.masked_email = "a***@example.eu";
    s.department = department;
    s.created_at = Tick();
    s.updated_at = s.created_at;
    Must(store_->CreateStaff(s));
    return s;
  }

  core::EnrollmentToken MakeToken(const std::string& inst, int64_t max_uses = 1,
                                  const std::string& staff_id = "", int64_t expires_at = 0) {
    core::EnrollmentToken t;
    t.id = core::NewId("enr");
    t.institution_id = inst;
    t.staff_id = staff_id;
    t.token_hash = crypto::Sha256Hex(core::NewId("secret"));
    t.expires_at = expires_at;
    t.max_uses = max_uses;
    t.created_at = Tick();
    Must(store_->CreateEnrollmentToken(t));
    return t;
  }

  core::Device Enroll(const std::string& inst, Platform platform = Platform::kAndroid,
                      const std::string& staff_id = "") {
    core::EnrollmentToken t = MakeToken(inst, 1, staff_id);
    core::Device d;
    d.id = core::NewId("dev");
    d.platform = platform;
    d.model = "Pixel 8";
    d.serial = "SN-" + d.id;
    d.public_key = crypto::GenerateEd25519().public_key;
    return Must(store_->EnrollDevice(t.token_hash, d, Tick()));
  }

  core::Group MakeGroup(const std::string& inst, const std::string& name = "Field staff") {
    core::Group g{core::NewId("grp"), inst, name, "devices in the field", Tick()};
    Must(store_->CreateGroup(g));
    return g;
  }

  core::Policy MakePolicy(const std::string& inst, const std::string& name = "Baseline",
                          core::PolicyRules rules = {}) {
    core::Policy p;
    p.id = core::NewId("pol");
    p.institution_id = inst;
    p.name = name;
    p.rules = std::move(rules);
    p.created_at = Tick();
    p.updated_at = p.created_at;
    Must(store_->CreatePolicy(p));
    return p;
  }

  core::PolicyAssignment AssignPolicy(const std::string& inst, const std::string& policy_id,
                                      const std::string& group_id = "") {
    core::PolicyAssignment a{core::NewId("pas"), inst, policy_id, group_id, Tick()};
    Must(store_->AssignPolicy(a));
    return a;
  }

  core::App MakeApp(const std::string& inst, const std::string& sha256) {
    core::App a;
    a.id = core::NewId("app");
    a.institution_id = inst;
    a.name = "Secure Mail";
    a.bundle_id = "eu.europa.securemail";
    a.version = "2.1.0";
    a.platform = Platform::kIos;
    a.sha256 = sha256;
    a.size_bytes = 123456;
    a.created_at = Tick();
    Must(store_->CreateApp(a));
    return a;
  }

  core::ApiToken MakeApiToken(const std::string& inst, core::Role role = core::Role::kAdmin) {
    core::ApiToken t;
    t.id = core::NewId("tok");
    t.name = "automation";
    t.token_hash = crypto::Sha256Hex(core::NewId("secret"));
    t.role = role;
    t.institution_id = inst;
    t.created_at = Tick();
    Must(store_->CreateApiToken(t));
    return t;
  }

  core::Command Enqueue(const core::Device& d, CommandType type = CommandType::kLock,
                        int64_t expires_at = 0) {
    core::Command c;
    c.device_id = d.id;
    c.type = type;
    c.payload_json = R"({"message":"call the helpdesk"})";
    c.created_by = "tok_admin";
    c.created_at = Tick();
    c.expires_at = expires_at;
    return Must(store_->EnqueueCommand(Scope::Institution(d.institution_id), c, Signer()));
  }

  // A signer that records what it was asked to sign and signs with a fixed tag, as the keeper
  // would (the store neither knows nor checks what a signature is).
  CommandSigner Signer(std::string key_id = "ck_test") {
    return [this, key_id](const core::Command& c) -> Result<CommandSignatureParts> {
      signed_.push_back(c);
      return CommandSignatureParts{key_id, "sig:" + c.id + ":" + std::to_string(c.seq)};
    };
  }

  core::Command EnqueueAwaiting(const core::Device& d, const std::string& batch_id,
                                int64_t batch_size, int64_t expires_at = 0) {
    core::Command c;
    c.device_id = d.id;
    c.type = CommandType::kWipe;
    c.payload_json = R"({"mode":"full"})";
    c.state = CommandState::kAwaitingApproval;
    c.created_by = "tok_first";
    c.created_at = Tick();
    c.expires_at = expires_at;
    c.batch_id = batch_id;
    c.batch_size = batch_size;
    return Must(store_->EnqueueCommand(Scope::Institution(d.institution_id), c, nullptr));
  }

  std::vector<core::Command> signed_;

  // Thread-safe (records nothing), for the concurrency tests.
  static CommandSigner StaticSigner() {
    return [](const core::Command& c) -> Result<CommandSignatureParts> {
      return CommandSignatureParts{"ck_test", "sig:" + c.id};
    };
  }

  core::EnrollmentToken FindToken(const Scope& scope, const std::string& id) {
    for (const auto& t : Must(store_->ListEnrollmentTokens(scope, PageRequest{500, ""})).items) {
      if (t.id == id) return t;
    }
    throw std::runtime_error("token not listed");
  }

  core::Command GetCmd(const core::Command& c) {
    return Must(store_->GetCommand(Scope::All(), c.device_id, c.id));
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::string inst_a_;
  std::string inst_b_;
  int64_t clock_ = 1'769'700'000;
};

// ------------------------------------------------------------------------------------------
// Institutions and staff

TEST_P(StoreConformanceTest, InstitutionsAreScopedToThemselves) {
  auto a = store_->GetInstitution(A(), inst_a_);
  ASSERT_OK(a);
  EXPECT_EQ(a->name, "European Commission");
  EXPECT_CODE(store_->GetInstitution(A(), inst_b_), kNotFound);
  EXPECT_OK(store_->GetInstitution(Scope::All(), inst_b_));

  auto all =
      CollectIds([&](PageRequest p) { return store_->ListInstitutions(Scope::All(), p); }, 1);
  EXPECT_EQ(AsSet(all), (std::set<std::string>{inst_a_, inst_b_}));
  auto only_a = CollectIds([&](PageRequest p) { return store_->ListInstitutions(A(), p); }, 10);
  EXPECT_EQ(only_a, std::vector<std::string>{inst_a_});
}

TEST_P(StoreConformanceTest, DuplicateInstitutionFailsAndChangesNothing) {
  core::Institution dup{inst_a_, "Impostor", Tick()};
  EXPECT_CODE(store_->CreateInstitution(dup), kAlreadyExists);
  EXPECT_EQ(Must(store_->GetInstitution(A(), inst_a_)).name, "European Commission");
  EXPECT_CODE(store_->CreateInstitution(core::Institution{"", "No id", Tick()}), kInvalidArgument);
}

TEST_P(StoreConformanceTest, StaffCrud) {
  core::Staff s = MakeStaff(inst_a_, "Grace Hopper", "DG HR");
  auto got = store_->GetStaff(A(), s.id);
  ASSERT_OK(got);
  EXPECT_EQ(got->masked_name, "Grace Hopper");
  EXPECT_EQ(got->sealed, s.sealed) << "sealed bytes round-trip exactly, NULs included";
  EXPECT_EQ(got->wrapped_key, s.wrapped_key);
  EXPECT_EQ(got->key_version, 1);
  EXPECT_EQ(got->mobile_index, s.mobile_index);
  EXPECT_EQ(got->email_index, s.email_index);
  EXPECT_EQ(got->masked_mobile, s.masked_mobile);
  EXPECT_EQ(got->masked_email, s.masked_email);
  EXPECT_EQ(got->department, "DG HR");
  EXPECT_EQ(got->institution_id, inst_a_);
  EXPECT_EQ(got->created_at, s.created_at);

  core::Staff changed = s;
  changed.masked_name = "Grace B. Hopper";
  changed.sealed = "resealed";
  changed.wrapped_key = "rewrapped";
  changed.key_version = 2;
  changed.mobile_index = "new-mobile-index";
  changed.email_index = "";
  changed.masked_mobile = "+32 2** *** *00";
  changed.masked_email = "";
  changed.department = "DG DIGIT";
  changed.updated_at = Tick();
  changed.created_at = 1;            // not replaced by UpdateStaff
  changed.institution_id = inst_b_;  // cannot move a row between institutions
  ASSERT_OK(store_->UpdateStaff(A(), changed));
  got = store_->GetStaff(A(), s.id);
  ASSERT_OK(got);
  EXPECT_EQ(got->masked_name, "Grace B. Hopper");
  EXPECT_EQ(got->sealed, "resealed");
  EXPECT_EQ(got->wrapped_key, "rewrapped");
  EXPECT_EQ(got->key_version, 2);
  EXPECT_EQ(got->mobile_index, "new-mobile-index");
  EXPECT_EQ(got->email_index, "");
  EXPECT_EQ(got->masked_mobile, "+32 2** *** *00");
  EXPECT_EQ(got->department, "DG DIGIT");
  EXPECT_EQ(got->updated_at, changed.updated_at);
  EXPECT_EQ(got->created_at, s.created_at);
  EXPECT_EQ(got->institution_id, inst_a_);

  ASSERT_OK(store_->DeleteStaff(A(), s.id));
  EXPECT_CODE(store_->GetStaff(A(), s.id), kNotFound);
  EXPECT_CODE(store_->DeleteStaff(A(), s.id), kNotFound);
  EXPECT_CODE(store_->UpdateStaff(A(), changed), kNotFound);
}

TEST_P(StoreConformanceTest, StaffLookupByBlindIndexIsScoped) {
  core::Staff a = MakeStaff(inst_a_, "A One");
  core::Staff a2 = MakeStaff(inst_a_, "A Two");
  core::Staff b = MakeStaff(inst_b_, "B One");
  auto by_mobile = [&](const Scope& scope, const std::string& index) {
    StaffFilter f;
    f.mobile_index = index;
    return Must(store_->ListStaff(scope, f, PageRequest{50, ""})).items;
  };
  auto found = by_mobile(A(), a.mobile_index);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, a.id);
  EXPECT_TRUE(by_mobile(A(), b.mobile_index).empty()) << "another institution's row";
  StaffFilter f;
  f.email_index = a2.email_index;
  auto by_email = Must(store_->ListStaff(A(), f, PageRequest{50, ""})).items;
  ASSERT_EQ(by_email.size(), 1u);
  EXPECT_EQ(by_email[0].id, a2.id);
}

TEST_P(StoreConformanceTest, StaffNeedsAnExistingInstitutionAndUniqueId) {
  core::Staff s = MakeStaff(inst_a_, "Original");
  core::Staff dup = s;
  dup.masked_name = "Overwriter";
  EXPECT_CODE(store_->CreateStaff(dup), kAlreadyExists);
  EXPECT_EQ(Must(store_->GetStaff(A(), s.id)).masked_name, "Original");

  core::Staff orphan = s;
  orphan.id = core::NewId("stf");
  orphan.institution_id = "ins_does_not_exist";
  EXPECT_CODE(store_->CreateStaff(orphan), kNotFound);
  EXPECT_CODE(store_->GetStaff(Scope::All(), orphan.id), kNotFound);
}

TEST_P(StoreConformanceTest, StaffKeysBelowAVersionPageByIdAndMoveOnlyIfUnchanged) {
  std::vector<core::Staff> a;
  for (int i = 0; i < 5; ++i) a.push_back(MakeStaff(inst_a_, "A" + std::to_string(i)));
  core::Staff b = MakeStaff(inst_b_, "B");
  std::sort(a.begin(), a.end(), [](const auto& x, const auto& y) { return x.id < y.id; });

  auto first = Must(store_->ListStaffWithKeyBelow(Scope::All(), 2, "", 4));
  ASSERT_EQ(first.size(), 4u);
  for (size_t i = 1; i < first.size(); ++i) EXPECT_LT(first[i - 1].id, first[i].id);
  auto rest = Must(store_->ListStaffWithKeyBelow(Scope::All(), 2, first.back().id, 4));
  EXPECT_EQ(first.size() + rest.size(), 6u);
  EXPECT_TRUE(Must(store_->ListStaffWithKeyBelow(Scope::All(), 1, "", 10)).empty());
  auto only_a = Must(store_->ListStaffWithKeyBelow(A(), 2, "", 10));
  ASSERT_EQ(only_a.size(), 5u);
  EXPECT_EQ(only_a[0].wrapped_key, a[0].wrapped_key);
  EXPECT_CODE(store_->ListStaffWithKeyBelow(A(), 2, "", 0), kInvalidArgument);

  // a[1] is edited meanwhile (sealed afresh under the current key): its update is skipped.
  core::Staff edited = a[1];
  edited.wrapped_key = std::string("fresh\0", 6);
  edited.key_version = 2;
  edited.updated_at = Tick();
  ASSERT_OK(store_->UpdateStaff(A(), edited));
  std::vector<StaffKeyUpdate> updates;
  for (const auto& s : a) {
    updates.push_back({s.id, s.wrapped_key, std::string("new\0", 4) + s.id, 2});
  }
  updates.push_back({b.id, b.wrapped_key, "new-b", 2});  // not in scope A: untouched
  EXPECT_EQ(Must(store_->UpdateStaffKeys(A(), updates)), 4);

  core::Staff moved = Must(store_->GetStaff(A(), a[0].id));
  EXPECT_EQ(moved.wrapped_key, std::string("new\0", 4) + a[0].id);
  EXPECT_EQ(moved.key_version, 2);
  EXPECT_EQ(moved.updated_at, a[0].updated_at) << "a re-wrap is not an edit";
  EXPECT_EQ(moved.sealed, a[0].sealed);
  EXPECT_EQ(Must(store_->GetStaff(A(), a[1].id)).wrapped_key, edited.wrapped_key);
  EXPECT_EQ(Must(store_->GetStaff(B(), b.id)).key_version, 1);

  auto counts = Must(store_->CountStaffByKeyVersion(Scope::All()));
  EXPECT_EQ(counts[1], 1);
  EXPECT_EQ(counts[2], 5);
  EXPECT_EQ(Must(store_->CountStaffByKeyVersion(B())).size(), 1u);
  EXPECT_EQ(Must(store_->ListStaffWithKeyBelow(Scope::All(), 2, "", 10)).size(), 1u);
}

TEST_P(StoreConformanceTest, StaffNameWithSqlIsStoredVerbatim) {
  const std::string evil = "Robert'); DROP TABLE staff;--";
  const std::string dept = "x' OR '1'='1";
  core::Staff s = MakeStaff(inst_a_, evil, dept);
  MakeStaff(inst_a_, "Someone Else", "DG HR");
  auto got = store_->GetStaff(A(), s.id);
  ASSERT_OK(got);
  EXPECT_EQ(got->masked_name, evil);
  EXPECT_EQ(got->department, dept);
  // The table survived and a filter built from the same kind of text matches only itself.
  auto page = store_->ListStaff(A(), StaffFilter{dept}, PageRequest{50, ""});
  ASSERT_OK(page);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].masked_name, evil);
  EXPECT_EQ(CollectIds([&](PageRequest p) { return store_->ListStaff(A(), {}, p); }, 50).size(),
            2u);
}

TEST_P(StoreConformanceTest, StaffFilterByDepartment) {
  auto hr1 = MakeStaff(inst_a_, "H1", "DG HR");
  MakeStaff(inst_a_, "D1", "DG DIGIT");
  auto hr2 = MakeStaff(inst_a_, "H2", "DG HR");
  MakeStaff(inst_b_, "H3", "DG HR");
  auto hr = CollectIds([&](PageRequest p) { return store_->ListStaff(A(), {"DG HR"}, p); }, 1);
  EXPECT_EQ(hr, (std::vector<std::string>{hr1.id, hr2.id}));
  auto all_hr =
      CollectIds([&](PageRequest p) { return store_->ListStaff(Scope::All(), {"DG HR"}, p); }, 5);
  EXPECT_EQ(all_hr.size(), 3u);
}

TEST_P(StoreConformanceTest, DeleteStaffConflictsWhileADeviceIsAssigned) {
  core::Staff s = MakeStaff(inst_a_);
  core::Device d = Enroll(inst_a_, Platform::kIos, s.id);
  EXPECT_EQ(d.staff_id, s.id);
  EXPECT_CODE(store_->DeleteStaff(A(), s.id), kConflict);
  EXPECT_OK(store_->GetStaff(A(), s.id));

  ASSERT_OK(store_->UpdateDeviceAssignment(A(), d.id, "", core::Ownership::kPersonal));
  auto dev = Must(store_->GetDevice(A(), d.id));
  EXPECT_EQ(dev.staff_id, "");
  EXPECT_EQ(dev.ownership, core::Ownership::kPersonal);
  EXPECT_OK(store_->DeleteStaff(A(), s.id));
}

// ------------------------------------------------------------------------------------------
// Pagination

TEST_P(StoreConformanceTest, PaginationVisitsEveryRowOnceAcrossPages) {
  std::set<std::string> created;
  // Ties on created_at make the id the tie-breaker, which the cursor must honour.
  for (int i = 0; i < 23; ++i) {
    core::Staff s;
    s.id = core::NewId("stf");
    s.institution_id = inst_a_;
    s.masked_name = "Staff " + std::to_string(i);
    s.created_at = 1000 + i / 4;
    Must(store_->CreateStaff(s));
    created.insert(s.id);
  }
  for (int i = 0; i < 4; ++i) MakeStaff(inst_b_);

  for (int64_t limit : {1, 4, 5, 22, 23, 24, 500}) {
    int pages = 0;
    auto ids =
        CollectIds([&](PageRequest p) { return store_->ListStaff(A(), {}, p); }, limit, &pages);
    EXPECT_EQ(ids.size(), created.size()) << "limit " << limit;
    EXPECT_EQ(AsSet(ids), created) << "limit " << limit;
    EXPECT_EQ(pages, static_cast<int>((23 + limit - 1) / limit)) << "limit " << limit;
  }
  auto all = CollectIds([&](PageRequest p) { return store_->ListStaff(Scope::All(), {}, p); }, 7);
  EXPECT_EQ(all.size(), 27u);
  EXPECT_EQ(AsSet(all).size(), 27u);
}

TEST_P(StoreConformanceTest, PaginationRejectsBadLimitsAndCursors) {
  MakeStaff(inst_a_);
  EXPECT_CODE(store_->ListStaff(A(), {}, PageRequest{0, ""}), kInvalidArgument);
  EXPECT_CODE(store_->ListStaff(A(), {}, PageRequest{501, ""}), kInvalidArgument);
  EXPECT_CODE(store_->ListStaff(A(), {}, PageRequest{-3, ""}), kInvalidArgument);
  EXPECT_OK(store_->ListStaff(A(), {}, PageRequest{500, ""}));
  for (const std::string& bad :
       std::vector<std::string>{"zz", "not a cursor", "abc", crypto::HexEncode("nocolon"),
                                crypto::HexEncode("12x:stf_1"), crypto::HexEncode(":stf_1"),
                                std::string("' OR 1=1 --")}) {
    EXPECT_CODE(store_->ListStaff(A(), {}, PageRequest{10, bad}), kInvalidArgument) << bad;
    EXPECT_CODE(store_->ListDevices(A(), {}, PageRequest{10, bad}), kInvalidArgument) << bad;
    EXPECT_CODE(store_->ListInstitutions(A(), PageRequest{10, bad}), kInvalidArgument) << bad;
  }
  core::Device d = Enroll(inst_a_);
  EXPECT_CODE(store_->ListCommands(A(), d.id, {}, PageRequest{10, "zz"}), kInvalidArgument);
  EXPECT_CODE(store_->ListCommands(A(), d.id, {}, PageRequest{0, ""}), kInvalidArgument);
}

TEST_P(StoreConformanceTest, EveryListPaginates) {
  std::set<std::string> groups, tokens, api_tokens, policies, apps, devices;
  for (int i = 0; i < 5; ++i) {
    groups.insert(MakeGroup(inst_a_).id);
    tokens.insert(MakeToken(inst_a_).id);
    api_tokens.insert(MakeApiToken(inst_a_).id);
    policies.insert(MakePolicy(inst_a_).id);
    apps.insert(MakeApp(inst_a_, crypto::Sha256Hex(std::to_string(i))).id);
  }
  // Enrolling consumes its own tokens; count them as well.
  for (int i = 0; i < 5; ++i) devices.insert(Enroll(inst_a_).id);
  MakeGroup(inst_b_);
  MakeApiToken(inst_b_);
  Enroll(inst_b_);

  EXPECT_EQ(AsSet(CollectIds([&](PageRequest p) { return store_->ListGroups(A(), p); }, 2)),
            groups);
  EXPECT_EQ(
      CollectIds([&](PageRequest p) { return store_->ListEnrollmentTokens(A(), p); }, 2).size(),
      10u);
  EXPECT_EQ(AsSet(CollectIds([&](PageRequest p) { return store_->ListApiTokens(A(), p); }, 2)),
            api_tokens);
  EXPECT_EQ(AsSet(CollectIds([&](PageRequest p) { return store_->ListPolicies(A(), p); }, 2)),
            policies);
  EXPECT_EQ(AsSet(CollectIds([&](PageRequest p) { return store_->ListApps(A(), p); }, 2)), apps);
  EXPECT_EQ(AsSet(CollectIds([&](PageRequest p) { return store_->ListDevices(A(), {}, p); }, 2)),
            devices);

  core::Device d = Must(store_->GetDevice(A(), *devices.begin()));
  std::vector<std::string> cmd_ids;
  for (int i = 0; i < 7; ++i) cmd_ids.push_back(Enqueue(d).id);
  EXPECT_EQ(CollectIds([&](PageRequest p) { return store_->ListCommands(A(), d.id, {}, p); }, 3),
            cmd_ids);
}

// ------------------------------------------------------------------------------------------
// Tenant isolation

TEST_P(StoreConformanceTest, ScopeNeverReachesAnotherInstitution) {
  // Everything lives in B; every call below uses A's scope.
  core::Staff staff = MakeStaff(inst_b_);
  core::Group group = MakeGroup(inst_b_);
  core::Device dev = Enroll(inst_b_, Platform::kIos, staff.id);
  ASSERT_OK(store_->AddGroupMember(B(), group.id, dev.id));
  core::EnrollmentToken token = MakeToken(inst_b_, 5);
  core::ApiToken api = MakeApiToken(inst_b_);
  core::Command cmd = Enqueue(dev);
  core::Policy pol = MakePolicy(inst_b_, "B policy", RichRules());
  core::PolicyAssignment pas = AssignPolicy(inst_b_, pol.id, group.id);
  core::App app = MakeApp(inst_b_, crypto::Sha256Hex("b-app"));
  core::AppAssignment aas{core::NewId("aas"), inst_b_, app.id, group.id, Tick()};
  ASSERT_OK(store_->AssignApp(aas));
  const Scope a = A();

  // Reads
  EXPECT_CODE(store_->GetStaff(a, staff.id), kNotFound);
  EXPECT_CODE(store_->GetGroup(a, group.id), kNotFound);
  EXPECT_CODE(store_->GetDevice(a, dev.id), kNotFound);
  EXPECT_CODE(store_->GetCommand(a, dev.id, cmd.id), kNotFound);
  EXPECT_CODE(store_->GetPolicy(a, pol.id), kNotFound);
  EXPECT_CODE(store_->GetApp(a, app.id), kNotFound);
  EXPECT_CODE(store_->FindAppBySha256(a, app.sha256), kNotFound);
  EXPECT_CODE(store_->ListGroupMembers(a, group.id), kNotFound);
  EXPECT_CODE(store_->ListDeviceGroups(a, dev.id), kNotFound);
  EXPECT_CODE(store_->ListCommands(a, dev.id, {}, PageRequest{50, ""}), kNotFound);
  EXPECT_CODE(store_->ListPolicyAssignments(a, pol.id), kNotFound);
  EXPECT_CODE(store_->ListAppAssignments(a, app.id), kNotFound);

  // Lists and counts
  const PageRequest page{500, ""};
  EXPECT_TRUE(Must(store_->ListStaff(a, {}, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListGroups(a, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListDevices(a, {}, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListDevices(a, DeviceFilter{.group_id = group.id}, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListDevices(a, DeviceFilter{.staff_id = staff.id}, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListEnrollmentTokens(a, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListApiTokens(a, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListPolicies(a, page)).items.empty());
  EXPECT_TRUE(Must(store_->ListApps(a, page)).items.empty());
  EXPECT_EQ(Must(store_->CountDevices(a)), 0);
  auto summary = Must(store_->SummarizeCompliance(a));
  EXPECT_EQ(summary.compliant + summary.noncompliant + summary.unknown, 0);

  // Writes
  core::Staff renamed = staff;
  renamed.masked_name = "Changed";
  EXPECT_CODE(store_->UpdateStaff(a, renamed), kNotFound);
  EXPECT_CODE(store_->DeleteStaff(a, staff.id), kNotFound);
  EXPECT_CODE(store_->DeleteGroup(a, group.id), kNotFound);
  EXPECT_CODE(store_->AddGroupMember(a, group.id, dev.id), kNotFound);
  EXPECT_CODE(store_->RemoveGroupMember(a, group.id, dev.id), kNotFound);
  EXPECT_CODE(store_->RevokeEnrollmentToken(a, token.id), kNotFound);
  EXPECT_CODE(store_->RevokeApiToken(a, api.id), kNotFound);
  EXPECT_CODE(store_->UpdateDeviceAssignment(a, dev.id, "", core::Ownership::kPersonal), kNotFound);
  EXPECT_CODE(store_->RetireDevice(a, dev.id, Tick()), kNotFound);
  core::Command c2;
  c2.device_id = dev.id;
  c2.created_at = Tick();
  EXPECT_CODE(store_->EnqueueCommand(a, c2, Signer()), kNotFound);
  EXPECT_CODE(store_->CancelCommand(a, dev.id, cmd.id, Tick()), kNotFound);
  core::Policy pol2 = pol;
  pol2.name = "Changed";
  EXPECT_CODE(store_->UpdatePolicy(a, pol2), kNotFound);
  EXPECT_CODE(store_->DeletePolicy(a, pol.id), kNotFound);
  EXPECT_CODE(store_->DeletePolicyAssignment(a, pas.id), kNotFound);
  EXPECT_CODE(store_->SetAppQuarantined(a, app.id, true), kNotFound);

  // B's rows are exactly as before.
  const Scope b = B();
  EXPECT_EQ(Must(store_->GetStaff(b, staff.id)).masked_name, staff.masked_name);
  EXPECT_OK(store_->GetGroup(b, group.id));
  auto dev_now = Must(store_->GetDevice(b, dev.id));
  EXPECT_EQ(dev_now.status, core::DeviceStatus::kActive);
  EXPECT_EQ(dev_now.ownership, core::Ownership::kCorporate);
  EXPECT_EQ(dev_now.staff_id, staff.id);
  EXPECT_EQ(dev_now.public_key, dev.public_key);
  EXPECT_EQ(Must(store_->ListGroupMembers(b, group.id)), std::vector<std::string>{dev.id});
  EXPECT_FALSE(FindToken(b, token.id).revoked);
  EXPECT_FALSE(Must(store_->FindApiTokenByHash(api.token_hash)).revoked);
  EXPECT_EQ(Must(store_->GetCommand(b, dev.id, cmd.id)).state, CommandState::kQueued);
  EXPECT_EQ(Must(store_->ListCommands(b, dev.id, {}, page)).items.size(), 1u);
  EXPECT_EQ(Must(store_->GetPolicy(b, pol.id)).name, "B policy");
  EXPECT_EQ(Must(store_->ListPolicyAssignments(b, pol.id)).size(), 1u);
  EXPECT_FALSE(Must(store_->GetApp(b, app.id)).quarantined);
  EXPECT_EQ(Must(store_->ListAppAssignments(b, app.id)).size(), 1u);
  EXPECT_EQ(Must(store_->CountDevices(b)), 1);
}

TEST_P(StoreConformanceTest, RowsCannotReferenceAnotherInstitution) {
  core::Staff staff_b = MakeStaff(inst_b_);
  core::Group group_a = MakeGroup(inst_a_);
  core::Group group_b = MakeGroup(inst_b_);
  core::Device dev_a = Enroll(inst_a_);
  core::Device dev_b = Enroll(inst_b_);
  core::Policy pol_a = MakePolicy(inst_a_);
  core::Policy pol_b = MakePolicy(inst_b_);
  core::App app_a = MakeApp(inst_a_, crypto::Sha256Hex("a"));
  core::App app_b = MakeApp(inst_b_, crypto::Sha256Hex("b"));

  // Even Scope::All() cannot join rows of two institutions.
  EXPECT_CODE(store_->AddGroupMember(Scope::All(), group_a.id, dev_b.id), kNotFound);
  EXPECT_CODE(store_->AddGroupMember(A(), group_a.id, dev_b.id), kNotFound);
  EXPECT_CODE(store_->UpdateDeviceAssignment(Scope::All(), dev_a.id, staff_b.id,
                                             core::Ownership::kCorporate),
              kNotFound);
  EXPECT_EQ(Must(store_->GetDevice(A(), dev_a.id)).staff_id, "");
  EXPECT_CODE(store_->AssignPolicy({core::NewId("pas"), inst_a_, pol_b.id, "", Tick()}), kNotFound);
  EXPECT_CODE(store_->AssignPolicy({core::NewId("pas"), inst_a_, pol_a.id, group_b.id, Tick()}),
              kNotFound);
  EXPECT_CODE(store_->AssignApp({core::NewId("aas"), inst_a_, app_b.id, group_a.id, Tick()}),
              kNotFound);
  EXPECT_CODE(store_->AssignApp({core::NewId("aas"), inst_a_, app_a.id, group_b.id, Tick()}),
              kNotFound);
  core::EnrollmentToken t;
  t.id = core::NewId("enr");
  t.institution_id = inst_a_;
  t.staff_id = staff_b.id;
  t.token_hash = crypto::Sha256Hex("cross");
  t.max_uses = 1;
  EXPECT_CODE(store_->CreateEnrollmentToken(t), kNotFound);
  EXPECT_TRUE(Must(store_->ListPolicyAssignments(A(), pol_a.id)).empty());
  EXPECT_TRUE(Must(store_->ListAppAssignments(A(), app_a.id)).empty());
  EXPECT_TRUE(Must(store_->ListGroupMembers(A(), group_a.id)).empty());
}

// ------------------------------------------------------------------------------------------
// Enrollment

TEST_P(StoreConformanceTest, EnrollDeviceTakesInstitutionAndStaffFromToken) {
  core::Staff s = MakeStaff(inst_a_);
  core::EnrollmentToken t = MakeToken(inst_a_, 2, s.id);
  core::Device d;
  d.id = core::NewId("dev");
  d.institution_id = inst_b_;  // overwritten by the token's
  d.staff_id = "stf_someone";  // overwritten by the token's
  d.platform = Platform::kIos;
  d.model = "iPhone 15";
  d.serial = "F2LX";
  d.public_key = std::string("\x00\x01\xff key with NUL", 16);
  int64_t now = Tick();
  auto enrolled = store_->EnrollDevice(t.token_hash, d, now);
  ASSERT_OK(enrolled);
  EXPECT_EQ(enrolled->institution_id, inst_a_);
  EXPECT_EQ(enrolled->staff_id, s.id);

  auto got = store_->GetDevice(A(), d.id);
  ASSERT_OK(got);
  EXPECT_EQ(got->institution_id, inst_a_);
  EXPECT_EQ(got->staff_id, s.id);
  EXPECT_EQ(got->platform, Platform::kIos);
  EXPECT_EQ(got->model, "iPhone 15");
  EXPECT_EQ(got->serial, "F2LX");
  EXPECT_EQ(got->public_key, d.public_key);
  EXPECT_EQ(got->status, core::DeviceStatus::kActive);
  EXPECT_EQ(got->enrolled_at, now);
  EXPECT_CODE(store_->GetDevice(B(), d.id), kNotFound);

  auto listed = FindToken(A(), t.id);
  EXPECT_EQ(listed.uses, 1);
  EXPECT_EQ(listed.max_uses, 2);
  EXPECT_EQ(listed.staff_id, s.id);
  EXPECT_EQ(listed.token_hash, t.token_hash);
  EXPECT_FALSE(listed.revoked);
}

TEST_P(StoreConformanceTest, EnrollDeviceRefusesBadTokensWithOneMessage) {
  core::EnrollmentToken exhausted = MakeToken(inst_a_, 1);
  Enroll(inst_a_);  // unrelated device, so counts are not trivially zero
  core::Device first;
  first.id = core::NewId("dev");
  ASSERT_OK(store_->EnrollDevice(exhausted.token_hash, first, Tick()));

  core::EnrollmentToken revoked = MakeToken(inst_a_, 5);
  ASSERT_OK(store_->RevokeEnrollmentToken(A(), revoked.id));
  int64_t now = Tick();
  core::EnrollmentToken expired = MakeToken(inst_a_, 5, "", now);  // expires exactly now

  const int64_t before = Must(store_->CountDevices(A()));
  std::set<std::string> messages;
  for (const std::string& hash : {exhausted.token_hash, revoked.token_hash, expired.token_hash,
                                  crypto::Sha256Hex("never issued")}) {
    core::Device d;
    d.id = core::NewId("dev");
    auto r = store_->EnrollDevice(hash, d, now);
    EXPECT_CODE(r, kUnauthenticated);
    messages.insert(r.status().message());
    EXPECT_CODE(store_->GetDevice(Scope::All(), d.id), kNotFound);
  }
  EXPECT_EQ(messages.size(), 1u) << "the caller must not learn why a token was refused";
  EXPECT_EQ(Must(store_->CountDevices(A())), before);
  EXPECT_EQ(FindToken(A(), revoked.id).uses, 0);
  EXPECT_EQ(FindToken(A(), expired.id).uses, 0);
  EXPECT_EQ(FindToken(A(), exhausted.id).uses, 1);
  // One second before expiry the same token still works.
  core::Device early;
  early.id = core::NewId("dev");
  EXPECT_OK(store_->EnrollDevice(expired.token_hash, early, now - 1));
}

TEST_P(StoreConformanceTest, EnrollWithTakenDeviceIdChangesNothing) {
  core::Device existing = Enroll(inst_a_);
  core::EnrollmentToken t = MakeToken(inst_a_, 3);
  core::Device dup;
  dup.id = existing.id;
  dup.model = "Impostor";
  EXPECT_CODE(store_->EnrollDevice(t.token_hash, dup, Tick()), kAlreadyExists);
  EXPECT_EQ(Must(store_->GetDevice(A(), existing.id)).model, existing.model);
  EXPECT_EQ(FindToken(A(), t.id).uses, 0) << "a failed enrollment must not spend a use";
}

TEST_P(StoreConformanceTest, RacingEnrollmentsSpendEachUseExactlyOnce) {
  constexpr int kThreads = 8;
  for (int64_t max_uses : {1, 3}) {
    core::EnrollmentToken t = MakeToken(inst_a_, max_uses);
    const int64_t before = Must(store_->CountDevices(A()));
    std::atomic<int> wins{0};
    std::atomic<int> refused{0};
    std::atomic<int> other{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    const int64_t now = Tick();
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        core::Device d;
        d.id = core::NewId("dev");
        start.arrive_and_wait();
        auto r = store_->EnrollDevice(t.token_hash, d, now);
        if (r.ok()) {
          ++wins;
        } else if (r.status().code() == Code::kUnauthenticated) {
          ++refused;
        } else {
          ++other;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), max_uses);
    EXPECT_EQ(refused.load(), kThreads - max_uses);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(Must(store_->CountDevices(A())), before + max_uses);
    EXPECT_EQ(FindToken(A(), t.id).uses, max_uses);
  }
}

TEST_P(StoreConformanceTest, TwoStoresOnOneDatabaseStillSpendEachUseOnce) {
  if (!GetParam().persistent) GTEST_SKIP() << "backend has no shared database to open twice";
  // A second store on the same database shares no in-process lock with the first: only the
  // database's own transactions keep the token count right.
  auto second = GetParam().open(dir_);
  ASSERT_OK(second);
  Store* stores[2] = {store_.get(), second->get()};
  core::EnrollmentToken t = MakeToken(inst_a_, 2);
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> other{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  const int64_t now = Tick();
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      core::Device d;
      d.id = core::NewId("dev");
      start.arrive_and_wait();
      auto r = stores[i % 2]->EnrollDevice(t.token_hash, d, now);
      if (r.ok()) {
        ++wins;
      } else if (r.status().code() != Code::kUnauthenticated) {
        ++other;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins.load(), 2);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(FindToken(A(), t.id).uses, 2);
  EXPECT_EQ(Must((*second)->CountDevices(A())), 2);
}

// ------------------------------------------------------------------------------------------
// Devices

TEST_P(StoreConformanceTest, DeviceFilters) {
  core::Staff s = MakeStaff(inst_a_);
  core::Device ios1 = Enroll(inst_a_, Platform::kIos, s.id);
  core::Device ios2 = Enroll(inst_a_, Platform::kIos);
  core::Device and1 = Enroll(inst_a_, Platform::kAndroid, s.id);
  core::Device and2 = Enroll(inst_a_, Platform::kAndroid);
  Enroll(inst_b_, Platform::kIos);
  core::Group g = MakeGroup(inst_a_);
  ASSERT_OK(store_->AddGroupMember(A(), g.id, ios2.id));
  ASSERT_OK(store_->AddGroupMember(A(), g.id, and2.id));
  core::DeviceState st;
  ASSERT_OK(store_->RecordCheckin(ios1.id, st, Tick(), ComplianceState::kCompliant, {}, 0, 0));
  ASSERT_OK(store_->RecordCheckin(and2.id, st, Tick(), ComplianceState::kNonCompliant, {}, 5, 0));
  ASSERT_OK(store_->RetireDevice(A(), and1.id, Tick()));

  auto list = [&](DeviceFilter f) {
    return AsSet(CollectIds([&](PageRequest p) { return store_->ListDevices(A(), f, p); }, 1));
  };
  using S = std::set<std::string>;
  EXPECT_EQ(list({}), (S{ios1.id, ios2.id, and1.id, and2.id}));
  EXPECT_EQ(list({.platform = Platform::kIos}), (S{ios1.id, ios2.id}));
  EXPECT_EQ(list({.platform = Platform::kAndroid}), (S{and1.id, and2.id}));
  EXPECT_EQ(list({.compliance = ComplianceState::kCompliant}), (S{ios1.id}));
  EXPECT_EQ(list({.compliance = ComplianceState::kNonCompliant}), (S{and2.id}));
  EXPECT_EQ(list({.compliance = ComplianceState::kUnknown}), (S{ios2.id, and1.id}));
  EXPECT_EQ(list({.status = core::DeviceStatus::kRetired}), (S{and1.id}));
  EXPECT_EQ(list({.status = core::DeviceStatus::kActive}), (S{ios1.id, ios2.id, and2.id}));
  EXPECT_EQ(list({.staff_id = s.id}), (S{ios1.id, and1.id}));
  EXPECT_EQ(list({.group_id = g.id}), (S{ios2.id, and2.id}));
  EXPECT_EQ(list({.platform = Platform::kAndroid, .group_id = g.id}), (S{and2.id}));
  EXPECT_EQ(list({.platform = Platform::kIos, .staff_id = s.id}), (S{ios1.id}));
  EXPECT_EQ(list({.group_id = "grp_unknown"}), S{});
}

TEST_P(StoreConformanceTest, CheckinRoundTripsStateAndCompliance) {
  core::Device d = Enroll(inst_a_, Platform::kIos);
  core::DeviceState st;
  st.os_version = "17.4.1";
  st.passcode_set = true;
  st.passcode_length = 6;
  st.storage_encrypted = true;
  st.compromised = true;
  st.battery_percent = 42;
  st.camera_disabled = true;
  st.installed_apps = {"com.apple.mobilesafari", "eu.europa.mail", "emoji.\xf0\x9f\x94\x92"};
  std::vector<core::ComplianceReason> reasons = {
      {"pol_1", "passcode_too_short", "Passcode must be at least 8 characters"},
      {"pol_2", "compromised", "Device is jailbroken \"really\""}};
  ASSERT_OK(
      store_->RecordCheckin(d.id, st, 5555, ComplianceState::kNonCompliant, reasons, 5000, 5400));
  auto got = Must(store_->GetDevice(A(), d.id));
  EXPECT_EQ(got.last_seen, 5555);
  EXPECT_EQ(got.state.os_version, "17.4.1");
  EXPECT_TRUE(got.state.passcode_set);
  EXPECT_EQ(got.state.passcode_length, 6);
  EXPECT_TRUE(got.state.storage_encrypted);
  EXPECT_TRUE(got.state.compromised);
  EXPECT_EQ(got.state.battery_percent, 42);
  EXPECT_TRUE(got.state.camera_disabled);
  EXPECT_EQ(got.state.installed_apps, st.installed_apps);
  EXPECT_EQ(got.compliance, ComplianceState::kNonCompliant);
  EXPECT_EQ(got.compliance_reasons, reasons);
  EXPECT_EQ(got.noncompliant_since, 5000);
  EXPECT_EQ(got.compliance_action_taken_at, 5400);

  // A second check-in replaces, not appends.
  core::DeviceState st2;
  ASSERT_OK(store_->RecordCheckin(d.id, st2, 6000, ComplianceState::kCompliant, {}, 0, 0));
  got = Must(store_->GetDevice(A(), d.id));
  EXPECT_TRUE(got.state.installed_apps.empty());
  EXPECT_TRUE(got.compliance_reasons.empty());
  EXPECT_EQ(got.compliance, ComplianceState::kCompliant);
  EXPECT_EQ(got.state.battery_percent, -1);

  EXPECT_CODE(store_->RecordCheckin("dev_unknown", st, 1, ComplianceState::kCompliant, {}, 0, 0),
              kNotFound);
}

TEST_P(StoreConformanceTest, ComplianceSummaryAndCountAreScopedAndSkipRetired) {
  core::DeviceState st;
  auto c1 = Enroll(inst_a_);
  auto c2 = Enroll(inst_a_);
  auto n1 = Enroll(inst_a_);
  Enroll(inst_a_);  // unknown
  auto retired = Enroll(inst_a_);
  auto b1 = Enroll(inst_b_);
  ASSERT_OK(store_->RecordCheckin(c1.id, st, Tick(), ComplianceState::kCompliant, {}, 0, 0));
  ASSERT_OK(store_->RecordCheckin(c2.id, st, Tick(), ComplianceState::kCompliant, {}, 0, 0));
  ASSERT_OK(store_->RecordCheckin(n1.id, st, Tick(), ComplianceState::kNonCompliant, {}, 1, 0));
  ASSERT_OK(
      store_->RecordCheckin(retired.id, st, Tick(), ComplianceState::kNonCompliant, {}, 1, 0));
  ASSERT_OK(store_->RecordCheckin(b1.id, st, Tick(), ComplianceState::kCompliant, {}, 0, 0));
  ASSERT_OK(store_->RetireDevice(A(), retired.id, Tick()));

  auto a = Must(store_->SummarizeCompliance(A()));
  EXPECT_EQ(a.compliant, 2);
  EXPECT_EQ(a.noncompliant, 1);
  EXPECT_EQ(a.unknown, 1);
  EXPECT_EQ(Must(store_->CountDevices(A())), 4);
  auto all = Must(store_->SummarizeCompliance(Scope::All()));
  EXPECT_EQ(all.compliant, 3);
  EXPECT_EQ(Must(store_->CountDevices(Scope::All())), 5);
  EXPECT_EQ(Must(store_->CountDevices(B())), 1);
}

TEST_P(StoreConformanceTest, RetireCancelsPendingCommandsAndClearsKey) {
  core::Device d = Enroll(inst_a_);
  core::Command acked = Enqueue(d);
  core::Command sent = Enqueue(d);
  core::Command not_now = Enqueue(d);
  core::Command queued = Enqueue(d);
  int64_t now = Tick();
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d.id, now, 3, kNoResend)).size(), 3u);
  ASSERT_OK(store_->RecordCommandResult(d.id, acked.id, CommandState::kAcknowledged, "{}", "", now,
                                        0, 3));
  ASSERT_OK(store_->RecordCommandResult(d.id, not_now.id, CommandState::kNotNow, "", "", now,
                                        now + 60, 3));

  int64_t retire_at = Tick();
  ASSERT_OK(store_->RetireDevice(A(), d.id, retire_at));
  auto dev = Must(store_->GetDevice(A(), d.id));
  EXPECT_EQ(dev.status, core::DeviceStatus::kRetired);
  EXPECT_TRUE(dev.public_key.empty());
  EXPECT_EQ(GetCmd(acked).state, CommandState::kAcknowledged);
  for (const auto& c : {sent, not_now, queued}) {
    auto got = GetCmd(c);
    EXPECT_EQ(got.state, CommandState::kCanceled) << c.seq;
    EXPECT_EQ(got.updated_at, retire_at);
  }
  EXPECT_TRUE(Must(store_->TakeDeliverableCommands(d.id, now + 1000, 10, kNoResend)).empty());
  core::Command more;
  more.device_id = d.id;
  EXPECT_CODE(store_->EnqueueCommand(A(), more, Signer()), kConflict);
  EXPECT_CODE(store_->RecordCheckin(d.id, core::DeviceState{}, Tick(), ComplianceState::kCompliant,
                                    {}, 0, 0),
              kNotFound);
  EXPECT_CODE(store_->RecordCommandResult(d.id, sent.id, CommandState::kAcknowledged, "{}", "",
                                          Tick(), 0, 3),
              kConflict);
  // Retiring again is harmless.
  EXPECT_OK(store_->RetireDevice(A(), d.id, Tick()));
  EXPECT_EQ(Must(store_->ListCommands(A(), d.id, {}, PageRequest{50, ""})).items.size(), 4u);
}

// ------------------------------------------------------------------------------------------
// Groups

TEST_P(StoreConformanceTest, GroupMembership) {
  core::Group g1 = MakeGroup(inst_a_, "One");
  core::Group g2 = MakeGroup(inst_a_, "Two");
  core::Device d1 = Enroll(inst_a_);
  core::Device d2 = Enroll(inst_a_);
  auto got = Must(store_->GetGroup(A(), g1.id));
  EXPECT_EQ(got.name, "One");
  EXPECT_EQ(got.description, g1.description);
  EXPECT_EQ(got.created_at, g1.created_at);

  ASSERT_OK(store_->AddGroupMember(A(), g1.id, d1.id));
  ASSERT_OK(store_->AddGroupMember(A(), g1.id, d1.id));  // idempotent
  ASSERT_OK(store_->AddGroupMember(A(), g1.id, d2.id));
  ASSERT_OK(store_->AddGroupMember(A(), g2.id, d1.id));
  auto members = Must(store_->ListGroupMembers(A(), g1.id));
  std::vector<std::string> expected{d1.id, d2.id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(members, expected);
  std::vector<std::string> groups{g1.id, g2.id};
  std::sort(groups.begin(), groups.end());
  EXPECT_EQ(Must(store_->ListDeviceGroups(A(), d1.id)), groups);

  ASSERT_OK(store_->RemoveGroupMember(A(), g1.id, d1.id));
  EXPECT_EQ(Must(store_->ListGroupMembers(A(), g1.id)), std::vector<std::string>{d2.id});
  EXPECT_CODE(store_->AddGroupMember(A(), g1.id, "dev_unknown"), kNotFound);
  EXPECT_CODE(store_->AddGroupMember(A(), "grp_unknown", d1.id), kNotFound);

  // Deleting a group removes its memberships and assignments.
  core::Policy p = MakePolicy(inst_a_);
  AssignPolicy(inst_a_, p.id, g2.id);
  core::App app = MakeApp(inst_a_, crypto::Sha256Hex("app"));
  ASSERT_OK(store_->AssignApp({core::NewId("aas"), inst_a_, app.id, g2.id, Tick()}));
  ASSERT_OK(store_->DeleteGroup(A(), g2.id));
  EXPECT_CODE(store_->GetGroup(A(), g2.id), kNotFound);
  EXPECT_TRUE(Must(store_->ListDeviceGroups(A(), d1.id)).empty());
  EXPECT_TRUE(Must(store_->ListPolicyAssignments(A(), p.id)).empty());
  EXPECT_TRUE(Must(store_->ListAppAssignments(A(), app.id)).empty());
  EXPECT_CODE(store_->DeleteGroup(A(), g2.id), kNotFound);
}

// ------------------------------------------------------------------------------------------
// API tokens

TEST_P(StoreConformanceTest, ApiTokens) {
  core::ApiToken super = MakeApiToken("", core::Role::kSuperAdmin);
  core::ApiToken a = MakeApiToken(inst_a_, core::Role::kHelpdesk);
  core::ApiToken b = MakeApiToken(inst_b_);

  auto found = store_->FindApiTokenByHash(a.token_hash);
  ASSERT_OK(found);
  EXPECT_EQ(found->id, a.id);
  EXPECT_EQ(found->role, core::Role::kHelpdesk);
  EXPECT_EQ(found->institution_id, inst_a_);
  EXPECT_EQ(found->name, "automation");
  EXPECT_EQ(Must(store_->FindApiTokenByHash(super.token_hash)).institution_id, "");
  EXPECT_CODE(store_->FindApiTokenByHash(crypto::Sha256Hex("nope")), kNotFound);

  EXPECT_EQ(CollectIds([&](PageRequest p) { return store_->ListApiTokens(A(), p); }, 10),
            std::vector<std::string>{a.id});
  EXPECT_EQ(
      AsSet(CollectIds([&](PageRequest p) { return store_->ListApiTokens(Scope::All(), p); }, 1)),
      (std::set<std::string>{super.id, a.id, b.id}));

  core::ApiToken dup = MakeApiToken(inst_a_);
  dup.id = core::NewId("tok");
  EXPECT_CODE(store_->CreateApiToken(dup), kAlreadyExists);  // same hash

  ASSERT_OK(store_->RevokeApiToken(A(), a.id));
  EXPECT_TRUE(Must(store_->FindApiTokenByHash(a.token_hash)).revoked);
  EXPECT_CODE(store_->RevokeApiToken(A(), super.id), kNotFound);
  EXPECT_OK(store_->RevokeApiToken(Scope::All(), super.id));
  EXPECT_TRUE(Must(store_->FindApiTokenByHash(super.token_hash)).revoked);

  ASSERT_OK(store_->TouchApiToken(b.id, 1769770000));
  EXPECT_EQ(Must(store_->FindApiTokenByHash(b.token_hash)).last_used_at, 1769770000);
  EXPECT_CODE(store_->TouchApiToken("tok_unknown", 1), kNotFound);
}

// ------------------------------------------------------------------------------------------
// Commands

TEST_P(StoreConformanceTest, CommandsAreDeliveredInFifoOrder) {
  core::Device d = Enroll(inst_a_);
  core::Device other = Enroll(inst_a_);
  core::Command c;
  c.device_id = d.id;
  c.seq = 99;  // ignored
  c.state = CommandState::kAcknowledged;
  c.type = CommandType::kWipe;
  c.payload_json = R"({"preserve_esim":true})";
  c.created_by = "tok_1";
  c.created_at = Tick();
  // A new command is queued (signed) or awaiting approval, nothing else.
  EXPECT_CODE(store_->EnqueueCommand(A(), c, Signer()), kInvalidArgument);
  c.state = CommandState::kQueued;
  auto first = store_->EnqueueCommand(A(), c, Signer());
  ASSERT_OK(first);
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->state, CommandState::kQueued);
  EXPECT_EQ(first->institution_id, inst_a_);
  EXPECT_FALSE(first->id.empty());
  auto stored = GetCmd(*first);
  EXPECT_EQ(stored.type, CommandType::kWipe);
  EXPECT_EQ(stored.payload_json, c.payload_json);
  EXPECT_EQ(stored.created_by, "tok_1");
  EXPECT_EQ(stored.created_at, c.created_at);
  EXPECT_EQ(stored.state, CommandState::kQueued);

  auto second = Enqueue(d);
  auto third = Enqueue(d);
  EXPECT_EQ(second.seq, 2);
  EXPECT_EQ(third.seq, 3);
  EXPECT_EQ(Enqueue(other).seq, 1) << "seq is per device";

  int64_t now = Tick();
  auto batch = Must(store_->TakeDeliverableCommands(d.id, now, 2, kNoResend));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].id, first->id);
  EXPECT_EQ(batch[1].id, second.id);
  for (const auto& cmd : batch) {
    EXPECT_EQ(cmd.state, CommandState::kSent);
    EXPECT_EQ(cmd.sent_at, now);
    EXPECT_EQ(GetCmd(cmd).state, CommandState::kSent);
    EXPECT_EQ(GetCmd(cmd).sent_at, now);
  }
  batch = Must(store_->TakeDeliverableCommands(d.id, now, 10, kNoResend));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].id, third.id);
  EXPECT_TRUE(Must(store_->TakeDeliverableCommands(d.id, now, 10, kNoResend)).empty());
  EXPECT_CODE(store_->TakeDeliverableCommands(d.id, now, 0, kNoResend), kInvalidArgument);
  EXPECT_CODE(store_->TakeDeliverableCommands("dev_unknown", now, 1, kNoResend), kNotFound);

  auto sent = Must(
      store_->ListCommands(A(), d.id, CommandFilter{CommandState::kSent}, PageRequest{50, ""}));
  EXPECT_EQ(sent.items.size(), 3u);
  EXPECT_TRUE(Must(store_->ListCommands(A(), d.id, CommandFilter{CommandState::kQueued},
                                        PageRequest{50, ""}))
                  .items.empty());
  EXPECT_CODE(store_->GetCommand(A(), other.id, first->id), kNotFound) << "wrong device";
}

TEST_P(StoreConformanceTest, ConcurrentEnqueuesGetDistinctConsecutiveSeqs) {
  core::Device d = Enroll(inst_a_);
  constexpr int kThreads = 6;
  constexpr int kPerThread = 15;
  std::latch start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        core::Command c;
        c.device_id = d.id;
        c.created_at = 1;
        if (!store_->EnqueueCommand(A(), c, StaticSigner()).ok()) ++failures;
        // Readers run alongside the writers.
        if (!store_->ListCommands(A(), d.id, {}, PageRequest{5, ""}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = Must(store_->ListCommands(A(), d.id, {}, PageRequest{500, ""}));
  ASSERT_EQ(all.items.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < all.items.size(); ++i) EXPECT_EQ(all.items[i].seq, int64_t(i + 1));
}

TEST_P(StoreConformanceTest, ConcurrentTakersDeliverEachCommandOnce) {
  core::Device d = Enroll(inst_a_);
  std::set<std::string> queued;
  for (int i = 0; i < 60; ++i) queued.insert(Enqueue(d).id);
  constexpr int kThreads = 4;
  std::latch start(kThreads);
  std::vector<std::vector<std::string>> taken(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const int64_t now = Tick();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      while (true) {
        auto batch = store_->TakeDeliverableCommands(d.id, now, 3, kNoResend);
        if (!batch.ok()) {
          ++failures;
          return;
        }
        if (batch->empty()) return;
        for (size_t i = 1; i < batch->size(); ++i) {
          if ((*batch)[i].seq <= (*batch)[i - 1].seq) ++failures;
        }
        for (const auto& c : *batch) taken[t].push_back(c.id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> all;
  for (const auto& v : taken) all.insert(all.end(), v.begin(), v.end());
  EXPECT_EQ(all.size(), queued.size()) << "a command was delivered twice or not at all";
  EXPECT_EQ(AsSet(all), queued);
}

// A command whose delivery response was lost stays sent; once the redelivery cutoff passes
// its sent_at it is delivered again, until the device reports on it.
TEST_P(StoreConformanceTest, SentCommandsWithoutReportAreRedelivered) {
  core::Device d = Enroll(inst_a_);
  auto first = Enqueue(d);
  auto second = Enqueue(d);
  int64_t sent_at = Tick();
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d.id, sent_at, 10, kNoResend)).size(), 2u);
  EXPECT_TRUE(Must(store_->TakeDeliverableCommands(d.id, sent_at + 5, 10, sent_at - 1)).empty())
      << "sent after the cutoff: not yet redelivered";
  int64_t later = sent_at + 100;
  auto again = Must(store_->TakeDeliverableCommands(d.id, later, 10, sent_at));
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].id, first.id) << "FIFO order on redelivery too";
  EXPECT_EQ(GetCmd(again[0]).sent_at, later);
  ASSERT_OK(store_->RecordCommandResult(d.id, first.id, CommandState::kAcknowledged, "", "", later,
                                        0, 5));
  auto last = Must(store_->TakeDeliverableCommands(d.id, later + 100, 10, later));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].id, second.id) << "an acknowledged command is never redelivered";
}

TEST_P(StoreConformanceTest, CommandResultStateMachine) {
  core::Device d = Enroll(inst_a_);
  core::Device other = Enroll(inst_a_);
  core::Command c1 = Enqueue(d);
  core::Command c2 = Enqueue(d);
  core::Command queued = Enqueue(d);
  int64_t now = Tick();
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d.id, now, 2, kNoResend)).size(), 2u);

  // Not a device outcome.
  EXPECT_CODE(store_->RecordCommandResult(d.id, c1.id, CommandState::kQueued, "", "", now, 0, 3),
              kInvalidArgument);
  EXPECT_CODE(store_->RecordCommandResult(d.id, c1.id, CommandState::kCanceled, "", "", now, 0, 3),
              kInvalidArgument);
  // Another device cannot report on it.
  EXPECT_CODE(store_->RecordCommandResult(other.id, c1.id, CommandState::kAcknowledged, "{}", "",
                                          now, 0, 3),
              kNotFound);
  // Not sent yet.
  EXPECT_CODE(store_->RecordCommandResult(d.id, queued.id, CommandState::kAcknowledged, "{}", "",
                                          now, 0, 3),
              kConflict);
  EXPECT_EQ(GetCmd(queued).state, CommandState::kQueued);

  const std::string result = R"({"locked":true})";
  auto r = store_->RecordCommandResult(d.id, c1.id, CommandState::kAcknowledged, result, "",
                                       now + 1, 0, 3);
  ASSERT_OK(r);
  EXPECT_EQ(*r, ResultOutcome::kRecorded);
  auto got = GetCmd(c1);
  EXPECT_EQ(got.state, CommandState::kAcknowledged);
  EXPECT_EQ(got.result_json, result);
  EXPECT_EQ(got.updated_at, now + 1);

  // The same report again (a retry after a lost response) is a harmless duplicate.
  r = store_->RecordCommandResult(d.id, c1.id, CommandState::kAcknowledged, result, "", now + 5, 0,
                                  3);
  ASSERT_OK(r);
  EXPECT_EQ(*r, ResultOutcome::kDuplicate);
  EXPECT_EQ(GetCmd(c1).updated_at, now + 1) << "a duplicate changes nothing";

  // A different outcome for a finished command conflicts and changes nothing.
  EXPECT_CODE(
      store_->RecordCommandResult(d.id, c1.id, CommandState::kError, "", "boom", now + 6, 0, 3),
      kConflict);
  EXPECT_CODE(store_->RecordCommandResult(d.id, c1.id, CommandState::kAcknowledged, "{\"x\":1}", "",
                                          now + 6, 0, 3),
              kConflict);
  got = GetCmd(c1);
  EXPECT_EQ(got.state, CommandState::kAcknowledged);
  EXPECT_EQ(got.result_json, result);
  EXPECT_EQ(got.updated_at, now + 1);

  r = store_->RecordCommandResult(d.id, c2.id, CommandState::kError, "", "passcode policy", now, 0,
                                  3);
  ASSERT_OK(r);
  EXPECT_EQ(*r, ResultOutcome::kRecorded);
  EXPECT_EQ(GetCmd(c2).state, CommandState::kError);
  EXPECT_EQ(GetCmd(c2).error, "passcode policy");
  EXPECT_EQ(Must(store_->RecordCommandResult(d.id, c2.id, CommandState::kError, "",
                                             "passcode policy", now, 0, 3)),
            ResultOutcome::kDuplicate);
  EXPECT_CODE(store_->RecordCommandResult(d.id, "cmd_unknown", CommandState::kAcknowledged, "", "",
                                          now, 0, 3),
              kNotFound);
}

TEST_P(StoreConformanceTest, NotNowBacksOffAndEndsInError) {
  core::Device d = Enroll(inst_a_);
  core::Command c = Enqueue(d);
  core::Command later = Enqueue(d);
  int64_t now = Tick();
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d.id, now, 1, kNoResend)).size(), 1u);

  auto r = store_->RecordCommandResult(d.id, c.id, CommandState::kNotNow, "", "", now, now + 60, 3);
  ASSERT_OK(r);
  EXPECT_EQ(*r, ResultOutcome::kRecorded);
  auto got = GetCmd(c);
  EXPECT_EQ(got.state, CommandState::kNotNow);
  EXPECT_EQ(got.not_now_count, 1);
  EXPECT_EQ(got.not_before, now + 60);
  // The same not_now again is a duplicate and does not count twice.
  EXPECT_EQ(Must(store_->RecordCommandResult(d.id, c.id, CommandState::kNotNow, "", "", now,
                                             now + 60, 3)),
            ResultOutcome::kDuplicate);
  EXPECT_EQ(GetCmd(c).not_now_count, 1);

  // Before not_before the backed-off command waits, but does not hold back the next one.
  auto batch = Must(store_->TakeDeliverableCommands(d.id, now + 59, 10, kNoResend));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].id, later.id);
  batch = Must(store_->TakeDeliverableCommands(d.id, now + 60, 10, kNoResend));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].id, c.id);
  EXPECT_EQ(batch[0].not_now_count, 1);

  ASSERT_OK(store_->RecordCommandResult(d.id, c.id, CommandState::kNotNow, "", "", now + 60,
                                        now + 120, 3));
  EXPECT_EQ(GetCmd(c).not_now_count, 2);
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d.id, now + 120, 10, kNoResend)).size(), 1u);
  r = store_->RecordCommandResult(d.id, c.id, CommandState::kNotNow, "", "", now + 120, now + 180,
                                  3);
  ASSERT_OK(r);
  EXPECT_EQ(*r, ResultOutcome::kRecorded);
  got = GetCmd(c);
  EXPECT_EQ(got.state, CommandState::kError);
  EXPECT_EQ(got.not_now_count, 3);
  EXPECT_EQ(got.error, "device kept answering not_now");
  EXPECT_TRUE(Must(store_->TakeDeliverableCommands(d.id, now + 10000, 10, kNoResend)).empty());
  // The last not_now repeated is still recognised as the same report.
  EXPECT_EQ(Must(store_->RecordCommandResult(d.id, c.id, CommandState::kNotNow, "", "", now + 121,
                                             now + 180, 3)),
            ResultOutcome::kDuplicate);
  EXPECT_CODE(store_->RecordCommandResult(d.id, c.id, CommandState::kAcknowledged, "{}", "",
                                          now + 122, 0, 3),
              kConflict);
}

TEST_P(StoreConformanceTest, CommandsExpire) {
  core::Device d = Enroll(inst_a_);
  int64_t now = Tick();
  core::Command soon = Enqueue(d, CommandType::kLock, now + 10);
  core::Command never = Enqueue(d, CommandType::kRestart, 0);
  core::Command sent = Enqueue(d, CommandType::kLock, now + 20);
  core::Command acked = Enqueue(d, CommandType::kLock, now + 20);

  auto batch = Must(store_->TakeDeliverableCommands(d.id, now, 10, kNoResend));
  ASSERT_EQ(batch.size(), 4u);
  ASSERT_OK(
      store_->RecordCommandResult(d.id, acked.id, CommandState::kAcknowledged, "", "", now, 0, 3));
  ASSERT_OK(
      store_->RecordCommandResult(d.id, soon.id, CommandState::kNotNow, "", "", now, now + 5, 3));
  ASSERT_OK(
      store_->RecordCommandResult(d.id, never.id, CommandState::kNotNow, "", "", now, now + 5, 3));
  // At now+10 `soon` (not_now) is expired on the way; `never` is delivered.
  batch = Must(store_->TakeDeliverableCommands(d.id, now + 10, 10, kNoResend));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].id, never.id);
  EXPECT_EQ(GetCmd(soon).state, CommandState::kExpired);
  EXPECT_EQ(GetCmd(soon).updated_at, now + 10);

  // ExpireCommands catches the sent one once past its expiry, and nothing without expiry.
  EXPECT_EQ(Must(store_->ExpireCommands(now + 19)), 0);
  EXPECT_EQ(Must(store_->ExpireCommands(now + 20)), 1);
  EXPECT_EQ(GetCmd(sent).state, CommandState::kExpired);
  EXPECT_EQ(GetCmd(acked).state, CommandState::kAcknowledged);
  EXPECT_EQ(GetCmd(never).state, CommandState::kSent);
  EXPECT_EQ(Must(store_->ExpireCommands(now + 1'000'000)), 0);

  // A queued command past expiry is never delivered.
  core::Command stale = Enqueue(d, CommandType::kLock, now + 30);
  EXPECT_TRUE(Must(store_->TakeDeliverableCommands(d.id, now + 30, 10, kNoResend)).empty());
  EXPECT_EQ(GetCmd(stale).state, CommandState::kExpired);

  auto counts = Must(store_->CountCommandsByState());
  EXPECT_EQ(counts[CommandState::kExpired], 3);
  EXPECT_EQ(counts[CommandState::kSent], 1);
  EXPECT_EQ(counts[CommandState::kAcknowledged], 1);
  EXPECT_EQ(counts[CommandState::kQueued], 0);
  EXPECT_EQ(counts.size(), 9u) << "every state is reported, zero or not";
}

TEST_P(StoreConformanceTest, CancelOnlyQueuedOrNotNow) {
  core::Device d = Enroll(inst_a_);
  core::Command first = Enqueue(d);
  core::Command second = Enqueue(d);
  core::Command third = Enqueue(d);
  int64_t now = Tick();
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d.id, now, 2, kNoResend)).size(), 2u);
  ASSERT_OK(store_->RecordCommandResult(d.id, second.id, CommandState::kNotNow, "", "", now,
                                        now + 60, 3));

  EXPECT_CODE(store_->CancelCommand(A(), d.id, first.id, now), kConflict);  // sent
  EXPECT_EQ(GetCmd(first).state, CommandState::kSent);
  EXPECT_OK(store_->CancelCommand(A(), d.id, second.id, now + 1));  // not_now
  EXPECT_OK(store_->CancelCommand(A(), d.id, third.id, now + 2));   // queued
  EXPECT_EQ(GetCmd(second).state, CommandState::kCanceled);
  EXPECT_EQ(GetCmd(third).state, CommandState::kCanceled);
  EXPECT_EQ(GetCmd(third).updated_at, now + 2);
  EXPECT_CODE(store_->CancelCommand(A(), d.id, third.id, now + 3), kConflict);  // finished
  EXPECT_CODE(store_->CancelCommand(A(), d.id, "cmd_unknown", now), kNotFound);
  EXPECT_TRUE(Must(store_->TakeDeliverableCommands(d.id, now + 100, 10, kNoResend)).empty());
}

// ------------------------------------------------------------------------------------------
// Policies

TEST_P(StoreConformanceTest, PolicyRulesRoundTripExactly) {
  core::Policy p = MakePolicy(inst_a_, "Strict", RichRules());
  auto got = Must(store_->GetPolicy(A(), p.id));
  EXPECT_EQ(got.name, "Strict");
  EXPECT_TRUE(got.rules == RichRules());
  EXPECT_EQ(got.created_at, p.created_at);
  core::Policy empty = MakePolicy(inst_a_, "Empty");
  EXPECT_TRUE(Must(store_->GetPolicy(A(), empty.id)).rules == core::PolicyRules{});

  core::Policy changed = p;
  changed.name = "Relaxed";
  changed.rules = core::PolicyRules{};
  changed.rules.vpn = {{"Only", "openvpn", "vpn.example.eu", false}};
  changed.updated_at = Tick();
  ASSERT_OK(store_->UpdatePolicy(A(), changed));
  got = Must(store_->GetPolicy(A(), p.id));
  EXPECT_EQ(got.name, "Relaxed");
  EXPECT_TRUE(got.rules == changed.rules);
  EXPECT_EQ(got.updated_at, changed.updated_at);
  EXPECT_EQ(got.created_at, p.created_at);
}

TEST_P(StoreConformanceTest, PolicyAssignments) {
  core::Policy p = MakePolicy(inst_a_);
  core::Group g = MakeGroup(inst_a_);
  auto whole = AssignPolicy(inst_a_, p.id);
  auto to_group = AssignPolicy(inst_a_, p.id, g.id);
  EXPECT_CODE(store_->AssignPolicy({core::NewId("pas"), inst_a_, p.id, "", Tick()}),
              kAlreadyExists);
  EXPECT_CODE(store_->AssignPolicy({core::NewId("pas"), inst_a_, p.id, g.id, Tick()}),
              kAlreadyExists);
  EXPECT_CODE(store_->AssignPolicy({core::NewId("pas"), inst_a_, "pol_unknown", "", Tick()}),
              kNotFound);
  EXPECT_CODE(store_->AssignPolicy({core::NewId("pas"), inst_a_, p.id, "grp_unknown", Tick()}),
              kNotFound);
  auto list = Must(store_->ListPolicyAssignments(A(), p.id));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, whole.id);
  EXPECT_EQ(list[0].group_id, "");
  EXPECT_EQ(list[1].id, to_group.id);
  EXPECT_EQ(list[1].group_id, g.id);
  EXPECT_EQ(list[1].policy_id, p.id);

  ASSERT_OK(store_->DeletePolicyAssignment(A(), whole.id));
  EXPECT_CODE(store_->DeletePolicyAssignment(A(), whole.id), kNotFound);
  EXPECT_EQ(Must(store_->ListPolicyAssignments(A(), p.id)).size(), 1u);
  // The target is free again.
  AssignPolicy(inst_a_, p.id);

  ASSERT_OK(store_->DeletePolicy(A(), p.id));
  EXPECT_CODE(store_->GetPolicy(A(), p.id), kNotFound);
  EXPECT_CODE(store_->ListPolicyAssignments(A(), p.id), kNotFound);
  EXPECT_CODE(store_->DeletePolicy(A(), p.id), kNotFound);
  // Re-creating the same id shows the old assignments are gone, not hidden.
  core::Policy again = p;
  Must(store_->CreatePolicy(again));
  EXPECT_TRUE(Must(store_->ListPolicyAssignments(A(), p.id)).empty());
}

TEST_P(StoreConformanceTest, PoliciesForDeviceViaInstitutionAndGroups) {
  core::Device d = Enroll(inst_a_);
  core::Device bystander = Enroll(inst_a_);
  core::Group member_of = MakeGroup(inst_a_);
  core::Group not_member = MakeGroup(inst_a_);
  ASSERT_OK(store_->AddGroupMember(A(), member_of.id, d.id));
  ASSERT_OK(store_->AddGroupMember(A(), not_member.id, bystander.id));

  core::Policy everyone = MakePolicy(inst_a_, "everyone");
  core::Policy via_group = MakePolicy(inst_a_, "via group", RichRules());
  core::Policy both = MakePolicy(inst_a_, "both");
  core::Policy other_group = MakePolicy(inst_a_, "other group");
  MakePolicy(inst_a_, "unassigned");
  core::Policy other_inst = MakePolicy(inst_b_, "B");
  AssignPolicy(inst_a_, everyone.id);
  AssignPolicy(inst_a_, via_group.id, member_of.id);
  AssignPolicy(inst_a_, both.id);
  AssignPolicy(inst_a_, both.id, member_of.id);
  AssignPolicy(inst_a_, other_group.id, not_member.id);
  AssignPolicy(inst_b_, other_inst.id);

  std::vector<std::string> expected{everyone.id, via_group.id, both.id};
  std::sort(expected.begin(), expected.end());
  auto got = Must(store_->PoliciesForDevice(d.id));
  std::vector<std::string> ids;
  for (const auto& p : got) ids.push_back(p.id);
  EXPECT_EQ(ids, expected);
  for (const auto& p : got) {
    if (p.id == via_group.id) {
      EXPECT_TRUE(p.rules == RichRules());
    }
  }

  ASSERT_OK(store_->RemoveGroupMember(A(), member_of.id, d.id));
  expected = {everyone.id, both.id};
  std::sort(expected.begin(), expected.end());
  ids.clear();
  for (const auto& p : Must(store_->PoliciesForDevice(d.id))) ids.push_back(p.id);
  EXPECT_EQ(ids, expected);
  EXPECT_CODE(store_->PoliciesForDevice("dev_unknown"), kNotFound);
}

// ------------------------------------------------------------------------------------------
// Apps

TEST_P(StoreConformanceTest, AppsBySha256AreScoped) {
  const std::string sha = crypto::Sha256Hex("package bytes");
  core::App a = MakeApp(inst_a_, sha);
  core::App b = MakeApp(inst_b_, sha);  // same package uploaded by another institution
  core::App only_b = MakeApp(inst_b_, crypto::Sha256Hex("only b"));

  auto got = Must(store_->FindAppBySha256(A(), sha));
  EXPECT_EQ(got.id, a.id);
  EXPECT_EQ(got.name, a.name);
  EXPECT_EQ(got.bundle_id, a.bundle_id);
  EXPECT_EQ(got.version, a.version);
  EXPECT_EQ(got.platform, Platform::kIos);
  EXPECT_EQ(got.size_bytes, a.size_bytes);
  EXPECT_EQ(Must(store_->FindAppBySha256(B(), sha)).id, b.id);
  EXPECT_CODE(store_->FindAppBySha256(A(), only_b.sha256), kNotFound);
  EXPECT_CODE(store_->FindAppBySha256(A(), crypto::Sha256Hex("unknown")), kNotFound);

  core::App dup = a;
  dup.id = core::NewId("app");
  dup.name = "Same hash";
  EXPECT_CODE(store_->CreateApp(dup), kAlreadyExists);
  EXPECT_CODE(store_->GetApp(A(), dup.id), kNotFound);

  ASSERT_OK(store_->SetAppQuarantined(A(), a.id, true));
  EXPECT_TRUE(Must(store_->GetApp(A(), a.id)).quarantined);
  EXPECT_FALSE(Must(store_->GetApp(B(), b.id)).quarantined);
  ASSERT_OK(store_->SetAppQuarantined(A(), a.id, false));
  EXPECT_FALSE(Must(store_->GetApp(A(), a.id)).quarantined);
  EXPECT_CODE(store_->SetAppQuarantined(A(), "app_unknown", true), kNotFound);
}

TEST_P(StoreConformanceTest, AppAssignments) {
  core::App app = MakeApp(inst_a_, crypto::Sha256Hex("x"));
  core::Group g1 = MakeGroup(inst_a_);
  core::Group g2 = MakeGroup(inst_a_);
  core::AppAssignment a1{core::NewId("aas"), inst_a_, app.id, g1.id, Tick()};
  core::AppAssignment a2{core::NewId("aas"), inst_a_, app.id, g2.id, Tick()};
  ASSERT_OK(store_->AssignApp(a1));
  ASSERT_OK(store_->AssignApp(a2));
  EXPECT_CODE(store_->AssignApp({core::NewId("aas"), inst_a_, app.id, g1.id, Tick()}),
              kAlreadyExists);
  EXPECT_CODE(store_->AssignApp({core::NewId("aas"), inst_a_, "app_unknown", g1.id, Tick()}),
              kNotFound);
  auto list = Must(store_->ListAppAssignments(A(), app.id));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, a1.id);
  EXPECT_EQ(list[0].group_id, g1.id);
  EXPECT_EQ(list[0].app_id, app.id);
  EXPECT_EQ(list[1].id, a2.id);
  EXPECT_CODE(store_->ListAppAssignments(A(), "app_unknown"), kNotFound);
}

// ------------------------------------------------------------------------------------------
// Failures leave no trace

TEST_P(StoreConformanceTest, FailedCallsChangeNothing) {
  core::Device d = Enroll(inst_a_);
  core::Command c = Enqueue(d);
  auto before = Must(store_->CountCommandsByState());

  // Unknown device: no command row appears.
  core::Command orphan;
  orphan.device_id = "dev_unknown";
  EXPECT_CODE(store_->EnqueueCommand(A(), orphan, Signer()), kNotFound);
  // A report on a queued command conflicts: the command stays as it was.
  EXPECT_CODE(
      store_->RecordCommandResult(d.id, c.id, CommandState::kAcknowledged, "{}", "", Tick(), 0, 3),
      kConflict);
  EXPECT_EQ(Must(store_->CountCommandsByState()), before);
  auto got = GetCmd(c);
  EXPECT_EQ(got.state, CommandState::kQueued);
  EXPECT_EQ(got.result_json, "");
  EXPECT_EQ(got.updated_at, c.updated_at);

  // A duplicate group id leaves the original group.
  core::Group g = MakeGroup(inst_a_, "Original");
  core::Group dup = g;
  dup.name = "Duplicate";
  EXPECT_CODE(store_->CreateGroup(dup), kAlreadyExists);
  EXPECT_EQ(Must(store_->GetGroup(A(), g.id)).name, "Original");

  // A duplicate token hash leaves no second token.
  core::EnrollmentToken t = MakeToken(inst_a_);
  core::EnrollmentToken t2 = t;
  t2.id = core::NewId("enr");
  EXPECT_CODE(store_->CreateEnrollmentToken(t2), kAlreadyExists);
  size_t tokens = Must(store_->ListEnrollmentTokens(A(), PageRequest{500, ""})).items.size();
  EXPECT_EQ(tokens, 2u);  // the one Enroll() used, and t

  // An app assignment to an unknown group leaves none.
  core::App app = MakeApp(inst_a_, crypto::Sha256Hex("y"));
  EXPECT_CODE(store_->AssignApp({core::NewId("aas"), inst_a_, app.id, "grp_unknown", Tick()}),
              kNotFound);
  EXPECT_TRUE(Must(store_->ListAppAssignments(A(), app.id)).empty());
}

// ------------------------------------------------------------------------------------------
// Persistence

TEST_P(StoreConformanceTest, ReopeningKeepsData) {
  if (!GetParam().persistent) GTEST_SKIP() << "backend does not persist across opens";
  core::Staff s = MakeStaff(inst_a_, "Robert'); DROP TABLE staff;--");
  core::Device d = Enroll(inst_a_, Platform::kIos, s.id);
  core::Command c = Enqueue(d);
  core::Policy p = MakePolicy(inst_a_, "Kept", RichRules());

  store_.reset();
  auto reopened = GetParam().open(dir_);
  ASSERT_OK(reopened);
  store_ = std::move(reopened).value();

  EXPECT_EQ(Must(store_->GetStaff(A(), s.id)).masked_name, s.masked_name);
  auto dev = Must(store_->GetDevice(A(), d.id));
  EXPECT_EQ(dev.public_key, d.public_key);
  EXPECT_EQ(dev.staff_id, s.id);
  EXPECT_EQ(GetCmd(c).seq, 1);
  EXPECT_EQ(Enqueue(d).seq, 2) << "seq continues after a reopen";
  EXPECT_TRUE(Must(store_->GetPolicy(A(), p.id)).rules == RichRules());
}

// ------------------------------------------------------------------------------------------
// Admin users and sessions

core::AdminUser MakeUser(const std::string& institution, const std::string& username,
                         core::Role role = core::Role::kAdmin) {
  core::AdminUser u;
  u.id = core::NewId("usr");
  u.username = username;
  u.role = role;
  u.institution_id = institution;
  u.password_hash = "$argon2id$placeholder";
  u.created_at = u.updated_at = u.password_changed_at = 1000;
  return u;
}

core::AdminSession MakeSession(const core::AdminUser& u, int64_t now, int64_t lifetime = 3600) {
  core::AdminSession s;
  s.id = core::NewId("ses");
  s.user_id = u.id;
  s.institution_id = u.institution_id;
  s.secret_hash = crypto::Sha256Hex(crypto::RandomHex(16));
  s.created_at = s.last_seen_at = now;
  s.expires_at = now + lifetime;
  return s;
}

TEST_P(StoreConformanceTest, AdminUsersAreScopedAndUnique) {
  core::AdminUser a = MakeUser(inst_a_, "alice");
  a.totp_secret = std::string("\0\x01secret\xff", 9);  // raw bytes survive, NULs included
  core::AdminUser b = MakeUser(inst_b_, "bob");
  core::AdminUser root = MakeUser("", "root", core::Role::kSuperAdmin);
  ASSERT_OK(store_->CreateAdminUser(a));
  ASSERT_OK(store_->CreateAdminUser(b));
  ASSERT_OK(store_->CreateAdminUser(root));

  auto got = Must(store_->GetAdminUser(A(), a.id));
  EXPECT_EQ(got.username, "alice");
  EXPECT_EQ(got.role, core::Role::kAdmin);
  EXPECT_EQ(got.institution_id, inst_a_);
  EXPECT_EQ(got.password_hash, a.password_hash);
  EXPECT_EQ(got.totp_secret, a.totp_secret);
  EXPECT_TRUE(got.totp_enabled());
  EXPECT_EQ(got.totp_last_step, -1);
  EXPECT_FALSE(got.disabled);
  EXPECT_EQ(got.password_changed_at, 1000);
  EXPECT_CODE(store_->GetAdminUser(B(), a.id), kNotFound);
  EXPECT_CODE(store_->GetAdminUser(A(), root.id), kNotFound) << "superadmins have no institution";
  EXPECT_EQ(Must(store_->GetAdminUser(Scope::All(), root.id)).institution_id, "");
  EXPECT_EQ(Must(store_->FindAdminUserByUsername("bob")).id, b.id);
  EXPECT_CODE(store_->FindAdminUserByUsername("carol"), kNotFound);

  core::AdminUser dup = MakeUser(inst_b_, "alice");
  EXPECT_CODE(store_->CreateAdminUser(dup), kAlreadyExists);
  EXPECT_CODE(store_->GetAdminUser(Scope::All(), dup.id), kNotFound);
  core::AdminUser admin_without_institution = MakeUser("", "nobody");
  EXPECT_CODE(store_->CreateAdminUser(admin_without_institution), kInvalidArgument);
  core::AdminUser superadmin_with_institution =
      MakeUser(inst_a_, "nobody2", core::Role::kSuperAdmin);
  EXPECT_CODE(store_->CreateAdminUser(superadmin_with_institution), kInvalidArgument);

  EXPECT_EQ(AsSet(CollectIds([&](PageRequest p) { return store_->ListAdminUsers(A(), p); }, 1)),
            std::set<std::string>{a.id});
  EXPECT_EQ(
      AsSet(CollectIds([&](PageRequest p) { return store_->ListAdminUsers(Scope::All(), p); }, 2)),
      (std::set<std::string>{a.id, b.id, root.id}));
}

TEST_P(StoreConformanceTest, AdminUserAccessChangesAndDisablingEndsSessions) {
  core::AdminUser a = MakeUser(inst_a_, "alice");
  ASSERT_OK(store_->CreateAdminUser(a));
  core::AdminSession s = MakeSession(a, 2000);
  ASSERT_OK(store_->CreateAdminSession(s, 3, 0));

  EXPECT_CODE(store_->UpdateAdminUserAccess(B(), a.id, core::Role::kHelpdesk, false, 2100),
              kNotFound);
  EXPECT_CODE(store_->UpdateAdminUserAccess(A(), a.id, core::Role::kSuperAdmin, false, 2100),
              kInvalidArgument);
  EXPECT_EQ(Must(store_->GetAdminUser(A(), a.id)).role, core::Role::kAdmin);

  ASSERT_OK(store_->UpdateAdminUserAccess(A(), a.id, core::Role::kHelpdesk, false, 2100));
  auto got = Must(store_->GetAdminUser(A(), a.id));
  EXPECT_EQ(got.role, core::Role::kHelpdesk);
  EXPECT_EQ(got.updated_at, 2100);
  // A role change keeps sessions: the role is read from the user on every request.
  EXPECT_OK(store_->FindAdminSessionByHash(s.secret_hash));

  ASSERT_OK(store_->UpdateAdminUserAccess(A(), a.id, core::Role::kHelpdesk, true, 2200));
  EXPECT_TRUE(Must(store_->GetAdminUser(A(), a.id)).disabled);
  EXPECT_CODE(store_->FindAdminSessionByHash(s.secret_hash), kNotFound);
}

TEST_P(StoreConformanceTest, TotpSetupConfirmationAndStepsUsedOnce) {
  core::AdminUser a = MakeUser(inst_a_, "alice");
  ASSERT_OK(store_->CreateAdminUser(a));
  core::AdminSession s = MakeSession(a, 2000);
  ASSERT_OK(store_->CreateAdminSession(s, 3, 0));

  EXPECT_CODE(store_->ConfirmTotp(a.id, "pending", 10, 2000), kConflict) << "nothing pending";
  ASSERT_OK(store_->SetPendingTotp(a.id, "first", 2000));
  ASSERT_OK(store_->SetPendingTotp(a.id, "second", 2001));
  EXPECT_CODE(store_->ConfirmTotp(a.id, "first", 10, 2002), kConflict)
      << "replaced by a later setup";
  auto pending = Must(store_->GetAdminUser(A(), a.id));
  EXPECT_FALSE(pending.totp_enabled());
  EXPECT_EQ(pending.totp_pending_secret, "second");
  ASSERT_OK(store_->ConfirmTotp(a.id, "second", 10, 2003));
  auto on = Must(store_->GetAdminUser(A(), a.id));
  EXPECT_EQ(on.totp_secret, "second");
  EXPECT_EQ(on.totp_pending_secret, "");
  EXPECT_EQ(on.totp_last_step, 10);

  EXPECT_CODE(store_->UseTotpStep(a.id, 10), kConflict) << "the confirming code is used up";
  EXPECT_CODE(store_->UseTotpStep(a.id, 9), kConflict) << "older steps are too";
  EXPECT_OK(store_->UseTotpStep(a.id, 11));
  EXPECT_CODE(store_->UseTotpStep(a.id, 11), kConflict);

  EXPECT_CODE(store_->ResetAdminMfa(B(), a.id, 2100), kNotFound);
  EXPECT_OK(store_->FindAdminSessionByHash(s.secret_hash));
  ASSERT_OK(store_->ResetAdminMfa(A(), a.id, 2100));
  EXPECT_FALSE(Must(store_->GetAdminUser(A(), a.id)).totp_enabled());
  EXPECT_CODE(store_->FindAdminSessionByHash(s.secret_hash), kNotFound);
}

TEST_P(StoreConformanceTest, LoginFailuresLockWithinTheWindowOnly) {
  core::AdminUser a = MakeUser(inst_a_, "alice");
  ASSERT_OK(store_->CreateAdminUser(a));
  constexpr int64_t kWindow = 900, kMax = 3, kLock = 600;
  EXPECT_EQ(Must(store_->RecordLoginFailure(a.id, 1000, kWindow, kMax, kLock)), 0);
  EXPECT_EQ(Must(store_->RecordLoginFailure(a.id, 1100, kWindow, kMax, kLock)), 0);
  // The window has run out: this failure starts a new count.
  EXPECT_EQ(Must(store_->RecordLoginFailure(a.id, 1900, kWindow, kMax, kLock)), 0);
  EXPECT_EQ(Must(store_->GetAdminUser(A(), a.id)).failed_logins, 1);
  EXPECT_EQ(Must(store_->RecordLoginFailure(a.id, 1910, kWindow, kMax, kLock)), 0);
  EXPECT_EQ(Must(store_->RecordLoginFailure(a.id, 1920, kWindow, kMax, kLock)), 1920 + kLock);
  // Failures during the lock do not extend it.
  EXPECT_EQ(Must(store_->RecordLoginFailure(a.id, 2000, kWindow, kMax, kLock)), 1920 + kLock);
  EXPECT_EQ(Must(store_->GetAdminUser(A(), a.id)).locked_until, 1920 + kLock);
  // After the lock, one failure is one failure again.
  EXPECT_EQ(Must(store_->RecordLoginFailure(a.id, 1920 + kLock, kWindow, kMax, kLock)), 0);
  ASSERT_OK(store_->ClearLoginFailures(a.id));
  auto cleared = Must(store_->GetAdminUser(A(), a.id));
  EXPECT_EQ(cleared.failed_logins, 0);
  EXPECT_EQ(cleared.locked_until, 0);
  EXPECT_CODE(store_->RecordLoginFailure("usr_unknown", 1000, kWindow, kMax, kLock), kNotFound);
}

TEST_P(StoreConformanceTest, SessionCapEndsTheLeastRecentlyUsed) {
  core::AdminUser a = MakeUser(inst_a_, "alice");
  core::AdminUser b = MakeUser(inst_a_, "bob");
  ASSERT_OK(store_->CreateAdminUser(a));
  ASSERT_OK(store_->CreateAdminUser(b));
  core::AdminSession s1 = MakeSession(a, 1000), s2 = MakeSession(a, 1001),
                     s3 = MakeSession(a, 1002), other = MakeSession(b, 1000);
  ASSERT_OK(store_->CreateAdminSession(other, 3, 0));
  EXPECT_EQ(Must(store_->CreateAdminSession(s1, 3, 0)), 0);
  EXPECT_EQ(Must(store_->CreateAdminSession(s2, 3, 0)), 0);
  EXPECT_EQ(Must(store_->CreateAdminSession(s3, 3, 0)), 0);
  ASSERT_OK(store_->TouchAdminSession(s1.id, 1010));  // s2 is now the least recently used
  core::AdminSession s4 = MakeSession(a, 1020);
  EXPECT_EQ(Must(store_->CreateAdminSession(s4, 3, 0)), 1);
  EXPECT_CODE(store_->FindAdminSessionByHash(s2.secret_hash), kNotFound);
  for (const auto* s : {&s1, &s3, &s4, &other})
    EXPECT_OK(store_->FindAdminSessionByHash(s->secret_hash));
  EXPECT_EQ(Must(store_->FindAdminSessionByHash(s1.secret_hash)).last_seen_at, 1010);

  // Sessions already idle or expired do not count against the cap and are removed.
  core::AdminSession s5 = MakeSession(a, 2000);
  EXPECT_EQ(Must(store_->CreateAdminSession(s5, 3, /*idle_cutoff=*/1015)), 0);
  EXPECT_CODE(store_->FindAdminSessionByHash(s1.secret_hash), kNotFound);
  EXPECT_OK(store_->FindAdminSessionByHash(s5.secret_hash));

  core::AdminSession dup = MakeSession(a, 2001);
  dup.secret_hash = s5.secret_hash;
  EXPECT_CODE(store_->CreateAdminSession(dup, 3, 0), kAlreadyExists);
  EXPECT_CODE(store_->CreateAdminSession(MakeSession(a, 2002), 0, 0), kInvalidArgument);
}

TEST_P(StoreConformanceTest, SessionsEndOnPasswordChangeRevocationAndStaleness) {
  core::AdminUser a = MakeUser(inst_a_, "alice");
  core::AdminUser b = MakeUser(inst_b_, "bob");
  ASSERT_OK(store_->CreateAdminUser(a));
  ASSERT_OK(store_->CreateAdminUser(b));
  core::AdminSession keep = MakeSession(a, 1000), other = MakeSession(a, 1001),
                     bobs = MakeSession(b, 1000, 100);
  ASSERT_OK(store_->CreateAdminSession(keep, 5, 0));
  ASSERT_OK(store_->CreateAdminSession(other, 5, 0));
  ASSERT_OK(store_->CreateAdminSession(bobs, 5, 0));

  ASSERT_OK(store_->SetAdminPassword(a.id, "$argon2id$new", 1500, keep.id));
  auto changed = Must(store_->GetAdminUser(A(), a.id));
  EXPECT_EQ(changed.password_hash, "$argon2id$new");
  EXPECT_EQ(changed.password_changed_at, 1500);
  EXPECT_OK(store_->FindAdminSessionByHash(keep.secret_hash));
  EXPECT_CODE(store_->FindAdminSessionByHash(other.secret_hash), kNotFound);
  EXPECT_CODE(store_->SetAdminPassword("usr_unknown", "x", 1500, ""), kNotFound);

  EXPECT_CODE(store_->DeleteAdminSessionsOfUser(B(), a.id), kNotFound);
  EXPECT_OK(store_->FindAdminSessionByHash(keep.secret_hash));
  EXPECT_EQ(Must(store_->DeleteAdminSessionsOfUser(A(), a.id)), 1);
  EXPECT_CODE(store_->FindAdminSessionByHash(keep.secret_hash), kNotFound);
  EXPECT_CODE(store_->DeleteAdminSession(keep.id), kNotFound);

  // bob's session expires at 1100; a fresh one of alice's stays. (A login of bob's own would
  // already have removed his dead session.)
  core::AdminSession fresh = MakeSession(a, 1200);
  ASSERT_OK(store_->CreateAdminSession(fresh, 5, 0));
  EXPECT_EQ(Must(store_->DeleteStaleAdminSessions(1200, 900)), 1);
  EXPECT_CODE(store_->FindAdminSessionByHash(bobs.secret_hash), kNotFound);
  EXPECT_OK(store_->FindAdminSessionByHash(fresh.secret_hash));
  EXPECT_EQ(Must(store_->DeleteStaleAdminSessions(1300, 1200)), 1) << "idle since 1200";
}

// ------------------------------------------------------------------------------------------
// Signed commands and four-eyes approval

TEST_P(StoreConformanceTest, QueuedCommandsAreSignedInsideTheWrite) {
  core::Device d = Enroll(inst_a_);
  core::Command c;
  c.device_id = d.id;
  c.type = CommandType::kLock;
  c.created_at = Tick();
  // Queued needs a signer; awaiting approval must not have one.
  EXPECT_CODE(store_->EnqueueCommand(A(), c, nullptr), kInvalidArgument);
  c.state = CommandState::kAwaitingApproval;
  EXPECT_CODE(store_->EnqueueCommand(A(), c, Signer()), kInvalidArgument);
  c.state = CommandState::kQueued;
  // The signer sees the seq the row gets, and a failing signer leaves no row behind.
  auto failing = [](const core::Command&) -> Result<CommandSignatureParts> {
    return Status::Unavailable("keeper is down");
  };
  EXPECT_CODE(store_->EnqueueCommand(A(), c, failing), kUnavailable);
  EXPECT_TRUE(Must(store_->ListCommands(A(), d.id, {}, PageRequest{50, ""})).items.empty());
  core::Command stored = Must(store_->EnqueueCommand(A(), c, Signer("ck_one")));
  ASSERT_EQ(signed_.size(), 1u);
  EXPECT_EQ(signed_[0].seq, stored.seq);
  EXPECT_EQ(signed_[0].id, stored.id);
  EXPECT_EQ(stored.seq, 1);  // the failed attempt did not use a seq
  core::Command back = GetCmd(stored);
  EXPECT_EQ(back.signature_key_id, "ck_one");
  EXPECT_EQ(back.signature, "sig:" + stored.id + ":1");
  EXPECT_EQ(back.batch_size, 1);
  EXPECT_EQ(back.approved_by, "");
  EXPECT_EQ(Must(store_->FindCommand(A(), stored.id)).id, stored.id);
  EXPECT_CODE(store_->FindCommand(B(), stored.id), kNotFound);
}

TEST_P(StoreConformanceTest, UnsignedRowsAreNeverDelivered) {
  core::Device d = Enroll(inst_a_);
  core::Command waiting = EnqueueAwaiting(d, "", 1);
  EXPECT_EQ(waiting.state, CommandState::kAwaitingApproval);
  EXPECT_TRUE(waiting.signature.empty());
  core::Command lock = Enqueue(d);
  auto taken = Must(store_->TakeDeliverableCommands(d.id, Tick(), 10, kNoResend));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].id, lock.id);
  EXPECT_FALSE(taken[0].signature.empty());
  EXPECT_EQ(GetCmd(waiting).state, CommandState::kAwaitingApproval);
}

TEST_P(StoreConformanceTest, PausedBatchIsNeitherApprovedNorDelivered) {
  core::Device d1 = Enroll(inst_a_);
  core::Device d2 = Enroll(inst_a_);
  core::Command w1 = EnqueueAwaiting(d1, "bat_p", 2);
  EnqueueAwaiting(d2, "bat_p", 2);
  EXPECT_CODE(store_->GetCommandBatch(B(), "bat_p"), kNotFound);
  EXPECT_CODE(store_->SetCommandBatchPaused(B(), "bat_p", true, "tok_b", "", Tick(), nullptr),
              kNotFound);
  EXPECT_CODE(store_->GetCommandBatch(A(), "bat_none"), kNotFound);
  CommandBatch fresh = Must(store_->GetCommandBatch(A(), "bat_p"));
  EXPECT_FALSE(fresh.paused);
  EXPECT_EQ(fresh.counts[CommandState::kAwaitingApproval], 2);
  EXPECT_EQ(fresh.created_by, "tok_first");
  EXPECT_EQ(Must(store_->ListUnfinishedCommandBatches(A(), "tok_first")),
            std::vector<std::string>{"bat_p"});
  EXPECT_TRUE(Must(store_->ListUnfinishedCommandBatches(B(), "tok_first")).empty());

  bool changed = false;
  const int64_t paused_at = Tick();
  CommandBatch paused = Must(
      store_->SetCommandBatchPaused(A(), "bat_p", true, "tok_x", "storm", paused_at, &changed));
  EXPECT_TRUE(changed);
  EXPECT_TRUE(paused.paused);
  Must(store_->SetCommandBatchPaused(A(), "bat_p", true, "tok_y", "again", Tick(), &changed));
  EXPECT_FALSE(changed) << "pausing a paused batch changes nothing";
  EXPECT_EQ(Must(store_->GetCommandBatch(A(), "bat_p")).paused_by, "tok_x");
  EXPECT_EQ(Must(store_->GetCommandBatch(A(), "bat_p")).paused_at, paused_at);
  EXPECT_CODE(store_->ApproveCommands(A(), w1.id, "tok_second", Tick(), Signer()), kConflict);
  EXPECT_EQ(GetCmd(w1).state, CommandState::kAwaitingApproval);

  Must(store_->SetCommandBatchPaused(A(), "bat_p", false, "tok_x", "", Tick(), &changed));
  EXPECT_TRUE(changed);
  ASSERT_EQ(Must(store_->ApproveCommands(A(), w1.id, "tok_second", Tick(), Signer())).size(), 2u);
  // Signed and queued, then paused again: the check-in hands out nothing of it.
  Must(store_->SetCommandBatchPaused(A(), "bat_p", true, "tok_x", "", Tick(), nullptr));
  core::Command lock = Enqueue(d1);
  auto taken = Must(store_->TakeDeliverableCommands(d1.id, Tick(), 10, kNoResend));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].id, lock.id) << "commands outside the batch still go";
  Must(store_->SetCommandBatchPaused(A(), "bat_p", false, "tok_x", "", Tick(), nullptr));
  EXPECT_EQ(Must(store_->TakeDeliverableCommands(d2.id, Tick(), 10, kNoResend)).size(), 1u);
}

TEST_P(StoreConformanceTest, QuarantineCancelsPendingInstallsAndIsScoped) {
  core::Device d = Enroll(inst_a_, Platform::kIos);
  core::App app = MakeApp(inst_a_, crypto::Sha256Hex("q-app"));
  core::Command c;
  c.device_id = d.id;
  c.type = CommandType::kInstallApp;
  c.payload_json = R"({"app_id":")" + app.id + R"(","bundle_id":"x","version":"1"})";
  c.created_by = "tok_admin";
  c.created_at = Tick();
  core::Command install = Must(store_->EnqueueCommand(A(), c, Signer()));
  core::Command lock = Enqueue(d);
  bool changed = false;
  EXPECT_CODE(store_->SetAppQuarantine(B(), app.id, true, "tok_b", "", Tick(), &changed),
              kNotFound);
  EXPECT_FALSE(Must(store_->GetApp(A(), app.id)).quarantined);
  core::App q =
      Must(store_->SetAppQuarantine(A(), app.id, true, "tok_admin", "ioc", Tick(), &changed));
  EXPECT_TRUE(changed);
  EXPECT_TRUE(q.quarantined);
  EXPECT_EQ(Must(store_->GetApp(A(), app.id)).quarantine_reason, "ioc");
  EXPECT_EQ(GetCmd(install).state, CommandState::kCanceled);
  EXPECT_EQ(GetCmd(lock).state, CommandState::kQueued) << "other commands are untouched";
  Must(store_->SetAppQuarantine(A(), app.id, true, "tok_other", "later", Tick(), &changed));
  EXPECT_FALSE(changed);
  EXPECT_EQ(Must(store_->GetApp(A(), app.id)).quarantined_by, "tok_admin");
  core::App released =
      Must(store_->SetAppQuarantine(A(), app.id, false, "tok_admin", "", Tick(), &changed));
  EXPECT_TRUE(changed);
  EXPECT_FALSE(released.quarantined);
}

TEST_P(StoreConformanceTest, ApprovalSignsTheWholeBatchWithFreshSeqs) {
  core::Device d1 = Enroll(inst_a_);
  core::Device d2 = Enroll(inst_a_);
  core::Device lone = Enroll(inst_a_);
  core::Command w1 = EnqueueAwaiting(d1, "bat_1", 2);
  core::Command w2 = EnqueueAwaiting(d2, "bat_1", 2);
  core::Command other = EnqueueAwaiting(lone, "bat_2", 1);
  // A lock signed after the wipe was requested is delivered first; the approved wipe must then
  // carry a higher seq, or the device would refuse it as out of order.
  core::Command lock = Enqueue(d1);
  EXPECT_GT(lock.seq, w1.seq);
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d1.id, Tick(), 10, kNoResend)).size(), 1u);

  EXPECT_CODE(store_->ApproveCommands(B(), w1.id, "tok_second", Tick(), Signer()), kNotFound);
  EXPECT_CODE(store_->ApproveCommands(A(), lock.id, "tok_second", Tick(), Signer()), kConflict);
  // One failing signature leaves the whole batch waiting.
  int calls = 0;
  auto second_fails = [&calls](const core::Command& c) -> Result<CommandSignatureParts> {
    if (++calls == 2) return Status::Unavailable("keeper is down");
    return CommandSignatureParts{"ck", "sig:" + c.id};
  };
  EXPECT_CODE(store_->ApproveCommands(A(), w2.id, "tok_second", Tick(), second_fails),
              kUnavailable);
  EXPECT_EQ(GetCmd(w1).state, CommandState::kAwaitingApproval);
  EXPECT_EQ(GetCmd(w2).state, CommandState::kAwaitingApproval);
  EXPECT_TRUE(GetCmd(w1).signature.empty());

  int64_t now = Tick();
  auto queued = Must(store_->ApproveCommands(A(), w2.id, "tok_second", now, Signer()));
  ASSERT_EQ(queued.size(), 2u);
  for (const auto& c : queued) {
    core::Command back = GetCmd(c);
    EXPECT_EQ(back.state, CommandState::kQueued);
    EXPECT_EQ(back.approved_by, "tok_second");
    EXPECT_EQ(back.created_by, "tok_first");
    EXPECT_EQ(back.signature, "sig:" + c.id + ":" + std::to_string(back.seq));
    EXPECT_EQ(back.batch_size, 2);
    EXPECT_EQ(back.updated_at, now);
  }
  EXPECT_GT(GetCmd(w1).seq, lock.seq);
  EXPECT_EQ(GetCmd(other).state, CommandState::kAwaitingApproval);  // another batch
  auto delivered = Must(store_->TakeDeliverableCommands(d1.id, Tick(), 10, kNoResend));
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].id, w1.id);
  // Approved once: a second approval conflicts.
  EXPECT_CODE(store_->ApproveCommands(A(), w1.id, "tok_third", Tick(), Signer()), kConflict);
}

TEST_P(StoreConformanceTest, RefusedApprovalCancelsTheBatch) {
  core::Device d1 = Enroll(inst_a_);
  core::Device d2 = Enroll(inst_a_);
  core::Command w1 = EnqueueAwaiting(d1, "bat_x", 2);
  core::Command w2 = EnqueueAwaiting(d2, "bat_x", 2);
  EXPECT_CODE(store_->RejectApproval(B(), w1.id, Tick()), kNotFound);
  auto canceled = Must(store_->RejectApproval(A(), w1.id, Tick()));
  EXPECT_EQ(canceled.size(), 2u);
  EXPECT_EQ(GetCmd(w1).state, CommandState::kCanceled);
  EXPECT_EQ(GetCmd(w2).state, CommandState::kCanceled);
  EXPECT_CODE(store_->RejectApproval(A(), w2.id, Tick()), kConflict);
  EXPECT_CODE(store_->ApproveCommands(A(), w2.id, "tok_second", Tick(), Signer()), kConflict);
}

TEST_P(StoreConformanceTest, AwaitingApprovalExpiresAndIsCanceledByRetire) {
  core::Device d = Enroll(inst_a_);
  core::Device gone = Enroll(inst_a_);
  int64_t now = Tick();
  core::Command soon = EnqueueAwaiting(d, "", 1, now + 10);
  core::Command cancel_me = EnqueueAwaiting(d, "", 1, now + 1000);
  core::Command on_gone = EnqueueAwaiting(gone, "", 1, now + 1000);
  EXPECT_EQ(Must(store_->ExpireCommands(now + 10)), 1);
  EXPECT_EQ(GetCmd(soon).state, CommandState::kExpired);
  EXPECT_CODE(store_->ApproveCommands(A(), soon.id, "tok_second", now + 11, Signer()), kConflict);
  // An admin may withdraw a single command awaiting approval.
  EXPECT_OK(store_->CancelCommand(A(), d.id, cancel_me.id, now + 12));
  EXPECT_EQ(GetCmd(cancel_me).state, CommandState::kCanceled);
  ASSERT_OK(store_->RetireDevice(A(), gone.id, now + 13));
  EXPECT_EQ(GetCmd(on_gone).state, CommandState::kCanceled);
  // Approval of a batch member past its expiry turns it expired instead of signing it.
  core::Command late = EnqueueAwaiting(d, "", 1, now + 20);
  auto queued = Must(store_->ApproveCommands(A(), late.id, "tok_second", now + 30, Signer()));
  EXPECT_TRUE(queued.empty());
  EXPECT_EQ(GetCmd(late).state, CommandState::kExpired);
}

TEST_P(StoreConformanceTest, DeviceRejectionIsFinal) {
  core::Device d = Enroll(inst_a_);
  core::Command c = Enqueue(d);
  EXPECT_CODE(store_->RecordCommandResult(d.id, c.id, CommandState::kRejected, "", "bad_signature",
                                          Tick(), 0, 3),
              kConflict);  // not sent yet
  ASSERT_EQ(Must(store_->TakeDeliverableCommands(d.id, Tick(), 10, kNoResend)).size(), 1u);
  EXPECT_EQ(Must(store_->RecordCommandResult(d.id, c.id, CommandState::kRejected, "",
                                             "bad_signature", Tick(), 0, 3)),
            ResultOutcome::kRecorded);
  EXPECT_EQ(GetCmd(c).state, CommandState::kRejected);
  EXPECT_EQ(GetCmd(c).error, "bad_signature");
  EXPECT_EQ(Must(store_->RecordCommandResult(d.id, c.id, CommandState::kRejected, "",
                                             "bad_signature", Tick(), 0, 3)),
            ResultOutcome::kDuplicate);
  EXPECT_CODE(
      store_->RecordCommandResult(d.id, c.id, CommandState::kAcknowledged, "", "", Tick(), 0, 3),
      kConflict);
  EXPECT_TRUE(
      Must(store_->TakeDeliverableCommands(d.id, Tick() + 100000, 10, Tick() + 100000)).empty());
}

TEST_P(StoreConformanceTest, FindEnrollmentTokenByHash) {
  core::EnrollmentToken t;
  t.id = core::NewId("enr");
  t.institution_id = inst_a_;
  t.token_hash = crypto::Sha256Hex("enr_secret_" + t.id);
  t.expires_at = 0;
  t.max_uses = 1;
  t.created_at = Tick();
  ASSERT_OK(store_->CreateEnrollmentToken(t));
  EXPECT_EQ(Must(store_->FindEnrollmentToken(t.token_hash)).institution_id, inst_a_);
  EXPECT_CODE(store_->FindEnrollmentToken(crypto::Sha256Hex("nothing")), kNotFound);
}

// ------------------------------------------------------------------------------------------
// Alerts

core::Alert Observation(const std::string& inst, const std::string& rule, const std::string& entity,
                        int64_t at, const std::string& severity = "high") {
  core::Alert a;
  a.institution_id = inst;
  a.rule_id = rule;
  a.rule_title = "Title of " + rule;
  a.entity = entity;
  a.severity = severity;
  a.attack = {"T1190"};
  a.evidence = {"{\"n\":" + std::to_string(at) + "}"};
  a.first_seen = a.last_seen = a.created_at = at;
  a.count = 1;
  return a;
}

TEST_P(StoreConformanceTest, AlertsGroupByRuleAndEntity) {
  auto first = store_->RecordAlert(Observation(inst_a_, "r1", "source.ip=192.0.2.1", 100), 3);
  ASSERT_OK(first);
  EXPECT_EQ(first->count, 1);
  EXPECT_EQ(first->status, core::AlertStatus::kOpen);
  EXPECT_FALSE(first->id.empty());
  // Repeats fold into the same alert: count, last_seen, severity raised, evidence capped at 3:
  // the first two and the latest.
  for (int i = 1; i <= 4; ++i) {
    auto again = store_->RecordAlert(
        Observation(inst_a_, "r1", "source.ip=192.0.2.1", 100 + i, i == 2 ? "critical" : "low"), 3);
    ASSERT_OK(again);
    EXPECT_EQ(again->id, first->id);
  }
  core::Alert got = Must(store_->GetAlert(A(), first->id));
  EXPECT_EQ(got.count, 5);
  EXPECT_EQ(got.first_seen, 100);
  EXPECT_EQ(got.last_seen, 104);
  EXPECT_EQ(got.severity, "critical");
  EXPECT_EQ(got.evidence, (std::vector<std::string>{"{\"n\":100}", "{\"n\":101}", "{\"n\":104}"}));
  EXPECT_EQ(got.attack, std::vector<std::string>{"T1190"});
  EXPECT_EQ(got.rule_title, "Title of r1");
  // Another entity, another rule, another institution, or server-wide: separate alerts.
  auto other_entity =
      Must(store_->RecordAlert(Observation(inst_a_, "r1", "source.ip=192.0.2.2", 110), 3));
  auto other_rule =
      Must(store_->RecordAlert(Observation(inst_a_, "r2", "source.ip=192.0.2.1", 111), 3));
  auto other_inst =
      Must(store_->RecordAlert(Observation(inst_b_, "r1", "source.ip=192.0.2.1", 112), 3));
  auto server_wide =
      Must(store_->RecordAlert(Observation("", "r1", "source.ip=192.0.2.1", 113), 3));
  std::set<std::string> ids = {first->id, other_entity.id, other_rule.id, other_inst.id,
                               server_wide.id};
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(Must(store_->RecordAlert(Observation("", "r1", "source.ip=192.0.2.1", 114), 3)).id,
            server_wide.id);
  EXPECT_CODE(store_->RecordAlert(Observation(inst_a_, "", "x", 1), 3), kInvalidArgument);
  EXPECT_CODE(store_->RecordAlert(Observation(inst_a_, "r", "x", 1, "severe"), 3),
              kInvalidArgument);
}

TEST_P(StoreConformanceTest, AlertsAreScopedAndServerWideOnesNeedAllScope) {
  auto a = Must(store_->RecordAlert(Observation(inst_a_, "r1", "e", 100), 5));
  auto b = Must(store_->RecordAlert(Observation(inst_b_, "r1", "e", 101), 5));
  auto s = Must(store_->RecordAlert(Observation("", "r1", "e", 102), 5));
  EXPECT_EQ(s.institution_id, "");
  EXPECT_OK(store_->GetAlert(A(), a.id));
  EXPECT_CODE(store_->GetAlert(A(), b.id), kNotFound);
  EXPECT_CODE(store_->GetAlert(A(), s.id), kNotFound);
  EXPECT_EQ(Must(store_->GetAlert(Scope::All(), s.id)).institution_id, "");
  EXPECT_EQ(CollectIds([&](PageRequest p) { return store_->ListAlerts(A(), {}, p); }, 10),
            std::vector<std::string>{a.id});
  EXPECT_EQ(CollectIds([&](PageRequest p) { return store_->ListAlerts(Scope::All(), {}, p); }, 1),
            (std::vector<std::string>{a.id, b.id, s.id}));
  EXPECT_CODE(store_->AcknowledgeAlert(A(), b.id, "tok_a", 200), kNotFound);
  EXPECT_EQ(Must(store_->GetAlert(B(), b.id)).status, core::AlertStatus::kOpen);
  EXPECT_CODE(store_->ListAlerts(A(), {}, PageRequest{10, "zz"}), kInvalidArgument);
}

TEST_P(StoreConformanceTest, AlertFiltersAndAcknowledgement) {
  auto a1 = Must(store_->RecordAlert(Observation(inst_a_, "r1", "e1", 100, "high"), 5));
  auto a2 = Must(store_->RecordAlert(Observation(inst_a_, "r2", "e2", 200, "critical"), 5));
  auto a3 = Must(store_->RecordAlert(Observation(inst_a_, "r1", "e3", 300, "low"), 5));
  auto list = [&](store::AlertFilter f) {
    return CollectIds([&](PageRequest p) { return store_->ListAlerts(A(), f, p); }, 2);
  };
  EXPECT_EQ(list({.severity = "critical"}), std::vector<std::string>{a2.id});
  EXPECT_EQ(list({.rule_id = "r1"}), (std::vector<std::string>{a1.id, a3.id}));
  EXPECT_EQ(list({.entity = "e2"}), std::vector<std::string>{a2.id});
  EXPECT_EQ(list({.since = 200}), (std::vector<std::string>{a2.id, a3.id}));
  EXPECT_EQ(list({.until = 200}), (std::vector<std::string>{a1.id, a2.id}));
  EXPECT_TRUE(list({.until = 0}).empty()) << "a bound at the epoch, not none";
  EXPECT_EQ(list({.since = 150, .until = 250}), std::vector<std::string>{a2.id});

  auto acked = Must(store_->AcknowledgeAlert(A(), a1.id, "tok_analyst", 400));
  EXPECT_EQ(acked.status, core::AlertStatus::kAcknowledged);
  EXPECT_EQ(acked.acknowledged_by, "tok_analyst");
  EXPECT_EQ(acked.acknowledged_at, 400);
  // Idempotent: a second acknowledgement keeps the first one's author and time.
  auto again = Must(store_->AcknowledgeAlert(A(), a1.id, "tok_other", 500));
  EXPECT_EQ(again.acknowledged_by, "tok_analyst");
  EXPECT_EQ(Must(store_->GetAlert(A(), a1.id)).acknowledged_at, 400);
  EXPECT_EQ(list({.status = core::AlertStatus::kOpen}), (std::vector<std::string>{a2.id, a3.id}));
  // A new observation after acknowledgement opens a new alert; the acknowledged one stays.
  auto reopened = Must(store_->RecordAlert(Observation(inst_a_, "r1", "e1", 600), 5));
  EXPECT_NE(reopened.id, a1.id);
  EXPECT_EQ(reopened.count, 1);
  EXPECT_EQ(Must(store_->GetAlert(A(), a1.id)).count, 1);
  EXPECT_CODE(store_->AcknowledgeAlert(A(), "alr_nope", "x", 1), kNotFound);
}

TEST_P(StoreConformanceTest, StaffExportsMoveOnceThroughTheirStates) {
  core::StaffExport e;
  e.id = core::NewId("exp");
  e.institution_id = inst_a_;
  e.requested_by = "tok_a";
  e.reason = "audit";
  e.created_at = 1000;
  e.expires_at = 2000;
  ASSERT_OK(store_->CreateStaffExport(e));
  EXPECT_CODE(store_->CreateStaffExport(e), kAlreadyExists);
  EXPECT_CODE(store_->GetStaffExport(B(), e.id), kNotFound);
  EXPECT_CODE(store_->TransitionStaffExport(B(), e.id, "pending", "approved", "tok_b", 1100, 0),
              kNotFound);
  EXPECT_CODE(store_->TransitionStaffExport(A(), e.id, "approved", "downloaded", "", 1100, 5),
              kConflict);
  auto approved =
      Must(store_->TransitionStaffExport(A(), e.id, "pending", "approved", "tok_b", 1100, 0));
  EXPECT_EQ(approved.decided_by, "tok_b");
  EXPECT_CODE(store_->TransitionStaffExport(A(), e.id, "pending", "rejected", "tok_c", 1200, 0),
              kConflict)
      << "a decision is final";
  EXPECT_CODE(store_->TransitionStaffExport(A(), e.id, "approved", "downloaded", "", 2000, 5),
              kConflict)
      << "expired";
  auto done = Must(store_->TransitionStaffExport(A(), e.id, "approved", "downloaded", "", 1500, 5));
  EXPECT_EQ(done.record_count, 5);
  auto stored = Must(store_->GetStaffExport(A(), e.id));
  EXPECT_EQ(stored.state, "downloaded");
  EXPECT_EQ(stored.downloaded_at, 1500);
  EXPECT_EQ(stored.decided_by, "tok_b");
  EXPECT_CODE(store_->TransitionStaffExport(A(), e.id, "approved", "downloaded", "", 1600, 5),
              kConflict)
      << "downloaded once";
  EXPECT_EQ(Must(store_->ListStaffExports(A(), PageRequest{50, ""})).items.size(), 1u);
  EXPECT_TRUE(Must(store_->ListStaffExports(B(), PageRequest{50, ""})).items.empty());
}

// ------------------------------------------------------------------------------------------
// Incidents (issue 5)

TEST_P(StoreConformanceTest, IncidentsGroupAlertsByInstitutionEntityAndWindow) {
  const int64_t day = 86400;
  auto a1 = Must(store_->RecordAlert(Observation(inst_a_, "r1", "source.ip=192.0.2.1", 1000), 5));
  auto inc = Must(store_->AttachAlertToIncident(a1.id, day, 1001));
  EXPECT_EQ(inc.state, core::IncidentState::kNew);
  EXPECT_EQ(inc.institution_id, inst_a_);
  EXPECT_EQ(inc.entity, "source.ip=192.0.2.1");
  EXPECT_EQ(inc.title, "Title of r1");
  EXPECT_EQ(inc.first_alert_at, 1000);
  EXPECT_EQ(inc.alert_ids, std::vector<std::string>{a1.id});
  EXPECT_TRUE(inc.opened_by_link);
  // Attaching again is idempotent, and does not open it again.
  auto again = Must(store_->AttachAlertToIncident(a1.id, day, 1002));
  EXPECT_EQ(again.alert_ids.size(), 1u);
  EXPECT_FALSE(again.opened_by_link);
  EXPECT_FALSE(Must(store_->GetIncident(Scope::All(), inc.id)).opened_by_link);

  // Another rule on the same entity within the window joins, raising the severity.
  auto a2 = Must(store_->RecordAlert(
      Observation(inst_a_, "r2", "source.ip=192.0.2.1", 1000 + day - 10, "critical"), 5));
  auto joined = Must(store_->AttachAlertToIncident(a2.id, day, 1000 + day));
  EXPECT_EQ(joined.id, inc.id);
  EXPECT_FALSE(joined.opened_by_link);
  EXPECT_EQ(joined.severity, "critical");
  EXPECT_EQ(joined.alert_ids, (std::vector<std::string>{a1.id, a2.id}));
  // A lower severity does not lower it.
  auto a3 = Must(
      store_->RecordAlert(Observation(inst_a_, "r3", "source.ip=192.0.2.1", 1000 + day, "low"), 5));
  EXPECT_EQ(Must(store_->AttachAlertToIncident(a3.id, day, 1000 + day)).severity, "critical");

  // Other entity, other institution, server-wide, or past the window: new incidents.
  auto other_entity =
      Must(store_->RecordAlert(Observation(inst_a_, "r1", "source.ip=192.0.2.9", 1100), 5));
  auto other_inst =
      Must(store_->RecordAlert(Observation(inst_b_, "r1", "source.ip=192.0.2.1", 1100), 5));
  auto server_wide =
      Must(store_->RecordAlert(Observation("", "r1", "source.ip=192.0.2.1", 1100), 5));
  auto late = Must(
      store_->RecordAlert(Observation(inst_a_, "r4", "source.ip=192.0.2.1", 1000 + 3 * day), 5));
  std::set<std::string> ids = {inc.id};
  for (const auto* a : {&other_entity, &other_inst, &server_wide, &late}) {
    auto i = Must(store_->AttachAlertToIncident(a->id, day, 5000));
    EXPECT_TRUE(ids.insert(i.id).second) << a->entity << " " << a->institution_id;
    EXPECT_TRUE(i.opened_by_link);
    EXPECT_EQ(Must(store_->GetIncident(Scope::All(), i.id)).alert_ids.size(), 1u);
  }
  EXPECT_CODE(store_->AttachAlertToIncident("alr_missing", day, 1), kNotFound);
}

// The alert pipeline's writer stores a storm in batches: one transaction each, folding in order
// (two observations of one group in a batch make one alert), all or nothing.
TEST_P(StoreConformanceTest, AlertBatchesFoldInOrderAllOrNothing) {
  auto stored = Must(store_->RecordAlerts({Observation(inst_a_, "r1", "source.ip=192.0.2.1", 100),
                                           Observation(inst_a_, "r1", "source.ip=192.0.2.1", 101),
                                           Observation(inst_a_, "r2", "source.ip=192.0.2.1", 102)},
                                          5));
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].count, 1);
  EXPECT_EQ(stored[1].id, stored[0].id) << "the second folds into the first";
  EXPECT_EQ(stored[1].count, 2);
  EXPECT_EQ(stored[1].last_seen, 101);
  EXPECT_NE(stored[2].id, stored[0].id);
  EXPECT_EQ(Must(store_->GetAlert(Scope::All(), stored[0].id)).count, 2);
  EXPECT_TRUE(Must(store_->RecordAlerts({}, 5)).empty());

  // A bad observation anywhere refuses the whole batch before anything is written.
  EXPECT_CODE(store_->RecordAlerts({Observation(inst_a_, "r1", "source.ip=192.0.2.1", 103),
                                    Observation(inst_a_, "", "source.ip=192.0.2.9", 103)},
                                   5),
              kInvalidArgument);
  EXPECT_EQ(Must(store_->GetAlert(Scope::All(), stored[0].id)).count, 2);
  EXPECT_EQ(Must(store_->ListAlerts(Scope::All(), {}, {50, ""})).items.size(), 2u);

  // Linked in order in one transaction: the batch's second alert joins the incident its first
  // opened; a missing alert leaves every link of the batch undone.
  const int64_t day = 86400;
  auto other = Must(store_->RecordAlert(Observation(inst_a_, "r3", "source.ip=192.0.2.7", 104), 5));
  EXPECT_CODE(store_->AttachAlertsToIncidents({other.id, "alr_missing"}, day, 105), kNotFound);
  EXPECT_TRUE(Must(store_->ListIncidents(Scope::All(), {}, {50, ""})).items.empty());
  auto linked = Must(store_->AttachAlertsToIncidents({stored[0].id, stored[2].id}, day, 105));
  ASSERT_EQ(linked.size(), 2u);
  EXPECT_EQ(linked[0].alert_ids, std::vector<std::string>{stored[0].id});
  EXPECT_TRUE(linked[0].opened_by_link);
  EXPECT_EQ(linked[1].id, linked[0].id);
  EXPECT_FALSE(linked[1].opened_by_link) << "joined the incident the first link opened";
  EXPECT_EQ(linked[1].alert_ids, (std::vector<std::string>{stored[0].id, stored[2].id}));
  EXPECT_TRUE(Must(store_->AttachAlertsToIncidents({}, day, 105)).empty());
}

// Migration 9: alerts and incidents keep millisecond times beside the seconds; an observation
// that knows only seconds is stored as seconds x 1000, and folding keeps the extremes.
TEST_P(StoreConformanceTest, AlertAndIncidentTimesKeepTheirMilliseconds) {
  core::Alert obs = Observation(inst_a_, "r1", "source.ip=192.0.2.1", 1000);
  obs.first_seen_ms = obs.last_seen_ms = 1000100;
  obs.created_at_ms = 1000350;
  auto first = Must(store_->RecordAlert(obs, 5));
  core::Alert got = Must(store_->GetAlert(A(), first.id));
  EXPECT_EQ(got.first_seen_ms, 1000100);
  EXPECT_EQ(got.last_seen_ms, 1000100);
  EXPECT_EQ(got.created_at_ms, 1000350);

  core::Alert later = Observation(inst_a_, "r1", "source.ip=192.0.2.1", 1002);
  later.first_seen_ms = later.last_seen_ms = 1002900;
  later.created_at_ms = 1003000;
  Must(store_->RecordAlert(later, 5));
  core::Alert earlier = Observation(inst_a_, "r1", "source.ip=192.0.2.1", 1000);
  earlier.first_seen_ms = earlier.last_seen_ms = 1000020;
  Must(store_->RecordAlert(earlier, 5));
  got = Must(store_->GetAlert(A(), first.id));
  EXPECT_EQ(got.first_seen_ms, 1000020);
  EXPECT_EQ(got.last_seen_ms, 1002900);
  EXPECT_EQ(got.created_at_ms, 1000350) << "the first stamp stays: the detection time";

  auto seconds_only = Must(store_->RecordAlert(Observation(inst_a_, "r2", "x=1", 2000), 5));
  got = Must(store_->GetAlert(A(), seconds_only.id));
  EXPECT_EQ(got.first_seen_ms, 2000000);
  EXPECT_EQ(got.created_at_ms, 2000000);

  auto inc = Must(store_->AttachAlertToIncident(first.id, 86400, 1004));
  EXPECT_EQ(inc.first_alert_at, 1000);
  EXPECT_EQ(inc.first_alert_at_ms, 1000350);
  EXPECT_EQ(Must(store_->GetIncident(Scope::All(), inc.id)).first_alert_at_ms, 1000350);
  // An alert of the same second but an earlier millisecond moves the first alert time.
  core::Alert other = Observation(inst_a_, "r3", "source.ip=192.0.2.1", 1000);
  other.created_at_ms = 1000200;
  auto o = Must(store_->RecordAlert(other, 5));
  EXPECT_EQ(Must(store_->AttachAlertToIncident(o.id, 86400, 1004)).first_alert_at_ms, 1000200);
}

TEST_P(StoreConformanceTest, ApiTokensKeepTheirOwner) {
  core::ApiToken owned;
  owned.id = core::NewId("tok");
  owned.name = "automation";
  owned.token_hash = crypto::Sha256Hex(core::NewId("secret"));
  owned.role = core::Role::kAdmin;
  owned.institution_id = inst_a_;
  owned.owner_id = "usr_alice";
  ASSERT_OK(store_->CreateApiToken(owned));
  EXPECT_EQ(Must(store_->GetApiToken(owned.id)).owner_id, "usr_alice");
  EXPECT_EQ(Must(store_->FindApiTokenByHash(owned.token_hash)).owner_id, "usr_alice");
  core::ApiToken cli = MakeApiToken(inst_b_);
  EXPECT_EQ(Must(store_->GetApiToken(cli.id)).owner_id, "");
  EXPECT_EQ(Must(store_->GetApiToken(cli.id)).institution_id, inst_b_);
  EXPECT_CODE(store_->GetApiToken("tok_missing"), kNotFound);
}

TEST_P(StoreConformanceTest, IncidentStatesMoveForwardOnlyAndAreRecorded) {
  auto a = Must(store_->RecordAlert(Observation(inst_a_, "r1", "e", 100), 5));
  auto inc = Must(store_->AttachAlertToIncident(a.id, 86400, 100));
  auto triaged = Must(
      store_->TransitionIncident(A(), inc.id, core::IncidentState::kTriaged, "tok_x", "", 200));
  EXPECT_EQ(triaged.state, core::IncidentState::kTriaged);
  EXPECT_CODE(store_->TransitionIncident(A(), inc.id, core::IncidentState::kNew, "tok_x", "", 210),
              kConflict);
  EXPECT_CODE(
      store_->TransitionIncident(A(), inc.id, core::IncidentState::kTriaged, "tok_x", "", 210),
      kConflict);
  // Skipping forward is allowed.
  Must(store_->TransitionIncident(A(), inc.id, core::IncidentState::kEradicated, "tok_y",
                                  "rebuilt from backup", 300));
  Must(store_->AddIncidentNote(A(), inc.id, "tok_y", "Ivanti advisory checked", 310));
  auto closed =
      Must(store_->TransitionIncident(A(), inc.id, core::IncidentState::kClosed, "tok_z", "", 400));
  EXPECT_EQ(closed.closed_at, 400);
  EXPECT_CODE(
      store_->TransitionIncident(A(), inc.id, core::IncidentState::kClosed, "tok_z", "", 500),
      kConflict);
  auto entries = Must(store_->ListIncidentEntries(A(), inc.id));
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].kind, "transition");
  EXPECT_EQ(entries[0].from_state, "new");
  EXPECT_EQ(entries[0].to_state, "triaged");
  EXPECT_EQ(entries[0].actor, "tok_x");
  EXPECT_EQ(entries[0].at, 200);
  EXPECT_EQ(entries[1].text, "rebuilt from backup");
  EXPECT_EQ(entries[2].kind, "note");
  EXPECT_EQ(entries[2].text, "Ivanti advisory checked");
  EXPECT_EQ(entries[3].to_state, "closed");
  // A closed incident is final: a new alert on the entity opens another one.
  auto b = Must(store_->RecordAlert(Observation(inst_a_, "r2", "e", 450), 5));
  EXPECT_NE(Must(store_->AttachAlertToIncident(b.id, 86400, 450)).id, inc.id);
}

TEST_P(StoreConformanceTest, IncidentsAreScopedAndFiltered) {
  auto a = Must(store_->RecordAlert(Observation(inst_a_, "r1", "e1", 100, "high"), 5));
  auto b = Must(store_->RecordAlert(Observation(inst_b_, "r1", "e1", 200, "critical"), 5));
  auto s = Must(store_->RecordAlert(Observation("", "r1", "e1", 300, "low"), 5));
  auto ia = Must(store_->AttachAlertToIncident(a.id, 86400, 100));
  auto ib = Must(store_->AttachAlertToIncident(b.id, 86400, 200));
  auto is = Must(store_->AttachAlertToIncident(s.id, 86400, 300));
  EXPECT_CODE(store_->GetIncident(A(), ib.id), kNotFound);
  EXPECT_CODE(store_->GetIncident(A(), is.id), kNotFound);
  EXPECT_CODE(store_->TransitionIncident(A(), ib.id, core::IncidentState::kClosed, "x", "", 1),
              kNotFound);
  EXPECT_CODE(store_->AddIncidentNote(A(), is.id, "x", "note", 1), kNotFound);
  EXPECT_CODE(store_->ListIncidentEntries(B(), ia.id), kNotFound);
  EXPECT_EQ(Must(store_->GetIncident(Scope::All(), is.id)).institution_id, "");
  auto list = [&](const Scope& scope, store::IncidentFilter f) {
    return CollectIds([&](PageRequest p) { return store_->ListIncidents(scope, f, p); }, 1);
  };
  EXPECT_EQ(list(A(), {}), std::vector<std::string>{ia.id});
  EXPECT_EQ(list(Scope::All(), {}), (std::vector<std::string>{ia.id, ib.id, is.id}));
  EXPECT_EQ(list(Scope::All(), {.severity = "critical"}), std::vector<std::string>{ib.id});
  EXPECT_EQ(list(Scope::All(), {.since = 200}), (std::vector<std::string>{ib.id, is.id}));
  EXPECT_EQ(list(Scope::All(), {.until = 200}), (std::vector<std::string>{ia.id, ib.id}));
  EXPECT_TRUE(list(Scope::All(), {.until = 0}).empty()) << "a bound at the epoch, not none";
  Must(store_->TransitionIncident(B(), ib.id, core::IncidentState::kContained, "x", "", 250));
  EXPECT_EQ(list(Scope::All(), {.state = core::IncidentState::kContained}),
            std::vector<std::string>{ib.id});
  EXPECT_CODE(store_->ListIncidents(A(), {}, PageRequest{10, "zz"}), kInvalidArgument);
}

TEST_P(StoreConformanceTest, CommandsInWindowAreScoped) {
  constexpr int64_t kFar = 4'000'000'000;
  core::Device da = Enroll(inst_a_);
  core::Device db = Enroll(inst_b_);
  core::Command ca = Enqueue(da);
  core::Command cb = Enqueue(db);
  auto in_a = Must(store_->ListCommandsInWindow(A(), 0, kFar, 100));
  ASSERT_EQ(in_a.size(), 1u);
  EXPECT_EQ(in_a[0].id, ca.id);
  EXPECT_EQ(Must(store_->ListCommandsInWindow(Scope::All(), 0, kFar, 100)).size(), 2u);
  EXPECT_TRUE(Must(store_->ListCommandsInWindow(A(), ca.updated_at + 1, kFar, 100)).empty());
  EXPECT_TRUE(Must(store_->ListCommandsInWindow(A(), 0, ca.created_at - 1, 100)).empty());
  EXPECT_EQ(Must(store_->ListCommandsInWindow(Scope::All(), 0, kFar, 1)).size(), 1u);
  EXPECT_CODE(store_->ListCommandsInWindow(A(), 0, 1, 0), kInvalidArgument);
  (void)cb;
}

// --- Response (src/respond: blocks, bouncer keys, lockdowns; migration 6) ---

AddressBlock Block(const std::string& value, int64_t created, int64_t expires,
                   const std::string& institution_id = "") {
  AddressBlock b;
  b.value = value;
  b.scope = value.find('/') == std::string::npos ? "Ip" : "Range";
  b.reason = "probe";
  b.origin = "playbook";
  b.scenario = "rampart/test";
  b.created_by = "system";
  b.institution_id = institution_id;
  b.created_at = created;
  b.expires_at = expires;
  return b;
}

TEST_P(StoreConformanceTest, AddressBlocksAreExtendedNotDuplicated) {
  bool existed = true;
  auto first = Must(store_->AddAddressBlock(Block("192.0.2.1", 100, 200), 100, &existed));
  EXPECT_FALSE(existed);
  EXPECT_GT(first.id, 0);
  EXPECT_EQ(first.value, "192.0.2.1");
  EXPECT_EQ(first.institution_id, "");
  auto again = Must(store_->AddAddressBlock(Block("192.0.2.1", 150, 500), 150, &existed));
  EXPECT_TRUE(existed);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.expires_at, 500);
  EXPECT_GT(again.change_seq, first.change_seq);
  // A shorter block never shortens one in force.
  EXPECT_EQ(Must(store_->AddAddressBlock(Block("192.0.2.1", 160, 300), 160, &existed)).expires_at,
            500);
  // Another institution's block of the same address is its own row.
  auto other = Must(store_->AddAddressBlock(Block("192.0.2.1", 170, 400, inst_a_), 170, &existed));
  EXPECT_FALSE(existed);
  EXPECT_NE(other.id, first.id);
  EXPECT_EQ(other.institution_id, inst_a_);
  EXPECT_EQ(Must(store_->ListActiveAddressBlocks(170)).size(), 2u);
  // An expired block is not in force, and a new one starts afresh.
  EXPECT_EQ(Must(store_->ListActiveAddressBlocks(450)).size(), 1u);
  auto renewed = Must(store_->AddAddressBlock(Block("192.0.2.1", 600, 700), 600, &existed));
  EXPECT_FALSE(existed);
  EXPECT_NE(renewed.id, first.id);
}

TEST_P(StoreConformanceTest, UnannouncedBlockExpiries) {
  bool existed = false;
  auto ran_out = Must(store_->AddAddressBlock(Block("192.0.2.1", 100, 200), 100, &existed));
  auto later = Must(store_->AddAddressBlock(Block("192.0.2.2", 100, 300), 100, &existed));
  auto lifted = Must(store_->AddAddressBlock(Block("192.0.2.3", 100, 200), 100, &existed));
  Must(store_->RemoveAddressBlock(lifted.id, "tok_admin", 150));
  EXPECT_TRUE(Must(store_->ListUnannouncedExpiredBlocks(199, 100)).empty());
  auto due = Must(store_->ListUnannouncedExpiredBlocks(300, 100));
  ASSERT_EQ(due.size(), 2u) << "a block lifted by hand has no expiry to announce";
  EXPECT_EQ(due[0].id, ran_out.id) << "oldest expiry first";
  EXPECT_EQ(due[1].id, later.id);
  EXPECT_EQ(Must(store_->ListUnannouncedExpiredBlocks(300, 1)).size(), 1u);
  ASSERT_TRUE(store_->MarkBlockExpiryAnnounced(ran_out.id).ok());
  due = Must(store_->ListUnannouncedExpiredBlocks(300, 100));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, later.id);
  EXPECT_CODE(store_->MarkBlockExpiryAnnounced(999999), kNotFound);
}

TEST_P(StoreConformanceTest, AddressBlockRemovalAndChanges) {
  bool existed = false;
  auto a = Must(store_->AddAddressBlock(Block("192.0.2.1", 100, 1000), 100, &existed));
  auto b = Must(store_->AddAddressBlock(Block("198.51.100.0/24", 100, 1000), 100, &existed));
  auto removed = Must(store_->RemoveAddressBlock(a.id, "tok_admin", 200));
  EXPECT_EQ(removed.removed_at, 200);
  EXPECT_EQ(removed.removed_by, "tok_admin");
  EXPECT_CODE(store_->RemoveAddressBlock(a.id, "tok_admin", 201), kConflict);
  EXPECT_CODE(store_->RemoveAddressBlock(999999, "tok_admin", 201), kNotFound);
  EXPECT_CODE(store_->GetAddressBlock(999999), kNotFound);
  EXPECT_EQ(Must(store_->GetAddressBlock(b.id)).scope, "Range");
  auto active = Must(store_->ListActiveAddressBlocks(300));
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].id, b.id);
  // Changes come in change order: b was added after a, then a was removed.
  auto changes = Must(store_->ListAddressBlockChanges(0, 100));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].id, b.id);
  EXPECT_EQ(changes[1].id, a.id);
  EXPECT_TRUE(Must(store_->ListAddressBlockChanges(changes[1].change_seq, 100)).empty());
  EXPECT_EQ(Must(store_->ListAddressBlockChanges(0, 1)).size(), 1u);
}

TEST_P(StoreConformanceTest, BouncerKeysAreFoundByHashAndKeepACursor) {
  BouncerKey k;
  k.id = core::NewId("bnc");
  k.name = "nginx";
  k.key_hash = std::string(64, 'a');
  k.created_at = 10;
  ASSERT_OK(store_->CreateBouncerKey(k));
  EXPECT_CODE(store_->CreateBouncerKey(k), kAlreadyExists);
  EXPECT_CODE(store_->FindBouncerKeyByHash(std::string(64, 'b')), kNotFound);
  ASSERT_OK(store_->UpdateBouncerCursor(k.id, 7, 20));
  ASSERT_OK(store_->UpdateBouncerCursor(k.id, 3, 30));  // a cursor never moves back
  auto found = Must(store_->FindBouncerKeyByHash(k.key_hash));
  EXPECT_EQ(found.name, "nginx");
  EXPECT_EQ(found.last_seq, 7);
  EXPECT_EQ(found.last_pull_at, 30);
  EXPECT_CODE(store_->UpdateBouncerCursor("bnc_missing", 1, 1), kNotFound);
}

TEST_P(StoreConformanceTest, LockdownsArePutListedAndDeleted) {
  EXPECT_TRUE(Must(store_->ListLockdowns()).empty());
  Lockdown l;
  l.scope = inst_a_;
  l.entered_by = "system";
  l.reason = "harvest";
  l.entered_at = 5;
  ASSERT_OK(store_->PutLockdown(l));
  l.lift_requested_by = "usr_1";
  l.lift_requested_at = 6;
  ASSERT_OK(store_->PutLockdown(l));  // replaces
  Lockdown server;
  server.scope = "*";
  server.entered_by = "tok_root";
  ASSERT_OK(store_->PutLockdown(server));
  auto all = Must(store_->ListLockdowns());
  ASSERT_EQ(all.size(), 2u);
  auto it =
      std::find_if(all.begin(), all.end(), [&](const Lockdown& x) { return x.scope == inst_a_; });
  ASSERT_NE(it, all.end());
  EXPECT_EQ(it->lift_requested_by, "usr_1");
  EXPECT_EQ(it->lift_requested_at, 6);
  EXPECT_EQ(it->reason, "harvest");
  ASSERT_OK(store_->DeleteLockdown(inst_a_));
  EXPECT_CODE(store_->DeleteLockdown(inst_a_), kNotFound);
  EXPECT_CODE(store_->PutLockdown(Lockdown{}), kInvalidArgument);
  EXPECT_EQ(Must(store_->ListLockdowns()).size(), 1u);

  // A lift applies only to the request it approves: never to one cleared or replaced since.
  EXPECT_CODE(store_->SetLockdownLiftRequest(inst_a_, "usr_1", 7), kNotFound);
  ASSERT_OK(store_->SetLockdownLiftRequest("*", "usr_1", 7));
  ASSERT_OK(store_->SetLockdownLiftRequest("*", "", 0));  // cancelled
  EXPECT_CODE(store_->LiftLockdownIfRequested("*", "usr_1", 7), kConflict);
  ASSERT_OK(store_->SetLockdownLiftRequest("*", "usr_2", 8));
  EXPECT_CODE(store_->LiftLockdownIfRequested("*", "usr_1", 7), kConflict);
  EXPECT_CODE(store_->LiftLockdownIfRequested("*", "", 0), kConflict);
  EXPECT_EQ(Must(store_->ListLockdowns())[0].entered_by, "tok_root") << "only the request changed";
  ASSERT_OK(store_->LiftLockdownIfRequested("*", "usr_2", 8));
  EXPECT_TRUE(Must(store_->ListLockdowns()).empty());
  EXPECT_CODE(store_->LiftLockdownIfRequested("*", "usr_2", 8), kConflict);
}
// --- end Response ---

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

// ------------------------------------------------------------------------------------------
// Outside the battery: URI parsing and the SQLite backend's migrations.

TEST(OpenStore, RejectsUnknownSchemesAndEmptyPaths) {
  EXPECT_CODE(OpenStore("postgres://localhost/rampart"), kInvalidArgument);
  EXPECT_CODE(OpenStore("/var/lib/rampart.db"), kInvalidArgument);
  EXPECT_CODE(OpenStore("sqlite:"), kInvalidArgument);
  EXPECT_CODE(OpenStore(""), kInvalidArgument);
  EXPECT_OK(OpenStore("sqlite::memory:"));
}

int64_t CountRows(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt* stmt = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

TEST(SqliteMigrations, ReopeningAnUpToDateDatabaseAppliesNothing) {
  ASSERT_OK(crypto::InitCrypto());
  auto dir = std::filesystem::temp_directory_path() / core::NewId("rampart-migrations-test");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "rampart.db").string();
  const auto total = static_cast<int64_t>(sqlite::Migrations().size());
  {
    auto first = sqlite::SqliteStore::Open(path);
    ASSERT_OK(first);
    EXPECT_EQ((*first)->migrations_applied(), total);
    ASSERT_OK((*first)->CreateInstitution({"ins_1", "Kept", 1}));
  }
  for (int round = 0; round < 2; ++round) {
    auto again = sqlite::SqliteStore::Open(path);
    ASSERT_OK(again);
    EXPECT_EQ((*again)->migrations_applied(), 0);
    EXPECT_OK((*again)->GetInstitution(Scope::All(), "ins_1"));
  }
  EXPECT_EQ(CountRows(path, "SELECT count(*) FROM schema_migrations"), total);
  EXPECT_EQ(CountRows(path, "SELECT count(DISTINCT version) FROM schema_migrations"), total);
  EXPECT_EQ(CountRows(path, "SELECT max(version) FROM schema_migrations"),
            sqlite::Migrations().back().version);
  // The connection settings the backend depends on.
  EXPECT_EQ(CountRows(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"),
            1);
  std::filesystem::remove_all(dir);
}

TEST(SqliteFiles, DatabaseFilesAreOwnerOnly) {
  ASSERT_OK(crypto::InitCrypto());
  auto dir = std::filesystem::temp_directory_path() / core::NewId("rampart-files-test");
  std::filesystem::create_directories(dir);
  const auto path = dir / "rampart.db";
  {
    auto store = sqlite::SqliteStore::Open(path.string());
    ASSERT_OK(store);
    ASSERT_OK((*store)->CreateInstitution({"ins_1", "Kept", 1}));
    using std::filesystem::perms;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      auto mode = entry.status().permissions();
      EXPECT_EQ(mode & (perms::group_all | perms::others_all), perms::none)
          << entry.path().filename();
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(SqliteMigrations, RefusesADatabaseFromANewerProgram) {
  ASSERT_OK(crypto::InitCrypto());
  auto dir = std::filesystem::temp_directory_path() / core::NewId("rampart-migrations-test");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "rampart.db").string();
  ASSERT_OK(sqlite::SqliteStore::Open(path));
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db,
                           "INSERT INTO schema_migrations (version, name, applied_at) "
                           "VALUES (9999, 'from the future', 0)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_CODE(sqlite::SqliteStore::Open(path), kInternal);
  std::filesystem::remove_all(dir);
}

// A database file at schema `version - 1` (as an older release left it), with `rows` run on it.
void WriteDatabaseBefore(const std::string& path, int version, const std::string& rows) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string script =
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
      "applied_at INTEGER NOT NULL);";
  for (const auto& m : sqlite::Migrations()) {
    if (m.version >= version) break;
    script += std::string(m.sql);
    script += "INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", '" +
              std::string(m.name) + "', 0);";
  }
  script += rows;
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, script.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// Blocks that ended before migration 10 are not announced again; those still in force are
// announced when they run out.
TEST(SqliteMigrations, BlocksEndedBeforeTheUpgradeAreNotAnnouncedAgain) {
  ASSERT_OK(crypto::InitCrypto());
  auto dir = std::filesystem::temp_directory_path() / core::NewId("rampart-migrations-test");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "rampart.db").string();
  std::string rows;
  // Ended long ago; lifted by hand; in force until 2100.
  for (const char* row : {"1, '192.0.2.1', 1000, 0", "2, '192.0.2.2', 4102444800, 500",
                          "3, '192.0.2.3', 4102444800, 0"}) {
    rows += std::string(
                "INSERT INTO address_blocks (id, value, expires_at, removed_at, scope, reason, "
                "origin, scenario, created_by, institution_id, created_at, removed_by, "
                "change_seq) SELECT ") +
            row + ", 'Ip', '', 'manual', 'rampart/manual', 'system', '', 1, '', 1;";
  }
  WriteDatabaseBefore(path, 10, rows);
  auto store = sqlite::SqliteStore::Open(path);
  ASSERT_OK(store);
  auto due = Must((*store)->ListUnannouncedExpiredBlocks(5000000000, 100));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, 3);
  store->reset();
  std::filesystem::remove_all(dir);
}

// Migration 9 on a database with rows: older alerts, incidents and tokens keep everything and
// read 0 for the new columns (readers fall back to seconds x 1000); an alert folded after the
// upgrade counts its old times as whole seconds.
TEST(SqliteMigrations, PreciseTimesAndTokenOwnersUpgradeExistingRows) {
  ASSERT_OK(crypto::InitCrypto());
  auto dir = std::filesystem::temp_directory_path() / core::NewId("rampart-migrations-test");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "rampart.db").string();
  WriteDatabaseBefore(
      path, 9,
      "INSERT INTO institutions (id, name, created_at) VALUES ('ins_old', 'Old', 1);"
      "INSERT INTO alerts VALUES ('alr_old', 'ins_old', 'r1', 'R1', 'source.ip=192.0.2.1', "
      "'high', '[]', '[]', 100, 105, 2, 'open', '', 0, 101);"
      "INSERT INTO incidents VALUES ('inc_old', 'ins_old', 'source.ip=192.0.2.1', 'R1', "
      "'high', 'new', 101, 105, 101, 101, 0);"
      "INSERT INTO incident_alerts VALUES ('alr_old', 'inc_old', 1);"
      "INSERT INTO api_tokens VALUES ('tok_old', 'script', 'hash_old', 'admin', 'ins_old', 0, "
      "0, 1, 0);");
  auto store = sqlite::SqliteStore::Open(path);
  ASSERT_OK(store);
  EXPECT_EQ((*store)->migrations_applied(), static_cast<int>(sqlite::Migrations().size()) - 8);
  core::Alert old = Must((*store)->GetAlert(Scope::All(), "alr_old"));
  EXPECT_EQ(old.first_seen, 100);
  EXPECT_EQ(old.first_seen_ms, 0);
  EXPECT_EQ(old.created_at_ms, 0);
  EXPECT_EQ(core::MillisOr(old.created_at_ms, old.created_at), 101000);
  core::Incident inc = Must((*store)->GetIncident(Scope::All(), "inc_old"));
  EXPECT_EQ(inc.first_alert_at, 101);
  EXPECT_EQ(inc.first_alert_at_ms, 0);
  EXPECT_EQ(Must((*store)->GetApiToken("tok_old")).owner_id, "");

  core::Alert obs;
  obs.institution_id = "ins_old";
  obs.rule_id = "r1";
  obs.entity = "source.ip=192.0.2.1";
  obs.severity = "high";
  obs.first_seen = obs.last_seen = obs.created_at = 106;
  obs.first_seen_ms = obs.last_seen_ms = 106250;
  core::Alert folded = Must((*store)->RecordAlert(obs, 5));
  EXPECT_EQ(folded.id, "alr_old");
  EXPECT_EQ(folded.first_seen_ms, 100000);
  EXPECT_EQ(folded.last_seen_ms, 106250);
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(SqliteMigrations, VersionsAreConsecutiveFromOne) {
  int expected = 1;
  for (const auto& m : sqlite::Migrations()) {
    EXPECT_EQ(m.version, expected++);
    EXPECT_FALSE(m.sql.empty());
  }
}

}  // namespace
}  // namespace store
}  // namespace rampart
