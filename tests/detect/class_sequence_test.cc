#include "detect/class_sequence.h"
#include "detect/hs_runtime.h"

#include <gtest/gtest.h>
#include <hs/hs.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace rampart::detect {
namespace {

// Vectorscan, as the full match runs the pattern: the oracle.
class Oracle {
 public:
  Oracle(const std::string& pattern, unsigned flags) {
    hs_compile_error_t* err = nullptr;
    if (hs_compile(pattern.c_str(), flags | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, HsPlatform(), &db_,
                   &err) != HS_SUCCESS) {
      hs_free_compile_error(err);
      db_ = nullptr;
      return;
    }
    if (hs_alloc_scratch(db_, &scratch_) != HS_SUCCESS) {
      hs_free_database(db_);
      db_ = nullptr;
    }
  }
  ~Oracle() {
    hs_free_scratch(scratch_);
    hs_free_database(db_);
  }
  Oracle(const Oracle&) = delete;
  Oracle& operator=(const Oracle&) = delete;

  bool ok() const { return db_ != nullptr; }

  bool Matches(const std::string& text) const {
    bool found = false;
    HsScan(
        db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch_,
        [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
          *static_cast<bool*>(ctx) = true;
          return 1;
        },
        &found);
    return found;
  }

 private:
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
};

std::optional<ClassSequence> Read(std::string_view p, bool caseless = false, bool dotall = false) {
  return ClassSequence::Parse(p, caseless, dotall);
}

TEST(ClassSequenceTest, TheFobRulePatterns) {
  auto h = Read("[,:]h=[^,/]*[^0-9a-f,/]", /*caseless=*/true);
  auto st = Read("[,:]st=[^,/]*[^0-9,/]");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(st.has_value());
  std::string benign =
      "/mifs/c/appstore/fob/3/11/sha256:kid=1,st=1769829446,h=54c6ba2b5bedc64675de327cd92f3e97,"
      "et=1769833046/75de327c-3e97-ba2b-c646-d92f3e97327c.ipa";
  EXPECT_FALSE(h->Search(benign));
  EXPECT_FALSE(st->Search(benign));
  EXPECT_TRUE(h->Search("/mifs/c/appstore/fob/3/5/sha256:kid=1,st=1,h=gPath[`sleep 5`]/x.ipa"));
  EXPECT_TRUE(st->Search("/mifs/c/aftstore/fob/3/5/sha256:kid=1,st=theValue  ,h=00/x.ipa"));
  // Upper-case hex is a hex digest too under |i; a digest that ends the path still counts.
  EXPECT_FALSE(h->Search("/fob/sha256:kid=1,h=ABCDEF0123"));
  EXPECT_TRUE(h->Search("/fob/sha256:kid=1,h=ABCDEFG"));
}

TEST(ClassSequenceTest, RefusesWhatItDoesNotFollow) {
  for (const char* p : {"",
                        "^abc",
                        "abc$",
                        "a(b)c",
                        "a|b",
                        "\\bword",
                        "(?i)abc",
                        "a\\1",
                        "[]a]",
                        "[[:alpha:]]",
                        "a{,3}",
                        "a{3",
                        "a*+",
                        "a**",
                        "x{2,1}",
                        "*a",
                        "a*b",
                        "?a",
                        "\\x{41}",
                        "\\x4",
                        "\\Qa\\E",
                        "\\pL",
                        "[a-\\d]",
                        "[\\d-z]",
                        "[z-a]",
                        "\\vx",
                        "a]",
                        "a}",
                        "[=a=]",
                        "[.a.]",
                        "[:a:]",
                        "[^=a=]",
                        "xa?a?a?a?a?a?a?a?a?",
                        "xa{0,9}",
                        "xa{0,4}b*c{0,4}"}) {
    EXPECT_FALSE(Read(p).has_value()) << p;
  }
  EXPECT_FALSE(Read(std::string("a\0b", 3)).has_value());
  EXPECT_FALSE(Read(std::string("a\\\0", 3)).has_value());
  EXPECT_FALSE(Read(std::string("a[\\\0]", 5)).has_value());
  EXPECT_TRUE(Read("xa{0,8}").has_value());
  EXPECT_TRUE(Read("xa{0,4}bc{0,4}").has_value());
  std::string long_pattern(ClassSequence::kMaxPositions + 1, 'a');
  EXPECT_FALSE(Read(long_pattern).has_value());
  EXPECT_TRUE(Read(long_pattern.substr(1)).has_value());
  EXPECT_FALSE(Read("ab{63}").has_value());
  EXPECT_EQ(Read("ab{2,5}c+")->positions(), 1u + 5u + 2u);
}

TEST(ClassSequenceTest, CaselessFoldsBeforeNegating) {
  auto p = Read("x[^a]y", /*caseless=*/true);
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->Search("xAy"));
  EXPECT_FALSE(p->Search("Xay"));
  EXPECT_TRUE(p->Search("XbY"));
}

TEST(ClassSequenceTest, DotStopsAtNewlineUnlessDotall) {
  EXPECT_FALSE(Read("a.b")->Search("a\nb"));
  EXPECT_TRUE(Read("a.b", false, /*dotall=*/true)->Search("a\nb"));
}

TEST(ClassSequenceTest, LongTextsStayLinear) {
  // Every 'a' could start a match that runs to the end: a quadratic search would take hours.
  auto p = Read("a[^x]*y");
  ASSERT_TRUE(p.has_value());
  std::string text(4 << 20, 'a');
  EXPECT_FALSE(p->Search(text));
  text.back() = 'y';
  EXPECT_TRUE(p->Search(text));
}

// Random patterns of the shape Parse takes (and some it refuses), over a small alphabet so that
// classes, case and repeats interact; each one that both engines accept must give Vectorscan's
// answer on every text.
std::string Hex(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

std::string RandomAtom(std::mt19937* rng) {
  static const std::vector<std::string> atoms = {
      "a",    "b",      "A",     "=",      ",",      "/",     "0",     "9",
      ".",    "\\.",    "\\/",   "\\d",    "\\D",    "\\w",   "\\W",   "\\s",
      "\\S",  "\\x41",  "\\x0b", "\\n",    "[ab]",   "[^ab]", "[a-c]", "[^0-9a-f,/]",
      "[,:]", "[^,/]",  "[A-Z]", "[\\d=]", "[^\\s]", "[-a]",  "[a-]",  "[\\x00-\\x1f]",
      "\xe9", "[^\\n]", " ",     "\\ ",    "(",      "a|b",   "^",     "$",
      "\\b"};
  return atoms[std::uniform_int_distribution<size_t>(0, atoms.size() - 1)(*rng)];
}

std::string RandomQuantifier(std::mt19937* rng) {
  static const std::vector<std::string> quantifiers = {
      "",    "",      "",      "",     "*",   "+",   "?",  "*?",   "+?",
      "{2}", "{0,2}", "{1,3}", "{2,}", "{0}", "{1}", "??", "{3,3}"};
  return quantifiers[std::uniform_int_distribution<size_t>(0, quantifiers.size() - 1)(*rng)];
}

// Short texts, or (long) ones made of runs of a byte, which reach the jumps, the runs through
// repeated positions and offsets past 64 (where hs_scan on AVX-512 misses matches).
std::string RandomText(std::mt19937* rng, bool long_runs) {
  static const char alphabet[] = {'a',  'b',    'A',  'B', '=', ',', '/', '0',    '9',    '.', ' ',
                                  '\n', '\x0b', '\t', '_', 'f', 'g', 'z', '\xe9', '\x01', ':', 'h'};
  auto pick = [&] {
    return alphabet[std::uniform_int_distribution<size_t>(0, sizeof(alphabet) - 1)(*rng)];
  };
  std::string text;
  if (!long_runs) {
    size_t size = std::uniform_int_distribution<size_t>(0, 24)(*rng);
    for (size_t i = 0; i < size; ++i) text.push_back(pick());
    return text;
  }
  for (int runs = std::uniform_int_distribution<int>(1, 4)(*rng); runs > 0; --runs) {
    text.append(std::uniform_int_distribution<size_t>(1, 80)(*rng), pick());
    text.push_back(pick());
  }
  return text;
}

TEST(ClassSequenceTest, AgreesWithVectorscanOnRandomPatterns) {
  std::mt19937 rng(20261123);
  int compared = 0, refused = 0, matched = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string pattern;
    int atoms = std::uniform_int_distribution<int>(1, 5)(rng);
    for (int k = 0; k < atoms; ++k) pattern += RandomAtom(&rng) + RandomQuantifier(&rng);
    bool caseless = rng() % 2 == 0, dotall = rng() % 3 == 0;
    auto seq = ClassSequence::Parse(pattern, caseless, dotall);
    if (!seq) {
      ++refused;
      continue;
    }
    Oracle oracle(pattern, (caseless ? HS_FLAG_CASELESS : 0u) | (dotall ? HS_FLAG_DOTALL : 0u));
    ASSERT_TRUE(oracle.ok()) << "Vectorscan refuses a pattern Parse took: " << pattern;
    for (int t = 0; t < 60; ++t) {
      std::string text = RandomText(&rng, /*long_runs=*/t % 3 == 2);
      // Plant a piece the pattern is likely to match, so that matches are not rare.
      if (t % 2 == 0) {
        std::string planted;
        for (char c : pattern) {
          if (std::isalnum(static_cast<unsigned char>(c)) || c == '=' || c == ',' || c == '/') {
            planted.push_back(c);
          }
        }
        text.insert(std::uniform_int_distribution<size_t>(0, text.size())(rng), planted);
      }
      bool expected = oracle.Matches(text);
      matched += expected ? 1 : 0;
      ASSERT_EQ(seq->Search(text), expected) << "pattern " << pattern << " caseless " << caseless
                                             << " dotall " << dotall << " text (hex) " << Hex(text);
      ++compared;
    }
  }
  // Both sides of the generator are exercised.
  EXPECT_GT(compared, 30000);
  EXPECT_GT(refused, 300);
  EXPECT_GT(matched, compared / 10);
  EXPECT_LT(matched, compared - compared / 10);
  std::printf("compared %d, matched %d, refused %d\n", compared, matched, refused);
}

}  // namespace
}  // namespace rampart::detect
