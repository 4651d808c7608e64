// Incidents end to end: the real `rampart serve` (with its keeper child) receives a
// CVE-2026-1281-shaped request; the alert opens an incident that is read, moved through its
// states, annotated, and drafted into every report kind in every format.
#include <gtest/gtest.h>

#include <chrono>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

TEST(IncidentsE2e, ExploitOpensAnIncidentThatIsHandledAndReported) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = fs::temp_directory_path() / ("rampart_incidents_e2e_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  std::string data = (dir / "data").string();
  std::string config = (dir / "rampart.yml").string();
  {
    std::ofstream out(config);
    // The exploit comes from the test's own 127.0.0.1: the bundled playbook would block it and
    // lock this client out, and this test walks an uncontained incident through its states by
    // hand (respond_e2e_test and breach_replay_test cover the playbooks).
    out << "response:\n"
        << "  playbooks: false\n"
        << "incidents:\n"
        << "  organisation: \"Test <Agency>\"\n"
        << "  dpo_email: \"dpo@test.example.eu\"\n";
  }
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;
  const std::string& ca = demo.ca;
  const std::string& superadmin = demo.superadmin;
  const std::string& admin = demo.admin;

  EXPECT_EQ(CallApi(server.url(), ca, "", "GET", kFobInjectionProbe).status, 404);

  json summary = WaitForIncident(server.url(), ca, superadmin, "source.ip=127.0.0.1", "?state=new");
  ASSERT_FALSE(summary.is_null()) << "no incident for the exploit request; server log:\n"
                                  << server.log();
  EXPECT_TRUE(summary["institution_id"].is_null()) << "an unauthenticated probe is server-wide";
  EXPECT_EQ(summary["severity"], "critical");
  const std::string id = summary["id"];
  const std::string base = "/api/v1/incidents/" + id;

  ApiReply got = CallApi(server.url(), ca, superadmin, "GET", base);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.body["alerts"].size(), 1u);
  EXPECT_GE(got.body["figures"]["time_to_detect_seconds"].get<int64_t>(), 0);
  // Computed in milliseconds (event time to the alert's storing); the seconds are the same value.
  const int64_t detect_ms = got.body["figures"]["time_to_detect_ms"].get<int64_t>();
  EXPECT_GE(detect_ms, 0);
  EXPECT_EQ(got.body["figures"]["time_to_detect_seconds"].get<int64_t>(), detect_ms / 1000);
  EXPECT_EQ(got.body["figures"]["time_to_contain_ms"], -1);
  EXPECT_GT(got.body["timeline"][0]["at_ms"].get<int64_t>(), 0);
  EXPECT_EQ(got.body["figures"]["contained"], false);
  EXPECT_EQ(got.body["figures"]["staff_records_read"], 0);
  EXPECT_EQ(got.body["timeline"][0]["kind"], "first_malicious_event");
  EXPECT_NE(got.raw.find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(got.body["deadlines"].size(), 3u);

  // Server-wide: not visible to an institution admin; lists stay empty for it.
  EXPECT_EQ(CallApi(server.url(), ca, admin, "GET", base).status, 404);
  EXPECT_TRUE(CallApi(server.url(), ca, admin, "GET", "/api/v1/incidents").body["items"].empty());

  ApiReply moved =
      CallApi(server.url(), ca, superadmin, "POST", base + "/transition",
              json{{"state", "triaged"}, {"reason", "exploit probe confirmed"}}.dump());
  ASSERT_EQ(moved.status, 200) << moved.raw;
  EXPECT_EQ(moved.body["state"], "triaged");
  ApiReply back = CallApi(server.url(), ca, superadmin, "POST", base + "/transition",
                          json{{"state", "new"}}.dump());
  EXPECT_EQ(back.status, 409) << back.raw;
  EXPECT_TRUE(back.body.contains("error"));
  EXPECT_EQ(CallApi(server.url(), ca, superadmin, "POST", base + "/transition",
                    json{{"state", "reopened"}}.dump())
                .status,
            400);
  ApiReply note = CallApi(server.url(), ca, superadmin, "POST", base + "/notes",
                          json{{"text", "Probe from the loopback test client"}}.dump());
  EXPECT_EQ(note.status, 201) << note.raw;
  EXPECT_EQ(CallApi(server.url(), ca, superadmin, "POST", base + "/notes",
                    json{{"text", std::string("bell\x07")}}.dump())
                .status,
            400);
  got = CallApi(server.url(), ca, superadmin, "GET", base);
  ASSERT_EQ(got.body["entries"].size(), 2u);
  EXPECT_EQ(got.body["state"], "triaged");
  const json figures = got.body["figures"];

  for (std::string kind :
       {"early-warning", "notification", "final", "personal-data-breach", "stix"}) {
    for (std::string format : {"md", "json", "html"}) {
      SCOPED_TRACE(kind + " " + format);
      ApiReply r = CallApi(server.url(), ca, superadmin, "GET",
                           base + "/reports/" + kind + "?format=" + format);
      ASSERT_EQ(r.status, 200) << r.raw;
      EXPECT_FALSE(r.raw.empty());
      if (format == "json" && kind == "stix") {
        EXPECT_EQ(r.body["type"], "bundle");
        EXPECT_FALSE(r.body["objects"].empty());
      } else if (format == "json") {
        EXPECT_EQ(r.body["figures"]["time_to_detect_seconds"], figures["time_to_detect_seconds"]);
        EXPECT_EQ(r.body["figures"]["time_to_detect_ms"], figures["time_to_detect_ms"]);
        EXPECT_EQ(r.body["figures"]["device_verdict"], figures["device_verdict"]);
      } else if (format == "html") {
        EXPECT_NE(r.raw.find("Test &lt;Agency&gt;"), std::string::npos);
        EXPECT_EQ(r.raw.find("Test <Agency>"), std::string::npos);
      } else {
        EXPECT_NE(r.raw.find("# "), std::string::npos);
      }
    }
  }
  ApiReply markdown = CallApi(server.url(), ca, superadmin, "GET", base + "/reports/final");
  EXPECT_EQ(markdown.status, 200) << "Markdown is the default format";
  EXPECT_EQ(markdown.raw.rfind("# NIS2", 0), 0u) << markdown.raw;
  EXPECT_EQ(CallApi(server.url(), ca, superadmin, "GET", base + "/reports/pdf").status, 400);
  EXPECT_EQ(CallApi(server.url(), ca, superadmin, "GET", base + "/reports/final?format=pdf").status,
            400);

  EXPECT_EQ(server.Stop(), 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace rampart::e2e
