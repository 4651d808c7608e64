// /api/v1/alerts and the security events App hands to its EventSink.
#include <mutex>

#include "api_fixture.h"
#include "common/event_sink.h"
#include "tests/support/capturing_sink.h"

namespace rampart::api::testing {
namespace {

using rampart::testing::CapturingSink;

class AlertsApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    AppOptions options = options_;  // the fixture's, keeper included
    options.events = &sink_;
    app_ = std::make_unique<App>(options, store_.get(), &clock_);
    inst_a_ = CreateInstitution("A");
    inst_b_ = CreateInstitution("B");
    admin_a_ = Issue(core::Role::kAdmin, inst_a_);
  }

  core::Alert Record(const std::string& inst, const std::string& rule, const std::string& entity,
                     const std::string& severity, int64_t at) {
    core::Alert a;
    a.institution_id = inst;
    a.rule_id = rule;
    a.rule_title = "T " + rule;
    a.entity = entity;
    a.severity = severity;
    a.attack = {"T1190"};
    a.evidence = {R"({"url.path":"/x"})"};
    a.first_seen = a.last_seen = a.created_at = at;
    a.count = 1;
    auto r = store_->RecordAlert(a, 10);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : core::Alert{};
  }

  CapturingSink sink_;
  std::string inst_a_, inst_b_, admin_a_;
};

TEST_F(AlertsApiTest, EveryAnsweredRequestBecomesAnEventWithoutSecrets) {
  Reply r = Send("GET", "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20/a.ipa?x=1", "");
  EXPECT_EQ(r.status, 404);
  Send("GET", "/api/v1/devices?limit=5", admin_a_);
  auto events = sink_.WithAction("http.request");
  ASSERT_GE(events.size(), 2u);
  const SecurityEvent& probe = events[events.size() - 2];
  EXPECT_EQ(probe.Get("url.path"), "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20/a.ipa");
  EXPECT_EQ(probe.Get("url.query"), "x=1");
  EXPECT_EQ(probe.Get("http.response.status_code"), "404");
  EXPECT_EQ(probe.Get("source.ip"), "127.0.0.1");
  EXPECT_EQ(probe.Get("http.request.method"), "GET");
  EXPECT_FALSE(probe.Get("http.request.id").empty());
  EXPECT_FALSE(probe.Get("event.duration").empty());
  EXPECT_EQ(probe.Get("user.name"), "");
  EXPECT_TRUE(probe.institution_id.empty());
  const SecurityEvent& listed = events.back();
  EXPECT_TRUE(listed.Get("user.name").starts_with("tok_")) << "the token id, never its secret";
  EXPECT_EQ(listed.institution_id, inst_a_);
  for (const auto& e : events) {
    for (const auto& [k, v] : e.fields) {
      EXPECT_EQ(v.find(admin_a_), std::string::npos) << k << " carries the bearer secret";
    }
  }
}

TEST_F(AlertsApiTest, TokenFailuresEnrollmentsCheckinsAndCommandsAreEvents) {
  Send("GET", "/api/v1/devices", "rmp_forged");
  auto rejected = sink_.WithAction("auth.token_rejected");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].Get("url.path"), "/api/v1/devices");
  EXPECT_EQ(rejected[0].Get("user.name"), "") << "an unknown token names nobody";

  SimDevice d = Enroll(CreateEnrollmentToken(admin_a_));
  auto enrolled = sink_.WithAction("device.enrolled");
  ASSERT_EQ(enrolled.size(), 1u);
  EXPECT_EQ(enrolled[0].Get("device.id"), d.id);
  EXPECT_EQ(enrolled[0].institution_id, inst_a_);

  EXPECT_EQ(Checkin(d, GoodState()).status, 200);
  auto checkins = sink_.WithAction("device.checkin");
  ASSERT_EQ(checkins.size(), 1u);
  EXPECT_EQ(checkins[0].Get("device.id"), d.id);

  Reply cmd =
      Send("POST", "/api/v1/devices/" + d.id + "/commands", admin_a_, json{{"type", "wipe"}});
  ASSERT_EQ(cmd.status, 201) << cmd.raw;
  bool saw_wipe = false;
  for (const auto& e : sink_.WithAction("command.queued")) {
    if (e.Get("command.type") == "wipe") {
      saw_wipe = true;
      EXPECT_EQ(e.Get("device.id"), d.id);
      EXPECT_TRUE(e.Get("user.name").starts_with("tok_"));
      EXPECT_EQ(e.institution_id, inst_a_);
    }
  }
  EXPECT_TRUE(saw_wipe);

  // A second admin's decisions are events too, naming the decider and the request's creator.
  std::string second = Issue(core::Role::kAdmin, inst_a_);
  Reply approved =
      Send("POST", "/api/v1/commands/" + cmd.body["id"].get<std::string>() + "/approve", second);
  ASSERT_EQ(approved.status, 200) << approved.raw;
  auto approvals = sink_.WithAction("command.approved");
  ASSERT_EQ(approvals.size(), 1u);
  EXPECT_EQ(approvals[0].Get("command.type"), "wipe");
  EXPECT_EQ(approvals[0].Get("device.id"), d.id);
  EXPECT_EQ(approvals[0].Get("command.id"), cmd.body["id"].get<std::string>());
  EXPECT_NE(approvals[0].Get("user.name"), approvals[0].Get("command.created_by"));
  EXPECT_TRUE(approvals[0].Get("command.created_by").starts_with("tok_"));
  EXPECT_EQ(approvals[0].institution_id, inst_a_);

  Reply retire =
      Send("POST", "/api/v1/devices/" + d.id + "/commands", admin_a_, json{{"type", "retire"}});
  ASSERT_EQ(retire.status, 201) << retire.raw;
  Reply refused =
      Send("POST", "/api/v1/commands/" + retire.body["id"].get<std::string>() + "/reject", second);
  ASSERT_EQ(refused.status, 200) << refused.raw;
  auto rejections = sink_.WithAction("command.rejected");
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].Get("command.type"), "retire");
  EXPECT_EQ(rejections[0].Get("command.count"), "1");
}

// A device request refused at its signature is an event naming why, the device it claims to be
// (only when the id has an id's shape) and, for a device that exists, its institution; the one
// who sent it is nobody's.
TEST_F(AlertsApiTest, RejectedDeviceRequestsAreEvents) {
  SimDevice d = Enroll(CreateEnrollmentToken(admin_a_));
  const std::string body = json{{"state", GoodState()}}.dump();
  const std::string nonce = crypto::RandomHex(16);
  ASSERT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, nonce).status, 200);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, nonce).status, 401);
  EXPECT_EQ(DeviceSend(d, "POST", "/device/v1/checkin", body, 0, "", true).status, 401);
  SimDevice retired = Enroll(CreateEnrollmentToken(admin_a_));
  ASSERT_EQ(Send("POST", "/api/v1/devices/" + retired.id + "/retire", admin_a_).status, 200);
  EXPECT_EQ(DeviceSend(retired, "POST", "/device/v1/checkin", body).status, 401);
  SimDevice stranger = d;
  stranger.id = "dev_0000000000000000deadbeef";
  EXPECT_EQ(DeviceSend(stranger, "POST", "/device/v1/checkin", body).status, 401);
  stranger.id = "dev\x1b[2J";
  EXPECT_EQ(DeviceSend(stranger, "POST", "/device/v1/checkin", body).status, 401);
  auto rejected = sink_.WithAction("auth.device_rejected");
  ASSERT_EQ(rejected.size(), 5u);
  EXPECT_EQ(rejected[0].Get("event.reason"), "replayed_nonce");
  EXPECT_EQ(rejected[1].Get("event.reason"), "bad_signature");
  EXPECT_EQ(rejected[2].Get("event.reason"), "retired_device");
  EXPECT_EQ(rejected[3].Get("event.reason"), "unknown_device");
  EXPECT_EQ(rejected[4].Get("event.reason"), "unknown_device");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rejected[i].Get("device.id"), i < 2 ? d.id : retired.id);
    EXPECT_EQ(rejected[i].institution_id, inst_a_);
  }
  EXPECT_EQ(rejected[3].Get("device.id"), "dev_0000000000000000deadbeef");
  EXPECT_EQ(rejected[3].institution_id, "");
  EXPECT_EQ(rejected[4].Get("device.id"), "") << "not an id's shape: not repeated";
  for (const auto& e : rejected) {
    EXPECT_EQ(e.Get("source.ip"), "127.0.0.1");
    EXPECT_EQ(e.Get("url.path"), "/device/v1/checkin");
    EXPECT_EQ(e.actor_institution_id, "");
  }
}

// Requests the front door refuses before App::Handle (malformed, too large, rate limited) are
// events too.
TEST_F(AlertsApiTest, FrontDoorRefusalsAreEvents) {
  app_->RecordViolation("198.51.100.3", "rate_limited", 429);
  app_->RecordViolation("198.51.100.4", "read_timeout", 0);
  auto refused = sink_.WithAction("http.violation");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].Get("source.ip"), "198.51.100.3");
  EXPECT_EQ(refused[0].Get("http.violation.reason"), "rate_limited");
  EXPECT_EQ(refused[0].Get("http.response.status_code"), "429");
  EXPECT_EQ(refused[1].Get("http.violation.reason"), "read_timeout");
  EXPECT_EQ(refused[1].Get("http.response.status_code"), "") << "nothing was answered";
}

TEST_F(AlertsApiTest, RevokedTokenStillNamesItselfForCanaries) {
  std::string helper = Issue(core::Role::kAuditor, inst_a_);
  Reply me = Send("GET", "/api/v1/tokens", admin_a_);
  std::string id;
  for (const auto& t : me.body["items"]) {
    if (t["role"] == "auditor") id = t["id"];
  }
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(Send("DELETE", "/api/v1/tokens/" + id, admin_a_).status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/devices", helper).status, 401);
  auto rejected = sink_.WithAction("auth.token_rejected");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].Get("user.name"), id);
}

TEST_F(AlertsApiTest, ListGetAcknowledgeWithScopes) {
  core::Alert a1 = Record(inst_a_, "r1", "source.ip=192.0.2.1", "high", 1769760000);
  core::Alert a2 = Record(inst_a_, "r2", "user.name=tok_x", "critical", 1769760100);
  core::Alert b1 = Record(inst_b_, "r1", "source.ip=192.0.2.1", "high", 1769760200);
  core::Alert s1 = Record("", "r1", "source.ip=203.0.113.50", "critical", 1769760300);

  Reply list = Send("GET", "/api/v1/alerts", admin_a_);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["items"].size(), 2u) << "own institution only, no server-wide alerts";
  EXPECT_EQ(list.body["items"][0]["id"], a1.id);
  EXPECT_EQ(list.body["items"][0]["evidence"][0]["url.path"], "/x");
  EXPECT_EQ(list.body["items"][0]["first_seen"], "2026-01-30T08:00:00Z");

  Reply all = Send("GET", "/api/v1/alerts?severity=critical&limit=1", superadmin_);
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(all.body["items"].size(), 1u);
  EXPECT_EQ(all.body["items"][0]["id"], a2.id);
  ASSERT_TRUE(all.body["next_cursor"].is_string());
  Reply next = Send("GET",
                    "/api/v1/alerts?severity=critical&limit=1&cursor=" +
                        all.body["next_cursor"].get<std::string>(),
                    superadmin_);
  ASSERT_EQ(next.body["items"].size(), 1u);
  EXPECT_EQ(next.body["items"][0]["id"], s1.id);
  EXPECT_TRUE(next.body["items"][0]["institution_id"].is_null());

  EXPECT_EQ(Send("GET", "/api/v1/alerts?rule=r1&since=2026-01-30T08:03:00Z", superadmin_)
                .body["items"]
                .size(),
            2u);
  EXPECT_EQ(Send("GET", "/api/v1/alerts?entity=source.ip%3D192.0.2.1&until=1769760100", superadmin_)
                .body["items"]
                .size(),
            1u);
  // An explicit bound at the epoch is a bound: nothing was first seen by then.
  EXPECT_EQ(Send("GET", "/api/v1/alerts?until=0", superadmin_).body["items"].size(), 0u);
  EXPECT_EQ(Send("GET", "/api/v1/alerts?since=0", superadmin_).body["items"].size(),
            Send("GET", "/api/v1/alerts", superadmin_).body["items"].size());
  EXPECT_EQ(Send("GET", "/api/v1/alerts?severity=severe", admin_a_).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/alerts?since=yesterday", admin_a_).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/alerts?status=closed", admin_a_).status, 400);
  // since bounds last_seen and until first_seen: since after until asks for the alerts that
  // span the whole interval between them, a valid question.
  EXPECT_EQ(Send("GET", "/api/v1/alerts?since=1769760100&until=1769760000", admin_a_).status, 200);

  EXPECT_EQ(Send("GET", "/api/v1/alerts/" + b1.id, admin_a_).status, 404);
  EXPECT_EQ(Send("GET", "/api/v1/alerts/" + s1.id, admin_a_).status, 404);
  EXPECT_EQ(Send("GET", "/api/v1/alerts/" + s1.id, superadmin_).status, 200);

  std::string auditor = Issue(core::Role::kAuditor, inst_a_);
  std::string analyst = Issue(core::Role::kAnalyst, inst_a_);
  std::string helpdesk = Issue(core::Role::kHelpdesk, inst_a_);
  EXPECT_EQ(Send("GET", "/api/v1/alerts/" + a1.id, auditor).status, 200);
  EXPECT_EQ(Send("GET", "/api/v1/alerts", helpdesk).status, 403);
  EXPECT_EQ(Send("POST", "/api/v1/alerts/" + a1.id + "/acknowledge", auditor).status, 403);
  EXPECT_EQ(Send("POST", "/api/v1/alerts/" + b1.id + "/acknowledge", analyst).status, 404);
  // A body, when given, is a reason; anything else is refused and acknowledges nothing.
  EXPECT_EQ(
      Send("POST", "/api/v1/alerts/" + a1.id + "/acknowledge", analyst, std::string("{not json"))
          .status,
      400);
  EXPECT_EQ(Send("POST", "/api/v1/alerts/" + a1.id + "/acknowledge", analyst,
                 json{{"reason", "x"}, {"colour", "red"}})
                .status,
            400);
  EXPECT_EQ(Send("GET", "/api/v1/alerts/" + a1.id, admin_a_).body["status"], "open");
  Reply ack = Send("POST", "/api/v1/alerts/" + a1.id + "/acknowledge", analyst,
                   json{{"reason", "scanner of the pentest team"}});
  ASSERT_EQ(ack.status, 200) << ack.raw;
  EXPECT_EQ(ack.body["status"], "acknowledged");
  EXPECT_TRUE(ack.body["acknowledged_by"].get<std::string>().starts_with("tok_"));
  EXPECT_EQ(Send("GET", "/api/v1/alerts?status=open", admin_a_).body["items"].size(), 1u);
}

// An analyst asks for what matters first: a severity floor, and the newest alerts first, page
// after page in that order.
TEST_F(AlertsApiTest, ASeverityFloorAndTheNewestFirst) {
  std::vector<std::string> ids;
  const std::vector<std::string> levels = {"low", "medium", "high", "critical", "informational"};
  for (size_t i = 0; i < levels.size(); ++i) {
    ids.push_back(Record("", "r" + std::to_string(i), "source.ip=192.0.2.9", levels[i],
                         1769760000 + static_cast<int64_t>(i) * 60)
                      .id);
  }
  auto listed = [&](const std::string& query) {
    Reply r = Send("GET", "/api/v1/alerts?" + query, superadmin_);
    EXPECT_EQ(r.status, 200) << query << ": " << r.raw;
    std::vector<std::string> out;
    for (const auto& item : r.body["items"]) out.push_back(item["id"]);
    return std::make_pair(out, r.body.value("next_cursor", json()).is_string()
                                   ? r.body["next_cursor"].get<std::string>()
                                   : std::string());
  };
  EXPECT_EQ(listed("min_severity=high").first, (std::vector<std::string>{ids[2], ids[3]}));
  EXPECT_EQ(listed("min_severity=critical").first, (std::vector<std::string>{ids[3]}));
  EXPECT_EQ(listed("min_severity=informational").first.size(), 5u);
  EXPECT_EQ(listed("min_severity=low").first.size(), 4u);
  EXPECT_EQ(listed("order=newest&min_severity=medium").first,
            (std::vector<std::string>{ids[3], ids[2], ids[1]}));
  EXPECT_EQ(listed("order=oldest").first, ids);
  // Newest first, two at a time, to the end.
  std::vector<std::string> pages;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    auto [items, next] =
        listed("order=newest&limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    pages.insert(pages.end(), items.begin(), items.end());
    if (next.empty()) break;
    cursor = next;
  }
  EXPECT_EQ(pages, (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
  EXPECT_EQ(Send("GET", "/api/v1/alerts?min_severity=severe", superadmin_).status, 400);
  EXPECT_EQ(Send("GET", "/api/v1/alerts?order=random", superadmin_).status, 400);
}

}  // namespace
}  // namespace rampart::api::testing
