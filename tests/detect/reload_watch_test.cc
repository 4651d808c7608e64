// The reload watcher: which files it stamps, when a change is acted on (the settler, with
// made-up times), and the thread woken by inotify on a temporary tree.
#include "detect/reload_watch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "common/crypto.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Written aside and renamed over the name, as downloaders and deployment tools do: the watcher
// never sees the file half written, so each change below is one call however slow the machine.
void Publish(const fs::path& p, const std::string& text) {
  Write(p.string() + ".part", text);
  fs::rename(p.string() + ".part", p);
}

// Sets a file's modification time, so that two writes within one clock tick still differ.
void SetMtime(const fs::path& p, time_t seconds) {
  timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
}

class ReloadWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    dir_ = fs::temp_directory_path() / ("rampart_reload_watch_" + crypto::RandomHex(6));
    rules_ = dir_ / "rules";
    feeds_ = dir_ / "feeds";
    fs::create_directories(rules_);
    fs::create_directories(feeds_);
    options_.rule_dirs = {rules_.string()};
    options_.ioc_files = {(feeds_ / "cert-eu.csv").string()};
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_, rules_, feeds_;
  ReloadWatchOptions options_;
};

TEST_F(ReloadWatchTest, StampsTheFilesTheLoadersRead) {
  Write(rules_ / "b.yml", "title: b\n");
  fs::create_directories(rules_ / "web");
  Write(rules_ / "web" / "a.YAML", "title: a\n");
  Write(rules_ / "README.md", "not a rule\n");
  Write(rules_ / "b.yml.swp", "an editor's file\n");
  WatchedFiles look = LookAtWatchedFiles(options_);
  ASSERT_EQ(look.rules.size(), 2u);
  EXPECT_EQ(look.rules[0].path, (rules_ / "b.yml").string());
  EXPECT_EQ(look.rules[1].path, (rules_ / "web" / "a.YAML").string());
  EXPECT_TRUE(look.rules[0].exists);
  EXPECT_EQ(look.rules[0].size, 9u);
  ASSERT_EQ(look.iocs.size(), 1u);
  EXPECT_FALSE(look.iocs[0].exists);  // not downloaded yet

  // Files the loaders skip change nothing.
  Write(rules_ / "README.md", "still not a rule, longer\n");
  EXPECT_EQ(LookAtWatchedFiles(options_), look);

  // A feed renamed over another of the same size and time is another inode.
  const fs::path feed = feeds_ / "cert-eu.csv";
  Write(feed, "type,value\nip,192.0.2.1\n");
  SetMtime(feed, 1769760000);
  WatchedFiles with_feed = LookAtWatchedFiles(options_);
  ASSERT_TRUE(with_feed.iocs[0].exists);
  EXPECT_NE(with_feed, look);
  Write(feeds_ / "next.csv", "type,value\nip,192.0.2.2\n");
  SetMtime(feeds_ / "next.csv", 1769760000);
  fs::rename(feeds_ / "next.csv", feed);
  WatchedFiles renamed = LookAtWatchedFiles(options_);
  EXPECT_EQ(renamed.iocs[0].size, with_feed.iocs[0].size);
  EXPECT_EQ(renamed.iocs[0].mtime_ns, with_feed.iocs[0].mtime_ns);
  EXPECT_NE(renamed.iocs[0].inode, with_feed.iocs[0].inode);
  EXPECT_NE(renamed, with_feed);

  // A file rewritten in place to the same size differs by its time.
  SetMtime(rules_ / "b.yml", 1769760000);
  WatchedFiles before = LookAtWatchedFiles(options_);
  Write(rules_ / "b.yml", "title: c\n");
  SetMtime(rules_ / "b.yml", 1769760001);
  EXPECT_NE(LookAtWatchedFiles(options_).rules, before.rules);

  // A rule file named on its own is read whatever its name, and stamped with the others.
  Write(dir_ / "local.rule", "title: local\n");
  options_.rule_dirs.push_back((dir_ / "local.rule").string());
  WatchedFiles with_file = LookAtWatchedFiles(options_);
  ASSERT_EQ(with_file.rules.size(), 3u);
  EXPECT_EQ(with_file.rules[0].path, (dir_ / "local.rule").string());

  // A rule directory gone stamps no rule, which differs from one that held rules.
  fs::remove_all(rules_);
  EXPECT_EQ(LookAtWatchedFiles(options_).rules.size(), 1u);
}

WatchedFiles Files(std::vector<uint64_t> rule_sizes, std::vector<uint64_t> feed_sizes) {
  WatchedFiles files;
  for (size_t i = 0; i < rule_sizes.size(); ++i) {
    files.rules.push_back({"r" + std::to_string(i), true, 1, i + 1, rule_sizes[i], 0});
  }
  for (size_t i = 0; i < feed_sizes.size(); ++i) {
    files.iocs.push_back({"f" + std::to_string(i), true, 1, 100 + i, feed_sizes[i], 0});
  }
  return files;
}

TEST(ChangeSettlerTest, ActsOnceTheFilesHaveStoodStill) {
  ChangeSettler settler(Files({10, 20}, {30}), 1000);
  EXPECT_EQ(settler.Observe(Files({10, 20}, {30}), 5), std::nullopt);
  EXPECT_EQ(settler.settles_at(), std::nullopt);

  // A rule file grows at 100 and again at 600: nothing until 1,000 ms after the last change.
  EXPECT_EQ(settler.Observe(Files({10, 25}, {30}), 100), std::nullopt);
  EXPECT_EQ(settler.settles_at(), 1100);
  EXPECT_EQ(settler.Observe(Files({10, 28}, {30}), 600), std::nullopt);
  EXPECT_EQ(settler.settles_at(), 1600);
  EXPECT_EQ(settler.Observe(Files({10, 28}, {30}), 1599), std::nullopt);
  auto need = settler.Observe(Files({10, 28}, {30}), 1600);
  ASSERT_TRUE(need.has_value());
  EXPECT_TRUE(need->rules);
  EXPECT_FALSE(need->iocs);
  // Acted on: the same files again ask for nothing.
  EXPECT_EQ(settler.Observe(Files({10, 28}, {30}), 5000), std::nullopt);
  EXPECT_EQ(settler.settles_at(), std::nullopt);

  // A feed changed, and both sets at once.
  settler.Observe(Files({10, 28}, {31}), 6000);
  need = settler.Observe(Files({10, 28}, {31}), 7000);
  ASSERT_TRUE(need.has_value());
  EXPECT_EQ(*need, (ReloadNeeded{.rules = false, .iocs = true}));
  settler.Observe(Files({10}, {0}), 8000);
  need = settler.Observe(Files({10}, {0}), 9000);
  ASSERT_TRUE(need.has_value());
  EXPECT_EQ(*need, (ReloadNeeded{.rules = true, .iocs = true}));
}

TEST(ChangeSettlerTest, AChangeUndoneBeforeItSettledAsksForNothing) {
  ChangeSettler settler(Files({10}, {30}), 1000);
  EXPECT_EQ(settler.Observe(Files({11}, {30}), 0), std::nullopt);
  EXPECT_EQ(settler.Observe(Files({10}, {30}), 500), std::nullopt);  // an editor's undo
  EXPECT_EQ(settler.settles_at(), std::nullopt);
  EXPECT_EQ(settler.Observe(Files({10}, {30}), 5000), std::nullopt);
}

// Collects the watcher's calls.
class Calls {
 public:
  void Add(ReloadNeeded need) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(need);
    cv_.notify_all();
  }
  // Waits (up to 20 s, far beyond the settle time) for call number `n` (1-based).
  std::optional<ReloadNeeded> Wait(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return calls_.size() >= n; })) {
      return std::nullopt;
    }
    return calls_[n - 1];
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReloadNeeded> calls_;
};

// The poll is an hour away, so every call below comes from inotify waking the watcher.
TEST_F(ReloadWatchTest, InotifyWakesTheWatcherForRulesAndFeeds) {
  Write(rules_ / "a.yml", "title: a\n");
  options_.settle_millis = 50;
  options_.poll_millis = 3'600'000;
  auto watcher = ReloadWatcher::Create(options_);
  ASSERT_TRUE(watcher.ok()) << watcher.status().message();
  Calls calls;
  (*watcher)->Start([&](ReloadNeeded need) { calls.Add(need); });

  Publish(rules_ / "b.yml", "title: b\n");
  auto first = calls.Wait(1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (ReloadNeeded{.rules = true, .iocs = false}));

  // A file the rule loader skips wakes the watcher but asks for nothing: the next call is the
  // feed's.
  Write(rules_ / "notes.txt", "not a rule\n");
  Publish(feeds_ / "cert-eu.csv", "type,value\nip,192.0.2.1\n");
  auto second = calls.Wait(2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, (ReloadNeeded{.rules = false, .iocs = true}));

  // A subdirectory created after the start: its rules are seen, the directory being watched
  // from the look its creation caused.
  fs::create_directories(rules_ / "cve-2026");
  Publish(rules_ / "cve-2026" / "epmm.yml", "title: epmm\n");
  auto third = calls.Wait(3);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(*third, (ReloadNeeded{.rules = true, .iocs = false}));
  Publish(rules_ / "cve-2026" / "epmm-2.yml", "title: epmm 2\n");
  auto fourth = calls.Wait(4);
  ASSERT_TRUE(fourth.has_value());
  EXPECT_TRUE(fourth->rules);

  // The rule directory moved away (the reload then fails and the rules in use stay), and put
  // back: both are changes, the second seen through the watch on the directory's parent.
  fs::rename(rules_, dir_ / "rules.old");
  auto fifth = calls.Wait(5);
  ASSERT_TRUE(fifth.has_value());
  EXPECT_TRUE(fifth->rules);
  fs::create_directories(rules_);
  Publish(rules_ / "a.yml", "title: a\n");
  auto sixth = calls.Wait(6);
  ASSERT_TRUE(sixth.has_value());
  EXPECT_TRUE(sixth->rules);

  // What goes on in the moved-away tree and beside the feed is not looked at.
  const uint64_t looks = (*watcher)->looks();
  // (Spaced wider than the watcher's least gap between looks, so that each would be its own.)
  for (int i = 0; i < 6; ++i) {
    Publish(dir_ / "rules.old" / ("old-" + std::to_string(i) + ".yml"), "title: old\n");
    Write(feeds_ / ("other-" + std::to_string(i) + ".csv"), "type,value\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  // The feed changes last: once its call came, every event before it was read.
  Publish(feeds_ / "cert-eu.csv", "type,value\nip,192.0.2.2\n");
  auto seventh = calls.Wait(7);
  ASSERT_TRUE(seventh.has_value());
  EXPECT_EQ(*seventh, (ReloadNeeded{.rules = false, .iocs = true}));
  // The feed's change: a look when its rename was read, one when it had settled.
  EXPECT_LE((*watcher)->looks(), looks + 2);

  (*watcher)->Stop();
  const size_t stopped_at = calls.count();
  Publish(rules_ / "after-stop.yml", "title: late\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(calls.count(), stopped_at);
}

// A change made after Create, before Start (while the engine loads), is not lost.
TEST_F(ReloadWatchTest, AChangeBeforeStartIsActedOnAfterIt) {
  options_.settle_millis = 0;
  options_.poll_millis = 3'600'000;
  auto watcher = ReloadWatcher::Create(options_);
  ASSERT_TRUE(watcher.ok()) << watcher.status().message();
  Publish(feeds_ / "cert-eu.csv", "type,value\nip,192.0.2.1\n");
  Calls calls;
  (*watcher)->Start([&](ReloadNeeded need) { calls.Add(need); });
  auto first = calls.Wait(1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (ReloadNeeded{.rules = false, .iocs = true}));
}

}  // namespace
}  // namespace rampart::detect
