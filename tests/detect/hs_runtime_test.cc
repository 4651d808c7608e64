// Vectorscan as Rampart runs it (detect/hs_runtime.h) finds matches wherever they start. Debian
// 12's libhs 5.4.9, called through hs_scan on a machine with AVX-512, misses these shapes at
// some offsets; on such a machine these tests fail without the workaround.
#include "detect/hs_runtime.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detect/log_parser.h"
#include "detect/sigma.h"

// glibc's checked snprintf, which hs_runtime.cc defines again (declared by <stdio.h> only under
// _FORTIFY_SOURCE).
extern "C" int __snprintf_chk(char* __restrict s, size_t length, int flag, size_t object_size,
                              const char* __restrict format, ...) noexcept;

namespace rampart::detect {
namespace {

struct Shape {
  const char* pattern;
  unsigned flags;
  const char* match;
};

using ScanFunction = decltype(&hs_scan);

// Whether `scan` reports a match of `db` in `text` (a failed scan counts as none, and fails).
bool FoundBy(ScanFunction scan, const hs_database_t* db, hs_scratch_t* scratch,
             std::string_view text) {
  bool found = false;
  EXPECT_EQ(scan(
                db, text.data(), static_cast<unsigned>(text.size()), 0, scratch,
                [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
                  *static_cast<bool*>(ctx) = true;
                  return 0;
                },
                &found),
            HS_SUCCESS);
  return found;
}

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
      missed += FoundBy(&HsScan, db, scratch, text) ? 0 : 1;
    }
    EXPECT_EQ(missed, 0u) << shape.pattern;
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
}

// The probes tell the library's faulty routines from its sound ones (checked where this CPU can
// run them, and only for the library version they were written against).
TEST(HsRuntimeTest, ProbesRejectTheFaultyRoutines) {
  std::string_view version = hs_version();
  if (!version.starts_with("5.4.9")) GTEST_SKIP() << "probes written for libhs 5.4.9";
  hs_platform_info_t host{};
  ASSERT_EQ(hs_populate_platform(&host), HS_SUCCESS);
  hs_platform_info_t avx2 = host, sse = host;
  avx2.cpu_features = HS_CPU_FEATURES_AVX2;
  sse.cpu_features = 0;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_FALSE(hs_runtime_internal::RoutineFindsEveryProbe("avx2_hs_scan", &avx2));
  }
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    EXPECT_FALSE(hs_runtime_internal::RoutineFindsEveryProbe("avx512_hs_scan", &host));
  }
  if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt")) {
    EXPECT_TRUE(hs_runtime_internal::RoutineFindsEveryProbe("corei7_hs_scan", &sse));
  }
  if (__builtin_cpu_supports("ssse3")) {
    EXPECT_TRUE(hs_runtime_internal::RoutineFindsEveryProbe("core2_hs_scan", &sse));
  }
  EXPECT_FALSE(hs_runtime_internal::RoutineFindsEveryProbe("no_such_hs_scan", &sse));
}

// How many rules fire on an access-log line, prefiltered and exhaustively.
std::pair<size_t, size_t> RulesFiredBothWays(const RuleSet& rules, std::string_view line) {
  Event ev;
  EXPECT_TRUE(ParseAccessLogLine(line, &ev)) << line;
  std::vector<uint32_t> prefiltered, exhaustive;
  RuleMatcher(rules, MatchMode::kPrefiltered).Match(ev, &prefiltered);
  RuleMatcher(rules, MatchMode::kExhaustive).Match(ev, &exhaustive);
  return {prefiltered.size(), exhaustive.size()};
}

// A database compiled through HsCompileMulti runs on the routine HsScan picked.
TEST(HsRuntimeTest, CompiledDatabasesNeedNoMoreThanTheRoutineRuns) {
  const char* expressions[] = {"abc", "x[0-9]+y"};
  unsigned flags[] = {0, HS_FLAG_CASELESS}, ids[] = {0, 1};
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  ASSERT_EQ(HsCompileMulti(expressions, flags, ids, 2, &db, &err), HS_SUCCESS);
  char* info = nullptr;
  ASSERT_EQ(hs_database_info(db, &info), HS_SUCCESS);
  std::string text(info);
  std::free(info);
  if (HsPlatform() != nullptr) {
    EXPECT_EQ(text.find("AVX"), std::string::npos) << text;
  }
  hs_free_database(db);
}

// Literal databases as the prefilter compiles them (escaped bytes, caseless or not, no
// HS_FLAG_SINGLEMATCH), against a naive search: every end of every literal is reported. Through
// hs_scan on these machines, 69 of 3,000 such databases missed one.
TEST(HsRuntimeTest, LiteralDatabasesReportEveryOccurrence) {
  std::mt19937 rng(5);
  const std::string alphabet = "abAB=/,.$ \n\t0q";
  auto pick = [&] { return alphabet[rng() % alphabet.size()]; };
  int differing = 0;
  for (int round = 0; round < 1500; ++round) {
    size_t count = 1 + rng() % (round % 10 == 0 ? 300 : 20);
    std::vector<std::string> literals, patterns;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < count; ++i) {
      std::string literal, pattern;
      for (size_t k = 2 + rng() % 7; k > 0; --k) literal += pick();
      for (unsigned char c : literal) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
        pattern += escaped;
      }
      literals.push_back(literal);
      patterns.push_back(pattern);
      flags.push_back(rng() % 2 ? HS_FLAG_CASELESS : 0u);
      ids.push_back(static_cast<unsigned>(i));
    }
    std::vector<const char*> expressions;
    for (const std::string& p : patterns) expressions.push_back(p.c_str());
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    ASSERT_EQ(
        hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned>(count),
                         HS_MODE_BLOCK, HsPlatform(), &db, &err),
        HS_SUCCESS);
    hs_scratch_t* scratch = nullptr;
    ASSERT_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    bool differs = false;
    for (int t = 0; t < 20 && !differs; ++t) {
      std::string text;
      for (int runs = 1 + static_cast<int>(rng() % 5); runs > 0; --runs) {
        text.append(rng() % 90, pick());
        if (rng() % 2) text += literals[rng() % count];
      }
      std::set<std::pair<unsigned, unsigned long long>> reported, expected;
      ASSERT_EQ(
          HsScan(
              db, text.data(), static_cast<unsigned>(text.size()), 0, scratch,
              [](unsigned id, unsigned long long, unsigned long long to, unsigned, void* ctx) {
                static_cast<std::set<std::pair<unsigned, unsigned long long>>*>(ctx)->insert(
                    {id, to});
                return 0;
              },
              &reported),
          HS_SUCCESS);
      for (size_t i = 0; i < count; ++i) {
        auto same = [&](char a, char b) {
          if (flags[i] != 0) {
            a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
            b = static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
          }
          return a == b;
        };
        for (size_t at = 0; at + literals[i].size() <= text.size(); ++at) {
          bool match = true;
          for (size_t k = 0; k < literals[i].size() && match; ++k) {
            match = same(text[at + k], literals[i][k]);
          }
          if (match) expected.insert({static_cast<unsigned>(i), at + literals[i].size()});
        }
      }
      differs = reported != expected;
    }
    differing += differs ? 1 : 0;
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
  EXPECT_EQ(differing, 0);
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
  EXPECT_EQ(RulesFiredBothWays(**rules, line), (std::pair<size_t, size_t>{2, 2}));
}

// libhs's reverse double-byte search makes a checked debugging copy of the text into 255 bytes
// and aborts the process on a longer one (see hs_runtime.cc). Every routine the library offers
// has that code; both the default dispatcher and the routine HsScan picked must now run through
// long texts and still find what they should.
TEST(HsRuntimeTest, LongTextsDoNotAbortTheDoubleByteSearch) {
  struct PairShape {
    const char* pattern;
    std::string pair;  // the two bytes of the class, one of which must follow the `a` twice
  };
  const std::vector<PairShape> shapes = {
      {"a.*[,\\x0c]{2}", ",\x0c"},
      {"a.*[@`]{2}", "@`"},
      {"a.*(?:,|\\x0c){2}", ",\x0c"},
      {"a.*[,\\x0c][,\\x0c]", ",\x0c"},
  };
  for (const PairShape& shape : shapes) {
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    ASSERT_EQ(hs_compile(shape.pattern, HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL, HS_MODE_BLOCK,
                         HsPlatform(), &db, &err),
              HS_SUCCESS)
        << shape.pattern;
    hs_scratch_t* scratch = nullptr;
    ASSERT_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    for (ScanFunction scan : {ScanFunction{&HsScan}, ScanFunction{&hs_scan}}) {
      for (size_t filler : {10u, 200u, 254u, 255u, 256u, 300u, 4000u}) {
        for (int ending = 0; ending < 3; ++ending) {
          // A pair of class bytes (mixed), a single one, or none: only the first matches.
          std::string text = "a" + std::string(filler, 'q');
          if (ending == 0) text += {shape.pair[1], shape.pair[0]};
          if (ending == 1) text += shape.pair[0];
          EXPECT_EQ(FoundBy(scan, db, scratch, text), ending == 0)
              << shape.pattern << " after " << filler << " bytes";
        }
      }
    }
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
}

// The same through a rule an institution might write, on a long request line.
TEST(HsRuntimeTest, ARuleOfThatShapeMatchesALongLine) {
  RuleSetBuilder b;
  ASSERT_TRUE(b.AddRuleText("title: pair\nlogsource: {category: webserver}\ndetection:\n"
                            "  sel: {'cs-uri-query|re': '=.*[,\\x0c]{2}'}\n  condition: sel\n"
                            "level: high\n",
                            "pair.yml")
                  .ok());
  auto rules = b.Build();
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  for (const char* tail : {",,", ","}) {
    const std::string line =
        "10.1.2.3 - - [30/Jan/2026:02:13:24 +0100] \"GET /mifs/x?id=" + std::string(600, 'q') +
        tail + " HTTP/1.1\" 200 12 \"-\" \"curl\"";
    const size_t expected = std::string_view(tail) == ",," ? 1 : 0;
    EXPECT_EQ(RulesFiredBothWays(**rules, line), (std::pair<size_t, size_t>{expected, expected}))
        << tail;
  }
}

TEST(HsRuntimeTest, OnlyLibhsDebugCopiesAreSkipped) {
  const void* in_libhs = reinterpret_cast<const void*>(&hs_scan);
  const void* in_rampart = reinterpret_cast<const void*>(&HsScan);
  EXPECT_TRUE(hs_runtime_internal::IsLibhsDebugCopy(in_libhs, 255, "%s"));
  EXPECT_FALSE(hs_runtime_internal::IsLibhsDebugCopy(in_rampart, 255, "%s"));
  EXPECT_FALSE(hs_runtime_internal::IsLibhsDebugCopy(in_libhs, 254, "%s"));
  EXPECT_FALSE(hs_runtime_internal::IsLibhsDebugCopy(in_libhs, 255, "%s\n"));
}

// Rampart's own checked calls still go to glibc: they copy, and abort on an overflow.
TEST(HsRuntimeTest, OtherCheckedPrintsStillCopyAndCheck) {
  char out[255];
  EXPECT_EQ(__snprintf_chk(out, sizeof out, 1, sizeof out, "%s", "abc"), 3);
  EXPECT_STREQ(out, "abc");
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's __vsnprintf_chk checks the bytes written instead";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer's __vsnprintf_chk checks the bytes written instead";
#endif
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  volatile size_t too_long = sizeof out + 1;  // (hidden from the compiler's own check)
  EXPECT_DEATH(__snprintf_chk(out, too_long, 1, sizeof out, "%s", "abc"),
               "buffer overflow detected");
}

}  // namespace
}  // namespace rampart::detect
