#include "detect/hex_run_mask.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace rampart::detect {
namespace {

std::string Masked(const HexRunMask& mask, std::string_view text) {
  std::string out(text.size(), '\0');
  mask.Mask(text, out.data());
  return out;
}

TEST(HexRunMaskTest, SignedLinksOfOneAppShareAForm) {
  HexRunMask mask;
  for (const char* literal : {"/fob/", "etc/passwd", "${IFS}", "%252e%252e", "cmd=", ".jsp"}) {
    mask.AddLiteral(literal);
  }
  ASSERT_TRUE(mask.usable());
  std::string a =
      "/mifs/c/appstore/fob/3/4/sha256:kid=1,st=1769776082,h=a605790c2e767bd28a6b62c56490ec6b,"
      "et=1769779682/8a6b62c5-ec6b-790c-7bd2-6490ec6b62c5.ipa";
  std::string b =
      "/mifs/c/appstore/fob/3/4/sha256:kid=1,st=1769813226,h=2ef5950ebb63f46ac799d4479941aebc,"
      "et=1769816826/c799d447-aebc-950e-f46a-9941aebcd447.ipa";
  EXPECT_EQ(Masked(mask, a), Masked(mask, b));
  EXPECT_NE(Masked(mask, a), a);
  // The app's number is a short run, left as it is: each app has its form.
  std::string other_app = a;
  other_app.replace(other_app.find("fob/3/4/"), 8, "fob/3/5/");
  EXPECT_NE(Masked(mask, other_app), Masked(mask, a));
  std::string android = a;
  android.replace(android.size() - 3, 3, "apk");
  EXPECT_NE(Masked(mask, android), Masked(mask, a));
}

TEST(HexRunMaskTest, KeepsWhatALiteralCanReach) {
  HexRunMask mask;
  mask.AddLiteral("chat_id=2090761833");  // a hex tail after '=' preceded by 'd' (a hex digit)
  mask.AddLiteral("k0f53cf964d387");      // a hex tail after 'k'
  mask.AddLiteral("B5dGhvb");             // a hex head before 'G'
  mask.AddLiteral("x%252ey");             // an inner run of four between '%' and 'y'
  ASSERT_TRUE(mask.usable());
  // After "d=" (a hex digit before '='), ten bytes may belong to chat_id's tail.
  EXPECT_EQ(Masked(mask, "/chat_id=12345678901234"), "/chat_id=12345678900000");
  // After "t=" (not a hex digit before '='), no literal reaches in.
  EXPECT_EQ(Masked(mask, "/st=12345678901234"), "/st=00000000000000");
  // After 'k', thirteen bytes; before 'G' (caseless), three.
  EXPECT_EQ(Masked(mask, "/k0123456789abcdef0/"), "/k0123456789abc0000/");
  EXPECT_EQ(Masked(mask, "/0123456789gh"), "/0000000789gh");
  // A run as long as an inner run between the same bytes is kept whole.
  EXPECT_EQ(Masked(mask, "/x%9999y"), "/x%9999y");
  EXPECT_EQ(Masked(mask, "/x%99999y"), "/x%00000y");
  EXPECT_EQ(Masked(mask, "/x%999999y"), "/x%000000y");
  // Short runs stay, and so does a text too long to mask.
  EXPECT_EQ(Masked(mask, "/x%999y"), "/x%999y");
  std::string long_text = "/" + std::string(HexRunMask::kMaxMaskedText, 'a');
  EXPECT_EQ(Masked(mask, long_text), long_text);
}

TEST(HexRunMaskTest, AnAllHexLiteralMakesItUnusable) {
  HexRunMask mask;
  mask.AddLiteral("/ok/");
  EXPECT_TRUE(mask.usable());
  mask.AddLiteral("DeadBeef");
  EXPECT_FALSE(mask.usable());
  HexRunMask empty_literal;
  empty_literal.AddLiteral("");
  EXPECT_FALSE(empty_literal.usable());
}

// Every (literal, end) pair where the literal occurs in text; `caseless` folds ASCII letters.
std::vector<std::tuple<size_t, size_t>> Occurrences(const std::vector<std::string>& literals,
                                                    std::string_view text, bool caseless) {
  auto fold = [&](char c) {
    return caseless && c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
  };
  std::vector<std::tuple<size_t, size_t>> found;
  for (size_t l = 0; l < literals.size(); ++l) {
    const std::string& lit = literals[l];
    for (size_t at = 0; at + lit.size() <= text.size(); ++at) {
      size_t i = 0;
      while (i < lit.size() && fold(text[at + i]) == fold(lit[i])) ++i;
      if (i == lit.size()) found.emplace_back(l, at + lit.size());
    }
  }
  return found;
}

// The claim itself: any two texts with one masked form have the same literal occurrences.
// Texts and literals are drawn from a small alphabet so that literals do occur, at run edges
// and across runs; the second text redraws every masked byte (any hex digit, any case).
TEST(HexRunMaskTest, TextsWithOneFormHaveTheSameOccurrences) {
  std::mt19937 rng(20261125);
  // Bytes from 0x80 too: the hex digits are found by signed compares.
  const std::string alphabet = "0123456789abcdefABCDEF=/,-.%xyzG\x80\xc1\xe6\xff";
  const std::string hex = "0123456789abcdefABCDEF";
  auto pick = [&](const std::string& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };
  size_t masked_texts = 0, occurrences = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string> literals;
    HexRunMask mask;
    int count = std::uniform_int_distribution<int>(1, 12)(rng);
    while (static_cast<int>(literals.size()) < count) {
      std::string lit;
      size_t size = std::uniform_int_distribution<size_t>(2, 12)(rng);
      for (size_t i = 0; i < size; ++i) {
        lit.push_back(pick(std::uniform_int_distribution<int>(0, 9)(rng) < 3 ? alphabet : hex));
      }
      HexRunMask probe;
      probe.AddLiteral(lit);
      if (!probe.usable()) continue;  // all hex
      literals.push_back(lit);
      mask.AddLiteral(lit);
    }
    ASSERT_TRUE(mask.usable());
    for (int t = 0; t < 60; ++t) {
      std::string text;
      // Some texts span several 64-byte words of the mask's bitmap.
      size_t size = std::uniform_int_distribution<size_t>(0, t % 6 == 0 ? 300 : 48)(rng);
      // Mostly hex with separators, and now and then a literal planted whole.
      while (text.size() < size) {
        if (std::uniform_int_distribution<int>(0, 5)(rng) == 0) {
          text += literals[std::uniform_int_distribution<size_t>(0, literals.size() - 1)(rng)];
        } else {
          text.push_back(pick(std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? alphabet : hex));
        }
      }
      std::string form = Masked(mask, text);
      ASSERT_EQ(form.size(), text.size());
      // Where the mask writes does not depend on which hex digits a run holds, so with every
      // hex digit made '1' the places written over are the '0's.
      std::string ones = text;
      for (char& c : ones) {
        if (hex.find(c) != std::string::npos) c = '1';
      }
      std::string places = Masked(mask, ones);
      std::string other = text;
      bool any = false;
      for (size_t i = 0; i < text.size(); ++i) {
        ASSERT_EQ(form[i] == '0' && text[i] != '0', places[i] == '0' && text[i] != '0');
        if (places[i] == '0' && ones[i] == '1') {
          other[i] = pick(hex);
          any = true;
        }
      }
      if (!any) continue;
      ++masked_texts;
      ASSERT_EQ(Masked(mask, other), form) << text << " / " << other;
      for (bool caseless : {true, false}) {
        auto want = Occurrences(literals, text, caseless);
        occurrences += want.size();
        ASSERT_EQ(Occurrences(literals, other, caseless), want)
            << "text " << text << "\nother " << other << "\nform " << form;
      }
    }
  }
  // The draw must exercise the claim, not pass vacuously.
  EXPECT_GT(masked_texts, 5000u);
  EXPECT_GT(occurrences, 5000u);
}

}  // namespace
}  // namespace rampart::detect
