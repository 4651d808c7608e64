#include "api/demo.h"

#include <array>

#include "api/credentials.h"
#include "api/vault.h"
#include "common/crypto.h"
#include "common/text.h"

namespace rampart::api {

namespace {

constexpr std::string_view kDemoName = "Demo Institution";
constexpr const char* kDemoSuperadminName = "demo superadmin";
constexpr const char* kDemoAdminName = "demo admin";
constexpr const char* kDemoUsername = "demo-admin";
constexpr std::array<std::string_view, 20> kFirst{
    "Anna",   "Luc",   "Sofia", "Jan",   "Marie", "Pieter", "Elena", "Mateo", "Ines", "Lars",
    "Chiara", "Tomas", "Eva",   "Nikos", "Lea",   "Jonas",  "Ana",   "Karel", "Mia",  "Oskar"};
constexpr std::array<std::string_view, 20> kLast{
    "Peeters", "Janssens", "Rossi", "Novak",   "Dubois",   "Muller", "Garcia",
    "Jensen",  "Kowalski", "Silva", "Bianchi", "Virtanen", "Horvat", "Papadopoulos",
    "Schmit",  "Berg",     "Costa", "Dvorak",  "Lambert",  "Nielsen"};
constexpr std::array<std::string_view, 6> kDepartments{"DG DIGIT", "DG HR",   "Legal Service",
                                                       "Security", "Finance", "Communication"};

}  // namespace

Result<DemoSeed> SeedDemo(store::Store& store, keeper::Keeper& keeper, const Clock& clock,
                          int staff_count, int canaries) {
  DemoSeed seed;
  store::PageRequest page{500, ""};
  for (;;) {
    RAMPART_ASSIGN_OR_RETURN(auto list, store.ListInstitutions(store::Scope::All(), page));
    for (const auto& inst : list.items) {
      if (inst.name == kDemoName) seed.institution_id = inst.id;
    }
    if (list.next_cursor.empty() || !seed.institution_id.empty()) break;
    page.cursor = list.next_cursor;
  }
  int64_t now = clock.NowSeconds();
  if (seed.institution_id.empty()) {
    seed.created = true;
    core::Institution inst{core::NewId("ins"), std::string(kDemoName), now};
    RAMPART_RETURN_IF_ERROR(store.CreateInstitution(inst));
    seed.institution_id = inst.id;
    keeper::Caller system{"system", "", inst.id, "", "", "demo.seed"};
    keeper::StaffFields first_fields;
    for (int i = 0; i < staff_count; ++i) {
      core::Staff s;
      s.id = core::NewId("stf");
      s.institution_id = inst.id;
      std::string_view first = kFirst[static_cast<size_t>(i) % kFirst.size()];
      std::string_view last =
          kLast[(static_cast<size_t>(i) / kFirst.size() + static_cast<size_t>(i) * 7) %
                kLast.size()];
      keeper::StaffFields fields;
      fields.name = std::string(first) + " " + std::string(last);
      char mobile[32];
      std::snprintf(mobile, sizeof(mobile), "+32 47%d %02d %02d %02d", i % 10, (i / 10) % 100,
                    (i * 37) % 100, (i * 53 + 11) % 100);
      fields.mobile = mobile;
      fields.email =
          AsciiLower(first) + "." + AsciiLower(last) + "." + std::to_string(i) + "@demo.example";
      s.department = std::string(kDepartments[static_cast<size_t>(i) % kDepartments.size()]);
      s.created_at = s.updated_at = now;
      RAMPART_RETURN_IF_ERROR(SealStaff(keeper, system, fields, false, &s));
      RAMPART_RETURN_IF_ERROR(store.CreateStaff(s));
      if (i == 0) first_fields = fields;
    }
    if (staff_count > 0 && canaries > 0) {
      RAMPART_RETURN_IF_ERROR(CreateCanaryStaff(store, keeper, inst.id, first_fields,
                                                std::string(kDepartments[1]), canaries, now));
    }
    for (std::string_view name : {"Executive phones", "Field staff", "Kiosk tablets"}) {
      core::Group g{core::NewId("grp"), inst.id, std::string(name), "", now};
      RAMPART_RETURN_IF_ERROR(store.CreateGroup(g));
    }
    core::Policy baseline;
    baseline.id = core::NewId("pol");
    baseline.institution_id = inst.id;
    baseline.name = "Baseline";
    baseline.rules.passcode_min_length = 6;
    baseline.rules.require_storage_encryption = true;
    baseline.rules.block_compromised = true;
    baseline.rules.min_os_version_ios = "17.0";
    baseline.rules.min_os_version_android = "13";
    baseline.rules.action = core::NonComplianceAction::kNotify;
    baseline.rules.grace_seconds = 24 * 3600;
    baseline.created_at = baseline.updated_at = now;
    RAMPART_RETURN_IF_ERROR(store.CreatePolicy(baseline));
    core::PolicyAssignment a{core::NewId("pas"), inst.id, baseline.id, "", now};
    RAMPART_RETURN_IF_ERROR(store.AssignPolicy(a));
  }
  // Fresh tokens are printed on every start; the previous run's are revoked so that tokens
  // printed to a console or a journal do not pile up.
  store::PageRequest token_page{500, ""};
  for (;;) {
    RAMPART_ASSIGN_OR_RETURN(auto tokens, store.ListApiTokens(store::Scope::All(), token_page));
    for (const auto& t : tokens.items) {
      if (!t.revoked && (t.name == kDemoSuperadminName || t.name == kDemoAdminName)) {
        RAMPART_RETURN_IF_ERROR(store.RevokeApiToken(store::Scope::All(), t.id));
      }
    }
    if (tokens.next_cursor.empty()) break;
    token_page.cursor = tokens.next_cursor;
  }
  constexpr int64_t kWeek = 7 * 24 * 3600;
  RAMPART_ASSIGN_OR_RETURN(auto superadmin, IssueApiToken(store, clock, core::Role::kSuperAdmin, "",
                                                          kDemoSuperadminName, kWeek));
  RAMPART_ASSIGN_OR_RETURN(auto admin, IssueApiToken(store, clock, core::Role::kAdmin,
                                                     seed.institution_id, kDemoAdminName, kWeek));
  RAMPART_ASSIGN_OR_RETURN(auto enrollment, IssueEnrollmentToken(store, clock, seed.institution_id,
                                                                 "", 10000, 30 * 24 * 3600));
  // The console user keeps its id and any second factor it set up across restarts; only its
  // password is new, which also ends the previous run's sessions.
  seed.admin_username = kDemoUsername;
  auto existing = store.FindAdminUserByUsername(kDemoUsername);
  if (existing.ok()) {
    seed.admin_password = crypto::Base64UrlEncode(crypto::RandomBytes(18));
    RAMPART_ASSIGN_OR_RETURN(std::string hash, crypto::HashPassword(seed.admin_password));
    RAMPART_RETURN_IF_ERROR(store.SetAdminPassword(existing->id, hash, now, ""));
  } else {
    RAMPART_ASSIGN_OR_RETURN(auto user, IssueAdminUser(store, clock, kDemoUsername,
                                                       core::Role::kAdmin, seed.institution_id));
    seed.admin_password = user.password;
  }
  seed.superadmin_token = superadmin.secret;
  seed.admin_token = admin.secret;
  seed.enrollment_token = enrollment.secret;
  return seed;
}

}  // namespace rampart::api
