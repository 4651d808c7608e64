#include "detect/url_path.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "detect/event.h"
#include "detect/log_parser.h"

namespace rampart::detect {
namespace {

std::string Resolved(std::string_view path) {
  std::string out;
  ResolveUrlPath(path, &out);
  return out;
}

TEST(UrlPathTest, ResolvesAsApacheAndTomcatDo) {
  EXPECT_EQ(Resolved("/mifs//c/appstore/fob/3/x.ipa"), "/mifs/c/appstore/fob/3/x.ipa");
  EXPECT_EQ(Resolved("/mifs/./c/./appstore/fob/"), "/mifs/c/appstore/fob/");
  EXPECT_EQ(Resolved("/mifs/c/x/../appstore/fob/"), "/mifs/c/appstore/fob/");
  EXPECT_EQ(Resolved("/mifs/403.jsp;jsessionid=ABC"), "/mifs/403.jsp");
  EXPECT_EQ(Resolved("/mifs/aad/api/v2;x/authorized/users"), "/mifs/aad/api/v2/authorized/users");
  EXPECT_EQ(Resolved("/mifs/..;/403.jsp"), "/403.jsp");
  // Trailing slashes stay (a folder is not the file of its name); "." and ".." last leave one.
  EXPECT_EQ(Resolved("/mifs/css/"), "/mifs/css/");
  EXPECT_EQ(Resolved("/mifs/css/."), "/mifs/css/");
  EXPECT_EQ(Resolved("/mifs/css/.."), "/mifs/");
  EXPECT_EQ(Resolved("/"), "/");
  EXPECT_EQ(Resolved("//"), "/");
  EXPECT_EQ(Resolved("/.well-known/x"), "/.well-known/x");
  EXPECT_EQ(Resolved("*"), "*");
  EXPECT_EQ(Resolved(""), "");
}

TEST(UrlPathTest, ClimbingAboveTheRootStopsThereAndIsSaid) {
  std::string out;
  EXPECT_TRUE(ResolveUrlPath("/../../etc/passwd", &out));
  EXPECT_EQ(out, "/etc/passwd");
  EXPECT_FALSE(ResolveUrlPath("/a/../b", &out));
  EXPECT_EQ(out, "/b");
}

// The quick test may say "maybe" too often, never "no" for a path that resolves differently.
TEST(UrlPathTest, QuickTestNeverMissesAPathThatResolvesDifferently) {
  std::mt19937 rng(7);
  const char alphabet[] = {'/', '.', ';', 'a', 'b', '%'};
  int changed = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string path = "/";
    size_t n = rng() % 40;
    for (size_t k = 0; k < n; ++k) path.push_back(alphabet[rng() % sizeof(alphabet)]);
    if (Resolved(path) != path) {
      ++changed;
      ASSERT_TRUE(UrlPathMayResolve(path)) << path;
    }
    if (!UrlPathMayResolve(path)) {
      ASSERT_EQ(Resolved(path), path) << path;
    }
  }
  EXPECT_GT(changed, 1000);
  // Every block boundary of the SSE pass: "//" and "/." straddling offsets 15/16 and 31/32.
  for (size_t at = 1; at < 40; ++at) {
    for (const char* pair : {"//", "/.", "x;"}) {
      std::string path = "/" + std::string(at, 'a') + pair + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
      EXPECT_TRUE(UrlPathMayResolve(path)) << at << " " << pair;
    }
  }
  EXPECT_FALSE(
      UrlPathMayResolve("/mifs/c/appstore/fob/3/17/sha256:kid=1,st=1769760000,h=9f86d0"
                        "81884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/x.ipa"));
}

TEST(UrlPathTest, ParsedEventsCarryTheResolvedPathOnlyWhenItDiffers) {
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(
      "203.0.113.5 - - [30/Jan/2026:09:15:00 +0100] \"POST /mifs/%2e/403.jsp;jsessionid=A?x=1 "
      "HTTP/1.1\" 200 12 \"-\" \"-\"",
      &ev));
  EXPECT_EQ(ev.Get(Field::kUrlPath), "/mifs/%2e/403.jsp;jsessionid=A");
  EXPECT_EQ(ev.Decoded(Field::kUrlPath), "/mifs/./403.jsp;jsessionid=A");
  ASSERT_TRUE(ev.HasDistinctResolvedPath());
  EXPECT_EQ(ev.ResolvedPath(), "/mifs/403.jsp");
  ASSERT_TRUE(ParseAccessLogLine(
      "203.0.113.5 - - [30/Jan/2026:09:15:00 +0100] \"GET /mifs/.well-known/x HTTP/1.1\" 200 "
      "12 \"-\" \"-\"",
      &ev));
  EXPECT_FALSE(ev.HasDistinctResolvedPath());
  EXPECT_EQ(ev.ResolvedPath(), "/mifs/.well-known/x");
  // Tomcat cuts path parameters before it decodes: "%3b" is part of the name, not a cut.
  ASSERT_TRUE(ParseAccessLogLine(
      "203.0.113.5 - - [30/Jan/2026:09:15:00 +0100] \"GET /mifs/403.jsp%3b.css HTTP/1.1\" 404 "
      "12 \"-\" \"-\"",
      &ev));
  EXPECT_FALSE(ev.HasDistinctResolvedPath());
  EXPECT_EQ(ev.ResolvedPath(), "/mifs/403.jsp;.css");
  // A request line that sets no URL leaves the JSON's url.path, which still gets its forms.
  ASSERT_TRUE(ParseJsonLine(R"({"request":"-","url.path":"/mifs//4%30%33.jsp"})", &ev));
  ASSERT_TRUE(ev.HasDistinctResolvedPath());
  EXPECT_EQ(ev.ResolvedPath(), "/mifs/403.jsp");
  // JSON lines that give url.path as it is get its forms too.
  ASSERT_TRUE(ParseJsonLine(R"({"source.ip":"203.0.113.5","url.path":"/mifs//403.jsp"})", &ev));
  ASSERT_TRUE(ev.HasDistinctResolvedPath());
  EXPECT_EQ(ev.ResolvedPath(), "/mifs/403.jsp");
}

}  // namespace
}  // namespace rampart::detect
