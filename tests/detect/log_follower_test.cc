// The tail -F follower, driven with PollOnce() on real files in a temporary directory.
#include "detect/log_follower.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "common/ip.h"
#include "detect/custom_log_format.h"
#include "detect/log_parser.h"
#include "tests/support/capturing_sink.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;
using rampart::testing::CapturingSink;

std::string AccessLine(const std::string& ip, const std::string& path) {
  return "mdm.example.eu:443 " + ip + " - - [30/Jan/2026:09:15:00 +0100] \"GET " + path +
         " HTTP/1.1\" 200 10 \"-\" \"curl/8\"\n";
}

void Append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

class LogFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("rampart_follow_" + std::to_string(rd()));
    fs::create_directories(dir_);
    log_ = (dir_ / "access_log").string();
    positions_ = (dir_ / "positions.json").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<LogFollower> Make(ReadabilityOptions readability = {}) {
    FollowerOptions o;
    o.paths = {log_};
    o.positions_file = positions_;
    o.readability = readability;
    auto f = LogFollower::Create(o, &sink_);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(f).value() : nullptr;
  }
  // A first run that reads one line of `file` (the followed file, or its symlink's target) and
  // stops, leaving its position saved.
  void RunOnceOver(const std::string& file) {
    auto f = Make();
    Append(file, AccessLine("203.0.113.1", "/one"));
    f->PollOnce();
    ASSERT_EQ(sink_.Take().size(), 1u);
  }
  // After a first run over `file`, two rotations while stopped (file -> .1 -> .2), then a
  // restart: the rest of the saved file (.2) is read, then the current one; the file rotated in
  // between (.1, its "/between" line) is not read, and that is counted (and logged) rather than
  // passed over in silence.
  void ExpectTwoRotationsCountedAsUnread(const std::string& file) {
    RunOnceOver(file);
    Append(file, AccessLine("203.0.113.1", "/two"));
    fs::rename(file, file + ".1");
    Append(file, AccessLine("203.0.113.1", "/between"));
    // Written after the old file's last line: its modification time is later.
    fs::last_write_time(file, fs::last_write_time(file + ".1") + std::chrono::seconds(2));
    fs::rename(file + ".1", file + ".2");
    fs::rename(file, file + ".1");
    Append(file, AccessLine("203.0.113.1", "/new"));
    auto f = Make();
    f->PollOnce();
    EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/two", "/new"}));
    EXPECT_EQ(f->stats().unread_rotations, 1u);
  }
  static std::vector<std::string> Paths(const std::vector<SecurityEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.emplace_back(e.Get("url.path"));
    return out;
  }

  fs::path dir_;
  std::string log_;
  std::string positions_;
  CapturingSink sink_;
};

TEST_F(LogFollowerTest, FileThatDoesNotExistYetIsReadFromItsStartOnceItAppears) {
  auto f = Make();
  f->PollOnce();
  EXPECT_TRUE(sink_.Take().empty());
  Append(log_, AccessLine("203.0.113.1", "/a") + AccessLine("203.0.113.2", "/b"));
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].Get("source.ip"), "203.0.113.1");
  EXPECT_EQ(events[0].Get("log.file.path"), log_);
  EXPECT_EQ(events[0].Get("log.file.line"), "1");
  EXPECT_EQ(events[1].Get("log.file.line"), "2");
  EXPECT_EQ(events[1].Get("destination.domain"), "mdm.example.eu");
  EXPECT_NE(events[0].timestamp_millis, 0);
}

TEST_F(LogFollowerTest, ExistingFileSeenForTheFirstTimeIsFollowedFromItsEnd) {
  Append(log_, AccessLine("203.0.113.1", "/old") + AccessLine("203.0.113.1", "/old2"));
  auto f = Make();
  Append(log_, AccessLine("203.0.113.1", "/new"));
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/new");
  EXPECT_EQ(events[0].Get("log.file.line"), "3") << "line numbers count the lines skipped";
}

TEST_F(LogFollowerTest, PartialLastLineWaitsForItsNewline) {
  auto f = Make();
  std::string line = AccessLine("203.0.113.1", "/partial");
  Append(log_, line.substr(0, 30));
  f->PollOnce();
  EXPECT_TRUE(sink_.Take().empty());
  Append(log_, line.substr(30, line.size() - 31));
  f->PollOnce();
  EXPECT_TRUE(sink_.Take().empty()) << "no newline yet";
  Append(log_, "\n");
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/partial");
}

TEST_F(LogFollowerTest, RotationFinishesTheOldFileThenReadsTheNewOneFromItsStart) {
  auto f = Make();
  Append(log_, AccessLine("203.0.113.1", "/one"));
  f->PollOnce();
  ASSERT_EQ(sink_.Take().size(), 1u);
  // Written to the old file after our last look, then rotated: both must be read, in order.
  Append(log_, AccessLine("203.0.113.1", "/two"));
  fs::rename(log_, log_ + ".1");
  Append(log_, AccessLine("203.0.113.1", "/three"));
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/two", "/three"}));
  EXPECT_EQ(f->stats().rotations, 1u);
  Append(log_, AccessLine("203.0.113.1", "/four"));
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/four");
  EXPECT_EQ(events[0].Get("log.file.line"), "2");
}

TEST_F(LogFollowerTest, RenamedAwayWithNoSuccessorYetKeepsReadingTheOldFile) {
  auto f = Make();
  Append(log_, AccessLine("203.0.113.1", "/one"));
  f->PollOnce();
  ASSERT_EQ(sink_.Take().size(), 1u);
  fs::rename(log_, log_ + ".1");
  Append(log_ + ".1", AccessLine("203.0.113.1", "/late"));
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/late"}));
  Append(log_, AccessLine("203.0.113.1", "/fresh"));
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/fresh"}));
}

TEST_F(LogFollowerTest, TruncationRestartsAtZero) {
  auto f = Make();
  Append(log_, AccessLine("203.0.113.1", "/one") + AccessLine("203.0.113.1", "/two"));
  f->PollOnce();
  ASSERT_EQ(sink_.Take().size(), 2u);
  fs::resize_file(log_, 0);
  Append(log_, AccessLine("203.0.113.9", "/after"));
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/after");
  EXPECT_EQ(events[0].Get("log.file.line"), "1");
  EXPECT_EQ(f->stats().truncations, 1u);
}

// copytruncate, then the server writes more than was read before the next poll: the file is
// not shorter, but the bytes where the follower had read are others. From the start, or the
// first new lines (an exploit among them) would be skipped.
TEST_F(LogFollowerTest, TruncationThatTheFileOutgrewBeforeThePollRestartsAtZero) {
  auto f = Make();
  Append(log_, AccessLine("203.0.113.1", "/one") + AccessLine("203.0.113.1", "/two"));
  f->PollOnce();
  ASSERT_EQ(sink_.Take().size(), 2u);
  fs::resize_file(log_, 0);
  Append(log_, AccessLine("198.19.0.1", "/mifs/c/appstore/fob/exploit") +
                   AccessLine("203.0.113.9", "/after-1") + AccessLine("203.0.113.9", "/after-2"));
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()),
            (std::vector<std::string>{"/mifs/c/appstore/fob/exploit", "/after-1", "/after-2"}));
  EXPECT_EQ(f->stats().truncations, 1u);
}

// The same while the follower was stopped: the saved position's bytes no longer match.
TEST_F(LogFollowerTest, TruncatedAndRewrittenWhileStoppedIsReadFromItsStart) {
  {
    auto f = Make();
    Append(log_, AccessLine("203.0.113.1", "/one") + AccessLine("203.0.113.1", "/two"));
    f->PollOnce();
    sink_.Take();
  }
  fs::resize_file(log_, 0);
  Append(log_, AccessLine("198.25.0.1", "/first-after") + AccessLine("203.0.113.9", "/b") +
                   AccessLine("203.0.113.9", "/c"));
  auto f = Make();
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/first-after", "/b", "/c"}));
  EXPECT_EQ(f->stats().truncations, 1u);
  // Unchanged bytes resume where they were, as before.
  f->Stop();
  Append(log_, AccessLine("203.0.113.9", "/d"));
  auto g = Make();
  g->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/d"}));
}

TEST_F(LogFollowerTest, RestartResumesFromThePositionFile) {
  {
    auto f = Make();
    Append(log_, AccessLine("203.0.113.1", "/one") + AccessLine("203.0.113.1", "/two"));
    f->PollOnce();
    ASSERT_EQ(sink_.Take().size(), 2u);
    f->Stop();
  }
  struct stat st;
  ASSERT_EQ(::stat(positions_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Lines written while the follower was down are read after the restart, once.
  Append(log_,
         AccessLine("203.0.113.1", "/three") + AccessLine("203.0.113.1", "/four").substr(0, 20));
  auto f = Make();
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/three");
  EXPECT_EQ(events[0].Get("log.file.line"), "3");
  f->Stop();
  // The partial line is not counted as read: a third run sees it whole.
  Append(log_, AccessLine("203.0.113.1", "/four").substr(20));
  auto g = Make();
  g->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/four"}));
}

TEST_F(LogFollowerTest, FileReplacedWhileStoppedIsReadFromItsStart) {
  RunOnceOver(log_);
  fs::rename(log_, log_ + ".1");
  Append(log_, AccessLine("203.0.113.1", "/new"));
  auto f = Make();
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/new"}));
}

// Lines the old file got after the saved position, then rotated away while the follower was
// down (logrotate at night, Rampart restarted in the morning), are read from where the file now
// is, before the new file: an attack logged in between is not lost.
TEST_F(LogFollowerTest, RotatedWhileStoppedTheOldFileIsFinishedBesideThePath) {
  RunOnceOver(log_);
  std::string last = AccessLine("203.0.113.1", "/mifs/403.jsp");
  last.pop_back();  // the old file's last line never got its newline
  Append(log_, AccessLine("203.0.113.1", "/two") + last);
  fs::rename(log_, log_ + ".1");
  Append(log_ + ".10", AccessLine("203.0.113.1", "/older"));  // another sibling, not it
  fs::last_write_time(log_ + ".10", fs::file_time_type::clock::now() - std::chrono::hours(240));
  Append(log_, AccessLine("203.0.113.1", "/new"));
  auto f = Make();
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(Paths(events), (std::vector<std::string>{"/two", "/mifs/403.jsp", "/new"}));
  EXPECT_EQ(events[0].Get("log.file.line"), "2") << "line numbers go on from the saved ones";
  EXPECT_EQ(events[2].Get("log.file.line"), "1");
  EXPECT_EQ(f->stats().rotations, 1u);
  EXPECT_EQ(f->stats().unread_rotations, 0u) << "the older sibling was rotated before it";
  f->Stop();
  // Then the new file is followed as usual, and the next restart resumes in it.
  Append(log_, AccessLine("203.0.113.1", "/after"));
  auto g = Make();
  g->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/after"}));
}

TEST_F(LogFollowerTest, RotatedTwiceWhileStoppedTheFileInBetweenIsCountedAsUnread) {
  ExpectTwoRotationsCountedAsUnread(log_);
}

// The followed path links to a file of another name in the same folder: the copies in between
// are named after the link's target.
TEST_F(LogFollowerTest, RotatedTwiceWhileStoppedBehindASymlinkCountsTheTargetsCopies) {
  const std::string target = (dir_ / "app-2026.log").string();
  Append(target, "");
  fs::create_symlink(target, log_);
  ExpectTwoRotationsCountedAsUnread(target);
}

// Rotated once: nothing is unread, whatever older copies lie beside it.
TEST_F(LogFollowerTest, RotatedOnceWhileStoppedLeavesNothingUnread) {
  Append(log_ + ".2.gz", "an older, compressed copy");
  fs::last_write_time(log_ + ".2.gz", fs::file_time_type::clock::now() - std::chrono::hours(24));
  RunOnceOver(log_);
  Append(log_, AccessLine("203.0.113.1", "/two"));
  fs::rename(log_, log_ + ".1");
  Append(log_, AccessLine("203.0.113.1", "/new"));
  // Other files that share the name's start and are written now are not rotated copies.
  Append(log_ + ".json", "{}\n");
  Append(log_ + "-audit", "x\n");
  fs::last_write_time(log_ + ".json", fs::last_write_time(log_ + ".1") + std::chrono::seconds(2));
  fs::last_write_time(log_ + "-audit", fs::last_write_time(log_ + ".1") + std::chrono::seconds(2));
  auto f = Make();
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/two", "/new"}));
  EXPECT_EQ(f->stats().unread_rotations, 0u);
}

TEST_F(LogFollowerTest, RenamedAwayWhileStoppedWithNoSuccessorTheOldFileIsStillRead) {
  RunOnceOver(log_);
  Append(log_, AccessLine("203.0.113.1", "/two"));
  fs::rename(log_, log_ + "-20261123");
  auto f = Make();
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/two"}));
  Append(log_, AccessLine("203.0.113.1", "/new"));  // the successor appears
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/new"}));
}

// The followed path is a symbolic link (to the folder where the server writes): logrotate
// renames the link's target, so the old file is looked for beside the target.
TEST_F(LogFollowerTest, RotatedWhileStoppedBehindASymlinkIsFoundBesideTheTarget) {
  const fs::path real_dir = dir_ / "real";
  fs::create_directories(real_dir);
  const std::string target = (real_dir / "app.log").string();
  Append(target, "");
  fs::create_symlink(target, log_);
  RunOnceOver(target);
  Append(target, AccessLine("203.0.113.1", "/two"));
  fs::rename(target, target + ".1");
  Append(target, AccessLine("203.0.113.1", "/new"));
  auto f = Make();
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/two", "/new"}));
}

// The sibling has the saved inode but other bytes before the saved position (rewritten in
// place): it is not the file we were reading, and is not resumed in the middle.
TEST_F(LogFollowerTest, RotatedSiblingWithOtherBytesIsNotResumed) {
  RunOnceOver(log_);
  Append(log_, AccessLine("203.0.113.1", "/two"));
  fs::rename(log_, log_ + ".1");
  {
    std::fstream rewrite(log_ + ".1", std::ios::in | std::ios::out | std::ios::binary);
    rewrite.seekp(0);
    rewrite << AccessLine("203.0.113.9", "/xxx");  // as long as the first line, other bytes
  }
  Append(log_, AccessLine("203.0.113.1", "/new"));
  auto f = Make();
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/new"}));
}

TEST_F(LogFollowerTest, RotatedWhileStoppedAndCompressedOnlyTheNewFileIsRead) {
  RunOnceOver(log_);
  Append(log_, AccessLine("203.0.113.1", "/two"));
  // As `compress` without `delaycompress` does: the old inode is gone, a .gz stands there.
  // (The new file is created first, so that it cannot reuse the old inode.)
  fs::rename(log_, log_ + ".1");
  Append(log_, AccessLine("203.0.113.1", "/new"));
  Append(log_ + ".1.gz", "not the old inode");
  fs::remove(log_ + ".1");
  auto f = Make();
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/new"}));
  EXPECT_EQ(f->stats().rotations, 1u);
  EXPECT_EQ(f->stats().unread_rotations, 1u) << "the old file's rest could not be read";
}

TEST_F(LogFollowerTest, LineOverOneMebibyteIsSkippedAndTheNextOneRead) {
  auto f = Make();
  Append(log_, AccessLine("203.0.113.1", "/before"));
  f->PollOnce();
  ASSERT_EQ(sink_.Take().size(), 1u);
  std::string huge = "mdm.example.eu:443 203.0.113.1 - - [30/Jan/2026:09:15:00 +0100] \"GET /" +
                     std::string(kMaxLineBytes + 10, 'a') + " HTTP/1.1\" 200 1 \"-\" \"-\"\n";
  // Written in two halves with a poll between: the follower never holds more than the limit.
  Append(log_, huge.substr(0, huge.size() / 2));
  f->PollOnce();
  Append(log_, huge.substr(huge.size() / 2) + AccessLine("203.0.113.1", "/after"));
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/after");
  EXPECT_EQ(events[0].Get("log.file.line"), "3");
  EXPECT_EQ(f->stats().oversized, 1u);
}

TEST_F(LogFollowerTest, BinaryGarbageIsCountedAndSkipped) {
  auto f = Make();
  std::string garbage("\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x03\x00\x3e\x00", 14);
  Append(log_, AccessLine("203.0.113.1", "/a") + garbage + "\n" + AccessLine("203.0.113.1", "/b"));
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(f->stats().binary, 1u);
  EXPECT_EQ(f->stats().lines, 3u);
}

// A file with a declared layout is read in it alone: from its first line, after a truncation,
// and with no move to a format its other lines look like; the header it names is the one the
// forwarded client is read from.
TEST_F(LogFollowerTest, AFileWithADeclaredLayoutIsReadInItAlone) {
  auto layout = CustomLogFormat::Compile(
      R"(nginx:$remote_addr [$time_local] "$request" $status "$http_user_agent" $request_time )"
      R"("$http_x_forwarded_for")");
  ASSERT_TRUE(layout.ok()) << layout.status().message();
  auto line = [](const std::string& path, const std::string& forwarded) {
    return "10.0.0.2 [30/Jan/2026:09:15:00 +0100] \"GET " + path + " HTTP/1.1\" 200 \"curl/8\" " +
           "0.003 \"" + forwarded + "\"\n";
  };
  FollowerOptions o;
  o.paths = {log_};
  o.positions_file = positions_;
  o.log_proxies = ProxyTrust{{*ParseCidr("10.0.0.0/29")}};
  o.layouts[log_] = std::make_shared<const CustomLogFormat>(std::move(layout).value());
  auto created = LogFollower::Create(o, &sink_);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto f = std::move(created).value();

  Append(log_, "{\"source.ip\":\"198.51.100.4\",\"url.original\":\"/json\"}\n" +
                   AccessLine("203.0.113.1", "/combined") + line("/one", "192.0.2.1"));
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u) << "the JSON and the combined line are not in the layout";
  EXPECT_EQ(events[0].Get("url.path"), "/one");
  EXPECT_EQ(events[0].Get("source.ip"), "192.0.2.1");
  EXPECT_EQ(f->stats().parse_errors, 2u);
  EXPECT_EQ(f->stats().forwarded_clients, 1u);

  // Truncated and written again: still the layout.
  { std::ofstream truncate(log_, std::ios::trunc); }
  f->PollOnce();
  Append(log_, line("/two", "198.51.100.9") + AccessLine("203.0.113.1", "/combined"));
  f->PollOnce();
  events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/two");
  EXPECT_EQ(events[0].Get("source.ip"), "198.51.100.9");
  EXPECT_EQ(f->stats().parse_errors, 3u);

  // A layout for a path that is not followed is a mistake in the configuration.
  FollowerOptions stray;
  stray.paths = {log_};
  stray.layouts[(dir_ / "other_log").string()] = o.layouts[log_];
  auto refused = LogFollower::Create(stray, &sink_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("other_log', which is not followed"), std::string::npos)
      << refused.status().message();
}

// A file whose lines stop being in its format (an upgrade changed the server's log_format, a
// sender writes garbage) emits detection.log_unreadable for each window where half or more of
// its lines could not be read, named by the file's path; a readable window emits nothing.
TEST_F(LogFollowerTest, AFileThatCanNoLongerBeReadIsReportedPerWindow) {
  auto f = Make({.max_lines = 10, .max_millis = 3'600'000, .min_lines = 4});
  ASSERT_NE(f, nullptr);
  auto lines = [](int readable, int unreadable) {
    std::string text;
    for (int i = 0; i < readable; ++i) text += AccessLine("203.0.113.1", "/ok");
    for (int i = 0; i < unreadable; ++i) text += "upstream timed out (110) while reading\n";
    return text;
  };
  auto unreadable_events = [&] {
    std::vector<SecurityEvent> out;
    for (auto& e : sink_.Take()) {
      if (e.Get("event.action") == "detection.log_unreadable") out.push_back(std::move(e));
    }
    return out;
  };

  Append(log_, lines(10, 0));
  f->PollOnce();
  EXPECT_TRUE(unreadable_events().empty());

  // Lines 11..20: three read, seven not; a blank line is no line of the log.
  Append(log_, lines(3, 7) + "\n");
  f->PollOnce();
  auto events = unreadable_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("file.path"), log_);
  EXPECT_EQ(events[0].Get("log.file.path"), log_);
  EXPECT_EQ(events[0].Get("log.lines"), "10");
  EXPECT_EQ(events[0].Get("log.lines_unreadable"), "7");
  EXPECT_EQ(events[0].Get("log.file.line"), "14");
  EXPECT_EQ(events[0].Get("log.format"), "epmm");
  EXPECT_EQ(events[0].Get("event.reason"),
            "7 of the last 10 lines could not be read as epmm lines (the first at line 14)");

  // Binary and over-long lines cannot be read either: five of ten is half.
  std::string binary("\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x03\x00", 12);
  Append(log_, lines(5, 3) + binary + "\n" + std::string(kMaxLineBytes + 10, 'a') + "\n");
  f->PollOnce();
  events = unreadable_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("log.lines_unreadable"), "5");
  EXPECT_EQ(events[0].Get("log.file.line"), "27");

  // Four of ten is not.
  Append(log_, lines(6, 4));
  f->PollOnce();
  EXPECT_TRUE(unreadable_events().empty());
  EXPECT_EQ(f->stats().unreadable_windows, 2u);
  EXPECT_EQ(f->stats().lines, 41u);
}

// A truncated file (logrotate's copytruncate) ends the window of its old lines: they are judged
// apart from the new ones, and the first unreadable line's number is the old file's.
TEST_F(LogFollowerTest, ATruncationEndsTheReadabilityWindow) {
  auto f = Make({.max_lines = 1000, .max_millis = 3'600'000, .min_lines = 4});
  ASSERT_NE(f, nullptr);
  Append(log_, AccessLine("203.0.113.1", "/ok") + "garbage\ngarbage\ngarbage\n");
  f->PollOnce();
  EXPECT_TRUE(sink_.WithAction("detection.log_unreadable").empty());
  { std::ofstream truncate(log_, std::ios::trunc); }
  Append(log_, AccessLine("203.0.113.1", "/new"));
  f->PollOnce();
  auto events = sink_.WithAction("detection.log_unreadable");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("log.lines"), "4") << "the new file's line is not in it";
  EXPECT_EQ(events[0].Get("log.lines_unreadable"), "3");
  EXPECT_EQ(events[0].Get("log.file.line"), "2");
  EXPECT_EQ(f->stats().truncations, 1u);
}

// A quiet file is judged at the end of a poll once its window is old enough and holds enough
// lines, not only when max_lines have come.
TEST_F(LogFollowerTest, AQuietFileIsJudgedOnceItsWindowIsOldEnough) {
  auto f = Make({.max_lines = 1000, .max_millis = 0, .min_lines = 3});
  ASSERT_NE(f, nullptr);
  Append(log_, AccessLine("203.0.113.1", "/ok") + "garbage\n");
  f->PollOnce();
  EXPECT_TRUE(sink_.WithAction("detection.log_unreadable").empty()) << "two lines are too few";
  Append(log_, "more garbage\n");
  f->PollOnce();
  auto events = sink_.WithAction("detection.log_unreadable");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("log.lines"), "3");
  EXPECT_EQ(events[0].Get("log.lines_unreadable"), "2");
  EXPECT_EQ(events[0].Get("log.file.line"), "2");
}

TEST_F(LogFollowerTest, JsonLinesAreDetected) {
  auto f = Make();
  Append(log_,
         "{\"source.ip\":\"198.51.100.4\",\"url.original\":\"/mifs/403.jsp\",\"http.response."
         "status_code\":200}\n");
  f->PollOnce();
  auto events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Get("url.path"), "/mifs/403.jsp");
  EXPECT_EQ(events[0].Get("source.ip"), "198.51.100.4");
}

// A banner line first, read alone while the file was being written, must not fix the format
// for the rest of the file.
TEST_F(LogFollowerTest, AStrayFirstLineDoesNotBlindTheRestOfTheFile) {
  auto f = Make();
  Append(log_, "Log started at 2026-01-28\n");
  f->PollOnce();
  EXPECT_TRUE(sink_.Take().empty());
  Append(log_,
         "{\"source.ip\":\"198.51.100.4\",\"url.original\":\"/mifs/aad/api/v2/x\"}\n"
         "{\"source.ip\":\"198.51.100.5\",\"url.original\":\"/mifs/b\"}\n" +
             AccessLine("203.0.113.1", "/c"));
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/mifs/aad/api/v2/x", "/mifs/b", "/c"}));
  EXPECT_EQ(f->stats().parse_errors, 1u) << "the banner only";
}

// A malformed line in an access log is a parse error, not a reason to change format.
TEST_F(LogFollowerTest, AMalformedAccessLineKeepsTheFormat) {
  auto f = Make();
  Append(log_, AccessLine("203.0.113.1", "/a") + "garbage without a time\n" +
                   "{\"source.ip\":\"x\"\n" + AccessLine("203.0.113.2", "/b"));
  f->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(f->stats().parse_errors, 2u);
}

// A sink whose queue is full two times in three: the follower waits, since its lines stay on
// disk, rather than dropping them.
class BusySink final : public EventSink {
 public:
  void Emit(SecurityEvent) override { ++dropped; }
  bool TryEmit(SecurityEvent& event) override {
    if (++attempts % 3 != 0) return false;
    taken.push_back(std::move(event));
    return true;
  }
  int attempts = 0;
  int dropped = 0;
  std::vector<SecurityEvent> taken;
};

TEST_F(LogFollowerTest, AFullQueueIsWaitedOutNotDropped) {
  Append(log_, "");
  BusySink busy;
  FollowerOptions o;
  o.paths = {log_};
  o.positions_file = positions_;
  auto f = LogFollower::Create(o, &busy);
  ASSERT_TRUE(f.ok());
  std::string lines;
  for (int i = 0; i < 20; ++i) lines += AccessLine("203.0.113.1", "/p" + std::to_string(i));
  Append(log_, lines);
  (*f)->PollOnce();
  EXPECT_EQ(busy.dropped, 0);
  ASSERT_EQ(busy.taken.size(), 20u);
  EXPECT_EQ(busy.taken[19].Get("url.path"), "/p19");
  EXPECT_EQ((*f)->stats().backpressure_waits, 20u);
  EXPECT_EQ((*f)->stats().events, 20u);
}

// Stopped while the queue is full: the lines it could not take are not skipped, the saved
// position stays at the first of them, and the next run reads them.
class FullSink final : public EventSink {
 public:
  void Emit(SecurityEvent) override { ++dropped; }
  bool TryEmit(SecurityEvent&) override {
    ++refusals;
    return false;
  }
  std::atomic<int> dropped{0}, refusals{0};
};

TEST_F(LogFollowerTest, StoppingWithAFullQueueLeavesTheLinesForTheNextRun) {
  Append(log_, AccessLine("203.0.113.1", "/before"));
  {
    CapturingSink first;
    FollowerOptions o;
    o.paths = {log_};
    o.positions_file = positions_;
    auto f = LogFollower::Create(o, &first);  // from the end: /before is history
    ASSERT_TRUE(f.ok());
    (*f)->Stop();
  }
  FullSink full;
  {
    FollowerOptions o;
    o.paths = {log_};
    o.positions_file = positions_;
    o.poll_millis = 10;
    auto f = LogFollower::Create(o, &full);
    ASSERT_TRUE(f.ok());
    (*f)->Start();
    Append(log_, AccessLine("203.0.113.1", "/a") + AccessLine("203.0.113.1", "/b"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (full.refusals.load() < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    (*f)->Stop();
    EXPECT_EQ((*f)->stats().events, 0u);
  }
  EXPECT_EQ(full.dropped.load(), 0);
  auto next = Make();
  next->PollOnce();
  EXPECT_EQ(Paths(sink_.Take()), (std::vector<std::string>{"/a", "/b"}));
}

TEST_F(LogFollowerTest, ThreadFollowsUntilStopped) {
  FollowerOptions o;
  o.paths = {log_};
  o.positions_file = positions_;
  o.poll_millis = 10;
  auto f = LogFollower::Create(o, &sink_);
  ASSERT_TRUE(f.ok());
  (*f)->Start();
  Append(log_, AccessLine("203.0.113.1", "/threaded"));
  std::vector<SecurityEvent> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    got = sink_.Take();
    if (got.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (*f)->Stop();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Get("url.path"), "/threaded");
}

// The poll period is ten minutes, so only the inotify watch on the folder can make the thread
// see the file appear, grow and rotate within the 20 s WaitFor deadline; Stop() wakes the thread
// through its eventfd instead of waiting out the period (the test's timeout would catch that).
TEST_F(LogFollowerTest, FolderChangesWakeTheThreadWithoutWaitingForThePollPeriod) {
  FollowerOptions o;
  o.paths = {log_};
  o.positions_file = positions_;
  o.poll_millis = 600'000;
  auto f = LogFollower::Create(o, &sink_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  (*f)->Start();
  Append(log_, AccessLine("203.0.113.1", "/created"));
  ASSERT_EQ(sink_.WaitFor(1).size(), 1u) << "a new file did not wake the follower";
  Append(log_, AccessLine("203.0.113.1", "/appended"));
  ASSERT_EQ(sink_.WaitFor(2).size(), 2u) << "an append did not wake the follower";
  fs::rename(log_, log_ + ".1");
  Append(log_, AccessLine("203.0.113.1", "/rotated"));
  auto got = sink_.WaitFor(3);
  (*f)->Stop();
  ASSERT_EQ(got.size(), 3u) << "a rotation did not wake the follower";
  EXPECT_EQ(Paths(got), (std::vector<std::string>{"/created", "/appended", "/rotated"}));
}

TEST_F(LogFollowerTest, RelativePathOrCorruptPositionsFileIsRefused) {
  FollowerOptions o;
  o.paths = {"relative/log"};
  EXPECT_FALSE(LogFollower::Create(o, &sink_).ok());
  Append(positions_, "not json");
  o.paths = {log_};
  o.positions_file = positions_;
  auto f = LogFollower::Create(o, &sink_);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("positions"), std::string::npos);
}

}  // namespace
}  // namespace rampart::detect
