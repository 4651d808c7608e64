#include "respond/evidence.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "common/crypto.h"

namespace rampart::respond {
namespace {

std::string Deflate(const std::string& data, int window_bits = 15 + 16) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Inflate(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(16 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

// The tar entries (header and padded content) of an uncompressed archive, in order.
std::vector<std::string> TarEntries(const std::string& tar) {
  std::vector<std::string> entries;
  size_t pos = 0;
  while (pos + 512 <= tar.size() && tar[pos] != '\0') {
    size_t size = std::stoul(tar.substr(pos + 124, 11), nullptr, 8);
    size_t padded = (size + 511) / 512 * 512;
    entries.push_back(tar.substr(pos, 512 + padded));
    pos += 512 + padded;
  }
  return entries;
}

std::string Archive(const std::vector<std::string>& entries) {
  std::string tar;
  for (const auto& e : entries) tar += e;
  tar.append(1024, '\0');
  return Deflate(tar);
}

class EvidenceTest : public ::testing::Test {
 protected:
  crypto::Ed25519KeyPair key_ = crypto::GenerateEd25519();
  EvidenceSigner signer_ = [this](std::string_view message) {
    return crypto::SignEd25519(key_.secret_key, message);
  };

  EvidenceBundle TwoFiles() {
    EvidenceBundle b{"evb_1", "incident inc_1", {}};
    b.files.push_back({"alerts.json", R"([{"rule":"epmm"}])"});
    b.files.push_back({"audit/records.jsonl", std::string(3000, 'r') + "\n"});
    return b;
  }
};

TEST_F(EvidenceTest, RoundTripListsEveryFileWithItsHash) {
  auto archive = BuildEvidenceArchive(TwoFiles(), 1769760000, signer_);
  ASSERT_TRUE(archive.ok()) << archive.status().message();
  auto verified = VerifyEvidenceArchive(*archive, key_.public_key);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->bundle_id, "evb_1");
  EXPECT_EQ(verified->purpose, "incident inc_1");
  EXPECT_EQ(verified->created_at, 1769760000);
  ASSERT_EQ(verified->entries.size(), 2u);
  EXPECT_EQ(verified->entries[1].name, "audit/records.jsonl");
  EXPECT_EQ(verified->entries[1].size, 3001);
  EXPECT_EQ(verified->entries[1].sha256_hex, crypto::Sha256Hex(std::string(3000, 'r') + "\n"));
  EXPECT_EQ(verified->files[0].content, R"([{"rule":"epmm"}])");
}

TEST_F(EvidenceTest, AnotherKeyDoesNotVerify) {
  auto archive = BuildEvidenceArchive(TwoFiles(), 1, signer_);
  ASSERT_TRUE(archive.ok());
  auto other = crypto::GenerateEd25519();
  auto verified = VerifyEvidenceArchive(*archive, other.public_key);
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.status().message().find("signature does not verify"), std::string::npos);
}

TEST_F(EvidenceTest, AFileChangedAfterSigningIsNamed) {
  auto archive = BuildEvidenceArchive(TwoFiles(), 1, signer_);
  ASSERT_TRUE(archive.ok());
  auto entries = TarEntries(Inflate(*archive));
  ASSERT_EQ(entries.size(), 4u);  // manifest, signature, two files
  entries[3][512 + 10] = 'X';     // one byte of audit/records.jsonl
  auto verified = VerifyEvidenceArchive(Archive(entries), key_.public_key);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.status().message(), "changed after signing: audit/records.jsonl");
}

TEST_F(EvidenceTest, AnEditedManifestFailsTheSignature) {
  auto archive = BuildEvidenceArchive(TwoFiles(), 1, signer_);
  ASSERT_TRUE(archive.ok());
  auto entries = TarEntries(Inflate(*archive));
  size_t at = entries[0].find("incident inc_1");
  ASSERT_NE(at, std::string::npos);
  entries[0][at] = 'I';
  auto verified = VerifyEvidenceArchive(Archive(entries), key_.public_key);
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.status().message().find("signature does not verify"), std::string::npos);
}

TEST_F(EvidenceTest, AddedAndRemovedFilesAreNamed) {
  EvidenceBundle one = TwoFiles();
  one.files.pop_back();
  auto small = BuildEvidenceArchive(one, 1, signer_);
  auto big = BuildEvidenceArchive(TwoFiles(), 1, signer_);
  ASSERT_TRUE(small.ok() && big.ok());
  auto small_entries = TarEntries(Inflate(*small));
  auto big_entries = TarEntries(Inflate(*big));

  // The small manifest with both files: one file the manifest never listed.
  auto added = VerifyEvidenceArchive(
      Archive({small_entries[0], small_entries[1], big_entries[2], big_entries[3]}),
      key_.public_key);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().message(),
            "in the archive but not in the manifest: audit/records.jsonl");

  // The big manifest with one file dropped.
  auto removed = VerifyEvidenceArchive(Archive({big_entries[0], big_entries[1], big_entries[2]}),
                                       key_.public_key);
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.status().message(), "listed in the manifest but missing: audit/records.jsonl");
}

TEST_F(EvidenceTest, BadNamesAndSignerFailuresBuildNothing) {
  for (const char* name : {"../etc/passwd", "/abs", "a//b", "a/./b", "manifest.json",
                           "manifest.sig", "with space", ""}) {
    EvidenceBundle b{"evb", "p", {{name, "x"}}};
    EXPECT_FALSE(BuildEvidenceArchive(b, 1, signer_).ok()) << name;
  }
  EvidenceBundle twice{"evb", "p", {{"a.txt", "1"}, {"a.txt", "2"}}};
  EXPECT_FALSE(BuildEvidenceArchive(twice, 1, signer_).ok());
  EvidenceSigner failing = [](std::string_view) -> Result<std::string> {
    return Status::Unavailable("keeper down");
  };
  auto r = BuildEvidenceArchive(TwoFiles(), 1, failing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EvidenceSigner short_sig = [](std::string_view) -> Result<std::string> {
    return std::string("abc");
  };
  EXPECT_FALSE(BuildEvidenceArchive(TwoFiles(), 1, short_sig).ok());
}

TEST_F(EvidenceTest, GarbageTruncationAndBombsAreRefused) {
  auto archive = BuildEvidenceArchive(TwoFiles(), 1, signer_);
  ASSERT_TRUE(archive.ok());
  EXPECT_FALSE(VerifyEvidenceArchive("not gzip at all", key_.public_key).ok());
  EXPECT_FALSE(
      VerifyEvidenceArchive(archive->substr(0, archive->size() / 2), key_.public_key).ok());
  EXPECT_FALSE(VerifyEvidenceArchive(*archive, "short key").ok());
  // A plain tar of zeros is an empty archive: no manifest.
  auto empty = VerifyEvidenceArchive(Deflate(std::string(1024, '\0')), key_.public_key);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "manifest.json is missing");
  // 8 MiB of zeros compresses to a few KiB; with a 1 MiB limit it must be refused unread.
  auto bomb = VerifyEvidenceArchive(Deflate(std::string(8 << 20, '\0')), key_.public_key, 1 << 20);
  ASSERT_FALSE(bomb.ok());
  EXPECT_NE(bomb.status().message().find("more than the allowed size"), std::string::npos);
  // A symlink entry is refused, not skipped.
  auto entries = TarEntries(Inflate(*archive));
  std::string link = entries[2];
  link[156] = '2';
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)link[i];
  char field[8];
  snprintf(field, sizeof field, "%06o", sum);
  link.replace(148, 6, field, 6);
  auto linked =
      VerifyEvidenceArchive(Archive({entries[0], entries[1], link, entries[3]}), key_.public_key);
  ASSERT_FALSE(linked.ok());
  EXPECT_NE(linked.status().message().find("other than regular files"), std::string::npos);
}

}  // namespace
}  // namespace rampart::respond
