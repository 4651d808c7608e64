#include "detect/regex_literals.h"

#include <gtest/gtest.h>
#include <hs/hs.h>

#include <string>
#include <vector>

#include "detect/hs_runtime.h"

namespace rampart::detect {
namespace {

std::vector<std::string> Literals(std::string_view re, bool* caseless = nullptr) {
  std::vector<std::string> out;
  bool ci = false;
  if (!RegexRequiredLiterals(re, &out, &ci)) return {"<none>"};
  if (caseless != nullptr) *caseless = ci;
  return out;
}

using V = std::vector<std::string>;

TEST(RegexLiteralsTest, SigmaHqAndBundledPatterns) {
  EXPECT_EQ(Literals(R"(\?d=[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})"), V{"?d="});
  EXPECT_EQ(Literals(R"(\.(zip|asp|htm|url|xml|chm|mht|vbs|search-ms)\?d=[0-9]{1,3}\.)"), V{"?d="});
  EXPECT_EQ(Literals(R"(-[a-z0-9]{3}\.[a-z0-9-]{3,}-s-account\.workers\.dev|\.up\.railway\.app)"),
            (V{"-s-account.workers.dev", ".up.railway.app"}));
  bool caseless = false;
  EXPECT_EQ(Literals(R"((?i)(ipfs\.io/|ipfs\.io\s).+\..+@.+\.[a-z]+)", &caseless),
            (V{"ipfs.io/", "ipfs.io"}));
  EXPECT_TRUE(caseless);
  EXPECT_EQ(Literals(R"([,:]st=[^,/]*[^0-9,/])"), V{"st="});
  EXPECT_EQ(Literals(R"([,:]h=[^,/]*[^0-9a-f,/])"), V{"<none>"});  // "h=" is too short
  EXPECT_EQ(Literals(".{150}"), V{"<none>"});
  EXPECT_EQ(Literals("^([5-9][0-9]{5}|[0-9]{7,})$"), V{"<none>"});
}

TEST(RegexLiteralsTest, QuantifiersShortenOrEndRuns) {
  EXPECT_EQ(Literals("abcd?efgh"), V{"efgh"});     // d optional: "abc" and "efgh"
  EXPECT_EQ(Literals("abcde*f"), V{"abcd"});       // e* drops e
  EXPECT_EQ(Literals("abcde+fg"), V{"abcde"});     // e+ keeps e, ends the run
  EXPECT_EQ(Literals("abc{2}defg"), V{"defg"});    // c{2}: "abc" then a new run
  EXPECT_EQ(Literals("abc{0,2}defg"), V{"defg"});  // c optional
  EXPECT_EQ(Literals("xyz(abc)?q"), V{"xyz"});     // optional group is not required
  EXPECT_EQ(Literals("(?:evil|bad)\\.example"), V{".example"});
  EXPECT_EQ(Literals("a(evil|nasty)b"), (V{"evil", "nasty"}));
  EXPECT_EQ(Literals("a(evil|ba)b"), V{"<none>"});  // "ba" is too short
  EXPECT_EQ(Literals("a(?=look)b"), V{"<none>"});   // lookarounds are not read
  EXPECT_EQ(Literals(R"(a\.b\/c\-d)"), V{"a.b/c-d"});
  EXPECT_EQ(Literals("a*?bcd"), V{"bcd"});
}

TEST(RegexLiteralsTest, GivesUpOnWhatItDoesNotFollow) {
  for (const char* re :
       {"(a)\\1bcd", "\\x41bcd", "\\p{L}abc", "\\Qabc\\E", "(?x)a b c d", "abc)", "abc]", "(abc",
        "[abc", "*abc", "abc{", "abc{,3}", "abc\\", "abc|", "|abc", "",
        // Brackets inside a class (POSIX and collating elements): given up on, not misread.
        "[[:alpha:][]|evil[.]php", "[[.a.]]bcde", "[[=e=]]vil.example"}) {
    EXPECT_EQ(Literals(re), V{"<none>"}) << re;
  }
  EXPECT_EQ(Literals(std::string_view("abc\0zzzz", 8)), V{"<none>"});  // NUL: C string ends
  std::string deep(100000, '(');  // nesting beyond the depth limit, and unbalanced
  EXPECT_EQ(Literals(deep + "abcd"), V{"<none>"});
  std::string nested;
  for (int i = 0; i < 20; ++i) nested += "(";
  nested += "abcd";
  for (int i = 0; i < 20; ++i) nested += ")";
  EXPECT_EQ(Literals("x" + nested + "y"), V{"<none>"});
}

// The promise itself, checked with Vectorscan: every text the pattern matches contains one of
// the literals (case-insensitively when the pattern says so).
TEST(RegexLiteralsTest, EveryMatchContainsALiteral) {
  struct Case {
    const char* re;
    std::vector<const char*> texts;
  };
  std::vector<Case> cases = {
      {R"(\?d=[0-9]{1,3}\.[0-9]{1,3})", {"/x?d=1.2", "?d=999.1"}},
      {R"(-[a-z0-9]{3}\.[a-z0-9-]{3,}-s-account\.workers\.dev|\.up\.railway\.app)",
       {"https://-abc.defg-s-account.workers.dev/", "x.up.railway.app"}},
      {R"((?i)(ipfs\.io/|ipfs\.io\s).+\..+@.+\.[a-z]+)", {"IPFS.IO/a.b@c.de", "ipfs.io x.y@z.com"}},
      {"abcde+fg", {"abcdeeeefg"}},
      {"a(evil|nasty)+b", {"aevilnastyb"}},
  };
  for (const auto& c : cases) {
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    ASSERT_EQ(hs_compile(c.re, HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, HsPlatform(), &db, &err),
              HS_SUCCESS)
        << c.re;
    hs_scratch_t* scratch = nullptr;
    ASSERT_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    std::vector<std::string> lits;
    bool caseless = false;
    ASSERT_TRUE(RegexRequiredLiterals(c.re, &lits, &caseless)) << c.re;
    for (const char* text : c.texts) {
      bool matched = false;
      HsScan(
          db, text, static_cast<unsigned>(std::string_view(text).size()), 0, scratch,
          [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
            *static_cast<bool*>(ctx) = true;
            return 1;
          },
          &matched);
      ASSERT_TRUE(matched) << c.re << " on " << text;
      std::string hay = text;
      if (caseless) {
        for (char& ch : hay) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
      bool contains = false;
      for (std::string lit : lits) {
        if (caseless) {
          for (char& ch : lit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        contains = contains || hay.find(lit) != std::string::npos;
      }
      EXPECT_TRUE(contains) << c.re << " on " << text;
    }
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
}

}  // namespace
}  // namespace rampart::detect
