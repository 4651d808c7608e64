// Containment end to end with the real binary: CVE-2026-1281-shaped requests from 127.0.0.2
// raise the EPMM alert, the bundled playbook blocks the address, further connections from it
// are refused before any byte is parsed, the CrowdSec stream shows the decision, and the
// admin client on 127.0.0.1 is untouched. Linux routes all of 127.0.0.0/8 to loopback, so the
// attacker binds 127.0.0.2 as its source. Plain HTTP keeps the raw attacker socket simple; the
// admission hook runs before TLS either way.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

// One request from 127.0.0.2 on a fresh connection, with `headers` ("Name: value\r\n" lines)
// added; returns what the server sent back ("" when it closed the connection without answering).
std::string SendFromAttacker(uint16_t port, const std::string& target,
                             const std::string& headers = "",
                             const std::string& source = "127.0.0.2") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::string request = "GET " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: python-requests/2.31\r\n"
                        "Connection: close\r\n" +
                        headers + "\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return response;
}

uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

TEST(RespondE2e, ExploitSourceIsBlockedAtTheFrontDoorAndPublishedToBouncers) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = fs::temp_directory_path() / ("rampart_respond_e2e_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  std::string data = (dir / "data").string();

  ProcResult key =
      e2e::Run({kRampart, "admin", "--data", data, "create-bouncer-key", "--name", "fw"});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  const std::string bouncer_key = Trim(key.out);
  ASSERT_EQ(bouncer_key.rfind("rmb_", 0), 0u) << key.out;
  ProcResult bad =
      e2e::Run({kRampart, "admin", "--data", data, "create-bouncer-key", "--name", ""});
  EXPECT_NE(bad.exit_code, 0);

  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.Start(data, {"--demo", "--insecure-http"}, &error)) << error;
  const std::string superadmin = server.PrintedValue("superadmin token");
  ASSERT_FALSE(superadmin.empty()) << server.printed();
  const uint16_t port = PortOf(server.url());

  std::string first = SendFromAttacker(port, kFobInjectionProbe);
  ASSERT_EQ(first.rfind("HTTP/1.1 404", 0), 0u) << "the first probe is answered: " << first;

  // Poll with a deadline: the alert is stored, then the playbook runs on its own thread.
  bool blocked = false;
  json block;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    ApiReply list = CallApi(server.url(), "", superadmin, "GET", "/api/v1/blocks");
    ASSERT_EQ(list.status, 200) << list.raw;
    for (const auto& b : list.body["items"]) {
      if (b["value"] == "127.0.0.2") block = b;
    }
    if (!block.is_null()) {
      blocked = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(blocked) << server.log();
  EXPECT_EQ(block["origin"], "playbook");
  EXPECT_EQ(block["scenario"], "rampart/epmm-exploit-block");
  EXPECT_EQ(block["expires_at"].get<int64_t>() - block["created_at"].get<int64_t>(), 86400);

  // Refused before a byte is parsed: no HTTP answer at all, whatever the request.
  EXPECT_EQ(SendFromAttacker(port, "/healthz"), "");
  EXPECT_EQ(SendFromAttacker(port, kFobInjectionProbe), "");
  // The admin client on 127.0.0.1 is not affected.
  EXPECT_EQ(CallApi(server.url(), "", "", "GET", "/healthz").status, 200);

  // CrowdSec bouncers see the decision.
  auto pull = [&](const std::string& key_value, const std::string& startup) {
    ApiReply reply;
    auto client = http::HttpClient::Connect({.url = server.url(), .ca_file = ""});
    if (!client.ok()) return reply;
    http::HeaderList headers = {{"x-api-key", key_value}};
    auto r = (*client)->Send("GET", "/v1/decisions/stream?startup=" + startup, headers, "");
    if (!r.ok()) return reply;
    reply.status = r->status;
    reply.raw = r->body;
    reply.body = json::parse(r->body, nullptr, false);
    return reply;
  };
  EXPECT_EQ(pull("rmb_wrong", "true").status, 403);
  ApiReply stream = pull(bouncer_key, "true");
  ASSERT_EQ(stream.status, 200) << stream.raw;
  bool decision = false;
  for (const auto& d : stream.body["new"]) {
    decision |= d["value"] == "127.0.0.2" && d["scope"] == "Ip" && d["type"] == "ban" &&
                d["scenario"] == "rampart/epmm-exploit-block";
  }
  EXPECT_TRUE(decision) << stream.raw;
  EXPECT_TRUE(pull(bouncer_key, "false").body["new"].empty());

  // Lifting the block by hand lets the address back in, and the bouncer hears of it.
  ApiReply removed = CallApi(server.url(), "", superadmin, "DELETE",
                             "/api/v1/blocks/" + std::to_string(block["id"].get<int64_t>()));
  ASSERT_EQ(removed.status, 200) << removed.raw;
  EXPECT_EQ(SendFromAttacker(port, "/healthz").rfind("HTTP/1.1 200", 0), 0u);
  ApiReply after = pull(bouncer_key, "false");
  ASSERT_EQ(after.body["deleted"].size(), 1u) << after.raw;
  EXPECT_EQ(after.body["deleted"][0]["value"], "127.0.0.2");

  server.Stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Behind a reverse proxy (127.0.0.2, listed in http.trusted_proxies) the exploit's client, named
// in X-Forwarded-For, is what the alert is about and what the playbook blocks; the proxy goes on
// serving everyone else, and no one else's X-Forwarded-For is believed.
TEST(RespondE2e, BehindATrustedProxyTheForwardedClientIsBlockedNotTheProxy) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = FreshTestDir("rampart_proxy_e2e");
  std::string data = (dir / "data").string();
  std::string config = (dir / "rampart.yml").string();
  WriteFile(config,
            "http:\n  trusted_proxies: [\"127.0.0.2\"]\n  metrics_listen: \"127.0.0.1:0\"\n");

  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.Start(data, {"--demo", "--insecure-http", "--config", config}, &error))
      << error;
  const std::string superadmin = server.PrintedValue("superadmin token");
  ASSERT_FALSE(superadmin.empty()) << server.printed();
  const uint16_t port = PortOf(server.url());
  const std::string attacker = "X-Forwarded-For: 198.51.100.250, 203.0.113.7\r\n";

  std::string probe = SendFromAttacker(port, kFobInjectionProbe, attacker);
  ASSERT_EQ(probe.rfind("HTTP/1.1 404", 0), 0u) << probe;

  json block;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (block.is_null() && std::chrono::steady_clock::now() < deadline) {
    ApiReply list = CallApi(server.url(), "", superadmin, "GET", "/api/v1/blocks");
    ASSERT_EQ(list.status, 200) << list.raw;
    for (const auto& b : list.body["items"]) {
      EXPECT_NE(b["value"], "127.0.0.2") << "the proxy was blocked";
      EXPECT_NE(b["value"], "198.51.100.250") << "a hop the client wrote was believed";
      if (b["value"] == "203.0.113.7") block = b;
    }
    if (block.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(block.is_null()) << server.log();
  EXPECT_EQ(block["scenario"], "rampart/epmm-exploit-block");

  ApiReply alerts =
      CallApi(server.url(), "", superadmin, "GET", "/api/v1/alerts?entity=source.ip%3D203.0.113.7");
  ASSERT_EQ(alerts.status, 200) << alerts.raw;
  ASSERT_FALSE(alerts.body["items"].empty()) << alerts.raw;

  // The blocked client is refused through the proxy with an answer the proxy can pass on; the
  // proxy's other clients and its own health checks go through.
  std::string refused = SendFromAttacker(port, "/healthz", attacker);
  EXPECT_EQ(refused.rfind("HTTP/1.1 403", 0), 0u) << refused;
  EXPECT_NE(refused.find("permission_denied"), std::string::npos) << refused;
  std::string other = SendFromAttacker(port, "/healthz", "X-Forwarded-For: 198.51.100.4\r\n");
  EXPECT_EQ(other.rfind("HTTP/1.1 200", 0), 0u) << other;
  EXPECT_EQ(SendFromAttacker(port, "/healthz").rfind("HTTP/1.1 200", 0), 0u);
  // From a peer that is not a trusted proxy the header is not read: the blocked address it
  // names does not apply to it.
  std::string direct = SendFromAttacker(port, "/healthz", attacker, "127.0.0.3");
  EXPECT_EQ(direct.rfind("HTTP/1.1 200", 0), 0u) << direct;

  ApiReply metrics = CallApi(server.url(), "", superadmin, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.raw.find("\nrampart_denylist_entries 1\n"), std::string::npos) << metrics.raw;
  EXPECT_NE(metrics.raw.find("\nrampart_denylist_refusals_total 1\n"), std::string::npos)
      << metrics.raw;

  // A Prometheus on the proxy's host is refused at the main listener (it names no client) and
  // served at the metrics listener, which has no trusted proxy and nothing but /metrics and
  // /healthz, behind the same token check.
  const std::string marker = "metrics listening on http://127.0.0.1:";
  const size_t at = server.printed().find(marker);
  ASSERT_NE(at, std::string::npos) << server.printed();
  const auto metrics_port =
      static_cast<uint16_t>(std::stoi(server.printed().substr(at + marker.size())));
  ASSERT_NE(metrics_port, port);
  const std::string bearer = "Authorization: Bearer " + superadmin + "\r\n";
  std::string through_main = SendFromAttacker(port, "/metrics", bearer);
  EXPECT_EQ(through_main.rfind("HTTP/1.1 400", 0), 0u) << through_main;
  std::string scraped = SendFromAttacker(metrics_port, "/metrics", bearer);
  EXPECT_EQ(scraped.rfind("HTTP/1.1 200", 0), 0u) << scraped;
  EXPECT_NE(scraped.find("\nrampart_denylist_entries 1\n"), std::string::npos) << scraped;
  EXPECT_EQ(SendFromAttacker(metrics_port, "/metrics").rfind("HTTP/1.1 401", 0), 0u);
  EXPECT_EQ(SendFromAttacker(metrics_port, "/healthz").rfind("HTTP/1.1 200", 0), 0u);
  std::string api = SendFromAttacker(metrics_port, "/api/v1/blocks", bearer);
  EXPECT_EQ(api.rfind("HTTP/1.1 404", 0), 0u) << api;
  EXPECT_NE(api.find("not served on this listener"), std::string::npos) << api;
  for (std::string target : {"/%6detrics", "//metrics", "/metrics/", "http://127.0.0.1/metrics"}) {
    EXPECT_EQ(SendFromAttacker(metrics_port, target, bearer).rfind("HTTP/1.1 4", 0), 0u) << target;
  }
  // No forwarded header is read there: the blocked client it names does not apply.
  EXPECT_EQ(SendFromAttacker(metrics_port, "/healthz", attacker).rfind("HTTP/1.1 200", 0), 0u);

  // The proxy cannot be blocked by hand either.
  ApiReply proxy_block = CallApi(server.url(), "", superadmin, "POST", "/api/v1/blocks",
                                 R"({"value":"127.0.0.2","reason":"test"})");
  EXPECT_EQ(proxy_block.status, 400) << proxy_block.raw;
  // What the metrics listener refused was counted like any request (the main listener answered
  // no unmatched route meanwhile: the proxy host's /metrics there was refused before routing).
  auto unmatched_404s = [](const std::string& page) {
    const std::string series =
        "rampart_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} ";
    const size_t at = page.find(series);
    return at == std::string::npos ? 0 : std::stoll(page.substr(at + series.size()));
  };
  ApiReply after = CallApi(server.url(), "", superadmin, "GET", "/metrics");
  EXPECT_GE(unmatched_404s(after.raw), unmatched_404s(metrics.raw) + 2) << after.raw;

  server.Stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace rampart::e2e
