// File integrity monitoring on a temporary tree: the baseline, the inotify watcher, the rescan.
#include "detect/file_integrity.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "common/crypto.h"
#include "common/file_tree.h"
#include "common/files.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;

class RecordingSink final : public EventSink {
 public:
  void Emit(SecurityEvent ev) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(ev));
  }
  // "action path" for each event, in order; clears.
  std::vector<std::string> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      out.push_back(std::string(e.Get("event.action")) + " " + std::string(e.Get("file.path")));
    }
    last_ = std::move(events_);
    events_.clear();
    return out;
  }
  std::vector<SecurityEvent> last_;

 private:
  std::mutex mu_;
  std::vector<SecurityEvent> events_;
};

void Write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

class FileIntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    dir_ = fs::temp_directory_path() / ("rampart_fim_" + crypto::RandomHex(6));
    root_ = dir_ / "www";
    fs::create_directories(root_ / "mifs" / "css");
    Write(root_ / "index.html", "<html>hello</html>");
    Write(root_ / "mifs" / "login.jsp", "<% login %>");
    Write(root_ / "mifs" / "css" / "main.css", "body{}");
    ::chmod((root_ / "index.html").c_str(), 0644);
    options_.roots = {root_.string()};
    options_.baseline_file = (dir_ / "data" / "detect" / "integrity_baseline.json").string();
    options_.exclude = {(dir_ / "data").string()};
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<FileIntegrityMonitor> Make() {
    auto m = FileIntegrityMonitor::Create(options_, &sink_);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(m).value() : nullptr;
  }
  std::string P(const std::string& rel) const { return (root_ / rel).string(); }

  fs::path dir_, root_;
  FileIntegrityOptions options_;
  RecordingSink sink_;
};

TEST_F(FileIntegrityTest, FirstStartCreatesAPrivateBaselineOfEveryFileAndLink) {
  fs::create_symlink("/etc/passwd", root_ / "link");  // recorded as a link, not followed
  auto mon = Make();
  ASSERT_NE(mon, nullptr);
  struct stat st {};
  ASSERT_EQ(::stat(options_.baseline_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "data" / "detect").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::ifstream in(options_.baseline_file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto b = ParseBaseline(text);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->files.size(), 4u);
  const auto& link = b->files.at(P("link"));
  EXPECT_EQ(link.link_target, "/etc/passwd");
  EXPECT_EQ(link.sha256, crypto::Sha256Hex("/etc/passwd")) << "the target's name, not its bytes";
  const auto& index = b->files.at(P("index.html"));
  EXPECT_EQ(index.sha256, crypto::Sha256Hex("<html>hello</html>"));
  EXPECT_EQ(index.size, 18u);
  EXPECT_EQ(index.mode, 0644u);
  EXPECT_EQ(b->roots, std::vector<std::string>{root_.string()});
  // Nothing changed since: a rescan reports nothing.
  EXPECT_EQ(mon->Rescan(), 0u);
}

TEST_F(FileIntegrityTest, WatcherReportsExactlyTheChanges) {
  auto mon = Make();
  ASSERT_NE(mon, nullptr);
  ASSERT_TRUE(mon->Start().ok());
  mon->Flush();
  EXPECT_TRUE(sink_.Take().empty());

  Write(root_ / "mifs" / "403.jsp", "<% Class.forName(request.getParameter(\"k0f\")) %>");
  Write(root_ / "index.html", "<html>defaced</html>");
  fs::remove(root_ / "mifs" / "css" / "main.css");
  ::chmod(P("mifs/login.jsp").c_str(), 0666);
  mon->Flush();
  auto got = sink_.Take();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{
                     "file.created " + P("mifs/403.jsp"),
                     "file.deleted " + P("mifs/css/main.css"),
                     "file.modified " + P("index.html"),
                     "file.permissions_changed " + P("mifs/login.jsp"),
                 }));
  std::map<std::string, const SecurityEvent*> by_action;
  for (const auto& e : sink_.last_) by_action[std::string(e.Get("event.action"))] = &e;
  const SecurityEvent& created = *by_action.at("file.created");
  EXPECT_EQ(created.Get("file.extension"), "jsp");
  EXPECT_EQ(created.Get("file.in_baseline"), "false");
  EXPECT_EQ(created.Get("file.hash.sha256"),
            crypto::Sha256Hex("<% Class.forName(request.getParameter(\"k0f\")) %>"));
  EXPECT_EQ(created.Get("file.size"), "48");
  // The digests feeds name webshells by besides SHA-256 (python3 hashlib of the same bytes).
  EXPECT_EQ(created.Get("file.hash.md5"), "5f6cb87784f19891d763dfebd07a3f95");
  EXPECT_EQ(created.Get("file.hash.sha1"), "5191aca215d011bb7d55b1b870b6a41259c53215");
  EXPECT_EQ(by_action.at("file.permissions_changed")->Get("file.hash.md5"), "")
      << "the content did not change: not read again";
  const SecurityEvent& modified = *by_action.at("file.modified");
  EXPECT_EQ(modified.Get("file.hash.md5").size(), 32u);
  EXPECT_EQ(modified.Get("file.in_baseline"), "true");
  EXPECT_EQ(modified.Get("file.previous.sha256"), crypto::Sha256Hex("<html>hello</html>"));
  EXPECT_EQ(by_action.at("file.permissions_changed")->Get("file.mode"), "0666");
  EXPECT_EQ(by_action.at("file.deleted")->Get("file.extension"), "css");

  // A new subdirectory is watched too, including what was written into it at once.
  fs::create_directories(root_ / "mifs" / "stage" / "deep");
  Write(root_ / "mifs" / "stage" / "deep" / "dump.csv", "name,mobile\n");
  mon->Flush();
  Write(root_ / "mifs" / "stage" / "deep" / "more.gz", "x");
  mon->Flush();
  got = sink_.Take();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"file.created " + P("mifs/stage/deep/dump.csv"),
                                           "file.created " + P("mifs/stage/deep/more.gz")}));

  // Renamed in from elsewhere, then out again.
  Write(dir_ / "outside.war", "PK");
  fs::rename(dir_ / "outside.war", root_ / "app.war");
  mon->Flush();
  fs::rename(root_ / "app.war", dir_ / "outside.war");
  mon->Flush();
  EXPECT_EQ(sink_.Take(), (std::vector<std::string>{"file.created " + P("app.war"),
                                                    "file.deleted " + P("app.war")}));

  // A webshell kept outside and linked into the web root is served (FollowSymLinks): the link
  // is a new file, of type symlink, naming its target; pointed elsewhere, it is modified.
  Write(dir_ / "shell.jsp", "<% Runtime.getRuntime().exec(request.getParameter(\"c\")); %>");
  fs::create_symlink(dir_ / "shell.jsp", root_ / "mifs" / "help.jsp");
  mon->Flush();
  ASSERT_EQ(sink_.Take(), std::vector<std::string>{"file.created " + P("mifs/help.jsp")});
  const SecurityEvent& linked = sink_.last_.back();
  EXPECT_EQ(linked.Get("file.type"), "symlink");
  EXPECT_EQ(linked.Get("file.target_path"), (dir_ / "shell.jsp").string());
  EXPECT_EQ(linked.Get("file.extension"), "jsp");
  EXPECT_EQ(linked.Get("file.in_baseline"), "false");
  EXPECT_EQ(linked.Get("file.hash.sha256"), "") << "a link has no content of its own";
  fs::create_symlink("/etc/shadow", dir_ / "next");
  fs::rename(dir_ / "next", root_ / "mifs" / "help.jsp");  // atomically, as `ln -sf` does
  mon->Flush();
  ASSERT_EQ(sink_.Take(), std::vector<std::string>{"file.modified " + P("mifs/help.jsp")});
  EXPECT_EQ(sink_.last_.back().Get("file.target_path"), "/etc/shadow");
  EXPECT_EQ(sink_.last_.back().Get("file.previous.target_path"), (dir_ / "shell.jsp").string());
  fs::remove(root_ / "mifs" / "help.jsp");
  mon->Flush();
  sink_.Take();

  // Brought back to exactly its baseline state: logged, not reported.
  Write(root_ / "index.html", "<html>hello</html>");
  mon->Flush();
  EXPECT_TRUE(sink_.Take().empty());
  mon->Stop();
  EXPECT_GE(mon->stats().watched_dirs, 5u);
}

TEST_F(FileIntegrityTest, RestartKeepsTheBaselineAndReportsWhatChangedMeanwhile) {
  {
    auto mon = Make();
    ASSERT_NE(mon, nullptr);
  }
  std::ifstream in(options_.baseline_file);
  std::string before((std::istreambuf_iterator<char>(in)), {});
  // While Rampart was stopped.
  Write(root_ / "mifs" / "403.jsp", "shell");
  Write(root_ / "mifs" / "login.jsp", "<% changed %>");
  auto mon = Make();
  ASSERT_NE(mon, nullptr);
  std::ifstream again(options_.baseline_file);
  std::string after((std::istreambuf_iterator<char>(again)), {});
  EXPECT_EQ(before, after) << "a restart must never re-create the baseline";
  EXPECT_EQ(mon->Rescan(), 2u);
  auto got = sink_.Take();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"file.created " + P("mifs/403.jsp"),
                                           "file.modified " + P("mifs/login.jsp")}));
  // The rescan remembers what it reported: the next one is quiet.
  EXPECT_EQ(mon->Rescan(), 0u);
}

TEST_F(FileIntegrityTest, PeriodicRescanCatchesWhatInotifyDoesNotSay) {
  options_.rescan_millis = 20;
  auto mon = Make();
  ASSERT_NE(mon, nullptr);
  ASSERT_TRUE(mon->Start().ok());
  mon->Flush();  // the start-up rescan is over: what follows is the periodic one's
  ASSERT_TRUE(sink_.Take().empty());
  // Written through a descriptor that stays open: no IN_CLOSE_WRITE, and IN_MODIFY is not
  // watched (hashing on every write would be ruinous); only the rescan sees it.
  int fd = ::open(P("index.html").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "<script>", 8), 8);
  std::vector<std::string> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    got = sink_.Take();
  }
  ::close(fd);
  mon->Stop();
  EXPECT_EQ(got, std::vector<std::string>{"file.modified " + P("index.html")});
  EXPECT_GE(mon->stats().rescans, 2u);
}

TEST_F(FileIntegrityTest, CorruptBaselineIsRefusedNotReplaced) {
  fs::create_directories(dir_ / "data" / "detect");
  Write(options_.baseline_file, "{\"format\":\"rampart-integrity-baseline\",\"version\":1,");
  auto m = FileIntegrityMonitor::Create(options_, &sink_);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("rampart integrity baseline"), std::string::npos);
  std::ifstream in(options_.baseline_file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "{\"format\":\"rampart-integrity-baseline\",\"version\":1,");
}

TEST_F(FileIntegrityTest, ReCreatedBaselineIsReloadedByARunningMonitor) {
  options_.baseline_check_millis = 1;
  auto mon = Make();
  ASSERT_NE(mon, nullptr);
  Write(root_ / "upgrade.js", "new release");
  ASSERT_TRUE(CreateBaseline(options_.roots, options_.exclude, options_.baseline_file, 1).ok());
  // The baseline now holds upgrade.js: the rescan that reloads it reports nothing.
  EXPECT_EQ(mon->Rescan(), 0u);
  fs::remove(root_ / "upgrade.js");
  EXPECT_EQ(mon->Rescan(), 1u);
  EXPECT_EQ(sink_.Take(), std::vector<std::string>{"file.deleted " + P("upgrade.js")});
}

// A baseline written before links were recorded: the links on disk are taken into it at start,
// not reported as new files (every one would have alerted after the upgrade).
TEST_F(FileIntegrityTest, LinksAreTakenIntoABaselineFromBeforeLinks) {
  fs::create_symlink("/etc/hosts", root_ / "old-link.sh");
  IntegrityBaseline old;
  old.created = 1;
  old.roots = {root_.string()};
  old.files = files::ScanTrees({root_.string()}, {}).files;  // regular files only
  old.links_recorded = false;
  fs::create_directories(fs::path(options_.baseline_file).parent_path());
  ASSERT_TRUE(files::WritePrivateFile(options_.baseline_file, SerializeBaseline(old)).ok());
  EXPECT_EQ(SerializeBaseline(old).find("\"links\""), std::string::npos);
  auto mon = Make();
  ASSERT_NE(mon, nullptr);
  EXPECT_EQ(mon->Rescan(), 0u) << "the old link is not new";
  EXPECT_TRUE(sink_.Take().empty());
  std::ifstream in(options_.baseline_file);
  auto b = ParseBaseline(std::string((std::istreambuf_iterator<char>(in)), {}));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->links_recorded);
  EXPECT_EQ(b->files.at(P("old-link.sh")).link_target, "/etc/hosts");
  // A link made after that is new.
  fs::create_symlink("/etc/hosts", root_ / "new-link.sh");
  EXPECT_EQ(mon->Rescan(), 1u);
}

TEST_F(FileIntegrityTest, LegacyDigestsCarryTheSha256AndSizeOfTheBytesTheyRead) {
  // The integrity event sets MD5 and SHA-1 only when this read's SHA-256 and size are those the
  // monitor hashed before, so both must describe exactly the bytes read.
  const fs::path file = root_ / "abc.txt";
  Write(file, "abc");
  auto legacy = files::LegacyFileDigests(file.string());
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(legacy->md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(legacy->sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(legacy->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(legacy->size, 3u);
  auto state = files::HashRegularFile(file.string());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->sha256, legacy->sha256);
  EXPECT_EQ(state->size, legacy->size);
  EXPECT_FALSE(files::LegacyFileDigests((root_ / "missing").string()).ok());
}

TEST(BaselineFormatTest, RoundTripsAndRefusesMalformedEntries) {
  IntegrityBaseline b;
  b.created = 1769760000;
  b.roots = {"/srv/www"};
  b.files["/srv/www/a b%.jsp"] = {std::string(64, 'a'), 12, 0644, ""};
  b.files[std::string("/srv/www/\xff\n.txt")] = {std::string(64, 'b'), 0, 0600, ""};
  b.files["/srv/www/help.jsp"] = {crypto::Sha256Hex("/tmp/s h\x01"), 8, 0777, "/tmp/s h\x01"};
  auto parsed = ParseBaseline(SerializeBaseline(b));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->files, b.files);
  EXPECT_EQ(parsed->roots, b.roots);
  const std::string head =
      R"({"format":"rampart-integrity-baseline","version":1,"created":1,"roots":["/r"],"entries":[)";
  for (const std::string& bad : std::vector<std::string>{
           R"({"path":"r/x","sha256":")" + std::string(64, 'a') + R"(","size":1,"mode":"0644"})",
           R"({"path":"/r/../x","sha256":")" + std::string(64, 'a') +
               R"(","size":1,"mode":"0644"})",
           R"({"path":"/r/x","sha256":"ABC","size":1,"mode":"0644"})",
           R"({"path":"/r/x","sha256":")" + std::string(64, 'a') + R"(","size":-1,"mode":"0644"})",
           R"({"path":"/r/x","sha256":")" + std::string(64, 'a') + R"(","size":1,"mode":"0948"})",
           R"({"path":"/r/%zz","sha256":")" + std::string(64, 'a') + R"(","size":1,"mode":"0644"})",
           R"({"path":"/r/%61","sha256":")" + std::string(64, 'a') + R"(","size":1,"mode":"0644"})",
           R"({"path":"/r/x","sha256":")" + std::string(64, 'a') +
               R"(","size":1,"mode":"0777","link":""})",
           R"({"path":"/r/x","sha256":")" + std::string(64, 'a') +
               R"(","size":1,"mode":"0777","link":7})",
           R"({"path":"/r/x","sha256":")" + std::string(64, 'a') +
               R"(","size":1,"mode":"0777","colour":"red"})",
       }) {
    EXPECT_FALSE(ParseBaseline(head + bad + "]}").ok()) << bad;
  }
  // The signed install manifest records no links: a "link" entry is refused there.
  nlohmann::json link_entry = nlohmann::json::array();
  link_entry.push_back(nlohmann::json::object({{"path", "/r/x"},
                                               {"sha256", std::string(64, 'a')},
                                               {"size", 4u},
                                               {"mode", "0777"},
                                               {"link", "/etc"}}));
  EXPECT_FALSE(files::FileStatesFromJson(link_entry, 10).ok());
  auto with_link = files::FileStatesFromJson(link_entry, 10, /*allow_links=*/true);
  ASSERT_TRUE(with_link.ok()) << with_link.status().ToString();
  EXPECT_EQ(with_link->at("/r/x").link_target, "/etc");
  std::string dup =
      R"({"path":"/r/x","sha256":")" + std::string(64, 'a') + R"(","size":1,"mode":"0644"})";
  EXPECT_FALSE(ParseBaseline(head + dup + "," + dup + "]}").ok());
  EXPECT_TRUE(ParseBaseline(head + dup + "]}").ok());
}

TEST(FileTreeTest, DiffListsEveryKindInPathOrder) {
  files::FileStates before = {{"/a", {std::string(64, 'a'), 1, 0644, ""}},
                              {"/b", {std::string(64, 'b'), 2, 0644, ""}},
                              {"/c", {std::string(64, 'c'), 3, 0600, ""}},
                              {"/d", {std::string(64, 'd'), 4, 0644, ""}}};
  files::FileStates after = {{"/a", {std::string(64, 'a'), 1, 0644, ""}},
                             {"/b", {std::string(64, 'e'), 2, 0755, ""}},
                             {"/c", {std::string(64, 'c'), 3, 0666, ""}},
                             {"/e", {std::string(64, 'f'), 5, 0644, ""}}};
  auto diff = files::DiffFileStates(before, after);
  ASSERT_EQ(diff.size(), 4u);
  EXPECT_EQ(diff[0].path, "/b");
  EXPECT_EQ(diff[0].kind, files::ChangeKind::kModified);
  EXPECT_EQ(diff[0].before->mode, 0644u);
  EXPECT_EQ(diff[0].after->mode, 0755u);
  EXPECT_EQ(diff[1].path, "/c");
  EXPECT_EQ(diff[1].kind, files::ChangeKind::kModeChanged);
  EXPECT_EQ(diff[2].path, "/d");
  EXPECT_EQ(diff[2].kind, files::ChangeKind::kRemoved);
  EXPECT_EQ(diff[3].path, "/e");
  EXPECT_EQ(diff[3].kind, files::ChangeKind::kAdded);
  EXPECT_TRUE(files::DiffFileStates(after, after).empty());
}

TEST(FileTreeTest, PathEncodingIsExactAndCanonical) {
  const std::string odd = std::string("/w/caf\xc3\xa9 100%\x01\xff\xc3", 16);
  std::string enc = files::EncodePath(odd);
  EXPECT_EQ(enc, "/w/caf\xc3\xa9 100%25%01%FF%C3");
  auto dec = files::DecodePath(enc);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, odd);
  EXPECT_FALSE(files::DecodePath("/w/%41").ok()) << "an escape that was not needed";
  EXPECT_FALSE(files::DecodePath("/w/%00").ok()) << "NUL";
  EXPECT_FALSE(files::DecodePath("/w/%4").ok());
  EXPECT_FALSE(files::DecodePath("/w/\xff").ok()) << "raw invalid UTF-8 must be escaped";
}

}  // namespace
}  // namespace rampart::detect
