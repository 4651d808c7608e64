// Log sources end to end: the real `rampart serve` follows an EPMM access log that does not
// exist yet and listens for syslog on loopback ports it picks. CVE-2026-1281 exploit lines
// arrive by the followed file, by UDP syslog (RFC 3164), by TCP syslog (RFC 5424 with octet
// counting) and by syslog over TLS (RFC 5425, the server certificate checked by the sender);
// each must become the bundled rule's alert, visible through GET /api/v1/alerts, with evidence
// naming where the line came from. A line a web server logged behind a reverse proxy listed in
// detection.log_trusted_proxies is the alert of the client the proxy forwarded.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <map>

#include <openssl/ssl.h>

#include "common/crypto.h"
#include "harness.h"
#include "http/tls_files.h"
#include "support/loopback.h"

namespace rampart::e2e {
namespace {

constexpr std::string_view kInjectionRule = "3b672e5c-3104-49c7-bfeb-7d14e1035b40";
constexpr std::string_view kFob404RuleId = "3fe778f1-3ab5-4259-b9c3-e2e3a80fc417";

std::string ExploitLine(const std::string& ip) {
  return "mdm.example.eu:443 " + ip +
         " - - [30/Jan/2026:09:15:00 +0100] \"GET /mifs/c/appstore/fob/3/5/"
         "sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60id%60%5D/"
         "e2327851-1e09-4463-9b5a-b524bc71fc07.ipa HTTP/1.1\" 404 196 \"-\" "
         "\"python-requests/2.31.0\"";
}

uint16_t SyslogPort(const std::string& printed) {
  const std::string marker = "syslog listening on udp+tcp port ";
  auto at = printed.find(marker);
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(printed.substr(at + marker.size())));
}

uint16_t SyslogTlsPort(const std::string& printed) {
  const std::string marker = "syslog listening on tls port ";
  auto at = printed.find(marker);
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(printed.substr(at + marker.size())));
}

// One TLS connection as a log shipper makes it: the server certificate checked against the CA
// and the name "localhost", then the data, then a clean close.
bool SendTls(uint16_t port, const std::string& ca_file, const std::string& data) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return false;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  bool ok = SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = rampart::testing::LoopbackAddress(port);
  ok = ok && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  SSL* ssl = SSL_new(ctx);
  ok = ok && ssl != nullptr && SSL_set_fd(ssl, fd) == 1 && SSL_set1_host(ssl, "localhost") == 1 &&
       SSL_connect(ssl) == 1 &&
       SSL_write(ssl, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  if (ssl != nullptr) {
    if (ok) SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  ::close(fd);
  SSL_CTX_free(ctx);
  return ok;
}

bool SendUdp(uint16_t port, const std::string& msg) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = rampart::testing::LoopbackAddress(port);
  ssize_t n = ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(fd);
  return n == static_cast<ssize_t>(msg.size());
}

bool SendTcp(uint16_t port, const std::string& data) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = rampart::testing::LoopbackAddress(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
            ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

TEST(LogSourcesE2e, FollowedFileUdpTcpAndTlsSyslogLinesBecomeAlerts) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = fs::temp_directory_path() / ("rampart_sources_e2e_" + crypto::RandomHex(6));
  fs::create_directories(dir / "epmm");
  std::string data = (dir / "data").string();
  std::string followed = (dir / "epmm" / "access_log").string();
  // A front end whose log_format puts $request_time before the forwarded-for header.
  std::string custom = (dir / "epmm" / "nginx_access.log").string();
  std::string config = (dir / "rampart.yml").string();
  // The TLS listener's certificate, from a private CA the shipper trusts.
  auto tls = http::EnsureServerCertificate((dir / "syslog-tls").string());
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  {
    std::ofstream out(config);
    out << "detection:\n"
        << "  follow: [\"" << followed << "\", \"" << custom << "\"]\n"
        << "  follow_formats:\n"
        << "    \"" << custom << "\": 'nginx:$server_name $remote_addr [$time_local] \"$request\" "
        << "$status $body_bytes_sent \"$http_user_agent\" $request_time "
           "\"$http_x_forwarded_for\"'\n"
        << "  follow_poll_millis: 50\n"
        << "  log_trusted_proxies: [\"10.20.0.0/24\"]\n"
        << "  syslog_listen: \"127.0.0.1:0\"\n"
        << "  syslog_formats:\n"
        << "    nginx_access: 'nginx:$remote_addr [$time_local] \"$request\" $status "
        << "$request_time \"$http_x_forwarded_for\"'\n"
        << "  syslog_tls_listen: \"127.0.0.1:0\"\n"
        << "  syslog_tls_cert: \"" << tls->server_cert << "\"\n"
        << "  syslog_tls_key: \"" << tls->server_key << "\"\n";
  }
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;
  const std::string& ca = demo.ca;
  const std::string& superadmin = demo.superadmin;
  uint16_t syslog_port = SyslogPort(server.printed());
  ASSERT_NE(syslog_port, 0) << server.printed();
  uint16_t syslog_tls_port = SyslogTlsPort(server.printed());
  ASSERT_NE(syslog_tls_port, 0) << server.printed();

  // The followed file appears only now, as a log does on a fresh install.
  {
    std::ofstream out(followed, std::ios::app);
    out << ExploitLine("203.0.113.50") << "\n";
    // Through the balancer 10.20.0.5, which logs X-Forwarded-For last; the client wrote the
    // first hop itself.
    out << ExploitLine("10.20.0.5") << " \"198.51.100.1, 203.0.113.60\"\n";
  }
  {
    std::ofstream out(custom, std::ios::app);
    out << "mdm.example.eu 10.20.0.5 [30/Jan/2026:09:15:00 +0100] \"GET "
           "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60id"
           "%60%5D/a.ipa HTTP/1.1\" 404 196 \"curl/8\" 0.004 \"203.0.113.62\"\n";
  }
  ASSERT_TRUE(
      SendUdp(syslog_port, "<190>Jan 30 09:15:00 mdm httpd: " + ExploitLine("203.0.113.51")));
  ASSERT_TRUE(SendUdp(syslog_port, "<190>Jan 30 09:15:00 mdm httpd: " + ExploitLine("10.20.0.5") +
                                       " \"203.0.113.61\""));
  // nginx's `access_log syslog:...,tag=nginx_access` in the declared layout, through the balancer.
  ASSERT_TRUE(SendUdp(syslog_port,
                      "<190>Jan 30 09:15:00 mdm nginx_access: 10.20.0.5 [30/Jan/2026:09:15:00 "
                      "+0100] \"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,"
                      "et=1337133713,h=gPath%5B%60id%60%5D/b.ipa HTTP/1.1\" 404 0.004 "
                      "\"203.0.113.63\""));
  std::string rfc5424 =
      "<190>1 2026-01-30T09:15:00Z mdm httpd - - - " + ExploitLine("203.0.113.52");
  ASSERT_TRUE(SendTcp(syslog_port, std::to_string(rfc5424.size()) + " " + rfc5424));
  std::string over_tls =
      "<190>1 2026-01-30T09:15:00Z mdm httpd - - - " + ExploitLine("203.0.113.53");
  ASSERT_TRUE(
      SendTls(syslog_tls_port, tls->ca_cert, std::to_string(over_tls.size()) + " " + over_tls));

  std::map<std::string, json> by_entity;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && by_entity.size() < 8) {
    ApiReply list = CallApi(server.url(), ca, superadmin, "GET",
                            "/api/v1/alerts?rule=" + std::string(kInjectionRule));
    ASSERT_EQ(list.status, 200) << list.raw;
    for (const auto& a : list.body["items"]) by_entity[a["entity"].get<std::string>()] = a;
    if (by_entity.size() < 8) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(by_entity.size(), 8u) << "server log:\n" << server.log();
  EXPECT_EQ(by_entity.count("source.ip=10.20.0.5"), 0u) << "the balancer is never the client";
  EXPECT_EQ(by_entity.count("source.ip=198.51.100.1"), 0u) << "nor what a client wrote";

  const json& from_file = by_entity["source.ip=203.0.113.50"];
  ASSERT_TRUE(from_file.is_object());
  EXPECT_EQ(from_file["severity"], "critical");
  EXPECT_EQ(from_file["evidence"][0]["log.file.path"], followed);
  EXPECT_EQ(from_file["evidence"][0]["log.file.line"], "1");
  EXPECT_EQ(from_file["evidence"][0]["destination.domain"], "mdm.example.eu");

  const json& proxied_file = by_entity["source.ip=203.0.113.60"];
  ASSERT_TRUE(proxied_file.is_object());
  EXPECT_EQ(proxied_file["evidence"][0]["log.file.line"], "2");
  EXPECT_EQ(proxied_file["evidence"][0]["http.request.x_forwarded_for"],
            "198.51.100.1, 203.0.113.60");
  EXPECT_EQ(proxied_file["evidence"][0]["event.original"].get<std::string>().find(
                "mdm.example.eu:443 10.20.0.5 "),
            0u)
      << "the line as logged keeps the balancer";
  const json& declared = by_entity["source.ip=203.0.113.62"];
  ASSERT_TRUE(declared.is_object()) << "the header is read where the declared layout puts it";
  EXPECT_EQ(declared["evidence"][0]["log.file.path"], custom);
  EXPECT_EQ(declared["evidence"][0]["destination.domain"], "mdm.example.eu");
  const json& declared_udp = by_entity["source.ip=203.0.113.63"];
  ASSERT_TRUE(declared_udp.is_object());
  EXPECT_EQ(declared_udp["evidence"][0]["process.name"], "nginx_access");
  const json& proxied_udp = by_entity["source.ip=203.0.113.61"];
  ASSERT_TRUE(proxied_udp.is_object());
  EXPECT_EQ(proxied_udp["evidence"][0]["network.transport"], "udp");

  const json& from_udp = by_entity["source.ip=203.0.113.51"];
  ASSERT_TRUE(from_udp.is_object());
  EXPECT_EQ(from_udp["evidence"][0]["network.transport"], "udp");
  EXPECT_EQ(from_udp["evidence"][0]["log.source.address"].get<std::string>().rfind("127.0.0.1:", 0),
            0u);
  EXPECT_EQ(from_udp["evidence"][0]["host.name"], "mdm");

  const json& from_tcp = by_entity["source.ip=203.0.113.52"];
  ASSERT_TRUE(from_tcp.is_object());
  EXPECT_EQ(from_tcp["evidence"][0]["network.transport"], "tcp");
  EXPECT_EQ(from_tcp["evidence"][0]["process.name"], "httpd");

  const json& from_tls = by_entity["source.ip=203.0.113.53"];
  ASSERT_TRUE(from_tls.is_object());
  EXPECT_EQ(from_tls["evidence"][0]["network.transport"], "tls");
  EXPECT_EQ(from_tls["severity"], "critical");

  // The 404 rule fires on the same lines: Sigma web rules see these events like any other.
  ApiReply fob404 = CallApi(server.url(), ca, superadmin, "GET",
                            "/api/v1/alerts?rule=" + std::string(kFob404RuleId));
  ASSERT_EQ(fob404.status, 200);
  EXPECT_GE(fob404.body["items"].size(), 1u);

  ApiReply metrics = CallApi(server.url(), ca, superadmin, "GET", "/metrics");
  EXPECT_NE(metrics.raw.find("rampart_detect_follow_lines_total 3\n"), std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("rampart_detect_syslog_messages_total 5\n"), std::string::npos);
  EXPECT_NE(metrics.raw.find("rampart_detect_follow_proxy_lines_total{client=\"forwarded\"} 2\n"),
            std::string::npos);
  EXPECT_NE(metrics.raw.find("rampart_detect_syslog_proxy_lines_total{client=\"forwarded\"} 2\n"),
            std::string::npos);
  EXPECT_NE(metrics.raw.find("rampart_detect_syslog_proxy_lines_total{client=\"missing\"} 0\n"),
            std::string::npos);
  EXPECT_NE(metrics.raw.find("rampart_detect_syslog_tls_connections_total 1\n"), std::string::npos);

  EXPECT_EQ(server.Stop(), 0);
  // The position is remembered, in the engine's private state directory.
  std::string positions = ReadFile(data + "/detect/positions.json");
  EXPECT_NE(positions.find(followed), std::string::npos) << positions;
  EXPECT_EQ(fs::status(data + "/detect").permissions() & fs::perms::all, fs::perms::owner_all);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// An nginx upgrade puts the default combined format back while the configuration still
// declares the site's own layout: Rampart can read none of the lines, and says so with an
// alert on the file instead of going blind without a word.
TEST(LogSourcesE2e, AFollowedLogRampartCanNoLongerReadRaisesAnAlert) {
  constexpr std::string_view kUnreadableRule = "744dd7a3-21b7-40f4-ac7d-8ac0988f29d9";
  ASSERT_TRUE(crypto::InitCrypto().ok());
  ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
  fs::path dir = fs::temp_directory_path() / ("rampart_unreadable_e2e_" + crypto::RandomHex(6));
  fs::create_directories(dir / "nginx");
  std::string data = (dir / "data").string();
  std::string custom = (dir / "nginx" / "access.log").string();
  std::string config = (dir / "rampart.yml").string();
  {
    std::ofstream out(config);
    out << "detection:\n"
        << "  follow: [\"" << custom << "\"]\n"
        << "  follow_formats:\n"
        << "    \"" << custom << "\": 'nginx:$remote_addr [$time_local] \"$request\" $status "
        << "$request_time \"$http_x_forwarded_for\"'\n"
        << "  follow_poll_millis: 50\n";
  }
  DemoServer demo;
  std::string error;
  ASSERT_TRUE(demo.Start(data, config, &error)) << error;
  ServerProcess& server = demo.process;

  {
    std::ofstream out(custom, std::ios::app);
    for (int i = 0; i < 1000; ++i) {
      out << "203.0.113." << (i % 200) << " - - [30/Jan/2026:09:15:00 +0100] \"GET /mifs/user/" << i
          << " HTTP/1.1\" 200 512 \"-\" \"MobileIron/11\"\n";
    }
  }
  ASSERT_TRUE(WaitForAlert(demo, std::string(kUnreadableRule), 60)) << "server log:\n"
                                                                    << server.log();
  const json alert = AlertsOf(demo, std::string(kUnreadableRule))[0];
  EXPECT_EQ(alert["entity"], "file.path=" + custom);
  EXPECT_EQ(alert["severity"], "high");
  EXPECT_EQ(alert["evidence"][0]["event.reason"],
            "1000 of the last 1000 lines could not be read in the declared layout (the first at "
            "line 1)");
  EXPECT_NE(server.log().find("detect.follow_unreadable"), std::string::npos);

  ApiReply metrics = CallApi(server.url(), demo.ca, demo.superadmin, "GET", "/metrics");
  EXPECT_NE(metrics.raw.find("rampart_detect_follow_unreadable_windows_total 1\n"),
            std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("rampart_detect_follow_skipped_total{reason=\"parse_error\"} 1000\n"),
            std::string::npos);
  EXPECT_EQ(server.Stop(), 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace rampart::e2e
