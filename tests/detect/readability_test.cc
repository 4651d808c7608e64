// The windows in which a log source's lines are judged readable or not (detect/readability.h).
#include "detect/readability.h"

#include <gtest/gtest.h>

namespace rampart::detect {
namespace {

TEST(ReadabilityWindow, AFullWindowIsJudgedOnItsLinesHalfUnreadableIsUnreadable) {
  const ReadabilityOptions o{.max_lines = 4, .max_millis = 60'000, .min_lines = 2};
  ReadabilityWindow w;
  EXPECT_FALSE(w.Count(true, 1, 0, o));
  EXPECT_FALSE(w.Count(false, 2, 0, o));
  EXPECT_FALSE(w.Count(true, 3, 0, o));
  auto v = w.Count(false, 4, 0, o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->lines, 4u);
  EXPECT_EQ(v->unreadable, 2u);
  EXPECT_EQ(v->first_unreadable_line, 2u);
  EXPECT_TRUE(v->unreadable_window()) << "half is enough";
  EXPECT_TRUE(v->changed) << "the first window follows a readable one";

  // The next window starts empty: three readable lines of four.
  EXPECT_FALSE(w.Count(true, 5, 0, o));
  EXPECT_FALSE(w.Count(false, 6, 0, o));
  EXPECT_FALSE(w.Count(true, 7, 0, o));
  v = w.Count(true, 8, 0, o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->unreadable, 1u);
  EXPECT_EQ(v->first_unreadable_line, 6u);
  EXPECT_FALSE(v->unreadable_window());
  EXPECT_TRUE(v->changed) << "readable again";

  for (uint64_t line = 9; line < 12; ++line) EXPECT_FALSE(w.Count(true, line, 0, o));
  v = w.Count(true, 12, 0, o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->unreadable, 0u);
  EXPECT_EQ(v->first_unreadable_line, 0u);
  EXPECT_FALSE(v->changed) << "readable, as before";
}

TEST(ReadabilityWindow, AQuietSourceIsJudgedOnceItsWindowIsOldAndHoldsEnoughLines) {
  const ReadabilityOptions o{.max_lines = 1000, .max_millis = 60'000, .min_lines = 3};
  ReadabilityWindow w;
  EXPECT_FALSE(w.Check(1'000'000, o)) << "an empty window is never judged";
  EXPECT_FALSE(w.Count(false, 10, 100'000, o));
  EXPECT_FALSE(w.Count(false, 11, 130'000, o));
  EXPECT_FALSE(w.Check(200'000, o)) << "old enough, but two lines are too few to judge";
  EXPECT_FALSE(w.Count(true, 12, 150'000, o));
  EXPECT_FALSE(w.Check(159'999, o)) << "the window opened at its first line, 100,000";
  EXPECT_FALSE(w.Check(50'000, o)) << "a clock that stepped back closes nothing";
  auto v = w.Check(160'000, o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->lines, 3u);
  EXPECT_EQ(v->unreadable, 2u);
  EXPECT_EQ(v->first_unreadable_line, 10u);
  EXPECT_TRUE(v->unreadable_window());
  EXPECT_FALSE(w.Check(10'000'000, o)) << "closed: the next window has no line yet";
  // The next window opens at its own first line.
  EXPECT_FALSE(w.Count(true, 13, 500'000, o));
  EXPECT_FALSE(w.Count(true, 14, 500'000, o));
  EXPECT_FALSE(w.Count(true, 15, 500'000, o));
  EXPECT_FALSE(w.Check(559'999, o));
  v = w.Check(560'000, o);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->unreadable_window());
  EXPECT_TRUE(v->changed);
}

// A rotated or truncated file ends its window: judged when it holds enough lines, else
// forgotten, so that no window mixes two files' lines.
TEST(ReadabilityWindow, FinishingJudgesAWindowOfEnoughLinesAndForgetsAShorterOne) {
  const ReadabilityOptions o{.max_lines = 1000, .max_millis = 60'000, .min_lines = 3};
  ReadabilityWindow w;
  EXPECT_FALSE(w.Finish(o)) << "nothing to judge";
  EXPECT_FALSE(w.Count(false, 1, 0, o));
  EXPECT_FALSE(w.Count(false, 2, 0, o));
  EXPECT_FALSE(w.Finish(o)) << "two lines are too few";
  EXPECT_FALSE(w.Count(true, 1, 0, o));
  EXPECT_FALSE(w.Count(true, 2, 0, o));
  EXPECT_FALSE(w.Count(false, 3, 0, o));
  auto v = w.Finish(o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->lines, 3u) << "the forgotten lines are not in it";
  EXPECT_EQ(v->unreadable, 1u);
  EXPECT_EQ(v->first_unreadable_line, 3u);
  EXPECT_FALSE(v->unreadable_window());
}

TEST(ReadabilityWindow, TheEventSaysWhatCouldNotBeReadWhereAndInWhichFormat) {
  ReadabilityVerdict v{.lines = 1000, .unreadable = 812, .first_unreadable_line = 48211};
  SecurityEvent ev = UnreadableLogEvent(v, "combined");
  EXPECT_EQ(ev.Get("event.action"), "detection.log_unreadable");
  EXPECT_EQ(ev.Get("log.lines"), "1000");
  EXPECT_EQ(ev.Get("log.lines_unreadable"), "812");
  EXPECT_EQ(ev.Get("log.format"), "combined");
  EXPECT_EQ(ev.Get("log.file.line"), "48211");
  EXPECT_EQ(ev.Get("event.reason"),
            "812 of the last 1000 lines could not be read as combined lines (the first at line "
            "48211)");
  // A syslog program's messages have no line numbers; a declared layout is named as such.
  SecurityEvent syslog = UnreadableLogEvent({.lines = 20, .unreadable = 20}, "custom");
  EXPECT_EQ(syslog.Get("log.file.line"), "");
  EXPECT_EQ(syslog.Get("event.reason"),
            "20 of the last 20 lines could not be read in the declared layout");
  EXPECT_EQ(UnreadableLogEvent({.lines = 20, .unreadable = 20}, "unknown").Get("event.reason"),
            "20 of the last 20 lines could not be read in any format Rampart knows");
}

}  // namespace
}  // namespace rampart::detect
