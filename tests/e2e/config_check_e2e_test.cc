// `rampart config check` as an operator runs it before a restart: the real binary on a
// configuration that serve starts with, and on one with a fault in each part it tries. Its
// verdict is compared with the real `rampart serve` on the same files, and it must leave the
// data directory it is given as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "tests/e2e/harness.h"

namespace rampart::e2e {
namespace {

namespace fs = std::filesystem;

// The row for `key` ("ok\tdetection\t..."), or "" when there is none.
std::string Row(const std::string& out, const std::string& level, const std::string& key) {
  const std::string start = level + "\t" + key + "\t";
  for (size_t at = 0; at < out.size();) {
    size_t eol = out.find('\n', at);
    if (eol == std::string::npos) eol = out.size();
    std::string line = out.substr(at, eol - at);
    if (line.starts_with(start)) return line;
    at = eol + 1;
  }
  return "";
}

class ConfigCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
    dir_ = FreshTestDir("rampart_config_check");
    fs::create_directories(dir_ / "rules");
    fs::create_directories(dir_ / "logs");
    WriteFile(Path("feed.csv"), "ip,198.51.100.7,test-feed\n");
    WriteFile(Path("logs/access.log"), "");
    WriteFile(Path("rules/canary.yml"),
              "title: Canary document fetched\nid: 6f1d2c3e-0000-4000-8000-00000000c0de\n"
              "logsource: {category: webserver}\ndetection:\n  sel:\n    cs-uri-stem|endswith: "
              "/canary-doc\n  condition: sel\nlevel: high\ntags: [attack.t1005]\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // A configuration following the test's log in `layout`, with the test's rules and `feed`.
  std::string Config(const std::string& name, const std::string& layout,
                     const std::string& extra = "", const std::string& feed = "feed.csv") {
    WriteFile(Path(name),
              "response:\n  playbooks: true\n  never_block: [\"10.0.0.0/8\"]\n"
              "detection:\n  rule_dirs: [\"" +
                  Path("rules") + "\"]\n  ioc_files: [\"" + Path(feed) + "\"]\n  follow: [\"" +
                  Path("logs/access.log") + "\"]\n  follow_formats:\n    \"" +
                  Path("logs/access.log") + "\": '" + layout + "'\n" + extra);
    return Path(name);
  }

  fs::path dir_;
};

TEST_F(ConfigCheckTest, AConfigurationServeStartsWithPasses) {
  const std::string config =
      Config("good.yml", R"(nginx:$remote_addr [$time_local] "$request" $status)");
  const std::string data = Path("data");
  ProcResult r = e2e::Run({kRampart, "config", "check", "--config", config, "--data", data});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(Row(r.out, "ok", "config"), "") << r.out;
  EXPECT_NE(Row(r.out, "ok", "detection").find(", 1 indicator"), std::string::npos) << r.out;
  EXPECT_NE(Row(r.out, "ok", "detection.follow_formats").find("1 declared layout"),
            std::string::npos)
      << r.out;
  EXPECT_NE(Row(r.out, "ok", "response.playbooks"), "") << r.out;
  EXPECT_NE(r.out.find("0 errors, 0 warnings\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "") << "the parts it tries log nowhere";
  EXPECT_FALSE(fs::exists(data)) << "a check creates nothing";

  // The verdict is serve's: it starts on the same file.
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.Start(data, {"--config", config}, &error)) << error;
  EXPECT_EQ(server.Stop(), 0);
}

TEST_F(ConfigCheckTest, EachFaultIsNamedByItsKeyAndServeRefusesTheSameFile) {
  // A broken feed and a rule with an unknown modifier: serve starts without them (warnings).
  WriteFile(Path("broken.json"), "{\"type\": \"bundle\", \"objects\": [");
  WriteFile(Path("rules/odd.yml"),
            "title: Odd\nid: 6f1d2c3e-0000-4000-8000-0000000000dd\nlogsource: {category: "
            "webserver}\ndetection:\n  s:\n    c-uri|base64offset: a\n  condition: s\nlevel: "
            "high\n");
  const std::string warned = Config(
      "warned.yml", R"(nginx:$remote_addr [$time_local] "$request" $status)", "", "broken.json");
  ProcResult w = e2e::Run({kRampart, "config", "check", "--config", warned});
  EXPECT_EQ(w.exit_code, 0) << w.out;
  EXPECT_NE(Row(w.out, "warn", "detection.ioc_files").find("broken.json"), std::string::npos)
      << w.out;
  EXPECT_NE(Row(w.out, "warn", "detection.rule_dirs").find("base64offset"), std::string::npos)
      << w.out;
  EXPECT_NE(w.out.find("0 errors, 2 warnings\n"), std::string::npos) << w.out;
  EXPECT_EQ(e2e::Run({kRampart, "config", "check", "--config", warned, "--strict"}).exit_code, 1);

  // Faults serve stops on, one per file: check names each by its key, and serve refuses the
  // same file with the same key in its message.
  const std::string good_layout = R"(nginx:$remote_addr [$time_local] "$request" $status)";
  struct Fault {
    std::string name, layout, extra, row_key, serve_says;
  };
  const std::vector<Fault> faults = {
      {"layout", R"(nginx:$remote_addr$remote_user)", "", "detection.follow_formats",
       "detection.follow_formats"},
      {"syslog_tls", good_layout,
       "  syslog_tls_listen: \"127.0.0.1:0\"\n  syslog_tls_cert: \"" + Path("no-cert.pem") +
           "\"\n  syslog_tls_key: \"" + Path("no-key.pem") + "\"\n",
       "detection.syslog_tls_cert", "syslog_tls_cert"},
      {"alerts_file", good_layout,
       "  alerts_file: \"" + Path("no-such-folder/alerts.jsonl") + "\"\n", "detection.alerts_file",
       "cannot open alert file"},
      {"syslog_listen", good_layout, "  syslog_listen: \"localhost:5514\"\n", "config",
       "not a numeric IP address"},
  };
  for (const Fault& f : faults) {
    SCOPED_TRACE(f.name);
    const std::string config = Config(f.name + ".yml", f.layout, f.extra);
    ProcResult b = e2e::Run({kRampart, "config", "check", "--config", config});
    EXPECT_EQ(b.exit_code, 1) << b.out;
    EXPECT_NE(Row(b.out, "error", f.row_key), "") << b.out;
    EXPECT_NE(b.out.find("\n1 error, "), std::string::npos) << b.out;
    ServerProcess server;
    std::string error;
    EXPECT_FALSE(server.Start(Path("data-" + f.name), {"--config", config}, &error));
    EXPECT_NE(error.find(f.serve_says), std::string::npos) << error;
  }
  EXPECT_FALSE(fs::exists(Path("no-such-folder"))) << "the alert file's folder is not made";

  // The metrics listener on the address serve listens on (given as serve would be).
  const std::string clash =
      Config("clash.yml", good_layout, "http:\n  metrics_listen: \"127.0.0.1:9443\"\n");
  ProcResult c =
      e2e::Run({kRampart, "config", "check", "--config", clash, "--listen", "127.0.0.1:9443"});
  EXPECT_EQ(c.exit_code, 1) << c.out;
  EXPECT_NE(Row(c.out, "error", "http.metrics_listen").find("its own port"), std::string::npos)
      << c.out;
  EXPECT_EQ(e2e::Run({kRampart, "config", "check", "--config", clash, "--listen", "127.0.0.1:9444"})
                .exit_code,
            0);

  // A file that cannot be read, or is not a configuration, is the first and only row.
  ProcResult missing = e2e::Run({kRampart, "config", "check", "--config", Path("nope.yml")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(Row(missing.out, "error", "config").find("nope.yml"), std::string::npos) << missing.out;
  WriteFile(Path("unknown.yml"), "detection:\n  bogus: 1\n");
  ProcResult unknown = e2e::Run({kRampart, "config", "check", "--config", Path("unknown.yml")});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(Row(unknown.out, "error", "config").find("detection.bogus"), std::string::npos)
      << unknown.out;
  EXPECT_NE(e2e::Run({kRampart, "config", "check"}).exit_code, 0) << "--config is required";
}

}  // namespace
}  // namespace rampart::e2e
