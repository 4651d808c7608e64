// `rampart verify-install` through the real binary: generate a key, sign a manifest of an
// install tree, verify it clean, then tamper with the tree and with the manifest.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/crypto.h"
#include "harness.h"

namespace rampart::e2e {
namespace {

void WriteText(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

class VerifyInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    ASSERT_TRUE(fs::exists(kRampart)) << "binary is not built";
    dir_ = fs::temp_directory_path() / ("rampart_verify_" + crypto::RandomHex(6));
    install_ = dir_ / "install";
    fs::create_directories(install_ / "bin");
    fs::create_directories(install_ / "web" / "mifs");
    WriteText(install_ / "bin" / "rampart", "ELF rampart");
    WriteText(install_ / "bin" / "rampart-agent", "ELF agent");
    WriteText(install_ / "rampart.yml", "listen: 127.0.0.1:8443\n");
    WriteText(install_ / "web" / "index.html", "<html></html>");
    WriteText(install_ / "web" / "mifs" / "login.jsp", "<% login %>");
    ::chmod((install_ / "rampart.yml").c_str(), 0640);
    fs::create_directories(dir_ / "operator");
    key_ = (dir_ / "operator" / "install.key").string();
    manifest_ = (dir_ / "operator" / "install.manifest").string();

    auto gen = e2e::Run({kRampart, "verify-install", "--generate-key", key_});
    ASSERT_EQ(gen.exit_code, 0) << gen.out << gen.err;
    pub_ = key_ + ".pub";
    EXPECT_EQ(Trim(gen.out), Trim(ReadFile(pub_)));
    EXPECT_EQ(Trim(gen.out).size(), 64u);
    struct stat st {};
    ASSERT_EQ(::stat(key_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    auto create = e2e::Run({kRampart, "verify-install", "--create", "--manifest", manifest_,
                            "--key", key_, (install_ / "bin" / "rampart").string(),
                            (install_ / "bin" / "rampart-agent").string(),
                            (install_ / "rampart.yml").string(), (install_ / "web").string()});
    ASSERT_EQ(create.exit_code, 0) << create.out << create.err;
    EXPECT_NE(create.out.find("(5 files under 4 paths)"), std::string::npos) << create.out;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ProcResult Verify() {
    return e2e::Run({kRampart, "verify-install", "--manifest", manifest_, "--public-key", pub_});
  }

  fs::path dir_, install_;
  std::string key_, pub_, manifest_;
};

TEST_F(VerifyInstallTest, CleanInstallIsIdentical) {
  auto r = Verify();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("identical"), std::string::npos) << r.out;
}

TEST_F(VerifyInstallTest, EveryKindOfDifferenceIsListed) {
  WriteText(install_ / "bin" / "rampart", "ELF rampart, backdoored");
  WriteText(install_ / "web" / "mifs" / "403.jsp", "<% shell %>");
  fs::remove(install_ / "web" / "index.html");
  ::chmod((install_ / "rampart.yml").c_str(), 0666);
  fs::remove(install_ / "bin" / "rampart-agent");
  auto r = Verify();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto has = [&](const std::string& kind, const fs::path& p) {
    std::string want = kind;
    want.resize(14, ' ');
    return r.out.find(want + p.string()) != std::string::npos;
  };
  EXPECT_TRUE(has("changed", install_ / "bin" / "rampart")) << r.out;
  EXPECT_TRUE(has("added", install_ / "web" / "mifs" / "403.jsp")) << r.out;
  EXPECT_TRUE(has("removed", install_ / "web" / "index.html")) << r.out;
  EXPECT_TRUE(has("removed", install_ / "bin" / "rampart-agent")) << r.out;
  EXPECT_TRUE(has("mode changed", install_ / "rampart.yml")) << r.out;
  EXPECT_NE(r.out.find("0640 -> 0666"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5 differences (1 added, 2 removed, 1 changed, 1 mode changed"),
            std::string::npos)
      << r.out;
}

TEST_F(VerifyInstallTest, AlteredManifestIsRefusedBeforeAnyEntryIsTrusted) {
  std::string text = ReadFile(manifest_);
  // One byte of the signature.
  auto at = text.find("\"signature\": \"");
  ASSERT_NE(at, std::string::npos) << text;
  std::string flipped = text;
  char& c = flipped[at + 14];
  c = c == '0' ? '1' : '0';
  WriteText(manifest_, flipped);
  WriteText(install_ / "web" / "mifs" / "403.jsp", "<% shell %>");
  auto r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("signature does not verify"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("403.jsp"), std::string::npos) << "no entry is listed: " << r.out;

  // An entry edited to match a tampered file, signature intact: refused just the same.
  std::string edited = text;
  std::string old_hash = crypto::Sha256Hex("<% login %>");
  auto h = edited.find(old_hash);
  ASSERT_NE(h, std::string::npos);
  edited.replace(h, 64, crypto::Sha256Hex("<% evil %>"));
  WriteText(manifest_, edited);
  r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;

  // Another operator's key does not verify it either.
  WriteText(manifest_, text);
  std::string other = (dir_ / "operator" / "other.key").string();
  ASSERT_EQ(e2e::Run({kRampart, "verify-install", "--generate-key", other}).exit_code, 0);
  r = e2e::Run(
      {kRampart, "verify-install", "--manifest", manifest_, "--public-key", other + ".pub"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

TEST_F(VerifyInstallTest, UsageErrorsExitTwoAndChangeNothing) {
  std::string before = ReadFile(manifest_);
  EXPECT_EQ(e2e::Run({kRampart, "verify-install", "--manifest", manifest_}).exit_code, 2);
  EXPECT_EQ(e2e::Run({kRampart, "verify-install", "--manifest", (dir_ / "missing").string(),
                      "--public-key", pub_})
                .exit_code,
            2);
  WriteText(dir_ / "garbage.manifest", "{\"format\": \"rampart-install-manifest\", \"vers");
  auto r = e2e::Run({kRampart, "verify-install", "--manifest", (dir_ / "garbage.manifest").string(),
                     "--public-key", pub_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("garbage.manifest"), std::string::npos) << r.err;
  EXPECT_EQ(e2e::Run({kRampart, "verify-install", "--bogus"}).exit_code, 2);
  // An existing key is never overwritten.
  std::string key_before = ReadFile(key_);
  EXPECT_EQ(e2e::Run({kRampart, "verify-install", "--generate-key", key_}).exit_code, 2);
  EXPECT_EQ(ReadFile(key_), key_before);
  // A signing key readable by others is refused.
  ::chmod(key_.c_str(), 0644);
  EXPECT_EQ(e2e::Run({kRampart, "verify-install", "--create", "--manifest", manifest_, "--key",
                      key_, install_.string()})
                .exit_code,
            2);
  // A key inside a data directory is refused.
  fs::create_directories(dir_ / "data");
  WriteText(dir_ / "data" / "rampart.db", "");
  EXPECT_EQ(e2e::Run({kRampart, "verify-install", "--generate-key", (dir_ / "data" / "k").string()})
                .exit_code,
            2);
  EXPECT_FALSE(fs::exists(dir_ / "data" / "k"));
  EXPECT_EQ(ReadFile(manifest_), before);
}

}  // namespace
}  // namespace rampart::e2e
