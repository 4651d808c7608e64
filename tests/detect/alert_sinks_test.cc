// Alert sinks against real receivers on loopback: a temporary file, a UDP socket standing in
// for a syslog collector, and an HTTP server standing in for a webhook (signature checked, one
// failure answered first so that the retry is exercised).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/crypto.h"
#include "detect/alert_sinks.h"
#include "http/server.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;

core::Alert SampleAlert() {
  core::Alert a;
  a.id = "alr_1";
  a.rule_id = "3b672e5c-3104-49c7-bfeb-7d14e1035b40";
  a.rule_title = "EPMM injection";
  a.entity = "source.ip=203.0.113.50";
  a.severity = "critical";
  a.attack = {"T1190"};
  a.evidence = {R"({"url.path":"/mifs/c/appstore/fob/x","source.ip":"203.0.113.50"})"};
  a.first_seen = a.last_seen = 1769760000;
  a.count = 3;
  return a;
}

template <typename F>
bool WaitFor(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(AlertSinksTest, JsonLinesFileGetsOneObjectPerAlert) {
  fs::path path = fs::temp_directory_path() / ("rampart_alerts_" + crypto::RandomHex(6) + ".jsonl");
  {
    auto out = OpenJsonLinesOutput(path.string());
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    AsyncAlertSink sink(std::move(out).value(), 16);
    core::Alert second = SampleAlert();
    second.id = "alr_2";
    sink.Submit(SampleAlert());
    sink.Submit(second);
    sink.Stop();
    EXPECT_EQ(sink.stats().delivered, 2u);
  }
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["rule"], SampleAlert().rule_id);
    EXPECT_EQ(j["count"], 3);
    EXPECT_EQ(j["evidence"][0]["source.ip"], "203.0.113.50");
    EXPECT_TRUE(j["institution_id"].is_null());
    ++n;
  }
  EXPECT_EQ(n, 2);
  fs::remove(path);
}

// logrotate moves the file away: later alerts go to a new file at the path.
TEST(AlertSinksTest, JsonLinesFileFollowsRotation) {
  fs::path path = fs::temp_directory_path() / ("rampart_alerts_" + crypto::RandomHex(6) + ".jsonl");
  auto out = OpenJsonLinesOutput(path.string());
  ASSERT_TRUE(out.ok());
  AsyncAlertSink sink(std::move(out).value(), 16);
  sink.Submit(SampleAlert());
  ASSERT_TRUE(WaitFor([&] { return sink.stats().delivered == 1; }));
  fs::rename(path, path.string() + ".1");
  core::Alert later = SampleAlert();
  later.id = "alr_after";
  sink.Submit(later);
  sink.Stop();
  auto lines = [](const fs::path& p) {
    std::ifstream in(p);
    std::vector<std::string> ids;
    for (std::string line; std::getline(in, line);) {
      ids.push_back(nlohmann::json::parse(line)["id"]);
    }
    return ids;
  };
  EXPECT_EQ(lines(path.string() + ".1"), std::vector<std::string>{"alr_1"});
  EXPECT_EQ(lines(path), std::vector<std::string>{"alr_after"});
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  fs::remove(path);
  fs::remove(path.string() + ".1");
}

TEST(AlertSinksTest, SyslogRfc5424OverUdpToALoopbackSocket) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto out = OpenSyslogOutput("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  AsyncAlertSink sink(std::move(out).value(), 16);
  core::Alert a = SampleAlert();
  a.entity = "user.name=tok_\"odd]\xff";
  a.evidence.assign(40, std::string(R"({"url.path":"/)") + std::string(100, 'x') + "\"}");
  sink.Submit(a);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  char buf[8192];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  std::string msg(buf, static_cast<size_t>(n));
  // local0 (16) * 8 + critical (2) = 130; version 1.
  EXPECT_EQ(msg.rfind("<130>1 ", 0), 0u) << msg;
  EXPECT_NE(msg.find(" rampart - ALERT [rampart@32473 id=\"alr_1\""), std::string::npos) << msg;
  // Structured data is UTF-8: a byte that is not becomes U+FFFD.
  EXPECT_NE(msg.find("entity=\"user.name=tok_\\\"odd\\]\xEF\xBF\xBD\""), std::string::npos) << msg;
  auto json_at = msg.find("] {");
  ASSERT_NE(json_at, std::string::npos);
  auto body = nlohmann::json::parse(msg.substr(json_at + 2));
  EXPECT_EQ(body["id"], "alr_1");
  // Over 2,048 bytes with its evidence: sent without it, the count said.
  EXPECT_LE(msg.size(), 2048u);
  EXPECT_TRUE(body["evidence"].empty());
  EXPECT_EQ(body["evidence_omitted"], 40);
  sink.Stop();
  ::close(fd);
}

TEST(AlertSinksTest, SyslogTimestampHasMillisecondsAndZone) {
  std::string m = FormatSyslog5424(SampleAlert(), "{}", "host1", 1769760000123);
  EXPECT_EQ(m.rfind("<130>1 2026-01-30T08:00:00.123Z host1 rampart - ALERT ", 0), 0u) << m;
}

TEST(AlertSinksTest, WebhookSignsTheBodyAndRetriesAfterAFailure) {
  const std::string secret = "webhook-secret-for-tests";
  std::mutex mu;
  std::vector<std::string> bodies;
  std::vector<std::string> signatures;
  std::atomic<int> calls{0};
  http::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.tls = false;
  so.threads = 1;
  http::HttpServer server(so, [&](http::Request& req) {
    std::lock_guard<std::mutex> lock(mu);
    bodies.push_back(req.body);
    signatures.emplace_back(req.Header("x-rampart-signature"));
    if (calls++ == 0) return http::Response::Error(503, "unavailable", "try later");
    return http::Response::Json(200, "{}");
  });
  ASSERT_TRUE(server.Start().ok());
  WebhookOptions w;
  w.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/hooks/rampart";
  w.secret = secret;
  w.max_attempts = 3;
  w.initial_backoff_ms = 20;
  auto out = OpenWebhookOutput(w);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  AsyncAlertSink sink(std::move(out).value(), 16);
  sink.Submit(SampleAlert());
  ASSERT_TRUE(WaitFor([&] { return sink.stats().delivered == 1; }));
  sink.Stop();
  server.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(bodies.size(), 2u) << "one failure, one retry";
  EXPECT_EQ(bodies[0], bodies[1]);
  for (const auto& sig : signatures) {
    EXPECT_EQ(sig, "sha256=" + crypto::HmacSha256Hex(secret, bodies[0]));
  }
  EXPECT_EQ(nlohmann::json::parse(bodies[0])["id"], "alr_1");
  EXPECT_EQ(sink.stats().failed, 0u);
}

TEST(AlertSinksTest, WebhookGivesUpAfterMaxAttemptsAndAFullQueueDrops) {
  // A port bound but never listened on: every connection attempt is refused at once.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  WebhookOptions w;
  w.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x";
  w.secret = "s";
  w.max_attempts = 2;
  w.initial_backoff_ms = 1;
  w.timeout_ms = 500;
  auto out = OpenWebhookOutput(w);
  ASSERT_TRUE(out.ok());
  AsyncAlertSink sink(std::move(out).value(), 1);
  for (int i = 0; i < 50; ++i) {
    core::Alert a = SampleAlert();
    a.id = "alr_" + std::to_string(i);
    sink.Submit(a);
  }
  ASSERT_TRUE(WaitFor([&] { return sink.stats().failed >= 1; }));
  sink.Stop();
  SinkStats s = sink.stats();
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_GT(s.dropped, 0u);
  EXPECT_EQ(s.failed + s.dropped, 50u);
  ::close(fd);
}

// Updates of an alert still waiting replace it in the queue: a storm of updates to a few
// alerts takes a few slots and drops nothing, and the newest state is what leaves.
TEST(AlertSinksTest, UpdatesOfAWaitingAlertReplaceIt) {
  fs::path path = fs::temp_directory_path() / ("rampart_alerts_" + crypto::RandomHex(6) + ".jsonl");
  auto out = OpenJsonLinesOutput(path.string());
  ASSERT_TRUE(out.ok());
  // A capacity of 2 and a slow start: the updates arrive while both slots are waiting.
  AsyncAlertSink sink(std::move(out).value(), 2);
  for (int count = 1; count <= 1000; ++count) {
    for (const char* id : {"alr_a", "alr_b"}) {
      core::Alert a = SampleAlert();
      a.id = id;
      a.count = count;
      sink.Submit(a);
    }
  }
  sink.Stop();
  EXPECT_EQ(sink.stats().dropped, 0u);
  std::ifstream in(path);
  std::map<std::string, int64_t> last;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    last[j["id"]] = j["count"];
  }
  EXPECT_EQ(last, (std::map<std::string, int64_t>{{"alr_a", 1000}, {"alr_b", 1000}}));
  fs::remove(path);
}

TEST(AlertSinksTest, WebhookOptionsAreChecked) {
  WebhookOptions w;
  w.url = "https://127.0.0.1:1/x";
  w.secret = "s";
  EXPECT_FALSE(OpenWebhookOutput(w).ok()) << "https without a CA to pin";
  w.url = "http://127.0.0.1:1/x";
  w.secret = "";
  EXPECT_FALSE(OpenWebhookOutput(w).ok()) << "no secret";
  w.secret = "s";
  w.url = "ftp:/nope";
  EXPECT_FALSE(OpenWebhookOutput(w).ok());
}

}  // namespace
}  // namespace rampart::detect
