// jsonutil::AppendString against the nlohmann::json serializer it replaced in `rampart scan`
// alerts: the output must stay byte-identical for every input, valid UTF-8 or not.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/json_util.h"

namespace rampart::jsonutil {
namespace {

std::string ViaNlohmann(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ViaAppend(const std::string& s) {
  std::string out = "prefix";
  AppendString(s, &out);
  return out.substr(6);
}

TEST(JsonStringTest, EscapesLikeNlohmann) {
  EXPECT_EQ(ViaAppend(""), "\"\"");
  EXPECT_EQ(ViaAppend("a\"b\\c\nd\x01\x1f\x7f"), "\"a\\\"b\\\\c\\nd\\u0001\\u001f\x7f\"");
  EXPECT_EQ(ViaAppend("\b\t\f\r"), "\"\\b\\t\\f\\r\"");
  EXPECT_EQ(ViaAppend("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // A lone continuation byte, a truncated sequence at the end, an overlong form.
  EXPECT_EQ(ViaAppend("a\x80z"), "\"a\xef\xbf\xbdz\"");
  EXPECT_EQ(ViaAppend("a\xe2\x82"), "\"a\xef\xbf\xbd\"");
  EXPECT_EQ(ViaAppend("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
}

TEST(JsonStringTest, EveryShortByteStringMatchesNlohmann) {
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    ASSERT_EQ(ViaAppend(one), ViaNlohmann(one)) << a;
    for (int b = 0; b < 256; ++b) {
      std::string two = one + static_cast<char>(b);
      ASSERT_EQ(ViaAppend(two), ViaNlohmann(two)) << a << " " << b;
    }
  }
  // Longer sequences over the bytes where UTF-8 decoding changes its mind.
  const std::vector<unsigned char> edges = {
      0x00, 0x0a, 0x1f, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
      0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  std::string s(4, '\0');
  for (unsigned char a : edges) {
    for (unsigned char b : edges) {
      for (unsigned char c : edges) {
        for (unsigned char d : edges) {
          s[0] = static_cast<char>(a);
          s[1] = static_cast<char>(b);
          s[2] = static_cast<char>(c);
          s[3] = static_cast<char>(d);
          ASSERT_EQ(ViaAppend(s), ViaNlohmann(s));
          ASSERT_EQ(ViaAppend(s.substr(0, 3)), ViaNlohmann(s.substr(0, 3)));
        }
      }
    }
  }
}

TEST(JsonStringTest, RandomStringsMatchNlohmann) {
  std::mt19937 rng(20260130);
  const std::string valid[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf",
                               "\xf4\x8f\xbf\xbf"};
  for (int iter = 0; iter < 20000; ++iter) {
    // Lengths past nlohmann's 512-byte buffer, so that its flushes are crossed too.
    size_t len = rng() % (iter % 10 == 0 ? 1500 : 80);
    std::string s;
    while (s.size() < len) {
      unsigned r = rng() % 10;
      if (r < 5) {
        s.push_back(static_cast<char>(0x20 + rng() % 0x60));
      } else if (r < 7) {
        s += valid[rng() % 5];
      } else {
        s.push_back(static_cast<char>(rng() % 256));
      }
    }
    ASSERT_EQ(ViaAppend(s), ViaNlohmann(s)) << iter;
  }
}

}  // namespace
}  // namespace rampart::jsonutil
