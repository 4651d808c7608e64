// File integrity end to end: the real `rampart serve` watches a web root; a webshell dropped as
// mifs/403.jsp (as in the January 2026 Ivanti EPMM intrusion) becomes an alert visible through
// GET /api/v1/alerts. `rampart integrity baseline` then accepts the file and lists it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

const std::string kWebshellRule = "0f4d6a52-3c1e-4b7a-9d2e-6a8b1c5e7f30";

TEST(IntegrityE2e, DroppedWebshellBecomesAnAlert) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = fs::temp_directory_path() / ("rampart_integrity_e2e_" + crypto::RandomHex(6));
  fs::path web = dir / "web";
  fs::create_directories(web / "mifs");
  { std::ofstream(web / "mifs" / "login.jsp") << "<% login %>"; }
  std::string data = (dir / "data").string();
  std::string config = (dir / "rampart.yml").string();
  const fs::path access_log = dir / "access.log";
  { std::ofstream(access_log) << ""; }
  {
    std::ofstream out(config);
    out << "detection:\n"
        << "  integrity_paths: [\"" << web.string() << "\"]\n"
        << "  follow: [\"" << access_log.string() << "\"]\n";
  }
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;
  const std::string& ca = demo.ca;
  const std::string& superadmin = demo.superadmin;
  struct stat st {};
  ASSERT_EQ(::stat((data + "/detect/integrity_baseline.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const fs::path shell = web / "mifs" / "403.jsp";
  auto dropped = std::chrono::steady_clock::now();
  { std::ofstream(shell) << "<%@ page import=\"java.util.*\" %><% /* k0f53cf964d387 */ %>"; }
  json found;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && found.is_null()) {
    ApiReply list =
        CallApi(server.url(), ca, superadmin, "GET", "/api/v1/alerts?rule=" + kWebshellRule);
    ASSERT_EQ(list.status, 200) << list.raw;
    if (!list.body["items"].empty()) found = list.body["items"][0];
    if (found.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
                     std::chrono::steady_clock::now() - dropped)
                     .count();
  ASSERT_FALSE(found.is_null()) << "no webshell alert; server log:\n" << server.log();
  std::printf("file dropped -> alert visible through GET /api/v1/alerts: %.1f ms\n",
              latency / 1000.0);
  EXPECT_EQ(found["severity"], "critical");
  EXPECT_EQ(found["entity"], "file.path=" + shell.string());
  EXPECT_NE(std::find(found["attack"].begin(), found["attack"].end(), "T1505.003"),
            found["attack"].end());
  const json& ev = found["evidence"][0];
  EXPECT_EQ(ev["event.action"], "file.created");
  EXPECT_EQ(ev["file.in_baseline"], "false");
  EXPECT_EQ(ev["file.hash.sha256"],
            crypto::Sha256Hex("<%@ page import=\"java.util.*\" %><% /* k0f53cf964d387 */ %>"));
  ApiReply metrics = CallApi(server.url(), ca, superadmin, "GET", "/metrics");
  EXPECT_NE(metrics.raw.find("rampart_integrity_events_total 1\n"), std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("rampart_integrity_baseline_files 1\n"), std::string::npos);

  // The web server's access log then shows the new file called with parameters: the engine
  // joins the two (detect/new_file_use.h), whatever the file is named.
  {
    std::ofstream(access_log, std::ios::app)
        << "mdm.example.eu:443 203.0.113.77 - - [30/Jan/2026:02:13:24 +0100] \"POST "
           "/mifs/403.jsp HTTP/1.1\" 200 64 \"-\" \"curl/8.0\"\n";
  }
  json called;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && called.is_null()) {
    ApiReply list = CallApi(server.url(), ca, superadmin, "GET",
                            "/api/v1/alerts?rule=rampart-new-script-called");
    ASSERT_EQ(list.status, 200) << list.raw;
    if (!list.body["items"].empty()) called = list.body["items"][0];
    if (called.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(called.is_null()) << "no new-script alert; server log:\n" << server.log();
  EXPECT_EQ(called["severity"], "critical");
  EXPECT_EQ(called["entity"], "file.path=" + shell.string());
  EXPECT_EQ(called["evidence"][0]["source.ip"], "203.0.113.77");
  EXPECT_EQ(server.Stop(), 0);

  // The operator accepts the tree as it is now: the command lists what it accepts.
  auto r = e2e::Run({kRampart, "integrity", "baseline", "--data", data, "--config", config});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("accepted added: " + shell.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 files under 1 roots; 1 differences accepted"), std::string::npos)
      << r.out;
  // Without integrity paths there is nothing to baseline: usage error.
  std::string empty_config = (dir / "empty.yml").string();
  { std::ofstream(empty_config) << "log_level: info\n"; }
  EXPECT_EQ(e2e::Run({kRampart, "integrity", "baseline", "--data", data, "--config", empty_config})
                .exit_code,
            2);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace rampart::e2e
