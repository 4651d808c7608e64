// Vectorscan as Rampart runs it (detect/hs_runtime.h) finds matches wherever they start. Debian
// 12's libhs 5.4.9, called through hs_scan on a machine with AVX-512, misses these shapes at
// some offsets; on such a machine these tests fail without the workaround.
#include "detect/hs_runtime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "detect/log_parser.h"
#include "detect/sigma.h"

namespace rampart::detect {
namespace {

struct Shape {
  const char* pattern;
  unsigned flags;
  const char* match;
};

TEST(HsRuntimeTest, ScansFindMatchesWhereverTheyStart) {
  std::printf("Vectorscan scans with %.*s\n", static_cast<int>(HsScanMode().size()),
              HsScanMode().data());
  const std::vector<Shape> shapes = {
      {"x[0-9]", HS_FLAG_SINGLEMATCH, "x1"},
      {"\\x24", HS_FLAG_SINGLEMATCH, "$"},
      {"a.", HS_FLAG_CASELESS, "AB"},
      {"/a?", HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, "/"},
      {"b+\\d", 0, "b7"},
      {"a|bc", HS_FLAG_SINGLEMATCH, "a"},
      {"\\sb+", HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL, " b"},
      {",\\n* ", HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL, ", "},
      {"x.*z", HS_FLAG_SINGLEMATCH, "xz"},
      {"xy*z", HS_FLAG_SINGLEMATCH, "xz"},
      {"x[^y]*z", HS_FLAG_SINGLEMATCH, "xz"},
      {"xy?z", HS_FLAG_SINGLEMATCH, "xz"},
  };
  for (const Shape& shape : shapes) {
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    ASSERT_EQ(hs_compile(shape.pattern, shape.flags, HS_MODE_BLOCK, HsPlatform(), &db, &err),
              HS_SUCCESS)
        << shape.pattern;
    hs_scratch_t* scratch = nullptr;
    ASSERT_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    size_t missed = 0;
    for (size_t before = 0; before < 300; ++before) {
      std::string text(before, 'q');
      text += shape.match;
      bool found = false;
      ASSERT_EQ(HsScan(
                    db, text.data(), static_cast<unsigned>(text.size()), 0, scratch,
                    [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
                      *static_cast<bool*>(ctx) = true;
                      return 0;
                    },
                    &found),
                HS_SUCCESS);
      missed += found ? 0 : 1;
    }
    EXPECT_EQ(missed, 0u) << shape.pattern;
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
}

// The same through the rule matcher: a rule whose pattern has such a shape fires on a line where
// the match lies far in.
TEST(HsRuntimeTest, RulesMatchFarIntoTheLine) {
  RuleSetBuilder b;
  ASSERT_TRUE(b.AddRuleText("title: dollar\nlogsource: {category: webserver}\ndetection:\n"
                            "  keywords: ['$']\n  condition: keywords\nlevel: high\n",
                            "dollar.yml")
                  .ok());
  ASSERT_TRUE(b.AddRuleText("title: digit\nlogsource: {category: webserver}\ndetection:\n"
                            "  sel: {'cs-uri-query|re': 'x[0-9]'}\n  condition: sel\nlevel: high\n",
                            "digit.yml")
                  .ok());
  auto rules = b.Build();
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  const std::string line =
      "mdm.example.eu:443 10.1.2.3 - - [30/Jan/2026:02:13:24 +0100] \"GET /mifs/admin/rest/api/"
      "v2/device?limit=50&offset=100&sortField=lastCheckin&filter=x7&cost=$5 HTTP/1.1\" 200 4475 "
      "\"-\" \"MobileIron/12.3 CFNetwork/1410.0.6\"";
  Event ev;
  ASSERT_TRUE(ParseAccessLogLine(line, &ev));
  for (MatchMode mode : {MatchMode::kPrefiltered, MatchMode::kExhaustive}) {
    RuleMatcher matcher(**rules, mode);
    std::vector<uint32_t> hits;
    matcher.Match(ev, &hits);
    EXPECT_EQ(hits.size(), 2u) << (mode == MatchMode::kPrefiltered ? "prefiltered" : "exhaustive");
  }
}

}  // namespace
}  // namespace rampart::detect
