#include "detect/quick_filter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detect/event.h"

namespace rampart::detect {
namespace {

// A filter may say "maybe" for keys never added, never "no" for one that was.
TEST(QuickFilterTest, NeverMissesAnAddedKey) {
  QuickFilter exact(QuickFilter::kCaseSensitive, 16);
  EXPECT_FALSE(exact.MayContain("anything"));
  std::vector<std::string> keys = {
      "", "a", "abcdefg", "abcdefgh", "abcdefghi", "evil.example", std::string(300, 'x') + "tail"};
  for (int i = 0; i < 2000; ++i) keys.push_back("host" + std::to_string(i) + ".bad.example");
  for (const auto& k : keys) exact.Add(k);
  for (const auto& k : keys) EXPECT_TRUE(exact.MayContain(k)) << k;
  // 2,002 keys in 65,536 bits: a few false "maybe"s, far from all.
  int maybes = 0;
  for (int i = 0; i < 2000; ++i)
    maybes += exact.MayContain("good" + std::to_string(i) + ".example");
  EXPECT_LT(maybes, 200);
}

TEST(QuickFilterTest, FoldsAsciiCaseOnlyWhenAsked) {
  QuickFilter folded(QuickFilter::kCaseFolded, 16);
  QuickFilter exact(QuickFilter::kCaseSensitive, 16);
  folded.Add("mozilla/5.0 zgrab/0.x");
  exact.Add("Mozilla/5.0 zgrab/0.x");
  EXPECT_TRUE(folded.MayContain("MOZILLA/5.0 ZGRAB/0.X"));
  EXPECT_TRUE(folded.MayContain("Mozilla/5.0 zgrab/0.x"));
  EXPECT_TRUE(exact.MayContain("Mozilla/5.0 zgrab/0.x"));
  // Bytes outside A-Z are not folded: '@' (0x40) and '[' (0x5b) sit just outside the range.
  QuickFilter edges(QuickFilter::kCaseFolded, 16);
  edges.Add("@[`{");
  EXPECT_TRUE(edges.MayContain("@[`{"));
  edges.Add("\xc3\x89t\xc3\xa9");
  EXPECT_TRUE(edges.MayContain("\xc3\x89T\xc3\xa9"));
}

// Clear forgets values without wiping every slot: a field set before must read as absent.
TEST(EventClearTest, ForgetsValuesAndDecodedForms) {
  Event ev;
  ev.Set(Field::kUrlPath, "/a%20b");
  ev.DecodeField(Field::kUrlPath);
  ASSERT_TRUE(ev.HasDistinctDecoded(Field::kUrlPath));
  EXPECT_EQ(ev.Decoded(Field::kUrlPath), "/a b");
  ev.Clear();
  EXPECT_FALSE(ev.Has(Field::kUrlPath));
  EXPECT_EQ(ev.Get(Field::kUrlPath), "");
  EXPECT_FALSE(ev.HasDistinctDecoded(Field::kUrlPath));
  EXPECT_EQ(ev.Decoded(Field::kUrlPath), "");
  ev.DecodeField(Field::kUrlPath);  // absent: stays absent
  EXPECT_FALSE(ev.HasDistinctDecoded(Field::kUrlPath));
  ev.Set(Field::kUrlPath, "/plain");
  ev.DecodeField(Field::kUrlPath);
  EXPECT_FALSE(ev.HasDistinctDecoded(Field::kUrlPath));
  EXPECT_EQ(ev.Decoded(Field::kUrlPath), "/plain");
  EXPECT_EQ(ev.present_mask(), uint64_t{1} << static_cast<unsigned>(Field::kUrlPath));
}

}  // namespace
}  // namespace rampart::detect
