// `rampart audit verify` and `rampart audit prove` as an auditor runs them: the real binary
// against a log the library wrote into DATA/keeper/audit, before and after tampering.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "audit/log.h"
#include "audit/verify.h"
#include "audit_test_util.h"
#include "common/clock.h"
#include "e2e/harness.h"

namespace rampart::audit {
namespace {

using e2e::kRampart;
using testing::ReadLines;
using testing::SampleRecord;
using testing::TempDir;
using testing::TestKey;
using testing::WriteLines;

class AuditCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(data_.path().empty());
    ManualClock clock(1769760000000);
    LogOptions options;
    options.clock = &clock;
    auto log = Log::Open(dir_, options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (int i = 0; i < 12; ++i) {
      if (i == 10) {
        ASSERT_TRUE((*log)->MakeCheckpoint(key_.signer()).ok());
      }
      ASSERT_TRUE((*log)->Append(SampleRecord(i)).ok());
      clock.AdvanceSeconds(1);
    }
    ASSERT_TRUE(WritePublicKeyFile(dir_ + "/checkpoint.pub", key_.pair.public_key).ok());
    // The auditor's own copy, kept outside the data directory.
    ASSERT_TRUE(WritePublicKeyFile(elsewhere_.path() + "/audit.pub", key_.pair.public_key).ok());
  }

  TempDir data_;
  TempDir elsewhere_;
  std::string dir_ = data_.path() + "/keeper/audit";
  TestKey key_;
};

TEST_F(AuditCliTest, VerifySaysIntactAndWhatIsSigned) {
  auto r = e2e::Run({kRampart, "audit", "verify", "--data", data_.path()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("records verified: 12"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("checkpoints verified: 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("records 0..9 are covered"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("records 10..11 are not yet covered"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: the public key came from inside"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("intact"), std::string::npos) << r.out;

  r = e2e::Run({kRampart, "audit", "verify", "--data", data_.path(), "--public-key",
                elsewhere_.path() + "/audit.pub"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("note:"), std::string::npos) << r.out;
}

TEST_F(AuditCliTest, ProvePrintsAProofThatVerifiesIndependently) {
  auto r = e2e::Run({kRampart, "audit", "prove", "--data", data_.path(), "--record", "4",
                     "--public-key", elsewhere_.path() + "/audit.pub"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["index"], 4);
  EXPECT_EQ(j["tree_size"], 10);
  EXPECT_EQ(j["verified"], true);
  // Recompute everything from the printed values alone, as a third party would.
  Hash leaf = LeafHash(j["leaf_bytes"].get<std::string>());
  EXPECT_EQ(ToHex(leaf), j["leaf_hash"]);
  std::vector<Hash> path;
  for (const auto& h : j["audit_path"]) path.push_back(*HashFromHex(h.get<std::string>()));
  EXPECT_EQ(path.size(), 4u);
  Hash root = *HashFromHex(j["root"].get<std::string>());
  EXPECT_TRUE(VerifyInclusion(leaf, 4, 10, path, root));
  std::string message =
      CheckpointMessage(10, j["root"].get<std::string>(), j["checkpoint_time"].get<int64_t>());
  EXPECT_TRUE(crypto::VerifyEd25519(key_.pair.public_key, message,
                                    *crypto::HexDecode(j["signature"].get<std::string>())));
}

TEST_F(AuditCliTest, UsageAndIoErrorsExitTwo) {
  EXPECT_EQ(e2e::Run({kRampart, "audit", "verify"}).exit_code, 2);
  EXPECT_EQ(e2e::Run({kRampart, "audit", "prove", "--data", data_.path()}).exit_code, 2);
  auto r = e2e::Run({kRampart, "audit", "verify", "--data", data_.path() + "/nowhere"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no checkpoint public key"), std::string::npos) << r.err;
  r = e2e::Run({kRampart, "audit", "verify", "--data", data_.path() + "/nowhere", "--public-key",
                elsewhere_.path() + "/audit.pub"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no audit log directory"), std::string::npos) << r.err;
  // Record 11 exists but no checkpoint signs it yet.
  r = e2e::Run({kRampart, "audit", "prove", "--data", data_.path(), "--record", "11"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not covered by the latest checkpoint"), std::string::npos) << r.err;
}

TEST_F(AuditCliTest, TamperingExitsOneAndNamesTheRecord) {
  auto lines = ReadLines(dir_ + "/records.jsonl");
  ASSERT_EQ(lines.size(), 12u);
  auto at = lines[6].find("\"outcome\":\"success\"");
  ASSERT_NE(at, std::string::npos);
  lines[6].replace(at, 19, "\"outcome\":\"failure\"");
  WriteLines(dir_ + "/records.jsonl", lines);

  auto r = e2e::Run({kRampart, "audit", "verify", "--data", data_.path(), "--public-key",
                     elsewhere_.path() + "/audit.pub"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("TAMPERED: record 6 (line 7) was changed"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("record 6"), std::string::npos) << r.err;

  r = e2e::Run({kRampart, "audit", "prove", "--data", data_.path(), "--record", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("record 6"), std::string::npos) << r.err;
}

TEST_F(AuditCliTest, RemovedRecordsAfterTheCheckpointAreNamed) {
  auto lines = ReadLines(dir_ + "/records.jsonl");
  lines.resize(7);
  WriteLines(dir_ + "/records.jsonl", lines);
  auto r = e2e::Run({kRampart, "audit", "verify", "--data", data_.path()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("records 7..9 were removed"), std::string::npos) << r.out;
}

TEST_F(AuditCliTest, AnotherKeyIsTreatedAsForgery) {
  TestKey other;
  ASSERT_TRUE(WritePublicKeyFile(elsewhere_.path() + "/other.pub", other.pair.public_key).ok());
  auto r = e2e::Run({kRampart, "audit", "verify", "--data", data_.path(), "--public-key",
                     elsewhere_.path() + "/other.pub"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("invalid signature"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rampart::audit
