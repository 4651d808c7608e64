// HttpServer on real loopback sockets (port 0), in plain and TLS mode: round trips with
// HttpClient, and every limit driven by raw sockets that misbehave on purpose.
#include "http/server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "http/client.h"
#include "http/tls_files.h"
#include "tests/http/raw_conn.h"
#include "tests/http/test_util.h"
#include "tests/support/captured_log.h"

namespace rampart::http {
namespace {

using testing::RawConn;
using testing::RawResponse;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

// Polls `cond` until it holds or ten seconds pass.
template <typename Cond>
bool Eventually(Cond cond) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::yield();
  }
  return cond();
}

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

// Records what the hooks saw; all members are touched from server threads.
struct Observed {
  std::mutex mu;
  std::vector<std::string> violations;
  std::vector<uint16_t> response_ports;
  std::vector<int> response_statuses;
  std::atomic<int> handled{0};

  bool HasViolation(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& v : violations) {
      if (v == reason) return true;
    }
    return false;
  }
  size_t ViolationCount() {
    std::lock_guard<std::mutex> lock(mu);
    return violations.size();
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    auto files = EnsureServerCertificate(tmp_.path() + "/tls");
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    tls_ = *files;
  }
  void TearDown() override {
    if (server_) server_->Stop(1000);
  }

  ServerOptions Options(bool tls) {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls = tls;
    o.cert_file = tls_.server_cert;
    o.key_file = tls_.server_key;
    o.threads = 2;
    o.limits.idle_timeout_seconds = 30;
    o.limits.read_timeout_seconds = 30;
    o.on_violation = [this](std::string_view ip, std::string_view reason, int) {
      std::lock_guard<std::mutex> lock(observed_.mu);
      EXPECT_EQ(ip, "127.0.0.1");
      observed_.violations.emplace_back(reason);
    };
    o.on_response = [this](const Request& req, const Response& res, int64_t duration_us) {
      std::lock_guard<std::mutex> lock(observed_.mu);
      EXPECT_GE(duration_us, 0);
      observed_.response_ports.push_back(req.remote_port);
      observed_.response_statuses.push_back(res.status);
    };
    return o;
  }

  // Echoes what the handler received as JSON.
  HttpServer::RequestHandler Echo() {
    return [this](Request& req) {
      ++observed_.handled;
      nlohmann::json j;
      j["method"] = req.method;
      j["target"] = req.target;
      j["path"] = req.path;
      j["query"] = req.query;
      j["body"] = req.body;
      j["remote_ip"] = req.remote_ip;
      j["peer_ip"] = req.peer_ip;
      j["request_id"] = req.request_id;
      j["x_test"] = std::string(req.Header("x-test"));
      j["received_at_ms"] = req.received_at_ms;
      return Response::Json(200, j.dump());
    };
  }

  void StartServer(ServerOptions options, HttpServer::RequestHandler handler) {
    server_ = std::make_unique<HttpServer>(std::move(options), std::move(handler));
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_NE(server_->port(), 0);
  }

  std::unique_ptr<HttpClient> Client(bool tls) {
    std::string url =
        std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(server_->port());
    auto c = HttpClient::Connect({.url = url, .ca_file = tls_.ca_cert, .timeout_ms = 10000});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  static nlohmann::json ErrorOf(const std::string& body) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"] : nlohmann::json();
  }

  TempDir tmp_;
  TlsFiles tls_;
  Observed observed_;
  std::unique_ptr<HttpServer> server_;
};

class ServerModeTest : public ServerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ServerModeTest, RoundTripWithSecurityHeadersAndKeepAlive) {
  bool tls = GetParam();
  StartServer(Options(tls), Echo());
  auto client = Client(tls);
  ASSERT_NE(client, nullptr);
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = client->Send("POST", "/api/v1/things/a%20b?x=1&y=2", {{"X-Test", "v"}}, "{\"k\":1}");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    auto j = nlohmann::json::parse(r->body);
    EXPECT_EQ(j["method"], "POST");
    EXPECT_EQ(j["target"], "/api/v1/things/a%20b?x=1&y=2");
    EXPECT_EQ(j["path"], "/api/v1/things/a%20b");
    EXPECT_EQ(j["query"], "x=1&y=2");
    EXPECT_EQ(j["body"], "{\"k\":1}");
    EXPECT_EQ(j["remote_ip"], "127.0.0.1");
    EXPECT_EQ(j["x_test"], "v");
    EXPECT_GT(j["received_at_ms"].get<int64_t>(), 0);

    std::string id = r->Header("x-request-id");
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id, j["request_id"]);
    ids.insert(id);
    EXPECT_EQ(r->Header("cache-control"), "no-store");
    EXPECT_EQ(r->Header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r->Header("content-type"), "application/json");
    EXPECT_EQ(r->Header("server"), "rampart");
    EXPECT_EQ(r->Header("server").find_first_of("0123456789"), std::string::npos);
    EXPECT_EQ(r->Header("strict-transport-security").empty(), !tls);
  }
  EXPECT_EQ(ids.size(), 3u);
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(observed_.mu);
    return observed_.response_ports.size() == 3;
  }));
  // Keep-alive: one connection carried all three.
  std::lock_guard<std::mutex> lock(observed_.mu);
  EXPECT_EQ(observed_.response_ports[0], observed_.response_ports[1]);
  EXPECT_EQ(observed_.response_ports[1], observed_.response_ports[2]);
}

TEST_P(ServerModeTest, BodyLimitPerRouteAnswers413WithoutCallingHandler) {
  bool tls = GetParam();
  ServerOptions o = Options(tls);
  o.limits.max_body_bytes = 1024;
  std::mutex seen_mu;
  std::vector<std::pair<std::string, std::string>> seen;
  o.body_limit = [&](std::string_view method, std::string_view path) -> uint64_t {
    std::lock_guard<std::mutex> lock(seen_mu);
    seen.emplace_back(method, path);
    return path == "/small" ? 16 : 1024;
  };
  StartServer(std::move(o), Echo());
  auto client = Client(tls);
  ASSERT_NE(client, nullptr);

  auto small = client->Send("POST", "/small?q=1", {}, std::string(100, 'a'));
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->status, 413);
  EXPECT_EQ(ErrorOf(small->body)["code"], "payload_too_large");
  EXPECT_EQ(observed_.handled.load(), 0);
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("body_too_large"); }));

  auto fits = client->Send("POST", "/small", {}, std::string(16, 'a'));
  ASSERT_TRUE(fits.ok());
  EXPECT_EQ(fits->status, 200);
  auto big_route = client->Send("POST", "/big", {}, std::string(1000, 'a'));
  ASSERT_TRUE(big_route.ok());
  EXPECT_EQ(big_route->status, 200);
  auto too_big = client->Send("POST", "/big", {}, std::string(1025, 'a'));
  ASSERT_TRUE(too_big.ok());
  EXPECT_EQ(too_big->status, 413);
  EXPECT_EQ(observed_.handled.load(), 2);

  std::lock_guard<std::mutex> lock(seen_mu);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].first, "POST");
  EXPECT_EQ(seen[0].second, "/small");  // path without the query
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, ServerModeTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Tls" : "Plain"; });

TEST_F(ServerTest, HeadGetsLengthWithoutBodyAndKeepsConnection) {
  StartServer(Options(true), [](Request& req) {
    return Response::Json(200, req.method == "HEAD" ? "{\"hello\":\"world\"}" : "{\"x\":1}");
  });
  auto client = Client(true);
  ASSERT_NE(client, nullptr);
  auto head = client->Send("HEAD", "/h", {}, "");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(head->Header("content-length"), "17");
  auto get = client->Send("GET", "/h", {}, "");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->body, "{\"x\":1}");
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(observed_.mu);
    return observed_.response_ports.size() == 2;
  }));
  std::lock_guard<std::mutex> lock(observed_.mu);
  EXPECT_EQ(observed_.response_ports[0], observed_.response_ports[1]);
}

TEST_F(ServerTest, OversizeHeaderGets431AndClose) {
  ServerOptions o = Options(false);
  o.limits.max_header_bytes = 1024;
  StartServer(std::move(o), Echo());
  RawConn ok_conn(server_->port());
  ASSERT_TRUE(
      ok_conn.Send("GET / HTTP/1.1\r\nHost: t\r\nCookie: " + std::string(500, 'c') + "\r\n\r\n"));
  EXPECT_EQ(ok_conn.ReadResponse().status, 200);

  RawConn conn(server_->port());
  ASSERT_TRUE(
      conn.Send("GET / HTTP/1.1\r\nHost: t\r\nCookie: " + std::string(4096, 'c') + "\r\n\r\n"));
  RawResponse r = conn.ReadResponse();
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(r.headers["x-request-id"].size(), 32u);
  EXPECT_TRUE(conn.WaitClosed());
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("header_too_large"); }));
  EXPECT_EQ(observed_.handled.load(), 1);
}

TEST_F(ServerTest, ChunkedBodyOverLimitGets413) {
  ServerOptions o = Options(false);
  o.limits.max_body_bytes = 64;
  StartServer(std::move(o), Echo());
  RawConn conn(server_->port());
  std::string chunk(40, 'z');
  ASSERT_TRUE(conn.Send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n" +
                        chunk + "\r\n28\r\n" + chunk + "\r\n0\r\n\r\n"));
  RawResponse r = conn.ReadResponse();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorOf(r.body)["code"], "payload_too_large");
  EXPECT_TRUE(conn.WaitClosed());
  EXPECT_EQ(observed_.handled.load(), 0);

  RawConn small(server_->port());
  ASSERT_TRUE(small.Send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n" +
                         chunk + "\r\n0\r\n\r\n"));
  RawResponse ok = small.ReadResponse();
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["body"], chunk);
}

TEST_F(ServerTest, RateLimitPerConnectionAnswers429) {
  ServerOptions o = Options(true);
  o.limits.requests_per_second_per_connection = 1;  // burst of 2
  StartServer(std::move(o), Echo());
  auto client = Client(true);
  ASSERT_NE(client, nullptr);
  int ok = 0, limited = 0;
  for (int i = 0; i < 12; ++i) {
    auto r = client->Send("GET", "/r", {}, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (i < 2) {
      EXPECT_EQ(r->status, 200) << i;  // the burst
    }
    if (r->status == 200) ++ok;
    if (r->status == 429) {
      ++limited;
      EXPECT_EQ(ErrorOf(r->body)["code"], "resource_exhausted");
      EXPECT_EQ(r->Header("retry-after"), "1");
    }
  }
  EXPECT_GT(limited, 0);
  EXPECT_EQ(ok + limited, 12);
  EXPECT_EQ(observed_.handled.load(), ok);
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("rate_limited"); }));

  // The bucket is per connection: a new connection starts with a full burst.
  auto fresh = Client(true);
  ASSERT_NE(fresh, nullptr);
  auto r = fresh->Send("GET", "/r", {}, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o = Options(false);
  o.limits.idle_timeout_seconds = 1;
  StartServer(std::move(o), Echo());
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send(Get("/idle")));
  RawResponse r = conn.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers["connection"], "close");
  EXPECT_TRUE(conn.WaitClosed());
  EXPECT_EQ(observed_.ViolationCount(), 0u);  // idling is not an offence
  EXPECT_TRUE(Eventually([&] { return server_->open_connections() == 0; }));
}

TEST_F(ServerTest, SlowHeadersAreCutOffByReadTimeout) {
  ServerOptions o = Options(false);
  o.limits.read_timeout_seconds = 1;
  StartServer(std::move(o), Echo());
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /slow HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n"));
  EXPECT_TRUE(conn.WaitClosed());
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("read_timeout"); }));
  EXPECT_EQ(observed_.handled.load(), 0);
}

TEST_F(ServerTest, SlowBodyIsCutOffByReadTimeout) {
  ServerOptions o = Options(false);
  o.limits.read_timeout_seconds = 1;
  StartServer(std::move(o), Echo());
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789"));
  EXPECT_TRUE(conn.WaitClosed());
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("read_timeout"); }));
  EXPECT_EQ(observed_.handled.load(), 0);
}

TEST_F(ServerTest, TlsClientThatNeverHandshakesIsCutOff) {
  ServerOptions o = Options(true);
  o.limits.read_timeout_seconds = 1;
  StartServer(std::move(o), Echo());
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.connected());
  EXPECT_TRUE(conn.WaitClosed());
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("read_timeout"); }));
}

TEST_F(ServerTest, ConnectionsOverTheCapAreClosedAtOnce) {
  ServerOptions o = Options(false);
  o.limits.max_connections = 2;
  StartServer(std::move(o), Echo());
  auto a = std::make_unique<RawConn>(server_->port());
  RawConn b(server_->port());
  ASSERT_TRUE(a->connected() && b.connected());
  ASSERT_TRUE(Eventually([&] { return server_->open_connections() == 2; }));

  RawConn over(server_->port());
  EXPECT_TRUE(over.WaitClosed());
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("too_many_connections"); }));
  EXPECT_EQ(server_->open_connections(), 2u);

  // Existing connections still work; freeing one admits a new one.
  ASSERT_TRUE(b.Send(Get("/b")));
  EXPECT_EQ(b.ReadResponse().status, 200);
  a.reset();
  ASSERT_TRUE(Eventually([&] { return server_->open_connections() == 1; }));
  RawConn c(server_->port());
  ASSERT_TRUE(c.Send(Get("/c")));
  EXPECT_EQ(c.ReadResponse().status, 200);
}

TEST_F(ServerTest, AdmitIsAskedBeforeAnyByteAndCanRefuse) {
  ServerOptions o = Options(false);
  std::atomic<bool> allow{false};
  std::atomic<int> asked{0};
  std::mutex ip_mu;
  std::string asked_ip;
  o.admit = [&](std::string_view ip) {
    {
      std::lock_guard<std::mutex> lock(ip_mu);
      asked_ip = std::string(ip);
    }
    ++asked;
    return allow.load();
  };
  StartServer(std::move(o), Echo());

  RawConn silent(server_->port());  // sends nothing at all
  ASSERT_TRUE(Eventually([&] { return asked.load() == 1; }));
  EXPECT_TRUE(silent.WaitClosed());
  {
    std::lock_guard<std::mutex> lock(ip_mu);
    EXPECT_EQ(asked_ip, "127.0.0.1");
  }

  RawConn refused(server_->port());
  refused.Send(Get("/x"));
  EXPECT_TRUE(refused.WaitClosed());
  EXPECT_EQ(observed_.handled.load(), 0);

  allow = true;
  RawConn admitted(server_->port());
  ASSERT_TRUE(admitted.Send(Get("/x")));
  EXPECT_EQ(admitted.ReadResponse().status, 200);
  EXPECT_EQ(asked.load(), 3);
}

TEST_F(ServerTest, ATrustedProxysClientIsTheRequestsAddressForBlocksAndViolations) {
  ServerOptions o = Options(false);
  o.proxy_trust.proxies = {*ParseCidr("127.0.0.1")};
  o.limits.max_body_bytes = 16;
  o.limits.requests_per_second_per_connection = 1;  // burst of 2, per forwarded client
  std::mutex mu;
  std::vector<std::string> asked;
  std::vector<std::string> violators;
  o.admit = [&](std::string_view ip) {
    std::lock_guard<std::mutex> lock(mu);
    asked.emplace_back(ip);
    return ip != "203.0.113.9";
  };
  o.on_violation = [&](std::string_view ip, std::string_view reason, int) {
    std::lock_guard<std::mutex> lock(mu);
    violators.push_back(std::string(reason) + "@" + std::string(ip));
  };
  StartServer(std::move(o), Echo());
  auto forwarded = [](const std::string& client, const std::string& path = "/f") {
    return "GET " + path + " HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: " + client + "\r\n\r\n";
  };

  RawConn proxy(server_->port());
  ASSERT_TRUE(proxy.Send(forwarded("198.51.100.1, 203.0.113.7")));
  RawResponse r = proxy.ReadResponse();
  ASSERT_EQ(r.status, 200);
  auto echo = nlohmann::json::parse(r.body);
  EXPECT_EQ(echo["remote_ip"], "203.0.113.7");
  EXPECT_EQ(echo["peer_ip"], "127.0.0.1");

  // A blocked client is refused on the proxy's connection, which goes on serving the others.
  ASSERT_TRUE(proxy.Send(forwarded("203.0.113.9")));
  r = proxy.ReadResponse();
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorOf(r.body)["code"], "permission_denied");
  EXPECT_EQ(observed_.handled.load(), 1);
  // The proxy's own health check needs no client.
  ASSERT_TRUE(proxy.Send(Get("/healthz")));
  r = proxy.ReadResponse();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["remote_ip"], "127.0.0.1");

  // Each forwarded client has its own rate (burst 2, one more per second), over every connection
  // of the proxy: one that runs out is refused, and blamed, alone. The refusals are asserted
  // only when the requests came within a second, before a token came back.
  std::vector<std::string> expected_violations;
  const auto rate_start = Clock::now();
  ASSERT_TRUE(proxy.Send(forwarded("203.0.113.30")));
  EXPECT_EQ(proxy.ReadResponse().status, 200);
  ASSERT_TRUE(proxy.Send(forwarded("203.0.113.30")));
  EXPECT_EQ(proxy.ReadResponse().status, 200);
  ASSERT_TRUE(proxy.Send(forwarded("203.0.113.30")));
  const int third = proxy.ReadResponse().status;
  ASSERT_TRUE(proxy.Send(forwarded("203.0.113.31")));
  EXPECT_EQ(proxy.ReadResponse().status, 200);
  RawConn second(server_->port());
  ASSERT_TRUE(second.Send(forwarded("203.0.113.30")));
  const int on_second = second.ReadResponse().status;
  if (Clock::now() - rate_start < std::chrono::milliseconds(900)) {
    EXPECT_EQ(third, 429);
    EXPECT_EQ(on_second, 429);
  }
  for (int status : {third, on_second}) {
    EXPECT_TRUE(status == 200 || status == 429) << status;
    if (status == 429) expected_violations.push_back("rate_limited@203.0.113.30");
  }

  // A limit the client broke is counted against the client, not the proxy. With its body
  // unread, the refused request's connection is closed.
  ASSERT_TRUE(
      proxy.Send("POST /f HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.8\r\n"
                 "Content-Length: 100\r\n\r\n"));
  EXPECT_EQ(proxy.ReadResponse().status, 413);
  expected_violations.push_back("body_too_large@203.0.113.8");
  RawConn blocked_upload(server_->port());
  ASSERT_TRUE(blocked_upload.Send(
      "POST /f HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9\r\nContent-Length: 4\r\n\r\n"));
  EXPECT_EQ(blocked_upload.ReadResponse().status, 403);
  EXPECT_TRUE(blocked_upload.WaitClosed());
  // Before a header is read there is no client but the peer.
  RawConn slow(server_->port());
  ASSERT_TRUE(
      slow.Send("GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.5\r\n" + std::string(20000, 'a')));
  EXPECT_EQ(slow.ReadResponse().status, 431);
  expected_violations.push_back("header_too_large@127.0.0.1");
  // A request of the proxy's that names no client (here a hop that is not an address) is
  // refused and its connection closed, so that a client cannot pass as the proxy by getting its
  // header dropped.
  RawConn stripped(server_->port());
  ASSERT_TRUE(stripped.Send(forwarded("unknown", "/g")));
  r = stripped.ReadResponse();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorOf(r.body)["code"], "invalid_argument");
  EXPECT_TRUE(stripped.WaitClosed());
  expected_violations.push_back("forwarded_client_missing@127.0.0.1");

  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return violators.size() == expected_violations.size();
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(violators, expected_violations);
  // Asked for each connection, then for each forwarded client, never for a request the
  // proxy sent for itself.
  EXPECT_EQ(asked, (std::vector<std::string>{
                       "127.0.0.1", "203.0.113.7", "203.0.113.9", "203.0.113.30", "203.0.113.30",
                       "203.0.113.30", "203.0.113.31", "127.0.0.1", "203.0.113.30", "203.0.113.8",
                       "127.0.0.1", "203.0.113.9", "127.0.0.1", "127.0.0.1"}));
  EXPECT_EQ(observed_.handled.load(), 5 + (third == 200) + (on_second == 200));
}

TEST_F(ServerTest, MalformedRequestsGet400AndClose) {
  StartServer(Options(false), Echo());
  for (const std::string& bad : {std::string("NOT AN HTTP REQUEST\r\n\r\n"),
                                 std::string("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: "
                                             "abc\r\n\r\n"),
                                 std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
                                 std::string("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                                             "Content-Length: 2\r\n\r\nab"),
                                 // Framing that proxies and servers disagree on (smuggling).
                                 std::string("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                                 std::string("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
                                             "chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
                                 std::string("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
                                             "gzip\r\n\r\n" +
                                             Get("/smuggled")),
                                 // HTTP/1.1 without Host, and with two.
                                 std::string("GET / HTTP/1.1\r\n\r\n"),
                                 std::string("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")}) {
    RawConn conn(server_->port());
    ASSERT_TRUE(conn.Send(bad));
    RawResponse r = conn.ReadResponse();
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorOf(r.body)["code"], "invalid_argument") << bad;
    EXPECT_TRUE(conn.WaitClosed()) << bad;
  }
  EXPECT_TRUE(Eventually([&] { return observed_.HasViolation("bad_request"); }));
  EXPECT_EQ(observed_.handled.load(), 0);
}

TEST_F(ServerTest, Http10IsAnsweredAndClosed) {
  StartServer(Options(false), Echo());
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /old HTTP/1.0\r\n\r\n"));
  RawResponse r = conn.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["path"], "/old");
  EXPECT_TRUE(conn.WaitClosed());
}

TEST_F(ServerTest, PipelinedRequestsAndExpectContinue) {
  StartServer(Options(false), Echo());
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send(Get("/one") + Get("/two")));
  RawResponse one = conn.ReadResponse();
  RawResponse two = conn.ReadResponse();
  EXPECT_EQ(nlohmann::json::parse(one.body)["path"], "/one");
  EXPECT_EQ(nlohmann::json::parse(two.body)["path"], "/two");

  ASSERT_TRUE(
      conn.Send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n"));
  EXPECT_EQ(conn.ReadResponse().status, 100);
  ASSERT_TRUE(conn.Send("hello"));
  RawResponse e = conn.ReadResponse();
  EXPECT_EQ(e.status, 200);
  EXPECT_EQ(nlohmann::json::parse(e.body)["body"], "hello");
}

TEST_F(ServerTest, HandlerExceptionBecomes500AndLogOmitsBody) {
  rampart::testing::CapturedLog captured;
  ASSERT_TRUE(captured.ok());
  StartServer(Options(true), [](Request& req) -> Response {
    if (req.path == "/throw") throw std::runtime_error("boom " + req.body);
    return Response::Json(200, "{}");
  });
  auto client = Client(true);
  ASSERT_NE(client, nullptr);
  auto r = client->Send("POST", "/throw", {}, "SECRET_BODY_VALUE");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(ErrorOf(r->body)["code"], "internal");
  EXPECT_EQ(r->body.find("SECRET"), std::string::npos);
  // The connection survives and serves the next request.
  auto next = client->Send("GET", "/fine", {}, "");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->status, 200);
  server_->Stop(1000);
  std::string logged = captured.Stop();
  EXPECT_NE(logged.find("http.handler_exception"), std::string::npos);
  EXPECT_NE(logged.find(r->Header("x-request-id")), std::string::npos);
  EXPECT_EQ(logged.find("SECRET_BODY_VALUE"), std::string::npos);
  EXPECT_EQ(logged.find("boom"), std::string::npos);
}

TEST_F(ServerTest, StopLetsInFlightRequestFinish) {
  std::atomic<bool> entered{false};
  std::atomic<bool> saw_listener_closed{false};
  uint16_t port = 0;
  ServerOptions o = Options(false);
  StartServer(std::move(o), [&](Request& req) -> Response {
    if (req.path != "/slow") return Response::Json(200, "{}");
    entered = true;
    // Hold the request until Stop() has closed the listener, so that the response is provably
    // written during Stop().
    saw_listener_closed = Eventually([&] {
      RawConn probe(port);
      return !probe.connected();
    });
    return Response::Json(200, "{\"done\":true}");
  });
  port = server_->port();

  std::optional<Result<ClientResponse>> result;
  std::thread caller([&] {
    auto c = HttpClient::Connect(
        {.url = "http://127.0.0.1:" + std::to_string(port), .ca_file = "", .timeout_ms = 20000});
    if (!c.ok()) {
      result.emplace(c.status());
      return;
    }
    result.emplace((*c)->Send("GET", "/slow", {}, ""));
  });
  ASSERT_TRUE(Eventually([&] { return entered.load(); }));
  server_->Stop(15000);
  caller.join();

  EXPECT_TRUE(saw_listener_closed.load());
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status().ToString();
  EXPECT_EQ((*result)->status, 200);
  EXPECT_EQ((*result)->body, "{\"done\":true}");
  EXPECT_EQ((*result)->Header("connection"), "close");
  EXPECT_EQ(server_->open_connections(), 0u);
  RawConn after(port);
  EXPECT_FALSE(after.connected());
  server_->Wait();  // returns at once after Stop
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, StartReportsBadTlsFilesAndTakenPort) {
  ServerOptions bad = Options(true);
  bad.key_file = tmp_.path() + "/missing.key";
  HttpServer s1(std::move(bad), Echo());
  EXPECT_EQ(s1.Start().code(), Code::kInvalidArgument);

  ServerOptions mismatched = Options(true);
  mismatched.key_file = tls_.ca_cert;  // not a key at all
  HttpServer s2(std::move(mismatched), Echo());
  EXPECT_EQ(s2.Start().code(), Code::kInvalidArgument);

  StartServer(Options(false), Echo());
  ServerOptions taken = Options(false);
  taken.port = server_->port();
  HttpServer s3(std::move(taken), Echo());
  EXPECT_EQ(s3.Start().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace rampart::http
