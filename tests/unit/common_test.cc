#include <gtest/gtest.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/status.h"
#include "common/text.h"
#include "common/yaml_quotes.h"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

namespace rampart {
namespace {

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::NotFound("device not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: device not found");
}

Result<int> Half(int v) {
  if (v % 2) return Status::InvalidArgument("odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  RAMPART_ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}

TEST(Result, PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), Code::kInvalidArgument);
}

TEST(Crypto, HexAndBase64RoundTrip) {
  ASSERT_TRUE(crypto::InitCrypto().ok());
  std::string bytes("\x00\x01\xfe\xff", 4);
  EXPECT_EQ(crypto::HexEncode(bytes), "0001feff");
  EXPECT_EQ(*crypto::HexDecode("0001FEff"), bytes);
  EXPECT_FALSE(crypto::HexDecode("abc").ok());
  EXPECT_FALSE(crypto::HexDecode("zz").ok());
  EXPECT_EQ(*crypto::Base64Decode(crypto::Base64Encode(bytes)), bytes);
  EXPECT_FALSE(crypto::Base64Decode("!!!!").ok());
}

TEST(Crypto, Sha256KnownAnswer) {
  EXPECT_EQ(crypto::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  crypto::Sha256Stream s;
  s.Update("a");
  s.Update("bc");
  EXPECT_EQ(s.FinishHex(), crypto::Sha256Hex("abc"));
}

TEST(Crypto, HmacKnownAnswer) {
  // RFC 4231 test case 2.
  EXPECT_EQ(crypto::HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Ed25519SignVerify) {
  auto kp = crypto::GenerateEd25519();
  auto sig = crypto::SignEd25519(kp.secret_key, "message");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(kp.public_key, "message", *sig));
  EXPECT_FALSE(crypto::VerifyEd25519(kp.public_key, "messagf", *sig));
  std::string bad = *sig;
  bad[0] ^= 1;
  EXPECT_FALSE(crypto::VerifyEd25519(kp.public_key, "message", bad));
  EXPECT_FALSE(crypto::VerifyEd25519("short", "message", *sig));
}

TEST(Crypto, TokensAreRandomAndPrefixed) {
  auto a = crypto::RandomToken("rmp");
  auto b = crypto::RandomToken("rmp");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("rmp_", 0), 0u);
  EXPECT_EQ(a.size(), 4u + 43u);
}

TEST(Config, AppliesKnownKeysAndRejectsUnknown) {
  Config c;
  ASSERT_TRUE(ApplyConfigYaml("listen: 127.0.0.1:9000\nhttp:\n  max_body_bytes: 4096\n", &c).ok());
  EXPECT_EQ(c.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.http.max_body_bytes, 4096u);
  Config before = c;
  Status s = ApplyConfigYaml("listen: 127.0.0.1:9001\nlisten_typo: 1\n", &c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("listen_typo"), std::string::npos);
  EXPECT_EQ(c.listen, before.listen) << "a rejected file must change nothing";
  EXPECT_FALSE(ApplyConfigYaml("http: [1, 2\n", &c).ok());
  EXPECT_FALSE(ApplyConfigYaml("threads: -3\n", &c).ok());
  EXPECT_FALSE(ApplyConfigYaml("http:\n  max_connections: lots\n", &c).ok());
}

TEST(Config, TrustedProxiesMustBeAddressesAndNeverEveryone) {
  Config c;
  EXPECT_TRUE(c.http_forwarding.trusted_proxies.empty());
  EXPECT_EQ(c.http_forwarding.client_address_header, "x-forwarded-for");
  ASSERT_TRUE(ApplyConfigYaml("http:\n  trusted_proxies: [10.0.0.0/8, \"2001:db8::/32\"]\n"
                              "  client_address_header: x-real-ip\n",
                              &c)
                  .ok());
  ASSERT_TRUE(ApplyConfigYaml("http:\n  trusted_proxies: [10.0.0.5, \"2001:db8::/64\"]\n"
                              "  client_address_header: forwarded\n",
                              &c)
                  .ok());
  EXPECT_EQ(c.http_forwarding.trusted_proxies,
            (std::vector<std::string>{"10.0.0.5", "2001:db8::/64"}));
  EXPECT_EQ(c.http_forwarding.client_address_header, "forwarded");
  for (const char* bad : {"[proxy.example]", "[0.0.0.0/0]", "[\"::/0\"]", "[10.0.0.0/33]",
                          "[0.0.0.0/1]", "[10.0.0.0/7]", "[\"::/80\"]", "[\"::ffff:0.0.0.0/100\"]",
                          "[\"2000::/3\"]", "[\"2001:db8::/31\"]"}) {
    Config before = c;
    Status s = ApplyConfigYaml(std::string("http:\n  trusted_proxies: ") + bad + "\n", &c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("http.trusted_proxies[0]"), std::string::npos) << s.message();
    EXPECT_EQ(c.http_forwarding.trusted_proxies, before.http_forwarding.trusted_proxies);
  }
  Status header = ApplyConfigYaml("http:\n  client_address_header: x-client-ip\n", &c);
  EXPECT_NE(header.message().find("http.client_address_header"), std::string::npos);
  EXPECT_EQ(c.http_forwarding.client_address_header, "forwarded");
  EXPECT_TRUE(c.http_forwarding.metrics_listen.empty());
  ASSERT_TRUE(ApplyConfigYaml("http:\n  metrics_listen: \"127.0.0.1:9464\"\n", &c).ok());
  EXPECT_EQ(c.http_forwarding.metrics_listen, "127.0.0.1:9464");
  Status listen = ApplyConfigYaml("http:\n  metrics_listen: \"9464\"\n", &c);
  EXPECT_NE(listen.message().find("http.metrics_listen"), std::string::npos) << listen.message();
  EXPECT_EQ(c.http_forwarding.metrics_listen, "127.0.0.1:9464");
  // The proxies in front of the servers whose logs are read obey the same rule.
  EXPECT_TRUE(c.detection.log_trusted_proxies.empty());
  ASSERT_TRUE(
      ApplyConfigYaml("detection:\n  log_trusted_proxies: [10.20.0.0/24, \"2001:db8::7\"]\n", &c)
          .ok());
  EXPECT_EQ(c.detection.log_trusted_proxies,
            (std::vector<std::string>{"10.20.0.0/24", "2001:db8::7"}));
  for (const char* bad : {"[10.20.0.0/24, \"0.0.0.0/0\"]", "[balancer]"}) {
    Status s = ApplyConfigYaml(std::string("detection:\n  log_trusted_proxies: ") + bad + "\n", &c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("detection.log_trusted_proxies["), std::string::npos) << s.message();
    EXPECT_EQ(c.detection.log_trusted_proxies.size(), 2u) << "a rejected file changes nothing";
  }
}

TEST(Config, FollowFormatsNameFollowedFilesAndAServersFormatString) {
  Config c;
  const std::string follow = "detection:\n  follow: [/var/log/nginx/access.log, /var/log/b]\n";
  ASSERT_TRUE(ApplyConfigYaml(follow + "  follow_formats:\n    /var/log/nginx/access.log: "
                                       "'nginx:$remote_addr [$time_local] \"$request\" $status'\n",
                              &c)
                  .ok());
  EXPECT_EQ(c.detection.follow_formats.at("/var/log/nginx/access.log"),
            "nginx:$remote_addr [$time_local] \"$request\" $status");
  const std::pair<std::string, std::string> bad[] = {
      {"  follow_formats:\n    /var/log/c: 'apache:%h %t'\n", "names '/var/log/c', which is not"},
      {"  follow_formats:\n    /var/log/b: '%h %t'\n", "must start with 'nginx:' or 'apache:'"},
      {"  follow_formats: [a]\n", "'detection.follow_formats' must be a map"},
      {"  follow_formats:\n    /var/log/b: [x]\n", "must be a map of strings to strings"},
  };
  for (const auto& [yaml, why] : bad) {
    Status s = ApplyConfigYaml(follow + yaml, &c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << yaml;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
    EXPECT_EQ(c.detection.follow_formats,
              (std::map<std::string, std::string>{
                  {"/var/log/nginx/access.log",
                   "nginx:$remote_addr [$time_local] \"$request\" $status"}}))
        << "a rejected file changes nothing";
  }
}

TEST(Config, SyslogFormatsNameASendersTagAndNeedAListener) {
  Config c;
  ASSERT_TRUE(ApplyConfigYaml("detection:\n  syslog_listen: \"127.0.0.1:5514\"\n"
                              "  syslog_formats:\n    nginx_access: 'nginx:$remote_addr $status'\n",
                              &c)
                  .ok());
  EXPECT_EQ(c.detection.syslog_formats,
            (std::map<std::string, std::string>{{"nginx_access", "nginx:$remote_addr $status"}}));
  // The listener may come after the layouts in the file.
  Config ordered;
  EXPECT_TRUE(ApplyConfigYaml("detection:\n  syslog_formats:\n    app: 'nginx:$status'\n"
                              "  syslog_listen: \"127.0.0.1:5514\"\n",
                              &ordered)
                  .ok());
  const std::pair<std::string, std::string> bad[] = {
      {"detection:\n  syslog_listen: \"127.0.0.1:5514\"\n  syslog_formats:\n    a: '%h %s'\n",
       "'detection.syslog_formats.a' must start with 'nginx:' or 'apache:'"},
      {"detection:\n  syslog_listen: \"\"\n  syslog_formats:\n    a: 'nginx:$status'\n",
       "'detection.syslog_formats' is set but no syslog listener is"},
      {"detection:\n  syslog_formats:\n    \"\": 'nginx:$status'\n",
       "key '' cannot be an APP-NAME"},
      {"detection:\n  syslog_formats:\n    \"nginx access\": 'nginx:$status'\n",
       "key 'nginx access' cannot be an APP-NAME"},
  };
  for (const auto& [yaml, why] : bad) {
    Status s = ApplyConfigYaml(yaml, &c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << yaml;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
    ASSERT_EQ(c.detection.syslog_formats.size(), 1u);
    EXPECT_EQ(c.detection.syslog_formats.begin()->first, "nginx_access")
        << "a rejected file changes nothing";
  }
}

TEST(Config, MassCommandThresholdDefaultsToTenAndIsConfigurable) {
  Config c;
  EXPECT_EQ(c.mass_command_threshold, 10u);
  ASSERT_TRUE(ApplyConfigYaml("mass_command_threshold: 25\n", &c).ok());
  EXPECT_EQ(c.mass_command_threshold, 25u);
  EXPECT_FALSE(ApplyConfigYaml("mass_command_threshold: many\n", &c).ok());
}

TEST(Config, DetectionSectionAndItsErrors) {
  Config c;
  EXPECT_TRUE(c.detection.enabled);
  EXPECT_EQ(c.detection.queue_capacity, 65536u);
  ASSERT_TRUE(ApplyConfigYaml("detection:\n"
                              "  queue_capacity: 128\n"
                              "  max_tracked_keys: 50\n"
                              "  canary_paths: [/a, /b]\n"
                              "  canary_token_ids: [tok_1]\n"
                              "  syslog: 127.0.0.1:514\n"
                              "  webhook_url: https://soc.example:8443/h\n"
                              "  webhook_max_attempts: 3\n",
                              &c)
                  .ok());
  EXPECT_EQ(c.detection.queue_capacity, 128u);
  EXPECT_EQ(c.detection.max_tracked_keys, 50u);
  EXPECT_EQ(c.detection.canary_paths, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(c.detection.canary_token_ids, std::vector<std::string>{"tok_1"});
  EXPECT_EQ(c.detection.syslog, "127.0.0.1:514");
  EXPECT_EQ(c.detection.webhook_max_attempts, 3u);
  Status typo = ApplyConfigYaml("detection:\n  canary_path: [/a]\n", &c);
  EXPECT_NE(typo.message().find("detection.canary_path"), std::string::npos) << typo.message();
  EXPECT_FALSE(ApplyConfigYaml("detection:\n  canary_paths: /a\n", &c).ok()) << "not a list";
  EXPECT_FALSE(ApplyConfigYaml("detection:\n  queue_capacity: 0\n", &c).ok());
  EXPECT_FALSE(ApplyConfigYaml("detection:\n  syslog: nohostport\n", &c).ok());
  EXPECT_FALSE(ApplyConfigYaml("detection: [1]\n", &c).ok());
}

TEST(Config, SyslogTlsNeedsItsFilesAndNamesTheMissingKey) {
  Config c;
  ASSERT_TRUE(ApplyConfigYaml("detection:\n"
                              "  syslog_tls_listen: 0.0.0.0:6514\n"
                              "  syslog_tls_cert: /etc/rampart/syslog.pem\n"
                              "  syslog_tls_key: /etc/rampart/syslog.key\n"
                              "  syslog_tls_client_ca: /etc/rampart/collectors.pem\n",
                              &c)
                  .ok());
  EXPECT_EQ(c.detection.syslog_tls_listen, "0.0.0.0:6514");
  EXPECT_EQ(c.detection.syslog_tls_cert, "/etc/rampart/syslog.pem");
  EXPECT_EQ(c.detection.syslog_tls_key, "/etc/rampart/syslog.key");
  EXPECT_EQ(c.detection.syslog_tls_client_ca, "/etc/rampart/collectors.pem");
  const std::pair<const char*, const char*> bad[] = {
      {"detection:\n  syslog_tls_listen: 0.0.0.0:6514\n  syslog_tls_key: /k\n",
       "'detection.syslog_tls_cert' is required"},
      {"detection:\n  syslog_tls_listen: 0.0.0.0:6514\n  syslog_tls_cert: /c\n",
       "'detection.syslog_tls_key' is required"},
      {"detection:\n  syslog_tls_cert: /c\n  syslog_tls_key: /k\n",
       "'detection.syslog_tls_cert' is set but 'detection.syslog_tls_listen' is not"},
      {"detection:\n  syslog_tls_client_ca: /ca\n", "'detection.syslog_tls_client_ca' is set but"},
      {"detection:\n  syslog_tls_listen: nohostport\n  syslog_tls_cert: /c\n"
       "  syslog_tls_key: /k\n",
       "'detection.syslog_tls_listen'"},
  };
  for (const auto& [yaml, message] : bad) {
    Config d;
    Status s = ApplyConfigYaml(yaml, &d);
    EXPECT_FALSE(s.ok()) << yaml;
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
  }
}

TEST(Config, DetectionSourcesAndWorkingHours) {
  Config c;
  EXPECT_TRUE(c.detection.follow.empty());
  EXPECT_EQ(c.detection.follow_poll_millis, 250u);
  EXPECT_TRUE(c.detection.syslog_listen.empty());
  EXPECT_TRUE(c.detection.admin_login_new_address);
  EXPECT_TRUE(c.detection.new_file_use);
  EXPECT_EQ(c.detection.staged_download_kib, 1024u);
  EXPECT_EQ(c.detection.working_hours.days, 0x1f);
  EXPECT_TRUE(c.detection.reload_on_change);
  EXPECT_EQ(c.detection.reload_settle_millis, 1000u);
  ASSERT_TRUE(
      ApplyConfigYaml("detection:\n"
                      "  follow: [/var/log/a, /var/log/b]\n"
                      "  reload_on_change: false\n"
                      "  reload_settle_millis: 2500\n"
                      "  follow_poll_millis: 100\n"
                      "  syslog_listen: 127.0.0.1:5514\n"
                      "  syslog_tls_listen: \"[::1]:6514\"\n"
                      "  syslog_tls_cert: /etc/rampart/syslog.pem\n"
                      "  syslog_tls_key: /etc/rampart/syslog.key\n"
                      "  admin_login_new_address: false\n"
                      "  new_file_use: false\n"
                      "  syslog_bsd_utc_offset_minutes: 60\n"
                      "  staged_download_kib: 64\n"
                      "  working_hours: {days: [mon, sat], start: \"08:30\", end: \"17:00\",\n"
                      "                  utc_offset_minutes: -300}\n",
                      &c)
          .ok());
  EXPECT_EQ(c.detection.follow, (std::vector<std::string>{"/var/log/a", "/var/log/b"}));
  EXPECT_EQ(c.detection.follow_poll_millis, 100u);
  EXPECT_FALSE(c.detection.reload_on_change);
  EXPECT_EQ(c.detection.reload_settle_millis, 2500u);
  EXPECT_EQ(c.detection.syslog_listen, "127.0.0.1:5514");
  EXPECT_EQ(c.detection.syslog_tls_listen, "[::1]:6514");
  EXPECT_FALSE(c.detection.admin_login_new_address);
  EXPECT_FALSE(c.detection.new_file_use);
  EXPECT_EQ(c.detection.syslog_bsd_utc_offset_minutes, 60);
  EXPECT_EQ(c.detection.staged_download_kib, 64u);
  EXPECT_EQ(c.detection.working_hours.days, 0x21);
  EXPECT_EQ(c.detection.working_hours.start_minute, 510u);
  EXPECT_EQ(c.detection.working_hours.end_minute, 1020u);
  EXPECT_EQ(c.detection.working_hours.utc_offset_minutes, -300);
  const char* bad[] = {
      "detection:\n  follow: [relative.log]\n",
      "detection:\n  follow_poll_millis: 0\n",
      "detection:\n  reload_on_change: sometimes\n",
      "detection:\n  reload_settle_millis: -1\n",
      "detection:\n  staged_download_kib: 0\n",
      "detection:\n  syslog_bsd_utc_offset_minutes: 900\n",
      "detection:\n  syslog_listen: nohostport\n",
      // A listener is bound to an address: serve would stop on a name at start.
      "detection:\n  syslog_listen: localhost:5514\n",
      "detection:\n  syslog_tls_listen: syslog.example.eu:6514\n",
      "detection:\n  working_hours: {days: [monday]}\n",
      "detection:\n  working_hours: {start: \"7:00\"}\n",
      "detection:\n  working_hours: {end: \"24:01\"}\n",
      "detection:\n  working_hours: {start: \"09:00\", end: \"09:00\"}\n",
      "detection:\n  working_hours: {utc_offset_minutes: 900}\n",
      "detection:\n  working_hours: {timezone: CET}\n",
  };
  for (const char* yaml : bad) {
    Config d;
    EXPECT_FALSE(ApplyConfigYaml(yaml, &d).ok()) << yaml;
  }
}

TEST(Config, FileIntegrityKeys) {
  Config c;
  EXPECT_TRUE(c.detection.integrity_paths.empty());
  EXPECT_EQ(c.detection.integrity_rescan_seconds, 3600u);
  ASSERT_TRUE(ApplyConfigYaml("detection:\n"
                              "  integrity_paths: [/opt/rampart, /srv/www]\n"
                              "  integrity_exclude: [/opt/rampart/log]\n"
                              "  integrity_rescan_seconds: 60\n",
                              &c)
                  .ok());
  EXPECT_EQ(c.detection.integrity_paths, (std::vector<std::string>{"/opt/rampart", "/srv/www"}));
  EXPECT_EQ(c.detection.integrity_exclude, std::vector<std::string>{"/opt/rampart/log"});
  EXPECT_EQ(c.detection.integrity_rescan_seconds, 60u);
  EXPECT_FALSE(ApplyConfigYaml("detection:\n  integrity_paths: /srv/www\n", &c).ok());
  EXPECT_FALSE(ApplyConfigYaml("detection:\n  integrity_paths: [\"\"]\n", &c).ok());
  EXPECT_FALSE(ApplyConfigYaml("detection:\n  integrity_rescan_seconds: 0\n", &c).ok());
}

TEST(Config, ParsesHostPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:8443", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8443);
  ASSERT_TRUE(ParseHostPort("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(ParseHostPort("localhost", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("h:70000", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("h:8a", &host, &port).ok());
}

TEST(JsonUtil, StrictFieldReading) {
  auto obj = jsonutil::ParseObject(R"({"name":"x","n":5,"b":true,"l":["a"],"bad":3})");
  ASSERT_TRUE(obj.ok());
  std::string name;
  int64_t n = 0;
  bool b = false;
  std::vector<std::string> l;
  EXPECT_TRUE(jsonutil::GetString(*obj, "name", &name, true).ok());
  EXPECT_TRUE(jsonutil::GetInt(*obj, "n", &n, true, 0, 10).ok());
  EXPECT_TRUE(jsonutil::GetBool(*obj, "b", &b, true).ok());
  EXPECT_TRUE(jsonutil::GetStringList(*obj, "l", &l, true).ok());
  EXPECT_EQ(name, "x");
  EXPECT_EQ(n, 5);
  EXPECT_TRUE(b);
  EXPECT_EQ(l.size(), 1u);
  EXPECT_FALSE(jsonutil::GetString(*obj, "n", &name, true).ok());
  EXPECT_FALSE(jsonutil::GetInt(*obj, "n", &n, true, 6, 10).ok());
  EXPECT_FALSE(jsonutil::GetInt(*obj, "missing", &n, true, 0, 1).ok());
  EXPECT_TRUE(jsonutil::GetInt(*obj, "missing", &n, false, 0, 1).ok());
  EXPECT_FALSE(jsonutil::RejectUnknownFields(*obj, {"name", "n", "b", "l"}).ok());
  EXPECT_FALSE(jsonutil::ParseObject("[1]").ok());
  EXPECT_FALSE(jsonutil::ParseObject("{\"a\":").ok());
}

TEST(Log, RendersJsonWithoutThrowingOnBadUtf8) {
  std::string bad("\xff\xfe", 2);
  std::string line = log::Render(log::Level::kWarn, "x", {{"path", bad}, {"n", 3}});
  auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["event"], "x");
  EXPECT_EQ(parsed["n"], 3);
  EXPECT_EQ(parsed["level"], "warn");
}

TEST(TextTest, TerminalSafeKeepsValidUtf8AndEscapesControls) {
  EXPECT_EQ(TerminalSafe("Zugriff auf Ger\xc3\xa4t \xe2\x82\xac"),
            "Zugriff auf Ger\xc3\xa4t \xe2\x82\xac");
  // C1 CSI (U+009B), a lone continuation byte, an overlong '/', a cut sequence, a surrogate.
  EXPECT_EQ(TerminalSafe("a\xc2\x9b[2Jb"), "a\\xc2\\x9b[2Jb");
  EXPECT_EQ(TerminalSafe("\x80\xc0\xaf\xe2\x82"), "\\x80\\xc0\\xaf\\xe2\\x82");
  EXPECT_EQ(TerminalSafe("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(TerminalSafe("\x1b\x7f\\"), "\\x1b\\x7f\\\\");
  // A right-to-left override (U+202E), a zero-width space (U+200B), a line separator (U+2028).
  EXPECT_EQ(TerminalSafe("exe.\xe2\x80\xaetxt"), "exe.\\xe2\\x80\\xaetxt");
  EXPECT_EQ(TerminalSafe("a\xe2\x80\x8b"
                         "b\xe2\x80\xa8"
                         "c"),
            "a\\xe2\\x80\\x8bb\\xe2\\x80\\xa8c");
}

TEST(TextTest, ValidUtf8ReplacesEachStrayByte) {
  EXPECT_EQ(ValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");
  EXPECT_EQ(ValidUtf8("a\xff"
                      "b"),
            "a\xef\xbf\xbd"
            "b");
  // Overlong, surrogate, cut short: each byte replaced.
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("x\xe2\x82"), "x\xef\xbf\xbd\xef\xbf\xbd");
}

// yaml-cpp 0.7 closes a quote left open at the end of the document and carries on.
TEST(YamlQuotes, FindsAQuoteNeverClosedAndNothingElse) {
  auto unclosed = [](const std::string& text) { return FindUnclosedQuote(YAML::Load(text), text); };
  auto q = unclosed("a: 1\nb:\n  c: 'x\n  d: 2\n");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->line, 2u);
  EXPECT_EQ(q->column, 5u);
  q = unclosed("a:\n  - \"p\"\n  - \"q\\\"\n");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->line, 2u);
  EXPECT_EQ(q->column, 4u);
  // Closed quotes, escapes of both kinds, quotes inside plain and block scalars, and a quoted
  // scalar over two lines are all fine.
  for (const char* ok : {"a: 'it''s'\nb: \"say \\\"hi\\\"\"\n", "a: it's\n", "a: |\n  it's\n",
                         "'k': v\n", "a: 'one\n  two'\n", "a: ''\n", ""}) {
    EXPECT_FALSE(unclosed(ok).has_value()) << ok;
  }
  // Aliases are followed within a budget: an exponential document is not walked in full.
  std::string bomb = "a: &a ['x', 'y', 'z', 'w']\n";
  std::string prev = "a";
  for (int i = 0; i < 12; ++i) {
    std::string name = "l" + std::to_string(i);
    bomb += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
    prev = name;
  }
  EXPECT_FALSE(unclosed(bomb).has_value());
  // An alias inside its own anchor: yaml-cpp builds a cycle (fuzzing found the overflow).
  EXPECT_FALSE(unclosed("&a [*a, *a]\n").has_value());
  EXPECT_FALSE(unclosed("a: &x {b: *x, c: 'q'}\n").has_value());
}

TEST(Config, AQuoteNeverClosedIsAnErrorWithItsLine) {
  Config c;
  Status s = ApplyConfigYaml("listen: 127.0.0.1:9000\ndata_dir: '/var/lib/x\nthreads: 4\n", &c);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("line 2: the quote opened at column 11 is never closed"),
            std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace rampart
