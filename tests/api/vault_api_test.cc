// Staff personal data through the API: masked unless revealed, revealed only within the keeper's
// budget and with the permission, looked up by blind index, canaries that sound the alarm, and
// a keeper that is down means 503, never clear data from somewhere else.
#include "api_fixture.h"

namespace rampart::api::testing {
namespace {

class VaultApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    canaries_ = 3;
    ApiFixture::SetUp();
    inst_ = CreateInstitution("Institution A");
    admin_ = Issue(core::Role::kAdmin, inst_);
    helpdesk_ = Issue(core::Role::kHelpdesk, inst_);
  }

  std::string CreateStaff(const std::string& name, const std::string& mobile,
                          const std::string& email) {
    Reply r =
        Send("POST", "/api/v1/staff", admin_,
             json{{"name", name}, {"mobile", mobile}, {"email", email}, {"department", "HR"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  std::string inst_, admin_, helpdesk_;
};

TEST_F(VaultApiTest, ListingsAreMaskedAndRevealIsExplicit) {
  std::string id = CreateStaff("Jane Doe", "+32 470 12 34 12", "jane.doe@example.org");
  Reply masked = Send("GET", "/api/v1/staff/" + id, helpdesk_);
  ASSERT_EQ(masked.status, 200);
  EXPECT_EQ(masked.body["name"], "J*** D***");
  EXPECT_EQ(masked.body["mobile"], "+32 4** *** *12");
  EXPECT_EQ(masked.body["email"], "j***@example.org");
  EXPECT_FALSE(masked.body["revealed"].get<bool>());
  EXPECT_EQ(masked.raw.find("Jane"), std::string::npos);

  Reply clear = Send("GET", "/api/v1/staff/" + id + "?reveal=true", helpdesk_);
  ASSERT_EQ(clear.status, 200) << clear.raw;
  EXPECT_EQ(clear.body["name"], "Jane Doe");
  EXPECT_EQ(clear.body["mobile"], "+32 470 12 34 12");
  EXPECT_TRUE(clear.body["revealed"].get<bool>());
  const audit::Record r = trail_.records().back();
  EXPECT_EQ(r.action, "staff.decrypt");
  EXPECT_EQ(r.target, id);
  EXPECT_NE(r.actor.find("tok_"), std::string::npos);

  EXPECT_EQ(Send("GET", "/api/v1/staff/" + id + "?reveal=maybe", helpdesk_).status, 400);
  // The listing masks every row, the three canaries included.
  Reply list = Send("GET", "/api/v1/staff", helpdesk_);
  ASSERT_EQ(list.body["items"].size(), 4u);
  for (const auto& item : list.body["items"]) {
    EXPECT_FALSE(item["revealed"].get<bool>());
    EXPECT_NE(item["name"].get<std::string>().find("***"), std::string::npos);
  }
}

TEST_F(VaultApiTest, RolesWithoutRevealAndExhaustedBudgetsGetNothing) {
  std::string id = CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  std::string analyst = Issue(core::Role::kAnalyst, inst_);
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + id + "?reveal=true", analyst).status, 403);

  // Helpdesk: 60 records a minute. Pages of 4 (one real, three canaries) cost 4 each.
  int ok = 0;
  Reply last;
  for (int i = 0; i < 20; ++i) {
    last = Send("GET", "/api/v1/staff?reveal=true", helpdesk_);
    if (last.status != 200) break;
    ++ok;
  }
  EXPECT_EQ(ok, 15) << "60 records / 4 per page";
  EXPECT_EQ(last.status, 429);
  EXPECT_EQ(last.ErrorCode(), "resource_exhausted");
  EXPECT_EQ(last.raw.find("Jane"), std::string::npos);
  // Masked reads still work; the budget refills with time.
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + id, helpdesk_).status, 200);
  clock_.AdvanceSeconds(60);
  EXPECT_EQ(Send("GET", "/api/v1/staff/" + id + "?reveal=true", helpdesk_).status, 200);
}

TEST_F(VaultApiTest, LookupByMobileOrEmailUsesBlindIndexes) {
  std::string jane = CreateStaff("Jane Doe", "+32 470 12 34 12", "Jane.Doe@Example.org");
  CreateStaff("John Roe", "+32 470 99 99 99", "john@example.org");
  Reply by_mobile = Send("GET", "/api/v1/staff?mobile=%2B32470123412", helpdesk_);
  ASSERT_EQ(by_mobile.status, 200) << by_mobile.raw;
  ASSERT_EQ(by_mobile.body["items"].size(), 1u);
  EXPECT_EQ(by_mobile.body["items"][0]["id"], jane);
  Reply by_email = Send("GET", "/api/v1/staff?email=jane.doe%40example.org", helpdesk_);
  ASSERT_EQ(by_email.body["items"].size(), 1u);
  EXPECT_EQ(by_email.body["items"][0]["id"], jane);
  EXPECT_EQ(Send("GET", "/api/v1/staff?mobile=%2B99", helpdesk_).body["items"].size(), 0u);
  // Another institution's identical number is not found through this one.
  std::string other = CreateInstitution("Institution B");
  std::string other_admin = Issue(core::Role::kAdmin, other);
  ASSERT_EQ(Send("POST", "/api/v1/staff", other_admin,
                 json{{"name", "Twin"}, {"mobile", "+32 470 12 34 12"}})
                .status,
            201);
  EXPECT_EQ(Send("GET", "/api/v1/staff?mobile=%2B32470123412", helpdesk_).body["items"].size(), 1u);
}

// A lookup's query names a person: the request's event (alert evidence, sinks) keeps the
// parameters, not their values.
TEST_F(VaultApiTest, LookupsHandTheEngineNoPersonalValues) {
  CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  events_.Take();
  ASSERT_EQ(Send("GET", "/api/v1/staff?mobile=%2B32470123412&limit=5", admin_).status, 200);
  ASSERT_EQ(Send("GET", "/api/v1/staff?limit=5&%65mail=jane%40example.org", admin_).status, 200);
  ASSERT_EQ(Send("GET", "/api/v1/staff?department=HR", admin_).status, 200);
  auto requests = events_.WithAction("http.request");
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].Get("url.original"), "/api/v1/staff?mobile=REDACTED&limit=5");
  EXPECT_EQ(requests[0].Get("url.query"), "mobile=REDACTED&limit=5");
  EXPECT_EQ(requests[1].Get("url.original"), "/api/v1/staff?limit=5&%65mail=REDACTED");
  EXPECT_EQ(requests[2].Get("url.original"), "/api/v1/staff?department=HR");
  for (const auto& e : requests) {
    for (const auto& [k, v] : e.fields) {
      EXPECT_EQ(v.find("470123412"), std::string::npos) << k;
      EXPECT_EQ(v.find("jane"), std::string::npos) << k;
    }
  }
}

TEST_F(VaultApiTest, UpdatingOneFieldKeepsTheOthers) {
  std::string id = CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  Reply patched =
      Send("PATCH", "/api/v1/staff/" + id, admin_, json{{"mobile", "+32 470 00 00 07"}});
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body["mobile"], "+32 4** *** *07");
  Reply clear = Send("GET", "/api/v1/staff/" + id + "?reveal=true", admin_);
  EXPECT_EQ(clear.body["name"], "Jane Doe");
  EXPECT_EQ(clear.body["mobile"], "+32 470 00 00 07");
  EXPECT_EQ(clear.body["email"], "jane@example.org");
  // The old number no longer finds the record.
  EXPECT_EQ(Send("GET", "/api/v1/staff?mobile=%2B32470123412", admin_).body["items"].size(), 0u);
}

TEST_F(VaultApiTest, ReadingACanaryIsCritical) {
  CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  size_t before = trail_.records().size();
  Reply all = Send("GET", "/api/v1/staff?reveal=true", admin_);
  ASSERT_EQ(all.status, 200) << all.raw;
  ASSERT_EQ(all.body["items"].size(), 4u);
  int critical = 0;
  auto records = trail_.records();
  for (size_t i = before; i < records.size(); ++i) {
    const auto& r = records[i];
    if (r.action == "staff.canary_read" && r.severity == "critical") ++critical;
  }
  EXPECT_EQ(critical, 3) << "every canary read is a critical audit record";
  // Canaries look like colleagues: same domain and number format as the first staff member.
  for (const auto& item : all.body["items"]) {
    EXPECT_NE(item["email"].get<std::string>().find("@example.org"), std::string::npos);
    EXPECT_EQ(item["mobile"].get<std::string>().rfind("+32 47", 0), 0u) << item.dump();
  }
}

// A canary opened to merge an update is a canary read like any other: nobody edits a record
// that is no colleague's unless they went through the records. Every record opened is an event
// for the detection engine, with why it was opened.
TEST_F(VaultApiTest, UpdatingACanaryIsACanaryRead) {
  CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  Reply all = Send("GET", "/api/v1/staff", admin_);
  ASSERT_EQ(all.body["items"].size(), 4u);
  events_.Take();
  size_t before = trail_.records().size();
  for (const auto& item : all.body["items"]) {
    Reply patched = Send("PATCH", "/api/v1/staff/" + item["id"].get<std::string>(), admin_,
                         json{{"name", "Renamed"}});
    ASSERT_EQ(patched.status, 200) << patched.raw;
  }
  // A department alone opens nothing.
  const std::string first = all.body["items"][0]["id"];
  ASSERT_EQ(Send("PATCH", "/api/v1/staff/" + first, admin_, json{{"department", "IT"}}).status,
            200);
  EXPECT_TRUE(events_.WithAction("staff.decrypt").empty()) << "nothing was shown";
  auto opened = events_.WithAction("staff.decrypt_for_update");
  ASSERT_EQ(opened.size(), 4u);
  int canaries = 0;
  for (const auto& e : opened) {
    EXPECT_EQ(e.Get("staff.purpose"), "staff.update");
    EXPECT_EQ(e.actor_institution_id, inst_);
    canaries += e.Get("staff.canary") == "true";
  }
  EXPECT_EQ(canaries, 3);
  int critical = 0;
  auto records = trail_.records();
  for (size_t i = before; i < records.size(); ++i) {
    critical += records[i].action == "staff.canary_read" && records[i].severity == "critical";
  }
  EXPECT_EQ(critical, 3);
}

TEST_F(VaultApiTest, WithoutTheKeeperPersonalDataFailsClosed) {
  std::string id = CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  AppOptions options;
  options.apps_dir = apps_dir_.string();
  options.keeper = nullptr;
  App keeperless(options, store_.get(), &clock_);
  auto send = [&](const std::string& method, const std::string& target, const json& body) {
    http::Request r = MakeRequest(method, target, body.is_null() ? "" : body.dump());
    r.headers.emplace_back("authorization", "Bearer " + admin_);
    return ToReply(keeperless.Handle(r));
  };
  Reply reveal = send("GET", "/api/v1/staff/" + id + "?reveal=true", nullptr);
  EXPECT_EQ(reveal.status, 503);
  EXPECT_EQ(reveal.raw.find("Jane"), std::string::npos);
  EXPECT_EQ(send("POST", "/api/v1/staff", json{{"name", "New Person"}}).status, 503);
  EXPECT_EQ(send("GET", "/api/v1/staff?mobile=%2B32470123412", nullptr).status, 503);
  // Masked reads need no keeper.
  EXPECT_EQ(send("GET", "/api/v1/staff/" + id, nullptr).status, 200);
}

TEST_F(VaultApiTest, BulkExportNeedsASecondAdminAndIsDownloadedOnce) {
  CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  CreateStaff("John Roe", "+32 470 99 99 99", "john@example.org");
  std::string second_admin = Issue(core::Role::kAdmin, inst_);
  EXPECT_EQ(Send("POST", "/api/v1/staff/exports", helpdesk_, json{{"reason", "x"}}).status, 403);
  EXPECT_EQ(Send("POST", "/api/v1/staff/exports", admin_, json::object()).status, 400);
  Reply asked = Send("POST", "/api/v1/staff/exports", admin_, json{{"reason", "Directory audit"}});
  ASSERT_EQ(asked.status, 201) << asked.raw;
  std::string id = asked.body["id"];
  EXPECT_EQ(asked.body["state"], "pending");
  const std::string base = "/api/v1/staff/exports/" + id;

  EXPECT_EQ(Send("POST", base + "/download", admin_).status, 409) << "not approved yet";
  EXPECT_EQ(Send("POST", base + "/approve", admin_).status, 403) << "no self-approval";
  std::string other = CreateInstitution("Institution B");
  EXPECT_EQ(Send("POST", base + "/approve", Issue(core::Role::kAdmin, other)).status, 404);
  Reply approved = Send("POST", base + "/approve", second_admin);
  ASSERT_EQ(approved.status, 200) << approved.raw;
  EXPECT_EQ(approved.body["state"], "approved");
  EXPECT_EQ(Send("POST", base + "/reject", second_admin).status, 409) << "already decided";
  EXPECT_EQ(Send("POST", base + "/download", second_admin).status, 403) << "requester only";

  Reply data = Send("POST", base + "/download", admin_);
  ASSERT_EQ(data.status, 200) << data.raw;
  EXPECT_EQ(data.body["items"].size(), 2u) << "the canaries stay out of the file";
  EXPECT_EQ(data.body["export"]["state"], "downloaded");
  EXPECT_EQ(data.body["export"]["record_count"], 5) << "five records were decrypted";
  EXPECT_NE(data.raw.find("Jane Doe"), std::string::npos);
  EXPECT_EQ(Send("POST", base + "/download", admin_).status, 409) << "once";

  // The keeper's record names both admins; an approved export is not a canary read.
  int exports = 0;
  int canaries = 0;
  for (const auto& r : trail_.records()) {
    if (r.action == "staff.decrypt" && r.details_json.find("staff.export") != std::string::npos) {
      ++exports;
      EXPECT_NE(r.details_json.find("approved_by"), std::string::npos);
    }
    if (r.action == "staff.canary_read") ++canaries;
  }
  EXPECT_EQ(exports, 1);
  EXPECT_EQ(canaries, 0);
}

TEST_F(VaultApiTest, ExportsExpireAndRejectedOnesCannotBeDownloaded) {
  CreateStaff("Jane Doe", "+32 470 12 34 12", "jane@example.org");
  std::string second_admin = Issue(core::Role::kAdmin, inst_);
  std::string rejected =
      Send("POST", "/api/v1/staff/exports", admin_, json{{"reason", "One"}}).body["id"];
  ASSERT_EQ(Send("POST", "/api/v1/staff/exports/" + rejected + "/reject", second_admin).status,
            200);
  EXPECT_EQ(Send("POST", "/api/v1/staff/exports/" + rejected + "/download", admin_).status, 409);
  std::string late =
      Send("POST", "/api/v1/staff/exports", admin_, json{{"reason", "Two"}}).body["id"];
  clock_.AdvanceSeconds(24 * 3600 + 1);
  EXPECT_EQ(Send("POST", "/api/v1/staff/exports/" + late + "/approve", second_admin).status, 409);
  EXPECT_EQ(Send("GET", "/api/v1/staff/exports/" + late, admin_).body["state"], "expired");
  EXPECT_EQ(Send("GET", "/api/v1/staff/exports", admin_).body["items"].size(), 2u);
}

}  // namespace
}  // namespace rampart::api::testing
