// `rampart scan` as an analyst types it: repeatable --rules and --iocs before several log files,
// a gzip log cut short, and usage errors. Runs the real binary; no server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/harness.h"

namespace rampart::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kExploitLine[] =
    "203.0.113.5 - - [30/Jan/2026:02:13:24 +0100] \"GET "
    "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=$(id),h=x/a.ipa HTTP/1.1\" 404 0 \"-\" \"curl/8.0\"";
constexpr char kFeedAddress[] = "198.51.100.7";

class ScanCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rampart_scan_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "rules");
    Write("a.log", std::string(kExploitLine) +
                       "\n10.0.0.1 - - [30/Jan/2026:02:13:25 +0100] \"GET /mifs/login.jsp "
                       "HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0\"\n");
    Write("b.log",
          "10.0.0.2 - - [30/Jan/2026:02:13:26 +0100] \"GET /mifs/css/x.css HTTP/1.1\" "
          "200 10 \"-\" \"Mozilla/5.0\"\n" +
              std::string(kFeedAddress) +
              " - - [30/Jan/2026:02:13:27 +0100] \"GET /mifs/canary-doc HTTP/1.1\" 200 "
              "10 \"-\" \"Mozilla/5.0\"\n");
    Write("feed.csv", std::string("ip,") + kFeedAddress + ",test-feed\n");
    Write("rules/canary_doc.yml",
          "title: Canary document fetched\nid: 6f1d2c3e-0000-4000-8000-00000000c0de\n"
          "logsource: {category: webserver}\ndetection:\n  sel:\n    cs-uri-stem|endswith: "
          "/canary-doc\n  condition: sel\nlevel: high\ntags: [attack.t1005]\n");
    Write("rules/fob.yml",
          "title: fob path\nid: 6f1d2c3e-0000-4000-8000-0000000000f0\n"
          "logsource: {category: webserver}\ndetection:\n  sel:\n    cs-uri-stem|contains: "
          "/fob/\n  condition: sel\nlevel: high\ntags: [attack.t1190]\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // The alerts printed in jsonl, as (file name, line, rule).
  static std::set<std::tuple<std::string, int, std::string>> Alerts(const std::string& out) {
    std::set<std::tuple<std::string, int, std::string>> alerts;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      json a = json::parse(line, nullptr, false);
      EXPECT_FALSE(a.is_discarded()) << line;
      if (a.is_discarded()) continue;
      alerts.emplace(fs::path(a["file"].get<std::string>()).filename().string(),
                     a["line"].get<int>(), a["rule"].get<std::string>());
    }
    return alerts;
  }

  fs::path dir_;
};

// Regression: --iocs and --rules took every word after them, so all log files but the last
// were read as feeds or rule directories and never scanned (exit 0, no alert).
TEST_F(ScanCliTest, EveryLogFileAfterRepeatedOptionsIsScanned) {
  ProcResult r = e2e::Run({kRampart, "scan", "--iocs", Path("feed.csv"), "--rules", Path("rules"),
                           Path("a.log"), Path("b.log")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto alerts = Alerts(r.out);
  EXPECT_TRUE(alerts.contains({"b.log", 2, "ioc"})) << r.out;
  EXPECT_TRUE(alerts.contains({"b.log", 2, "6f1d2c3e-0000-4000-8000-00000000c0de"})) << r.out;
  EXPECT_TRUE(alerts.contains({"a.log", 1, "6f1d2c3e-0000-4000-8000-0000000000f0"})) << r.out;
  EXPECT_EQ(alerts.size(), 3u) << r.out;
  EXPECT_NE(r.err.find("a.log: format combined"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("4 lines"), std::string::npos) << r.err;

  // The `--opt=value` spelling and options after the files say the same.
  ProcResult again = e2e::Run({kRampart, "scan", Path("a.log"), "--iocs=" + Path("feed.csv"),
                               Path("b.log"), "--rules=" + Path("rules")});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Alerts(again.out), alerts);
}

TEST_F(ScanCliTest, AGzipLogCutShortIsAReadErrorNotACompleteScan) {
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    text += "10.0.0." + std::to_string(i % 250) +
            " - - [30/Jan/2026:02:13:25 +0100] \"GET /mifs/admin/rest/api/v2/device?offset=" +
            std::to_string(i) + " HTTP/1.1\" 200 " + std::to_string(1000 + i) +
            " \"-\" \"Mozilla/5.0\"\n";
  }
  Write("big.log", text);
  ProcResult zipped = e2e::Run({"/usr/bin/gzip", "-k", Path("big.log")});
  ASSERT_EQ(zipped.exit_code, 0) << zipped.err;
  ProcResult whole = e2e::Run({kRampart, "scan", Path("big.log.gz")});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_NE(whole.err.find("20000 lines"), std::string::npos) << whole.err;

  fs::resize_file(dir_ / "big.log.gz", fs::file_size(dir_ / "big.log.gz") / 2);
  ProcResult cut = e2e::Run({kRampart, "scan", Path("big.log.gz")});
  EXPECT_EQ(cut.exit_code, 1) << cut.err;
  EXPECT_NE(cut.err.find("ends inside its gzip stream"), std::string::npos) << cut.err;
}

// A layout of one's own, as an analyst types it: the nginx format string in single quotes.
TEST_F(ScanCliTest, ADeclaredLayoutIsReadAsTheServerWroteIt) {
  Write("timed.log",
        "10.0.0.2 [30/Jan/2026:02:13:25 +0100] \"GET /mifs/c/appstore/fob/3/5/a.ipa HTTP/1.1\" "
        "404 0.004 \"203.0.113.9\"\n"
        "10.0.0.2 [30/Jan/2026:02:13:26 +0100] \"GET /x HTTP/1.1\" 200 \"198.51.100.1\"\n");
  const std::string layout =
      R"(--log-format=nginx:$remote_addr [$time_local] "$request" $status $request_time )"
      R"("$http_x_forwarded_for")";
  ProcResult r = e2e::Run({kRampart, "scan", "--rules", Path("rules"), "--trusted-proxy",
                           "10.0.0.2", layout, Path("timed.log")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Alerts(r.out).size(), 1u) << r.out;
  EXPECT_NE(r.out.find("\"source_ip\":\"203.0.113.9\""), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 of 2 lines not in the --log-format layout (first at line 2)"),
            std::string::npos)
      << r.err;

  ProcResult unquoted = e2e::Run({kRampart, "scan", "--log-format",
                                  "nginx:$remote_addr $http_x_forwarded_for", Path("timed.log")});
  EXPECT_EQ(unquoted.exit_code, 2);
  EXPECT_NE(unquoted.err.find("must be between quotes"), std::string::npos) << unquoted.err;
  EXPECT_TRUE(unquoted.out.empty());
}

TEST_F(ScanCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(e2e::Run({kRampart, "scan", "--rules", Path("no-such-dir"), Path("a.log")}).exit_code,
            2);
  EXPECT_EQ(
      e2e::Run({kRampart, "scan", "--iocs", Path("no-such-feed.csv"), Path("a.log")}).exit_code, 2);
  EXPECT_EQ(e2e::Run({kRampart, "scan", "--format", "xml", Path("a.log")}).exit_code, 2);
  ProcResult no_files = e2e::Run({kRampart, "scan", "--iocs", Path("feed.csv")});
  EXPECT_EQ(no_files.exit_code, 2);
  EXPECT_NE(no_files.err.find("LOGFILE"), std::string::npos) << no_files.err;
  EXPECT_EQ(e2e::Run({kRampart, "rules", "check"}).exit_code, 2);
}

}  // namespace
}  // namespace rampart::e2e
