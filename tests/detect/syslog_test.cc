// Syslog: the RFC 5424 and RFC 3164 parser on the RFCs' own examples and on broken input, the
// event mapping, and the receiver over real UDP and TCP sockets on 127.0.0.1.
#include "detect/syslog.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "common/ip.h"
#include "detect/custom_log_format.h"
#include "support/loopback.h"
#include "tests/support/capturing_sink.h"

namespace rampart::detect {
namespace {

using rampart::testing::CapturingSink;

// 2026-01-30T09:15:00Z
constexpr int64_t kSyslogNow = 1769764500000;

// The layout an nginx front end declares for `access_log syslog:...,tag=nginx_access`: the
// forwarded-for header after $request_time.
constexpr std::string_view kNginxAccessLayout =
    R"(nginx:$remote_addr [$time_local] "$request" $status $request_time )"
    R"("$http_x_forwarded_for")";

TEST(SyslogParse, Rfc5424Example1) {
  auto m = ParseSyslog(
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' "
      "failed for lonvick on /dev/pts/8",
      kSyslogNow);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->version, 1);
  EXPECT_EQ(m->facility, 4);
  EXPECT_EQ(m->severity, 2);
  EXPECT_EQ(m->timestamp_millis, 1065910455003);
  EXPECT_EQ(m->hostname, "mymachine.example.com");
  EXPECT_EQ(m->app_name, "su");
  EXPECT_EQ(m->procid, "");
  EXPECT_EQ(m->msgid, "ID47");
  EXPECT_EQ(m->structured_data, "");
  EXPECT_EQ(m->message, "'su root' failed for lonvick on /dev/pts/8");
}

TEST(SyslogParse, Rfc5424StructuredDataWithEscapesAndNoMessage) {
  auto m = ParseSyslog(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\\"cation]\" eventID=\"1011\"]"
      "[examplePriority@32473 class=\"high\"]",
      kSyslogNow);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->facility, 20);
  EXPECT_EQ(m->severity, 5);
  EXPECT_EQ(m->structured_data,
            "[exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\\"cation]\" eventID=\"1011\"]"
            "[examplePriority@32473 class=\"high\"]");
  EXPECT_EQ(m->message, "");
}

TEST(SyslogParse, Rfc5424WithOffsetTimeAndProcid) {
  auto m = ParseSyslog(
      "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make "
      "the do-nuts.",
      kSyslogNow);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->hostname, "192.0.2.1");
  EXPECT_EQ(m->procid, "8710");
  EXPECT_EQ(m->timestamp_millis, 1061727255000);
  EXPECT_EQ(m->message, "%% It's time to make the do-nuts.");
}

TEST(SyslogParse, Rfc3164Example) {
  auto m =
      ParseSyslog("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick", kSyslogNow);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->version, 0);
  EXPECT_EQ(m->severity, 2);
  EXPECT_EQ(m->hostname, "mymachine");
  EXPECT_EQ(m->app_name, "su");
  EXPECT_EQ(m->message, "'su root' failed for lonvick");
  // October is after "now" (January 2026): the message is from October 2025.
  EXPECT_EQ(m->timestamp_millis, 1760220855000);
}

TEST(SyslogParse, Rfc3164TagWithPidAndPaddedDay) {
  auto m = ParseSyslog("<13>Jan  3 09:15:00 mdm httpd[4242]: hello world\n", kSyslogNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->hostname, "mdm");
  EXPECT_EQ(m->app_name, "httpd");
  EXPECT_EQ(m->procid, "4242");
  EXPECT_EQ(m->message, "hello world");
  EXPECT_EQ(m->timestamp_millis, 1767431700000);  // 2026-01-03T09:15:00Z
}

// A BSD sender stamps its local time: with its offset the event gets the real UTC time, and the
// year is chosen on the sender's clock (Dec 31 23:30 in UTC+1 is still last year at 22:30 UTC).
TEST(SyslogParse, Rfc3164TimeIsTheSendersLocalTime) {
  auto cet = ParseSyslog("<13>Jan 30 10:15:00 mdm httpd: x", kSyslogNow, 60);
  ASSERT_TRUE(cet.ok());
  EXPECT_EQ(cet->timestamp_millis, kSyslogNow) << "10:15 in UTC+1 is 09:15Z";
  auto west = ParseSyslog("<13>Jan 30 04:15:00 mdm httpd: x", kSyslogNow, -300);
  ASSERT_TRUE(west.ok());
  EXPECT_EQ(west->timestamp_millis, kSyslogNow);
  // An RFC 3339 time in the header carries its own zone: the offset does not apply.
  auto zoned = ParseSyslog("<13>2026-01-30T09:15:00Z mdm httpd: x", kSyslogNow, 60);
  ASSERT_TRUE(zoned.ok());
  EXPECT_EQ(zoned->timestamp_millis, kSyslogNow);
  // Just after midnight UTC on Jan 1, a sender at UTC-5 is still on Dec 31 of the year before.
  const int64_t new_year = 1767225600000;  // 2026-01-01T00:00:00Z
  auto late = ParseSyslog("<13>Dec 31 19:05:00 mdm httpd: x", new_year + 10 * 60 * 1000, -300);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->timestamp_millis, new_year + 5 * 60 * 1000);
}

TEST(SyslogParse, Rfc3164WithoutRecognisableHeaderKeepsEverythingAsMessage) {
  auto m = ParseSyslog("<13>Use the BFG!", kSyslogNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->hostname, "");
  EXPECT_EQ(m->message, "Use the BFG!");
  EXPECT_EQ(m->timestamp_millis, 0);
}

TEST(SyslogParse, MalformedInputIsRefusedWithAReason) {
  const char* bad[] = {
      "",
      "no pri at all",
      "<>1 - - - - - -",
      "<192>1 - - - - - -",
      "<1234>msg",
      "<34",
      "<34>1 not-a-time host app - - -",
      "<34>1 - host app - - [unterminated sd=\"x\"",
      "<34>1 - host app - - [sd x=\"]\"]garbage",
      "<34>1 - host",
      "<34>1 - host app - -",
  };
  for (const char* text : bad) {
    auto m = ParseSyslog(text, kSyslogNow);
    EXPECT_FALSE(m.ok()) << "accepted: " << text;
    if (!m.ok()) {
      EXPECT_NE(m.status().message().find("syslog:"), std::string::npos);
    }
  }
}

TEST(SyslogEvent, AccessLogLineInMsgBecomesTheAccessLogEvent) {
  std::string text =
      "<190>Jan 30 09:15:00 mdm httpd: mdm.example.eu:443 203.0.113.50 - - [30/Jan/2026:09:15:00 "
      "+0100] \"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,"
      "h=gPath%5B%60id%60%5D/a.ipa HTTP/1.1\" 404 196 \"-\" \"python-requests/2.31.0\"";
  auto m = ParseSyslog(text, kSyslogNow);
  ASSERT_TRUE(m.ok());
  SecurityEvent ev = SyslogToEvent(*m, "udp", "127.0.0.1:5000");
  EXPECT_EQ(ev.Get("source.ip"), "203.0.113.50");
  EXPECT_EQ(ev.Get("destination.domain"), "mdm.example.eu");
  EXPECT_EQ(ev.Get("http.response.status_code"), "404");
  EXPECT_EQ(ev.Get("host.name"), "mdm");
  EXPECT_EQ(ev.Get("process.name"), "httpd");
  EXPECT_EQ(ev.Get("log.source.address"), "127.0.0.1:5000");
  EXPECT_EQ(ev.Get("network.transport"), "udp");
  EXPECT_EQ(ev.Get("event.action"), "");
  EXPECT_EQ(ev.timestamp_millis, 1769760900000) << "the access log's own time (+0100)";
}

// nginx's `access_log syslog:server=...,tag=nginx_access` in a layout of its own: read in the
// declared layout (the forwarded-for header after $request_time), and in it alone.
TEST(SyslogEvent, AMessageInADeclaredLayoutIsReadInIt) {
  auto layout = CustomLogFormat::Compile(kNginxAccessLayout);
  ASSERT_TRUE(layout.ok()) << layout.status().message();
  const std::string text =
      "<190>Jan 30 09:15:00 mdm nginx_access: 10.0.0.2 [30/Jan/2026:09:15:00 +0100] \"GET "
      "/mifs/403.jsp HTTP/1.1\" 200 0.004 \"203.0.113.7\"";
  auto m = ParseSyslog(text, kSyslogNow);
  ASSERT_TRUE(m.ok());
  const ProxyTrust trust{{*ParseCidr("10.0.0.0/8")}};
  Attribution how = Attribution::kNotFromProxy;
  SecurityEvent ev = SyslogToEvent(*m, "udp", "127.0.0.1:5000", trust, &how, &*layout);
  EXPECT_EQ(ev.Get("url.path"), "/mifs/403.jsp");
  EXPECT_EQ(ev.Get("source.ip"), "203.0.113.7");
  EXPECT_EQ(how, Attribution::kForwardedClient);
  EXPECT_EQ(ev.Get("process.name"), "nginx_access");
  EXPECT_EQ(ev.timestamp_millis, 1769760900000);
  // Without the layout the line is not an access-log line Rampart knows.
  EXPECT_EQ(SyslogToEvent(*m, "udp", "127.0.0.1:5000", trust).Get("event.action"),
            "syslog.message");
  // With it, a combined line or JSON is not read as one either.
  auto combined = ParseSyslog(
      "<190>Jan 30 09:15:00 mdm nginx_access: 203.0.113.50 - - [30/Jan/2026:09:15:00 +0100] "
      "\"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"",
      kSyslogNow);
  ASSERT_TRUE(combined.ok());
  EXPECT_EQ(SyslogToEvent(*combined, "udp", "127.0.0.1:5000", trust, nullptr, &*layout)
                .Get("event.action"),
            "syslog.message");
  auto json =
      ParseSyslog(R"(<190>Jan 30 09:15:00 mdm nginx_access: {"url.original":"/x"})", kSyslogNow);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(
      SyslogToEvent(*json, "udp", "127.0.0.1:5000", trust, nullptr, &*layout).Get("event.action"),
      "syslog.message");
}

// A sender's JSON cannot claim what only the receiver knows: the collector's certificate, the
// transport, the address, the syslog header.
TEST(SyslogEvent, JsonCannotClaimTheReceiversFields) {
  auto m = ParseSyslog(
      R"(<134>1 2026-01-30T09:15:00Z mdm - - - - {"url.original":"/mifs/x","tls.client.subject":"CN=collector","network.transport":"tls","log.source.address":"10.0.0.1","log.syslog.msgid":"X","process.name":"fake"})",
      kSyslogNow);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  SecurityEvent ev = SyslogToEvent(*m, "udp", "192.0.2.9:514");
  EXPECT_EQ(ev.Get("url.path"), "/mifs/x");
  EXPECT_EQ(ev.Get("tls.client.subject"), "");
  EXPECT_EQ(ev.Get("network.transport"), "udp");
  EXPECT_EQ(ev.Get("log.source.address"), "192.0.2.9:514");
  EXPECT_EQ(ev.Get("log.syslog.msgid"), "");
  EXPECT_EQ(ev.Get("process.name"), "");
}

// Nor can it claim one of Rampart's own actions: a forged "file.deleted" hid a new webshell
// from the new-file detector, a forged canary "staff.decrypt" raised a critical alert.
TEST(SyslogEvent, JsonCannotClaimRampartsOwnActions) {
  for (const char* action : {"file.deleted", "Staff.Decrypt", "FILE.CREATED", "auth.login",
                             "command.queued", "http.request", "detection.events_dropped"}) {
    // The message views into its text: the text must outlive it.
    const std::string text = std::string("<14>1 - - app - - - {\"event.action\":\"") + action +
                             "\",\"file.path\":\"/w/k.jsp\",\"staff.canary\":\"true\"}";
    auto m = ParseSyslog(text, kSyslogNow);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    SecurityEvent ev = SyslogToEvent(*m, "udp", "127.0.0.1:5000");
    EXPECT_EQ(ev.Get("event.action"), std::string("external.") + action);
    EXPECT_EQ(ev.Get("file.path"), "/w/k.jsp") << "kept for hunting";
  }
  // Other systems' actions are theirs to name.
  auto m = ParseSyslog(R"(<14>1 - - app - - - {"event.action":"user-login","user.name":"x"})",
                       kSyslogNow);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(SyslogToEvent(*m, "udp", "127.0.0.1:5000").Get("event.action"), "user-login");
}

TEST(SyslogEvent, OtherMessagesBecomeGenericSyslogEvents) {
  auto m = ParseSyslog("<38>1 2026-01-30T09:15:00Z fw sshd 77 - - Accepted publickey", kSyslogNow);
  ASSERT_TRUE(m.ok());
  SecurityEvent ev = SyslogToEvent(*m, "tcp", "192.0.2.9:4000");
  EXPECT_EQ(ev.Get("event.action"), "syslog.message");
  EXPECT_EQ(ev.Get("host.name"), "fw");
  EXPECT_EQ(ev.Get("process.name"), "sshd");
  EXPECT_EQ(ev.Get("log.syslog.severity.code"), "6");
  EXPECT_EQ(ev.Get("message"), "Accepted publickey");
  EXPECT_EQ(ev.timestamp_millis, kSyslogNow);
}

int ConnectTcp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = rampart::testing::LoopbackAddress(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

int ConnectTcpFromForSyslogPeers(const char* source, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in a = rampart::testing::LoopbackAddress(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Connects from `source` and expects the receiver to close that connection within the
// (generous) deadline: refused at accept, or closed once idle.
void ExpectClosedForSyslogPeers(const char* source, uint16_t port) {
  int fd = ConnectTcpFromForSyslogPeers(source, port);
  ASSERT_GE(fd, 0);
  char buf[16];
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_LE(::recv(fd, buf, sizeof buf, 0), 0);
  ::close(fd);
}

TEST(SyslogReceiverTest, UdpAndBothTcpFramings) {
  CapturingSink sink;
  SyslogReceiverOptions o;
  o.listen = "127.0.0.1:0";
  auto r = SyslogReceiver::Create(o, &sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  (*r)->Start();
  uint16_t port = (*r)->port();
  ASSERT_NE(port, 0);

  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = rampart::testing::LoopbackAddress(port);
  std::string dgram = "<13>1 - host app - - - over udp";
  ::sendto(udp, dgram.data(), dgram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(udp);
  ASSERT_EQ(sink.WaitFor(1).size(), 1u);

  int tcp = ConnectTcp(port);
  ASSERT_GE(tcp, 0);
  std::string counted1 = "<13>1 - host app - - - octet counted";
  std::string counted2 = "<13>1 - host app - - - with\nnewline inside";
  // Octet counting, split across writes, then LF framing on the same connection.
  std::string stream = std::to_string(counted1.size()) + " " + counted1 +
                       std::to_string(counted2.size()) + " " + counted2;
  SendAll(tcp, stream.substr(0, 7));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  SendAll(tcp, stream.substr(7));
  SendAll(tcp, "<13>Jan 30 09:15:00 host app: lf framed\r\n<13>Jan 30 09:15:00 host app: last\n");
  auto events = sink.WaitFor(5);
  ::close(tcp);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].Get("message"), "over udp");
  EXPECT_EQ(events[0].Get("network.transport"), "udp");
  EXPECT_EQ(events[1].Get("message"), "octet counted");
  EXPECT_EQ(events[1].Get("network.transport"), "tcp");
  EXPECT_EQ(events[2].Get("message"), "with\nnewline inside");
  EXPECT_EQ(events[3].Get("message"), "lf framed");
  EXPECT_EQ(events[4].Get("message"), "last");
  (*r)->Stop();
  EXPECT_EQ((*r)->stats().messages, 5u);
}

// Datagrams the kernel drops (the socket's buffer full while the receiver is busy) never reach
// the parser: they are counted from the socket's own counter and reported as lost events.
TEST(SyslogReceiverTest, DatagramsTheKernelDroppedAreCountedAndReported) {
  CapturingSink sink;
  SyslogReceiverOptions o;
  o.listen = "127.0.0.1:0";
  auto r = SyslogReceiver::Create(o, &sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Not started yet: nothing reads, so the buffer fills and the kernel drops the rest.
  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = rampart::testing::LoopbackAddress((*r)->port());
  std::string dgram = "<13>1 - host app - - - " + std::string(1000, 'x');
  for (int i = 0; i < 20000; ++i) {
    ::sendto(udp, dgram.data(), dgram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ::close(udp);
  (*r)->Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sink.lost() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (*r)->Stop();
  SyslogStats s = (*r)->stats();
  EXPECT_GT(s.udp_kernel_dropped, 0u);
  EXPECT_EQ(sink.lost(), s.udp_kernel_dropped);
  EXPECT_EQ(s.messages + s.udp_kernel_dropped, 20000u) << "every datagram read or counted";
}

// A program given a layout whose messages are mostly not in it (nginx's log_format changed,
// or the layout was copied wrong) emits detection.log_unreadable, named by its APP-NAME and the
// sender's address. Each sender is judged apart, so one host's broken format is not hidden by
// another's good lines; programs without a layout and empty messages are not judged.
TEST(SyslogReceiverTest, AProgramWhoseMessagesAreNotInItsLayoutIsReportedPerSender) {
  auto layout = CustomLogFormat::Compile(kNginxAccessLayout);
  ASSERT_TRUE(layout.ok()) << layout.status().message();
  const std::string in_layout =
      "<190>Jan 30 09:15:00 mdm nginx_access: 10.0.0.2 [30/Jan/2026:09:15:00 +0100] \"GET / "
      "HTTP/1.1\" 200 0.004 \"203.0.113.7\"\n";
  const std::string combined =
      "<190>Jan 30 09:15:00 mdm nginx_access: 203.0.113.50 - - [30/Jan/2026:09:15:00 +0100] "
      "\"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n";
  const std::string empty = "<190>1 2026-01-30T09:15:00Z mdm nginx_access - - -  \n";
  const std::string other = "<13>Jan 30 09:15:00 mdm sshd: not an access line at all\n";

  for (bool by_time : {false, true}) {
    SCOPED_TRACE(by_time ? "closed by time" : "closed by lines");
    CapturingSink sink;
    SyslogReceiverOptions o;
    o.listen = "127.0.0.1:0";
    o.layouts["nginx_access"] = std::make_shared<const CustomLogFormat>(*layout);
    // By lines: four messages of the program from one sender; by time: the first loop in which
    // a sender's window holds four.
    o.readability = by_time ? ReadabilityOptions{.max_lines = 1000, .max_millis = 0, .min_lines = 4}
                            : ReadabilityOptions{.max_lines = 4, .max_millis = 3'600'000};
    auto r = SyslogReceiver::Create(o, &sink);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    (*r)->Start();
    // A healthy front end on 127.0.0.1, a broken one on 127.0.0.2.
    int healthy = ConnectTcpFromForSyslogPeers("127.0.0.1", (*r)->port());
    int broken = ConnectTcpFromForSyslogPeers("127.0.0.2", (*r)->port());
    ASSERT_GE(healthy, 0);
    ASSERT_GE(broken, 0);
    SendAll(healthy, other + in_layout + in_layout + other + in_layout + in_layout);
    SendAll(broken, empty + empty + combined + combined + in_layout + in_layout);
    // Twelve messages from two senders, then the window's event.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((*r)->stats().messages + (*r)->stats().malformed < 12 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto unreadable = sink.WithAction("detection.log_unreadable");
    while (unreadable.empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      unreadable = sink.WithAction("detection.log_unreadable");
    }
    ::close(healthy);
    ::close(broken);
    (*r)->Stop();
    EXPECT_EQ((*r)->stats().messages, 12u) << "an empty message is a message, not a line";
    ASSERT_EQ(unreadable.size(), 1u);
    EXPECT_EQ(unreadable[0].Get("process.name"), "nginx_access");
    EXPECT_EQ(unreadable[0].Get("log.source.address"), "127.0.0.2");
    EXPECT_EQ(unreadable[0].Get("log.lines"), "4");
    EXPECT_EQ(unreadable[0].Get("log.lines_unreadable"), "2") << "half; the empty ones not counted";
    EXPECT_EQ(unreadable[0].Get("log.format"), "custom");
    EXPECT_EQ(unreadable[0].Get("log.file.line"), "");
    EXPECT_EQ((*r)->stats().unreadable_windows, 1u);
  }
}

TEST(SyslogReceiverTest, OversizedFrameClosesTheConnectionAndMalformedIsCounted) {
  CapturingSink sink;
  SyslogReceiverOptions o;
  o.listen = "127.0.0.1:0";
  o.max_message_bytes = 1024;
  auto r = SyslogReceiver::Create(o, &sink);
  ASSERT_TRUE(r.ok());
  (*r)->Start();
  int tcp = ConnectTcp((*r)->port());
  ASSERT_GE(tcp, 0);
  SendAll(tcp, "not syslog at all\n99999 <13>1 - h a - - - x");
  // The receiver closes its end: recv sees EOF (or a reset) within the deadline.
  char buf[16];
  timeval tv{20, 0};
  ::setsockopt(tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_LE(::recv(tcp, buf, sizeof buf, 0), 0);
  ::close(tcp);
  (*r)->Stop();
  EXPECT_EQ((*r)->stats().malformed, 1u);
  EXPECT_EQ((*r)->stats().oversized, 1u);
  EXPECT_EQ(sink.size(), 0u);
}

TEST(SyslogReceiverTest, ConnectionsOverTheLimitAreRefused) {
  CapturingSink sink;
  SyslogReceiverOptions o;
  o.listen = "127.0.0.1:0";
  o.max_connections = 1;
  auto r = SyslogReceiver::Create(o, &sink);
  ASSERT_TRUE(r.ok());
  (*r)->Start();
  int first = ConnectTcp((*r)->port());
  SendAll(first, "<13>1 - h a - - - first\n");
  ASSERT_EQ(sink.WaitFor(1).size(), 1u);
  ExpectClosedForSyslogPeers("127.0.0.1", (*r)->port());  // the second connection
  ::close(first);
  (*r)->Stop();
  EXPECT_EQ((*r)->stats().refused, 1u);
}

// A receiver on 127.0.0.1 with a per-peer cap, started; null when it cannot bind.
std::unique_ptr<SyslogReceiver> StartForSyslogPeers(CapturingSink* sink, size_t per_peer,
                                                    int64_t idle_millis) {
  SyslogReceiverOptions o;
  o.listen = "127.0.0.1:0";
  o.max_connections_per_peer = per_peer;
  o.idle_timeout_millis = idle_millis;
  o.first_message_timeout_millis = std::min<int64_t>(idle_millis, 30000);
  auto r = SyslogReceiver::Create(o, sink);
  if (!r.ok()) return nullptr;
  (*r)->Start();
  return std::move(r).value();
}

// Regression: the only cap was 64 connections in total, so one peer holding 64 idle
// connections shut every other sender out.
TEST(SyslogPeerLimitTest, OnePeerCannotHoldEverySlot) {
  CapturingSink sink;
  auto r = StartForSyslogPeers(&sink, 2, 300000);
  ASSERT_NE(r, nullptr);
  const uint16_t port = r->port();
  int a1 = ConnectTcpFromForSyslogPeers("127.0.0.1", port);
  int a2 = ConnectTcpFromForSyslogPeers("127.0.0.1", port);
  ASSERT_GE(a1, 0);
  ASSERT_GE(a2, 0);
  SendAll(a1, "<13>1 - h a - - - one\n");
  SendAll(a2, "<13>1 - h a - - - two\n");
  ASSERT_EQ(sink.WaitFor(2).size(), 2u);
  {
    SCOPED_TRACE("a third connection of the same peer");
    ExpectClosedForSyslogPeers("127.0.0.1", port);
  }
  // Another peer address still gets in while the first holds its connections.
  int b1 = ConnectTcpFromForSyslogPeers("127.0.0.2", port);
  ASSERT_GE(b1, 0);
  SendAll(b1, "<13>1 - h a - - - other peer\n");
  auto events = sink.WaitFor(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].Get("message"), "other peer");
  ::close(b1);
  ::close(a1);
  ::close(a2);
  r->Stop();
  EXPECT_EQ(r->stats().refused, 1u);
  EXPECT_EQ(r->stats().refused_per_peer, 1u);
}

// An idle connection is closed, which frees its peer's slot.
TEST(SyslogPeerLimitTest, IdleConnectionsAreClosedAndFreeTheirSlot) {
  CapturingSink sink;
  auto r = StartForSyslogPeers(&sink, 1, 100);
  ASSERT_NE(r, nullptr);
  const uint16_t port = r->port();
  ExpectClosedForSyslogPeers("127.0.0.1", port);  // silent, so closed
  int next = ConnectTcpFromForSyslogPeers("127.0.0.1", port);
  ASSERT_GE(next, 0);
  SendAll(next, "<13>1 - h a - - - after idle\n");
  ASSERT_EQ(sink.WaitFor(1).size(), 1u);
  ::close(next);
  r->Stop();
  EXPECT_EQ(r->stats().refused, 0u);
}

// Bytes that never finish a message do not keep a connection: a sender trickling one byte at a
// time into a slot loses it once the first-message timeout runs out, while a sender whose
// messages complete keeps its connection over the same time.
TEST(SyslogPeerLimitTest, TricklingBytesDoesNotHoldASlot) {
  CapturingSink sink;
  SyslogReceiverOptions o;
  o.listen = "127.0.0.1:0";
  o.first_message_timeout_millis = 300;
  auto r = SyslogReceiver::Create(o, &sink);
  ASSERT_TRUE(r.ok());
  (*r)->Start();
  const uint16_t port = (*r)->port();
  int trickler = ConnectTcpFromForSyslogPeers("127.0.0.1", port);
  int sender = ConnectTcpFromForSyslogPeers("127.0.0.2", port);
  ASSERT_GE(trickler, 0);
  ASSERT_GE(sender, 0);
  SendAll(sender, "<13>1 - h a - - - complete\n");
  ASSERT_EQ(sink.WaitFor(1).size(), 1u);
  // One trickles a message that never ends; the other sends empty and unparsable frames.
  int blanker = ConnectTcpFromForSyslogPeers("127.0.0.3", port);
  ASSERT_GE(blanker, 0);
  auto is_closed = [](int fd, std::string_view bytes) {
    if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) return true;
    char buf[8];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  };
  bool trickler_closed = false, blanker_closed = false;
  std::string partial = "<13>1 - h a - - - never ends";
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (size_t i = 0;
       !(trickler_closed && blanker_closed) && std::chrono::steady_clock::now() < until; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!trickler_closed) {
      trickler_closed =
          is_closed(trickler, std::string_view(partial).substr(i % partial.size(), 1));
    }
    if (!blanker_closed) blanker_closed = is_closed(blanker, i % 2 ? "\n" : "0 ");
  }
  EXPECT_TRUE(trickler_closed) << "the trickling connection was closed";
  EXPECT_TRUE(blanker_closed) << "empty frames do not keep a connection";
  ::close(blanker);
  // The sender whose message completed is still connected (its idle limit is 5 minutes).
  SendAll(sender, "<13>1 - h a - - - still here\n");
  auto events = sink.WaitFor(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].Get("message"), "still here");
  ::close(trickler);
  ::close(sender);
  (*r)->Stop();
}

TEST(SyslogReceiverTest, BadListenAddressIsRefused) {
  CapturingSink sink;
  SyslogReceiverOptions o;
  o.listen = "localhost:5514";
  EXPECT_FALSE(SyslogReceiver::Create(o, &sink).ok()) << "numeric addresses only";
  o.listen = "127.0.0.1";
  EXPECT_FALSE(SyslogReceiver::Create(o, &sink).ok());
}

}  // namespace
}  // namespace rampart::detect
