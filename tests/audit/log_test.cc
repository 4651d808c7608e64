// audit::Log and audit::Verify: appends, checkpoints, reopen, streams, and each way of
// tampering with the files (flip a byte, delete, reorder, truncate, rewrite with recomputed
// commitments, garbage), each of which Verify must catch and name.
#include "audit/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "audit/verify.h"
#include "audit_test_util.h"
#include "common/clock.h"
#include "keeper/keeper.h"

namespace rampart::audit {
namespace {

using testing::ReadLines;
using testing::ReadText;
using testing::SampleRecord;
using testing::TempDir;
using testing::TestKey;
using testing::WriteLines;
using testing::WriteText;

constexpr int64_t kStart = 1769760000000;  // 2026-01-30T08:00:00Z

class AuditLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> OpenLog(LogOptions options = {}) {
    options.clock = &clock_;
    auto log = Log::Open(dir_.path(), options);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  // n records, a checkpoint after `checkpoint_at` of them (0: none), then the rest.
  void Fill(Log* log, int n, int checkpoint_at = 0) {
    for (int i = 0; i < n; ++i) {
      if (checkpoint_at > 0 && i == checkpoint_at) {
        ASSERT_TRUE(log->MakeCheckpoint(signer_).ok());
      }
      ASSERT_TRUE(log->Append(SampleRecord(i)).ok());
      clock_.AdvanceSeconds(1);
    }
    if (checkpoint_at == n) {
      ASSERT_TRUE(log->MakeCheckpoint(signer_).ok());
    }
  }
  VerifyReport VerifyNow() {
    auto report = Verify(dir_.path(), key_.pair.public_key);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : VerifyReport{};
  }
  LogOptions WithClock() {
    LogOptions options;
    options.clock = &clock_;
    return options;
  }
  std::string RecordsPath() const { return dir_.path() + "/records.jsonl"; }
  std::string CheckpointsPath() const { return dir_.path() + "/checkpoints.jsonl"; }

  TempDir dir_;
  ManualClock clock_{kStart};
  TestKey key_;
  Signer signer_ = key_.signer();
};

TEST_F(AuditLogTest, AppendAssignsIndexAndTimeAndStoresCanonicalLines) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Record r = SampleRecord(0);
  r.index = 99;  // ignored: the log assigns it
  r.details_json = R"({ "z": 1, "a": [true, null] })";
  auto first = log->Append(r);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->index, 0);
  EXPECT_EQ(first->time, kStart / 1000);
  EXPECT_EQ(first->details_json, R"({"a":[true,null],"z":1})");
  clock_.AdvanceSeconds(5);
  auto second = log->Append(SampleRecord(1));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->index, 1);
  EXPECT_EQ(second->time, kStart / 1000 + 5);

  auto lines = ReadLines(RecordsPath());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            R"({"action":"staff.decrypt","actor":"tok_0","details":{"a":[true,null],"z":1},)"
            R"("index":0,"institution_id":"ins_demo","outcome":"success","request_id":"req_0",)"
            R"("root":")" +
                ToHex(LeafHash(LeafBytes(*first))) +
                R"(","severity":"info","source_ip":"10.0.0.0","target":"stf_1000",)"
                R"("time":1769760000})");
  auto parsed = ParseRecordLine(lines[1]);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->root, log->Root());
  EXPECT_EQ(log->size(), 2);
  EXPECT_EQ(log->Root(), NodeHash(*log->LeafHashAt(0), *log->LeafHashAt(1)));
}

TEST_F(AuditLogTest, ReadRecordsReturnsStoredRecordsFromAnIndex) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 5, 2);
  auto some = log->ReadRecords(1, 3);
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  ASSERT_EQ(some->size(), 3u);
  EXPECT_EQ((*some)[0].index, 1);
  EXPECT_EQ((*some)[2].index, 3);
  EXPECT_EQ((*some)[0].actor, "tok_1");
  auto tail = log->ReadRecords(4, 10);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 1u);
  EXPECT_EQ((*tail)[0].index, 4);
  EXPECT_TRUE(log->ReadRecords(5, 10)->empty());
  EXPECT_TRUE(log->ReadRecords(-1, 10)->empty());
}

TEST_F(AuditLogTest, AppendRefusesRecordsTheVerifierWouldNotAccept) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Record r = SampleRecord(0);
  r.severity = "loud";
  EXPECT_EQ(log->Append(r).status().code(), Code::kInvalidArgument);
  r = SampleRecord(0);
  r.details_json = "[1,2]";
  EXPECT_EQ(log->Append(r).status().code(), Code::kInvalidArgument);
  r = SampleRecord(0);
  r.action = "";
  EXPECT_EQ(log->Append(r).status().code(), Code::kInvalidArgument);
  r = SampleRecord(0);
  r.actor = std::string(kMaxFieldBytes + 1, 'a');
  EXPECT_EQ(log->Append(r).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(log->size(), 0);
  EXPECT_EQ(ReadText(RecordsPath()), "");
}

TEST_F(AuditLogTest, CheckpointIsSignedOverTheDocumentedMessage) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 5);
  auto cp = log->MakeCheckpoint(signer_);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->tree_size, 5);
  EXPECT_EQ(cp->root_hex, ToHex(log->Root()));
  EXPECT_EQ(cp->time, clock_.NowSeconds());
  std::string message =
      "RAMPART-AUDIT-CHECKPOINT-V1\n5\n" + cp->root_hex + "\n" + std::to_string(cp->time);
  EXPECT_TRUE(crypto::VerifyEd25519(key_.pair.public_key, message, cp->signature));
  // The keeper returns it as keeper::Checkpoint: the same fields, copied one for one.
  keeper::Checkpoint k{cp->tree_size, cp->root_hex, cp->time, cp->signature};
  EXPECT_EQ(k.signature, cp->signature);
  ASSERT_TRUE(log->LatestCheckpoint().has_value());
  EXPECT_EQ(log->LatestCheckpoint()->root_hex, cp->root_hex);

  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 5);
  EXPECT_EQ(report.checkpoints_verified, 1);
  EXPECT_EQ(report.latest_checkpoint_size, 5);
  EXPECT_EQ(report.first_bad_index, -1);
}

TEST_F(AuditLogTest, ForgedCheckpointSignatureIsReported) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 4, 4);
  log.reset();
  // A checkpoint signed by a key the auditor does not trust.
  TestKey other;
  auto lines = ReadLines(CheckpointsPath());
  ASSERT_EQ(lines.size(), 1u);
  auto cp = ParseCheckpointLine(lines[0]);
  ASSERT_TRUE(cp.ok());
  cp->signature = *crypto::SignEd25519(other.pair.secret_key,
                                       CheckpointMessage(cp->tree_size, cp->root_hex, cp->time));
  WriteLines(CheckpointsPath(), {CheckpointLine(*cp)});
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.checkpoints_verified, 0);
  EXPECT_NE(report.problem.find("line 1"), std::string::npos) << report.problem;
  EXPECT_NE(report.problem.find("invalid signature"), std::string::npos) << report.problem;
  // And the genuine key against a genuine log, but the wrong key given to the verifier.
  auto wrong = Verify(dir_.path(), other.pair.public_key);
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE(wrong->ok);  // the forged line verifies under the forger's key...
  auto genuine = Verify(dir_.path(), key_.pair.public_key);
  EXPECT_FALSE(genuine->ok);  // ...and not under the real one
}

TEST_F(AuditLogTest, MakeCheckpointRefusesASignatureThatDoesNotVerify) {
  LogOptions options;
  options.checkpoint_public_key = key_.pair.public_key;
  auto log = OpenLog(options);
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 2);
  TestKey other;
  auto bad = log->MakeCheckpoint(other.signer());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  auto short_sig = log->MakeCheckpoint([](std::string_view) { return std::string("abc"); });
  EXPECT_EQ(short_sig.status().code(), Code::kInvalidArgument);
  auto failing = log->MakeCheckpoint(
      [](std::string_view) -> Result<std::string> { return Status::Unavailable("keeper down"); });
  EXPECT_EQ(failing.status().code(), Code::kUnavailable);
  EXPECT_EQ(ReadText(CheckpointsPath()), "");
  EXPECT_TRUE(log->MakeCheckpoint(signer_).ok());
}

TEST_F(AuditLogTest, EveryByteFlipInARecordNamesThatRecord) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 12, 10);
  log.reset();
  const auto original = ReadLines(RecordsPath());
  ASSERT_EQ(original.size(), 12u);
  for (size_t pos = 0; pos < original[7].size(); ++pos) {
    auto lines = original;
    lines[7][pos] = static_cast<char>(lines[7][pos] ^ 0x01);
    WriteLines(RecordsPath(), lines);
    VerifyReport report = VerifyNow();
    ASSERT_FALSE(report.ok) << "flip at " << pos << " went unnoticed";
    ASSERT_EQ(report.first_bad_index, 7) << "flip at " << pos << ": " << report.problem;
    ASSERT_NE(report.problem.find("record 7"), std::string::npos) << report.problem;
  }
}

TEST_F(AuditLogTest, ChangedFieldIsNamedAndOpenRefusesToAppend) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 6, 6);
  log.reset();
  auto lines = ReadLines(RecordsPath());
  auto at = lines[3].find("tok_3");
  ASSERT_NE(at, std::string::npos);
  lines[3].replace(at, 5, "tok_X");
  WriteLines(RecordsPath(), lines);
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_index, 3);
  EXPECT_NE(report.problem.find("record 3 (line 4) was changed"), std::string::npos)
      << report.problem;
  auto reopened = Log::Open(dir_.path(), WithClock());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), Code::kConflict);
  EXPECT_NE(reopened.status().message().find("record 3"), std::string::npos);
}

TEST_F(AuditLogTest, DeletedRecordIsNamed) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 9, 9);
  log.reset();
  auto lines = ReadLines(RecordsPath());
  lines.erase(lines.begin() + 5);
  WriteLines(RecordsPath(), lines);
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_index, 5);
  EXPECT_NE(
      report.problem.find("record 5 is missing: line 6 holds record 6 (record 5 was removed)"),
      std::string::npos)
      << report.problem;
}

TEST_F(AuditLogTest, ReorderedRecordsAreNamed) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 9, 9);
  log.reset();
  auto lines = ReadLines(RecordsPath());
  std::swap(lines[3], lines[6]);
  WriteLines(RecordsPath(), lines);
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_index, 3);
  EXPECT_NE(report.problem.find("record 3 is out of order: line 4 holds record 6 and record 3 "
                                "is on line 7"),
            std::string::npos)
      << report.problem;
}

TEST_F(AuditLogTest, TruncatedTailAfterACheckpointIsNamed) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 12, 10);
  log.reset();
  auto lines = ReadLines(RecordsPath());
  lines.resize(8);
  WriteLines(RecordsPath(), lines);
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.records, 8);
  EXPECT_EQ(report.first_bad_index, 8);
  EXPECT_NE(report.problem.find("records 8..9 were removed"), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, RewriteWithRecomputedCommitmentsIsCaughtByTheCheckpoints) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 3, 3);
  Fill(log.get(), 5, 5);  // checkpoints at 3 and 8
  log.reset();
  // An attacker who knows the format rewrites record 4 and every stored head after it.
  auto lines = ReadLines(RecordsPath());
  CompactTree tree;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto parsed = ParseRecordLine(lines[i]);
    ASSERT_TRUE(parsed.ok());
    if (i == 4) parsed->record.outcome = "failure";
    tree.Append(LeafHash(LeafBytes(parsed->record)));
    lines[i] = RecordLine(parsed->record, tree.Root());
  }
  WriteLines(RecordsPath(), lines);
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_index, 3);
  EXPECT_EQ(report.checkpoints_verified, 1);
  EXPECT_NE(report.problem.find("a record in 3..7 was changed"), std::string::npos)
      << report.problem;
}

TEST_F(AuditLogTest, MalformedLinesAreReportedByLineNumber) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 6, 6);
  log.reset();
  const auto original = ReadLines(RecordsPath());
  const std::vector<std::string> garbage = {"not json",
                                            "",
                                            "[]",
                                            std::string("{\"index\":3,\x00\xff}", 14),
                                            "{\"index\":3}",
                                            std::string(kMaxLineBytes + 10, '{')};
  for (const auto& g : garbage) {
    auto lines = original;
    lines[3] = g;
    WriteLines(RecordsPath(), lines);
    VerifyReport report = VerifyNow();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.first_bad_index, 3);
    EXPECT_NE(report.problem.find("line 4 of records.jsonl"), std::string::npos) << report.problem;
  }
  WriteLines(RecordsPath(), original);
  WriteText(CheckpointsPath(), ReadText(CheckpointsPath()) + "{\"tree_size\":\n");
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_index, -1);
  EXPECT_EQ(report.checkpoints_verified, 1);
  EXPECT_NE(report.problem.find("line 2 of checkpoints.jsonl is malformed"), std::string::npos)
      << report.problem;
}

TEST_F(AuditLogTest, ReopenContinuesTheTree) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 5, 5);
  Hash root5 = log->Root();
  log.reset();

  log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->size(), 5);
  EXPECT_EQ(log->Root(), root5);
  ASSERT_TRUE(log->LatestCheckpoint().has_value());
  EXPECT_EQ(log->LatestCheckpoint()->tree_size, 5);
  auto next = log->Append(SampleRecord(5));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->index, 5);
  Fill(log.get(), 3, 3);
  EXPECT_EQ(log->size(), 9);
  // The old head is a prefix of the new tree.
  auto proof = log->ProveConsistency(5, 9);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(VerifyConsistency(5, 9, root5, log->Root(), *proof));
  std::vector<Hash> leaves;
  for (int64_t i = 0; i < 9; ++i) leaves.push_back(*log->LeafHashAt(i));
  EXPECT_EQ(RootOf(leaves), log->Root());
  log.reset();
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 9);
  EXPECT_EQ(report.checkpoints_verified, 2);
}

TEST_F(AuditLogTest, ProveGivesPathsThatVerifyForEveryRecord) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 21);
  for (int64_t size : {1, 7, 16, 21}) {
    Hash root = *log->RootAt(size);
    for (int64_t i = 0; i < size; ++i) {
      auto path = log->Prove(i, size);
      ASSERT_TRUE(path.ok());
      EXPECT_TRUE(VerifyInclusion(*log->LeafHashAt(i), i, size, *path, root)) << i << "/" << size;
      EXPECT_FALSE(VerifyInclusion(*log->LeafHashAt((i + 1) % size), i, size, *path, root) &&
                   size > 1);
    }
  }
  EXPECT_FALSE(log->Prove(21, 21).ok());
  EXPECT_FALSE(log->Prove(0, 22).ok());
  EXPECT_FALSE(log->Prove(-1, 5).ok());
}

TEST_F(AuditLogTest, TornLastLineIsCutOnOpen) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 3, 3);
  log.reset();
  std::string full = ReadText(RecordsPath());
  WriteText(RecordsPath(), full + R"({"action":"staff.decr)");
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_index, 3);
  EXPECT_NE(report.problem.find("incomplete line 4"), std::string::npos) << report.problem;

  log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->size(), 3);
  EXPECT_EQ(ReadText(RecordsPath()), full);
  EXPECT_EQ(log->Append(SampleRecord(3))->index, 3);
  log.reset();
  EXPECT_TRUE(VerifyNow().ok);

  // The same for a checkpoint cut short, and for both at once.
  const std::string checkpoints = ReadText(CheckpointsPath());
  const std::string records = ReadText(RecordsPath());
  WriteText(CheckpointsPath(), checkpoints + R"({"root":"e3b0)");
  WriteText(RecordsPath(), records + "{");
  report = VerifyNow();
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_NE(report.problems[1].find("checkpoints.jsonl ends in an incomplete line 2"),
            std::string::npos)
      << report.problems[1];
  log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(ReadText(CheckpointsPath()), checkpoints);
  EXPECT_EQ(ReadText(RecordsPath()), records);
  EXPECT_TRUE(log->MakeCheckpoint(signer_).ok());
  log.reset();
  report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints_verified, 2);
}

TEST_F(AuditLogTest, TornTailIsNotRepairedWhenSomethingElseIsWrong) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 4, 4);
  log.reset();
  auto lines = ReadLines(RecordsPath());
  lines.erase(lines.begin() + 1);
  WriteLines(RecordsPath(), lines);
  WriteText(CheckpointsPath(), ReadText(CheckpointsPath()) + "{");
  auto reopened = Log::Open(dir_.path(), WithClock());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), Code::kConflict);
  EXPECT_NE(reopened.status().message().find("record 1 is missing"), std::string::npos)
      << reopened.status().message();
}

TEST_F(AuditLogTest, ASecondWriterIsRefused) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  auto second = Log::Open(dir_.path(), WithClock());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kConflict);
}

TEST_F(AuditLogTest, ConcurrentAppendsGetDistinctIndicesAndVerify) {
  LogOptions options;
  options.sync_each_append = false;
  options.sync_batch = 32;
  auto log = OpenLog(options);
  ASSERT_NE(log, nullptr);
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = log->Append(SampleRecord(t * 100 + i));
        if (r.ok()) seen[t].push_back(r->index);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> all;
  for (const auto& s : seen) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), 200u);
  EXPECT_EQ(*all.rbegin(), 199);
  ASSERT_TRUE(log->MakeCheckpoint(signer_).ok());
  log.reset();
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 200);
}

TEST_F(AuditLogTest, ConcurrentSyncedAppendsShareFdatasyncsAndAllSurvive) {
  auto log = OpenLog();  // fdatasync each: the group-commit path
  ASSERT_NE(log, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (!log->Append(SampleRecord(t * 100 + i)).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log->size(), 80);
  ASSERT_TRUE(log->MakeCheckpoint(signer_).ok());
  log.reset();
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 80);
  EXPECT_EQ(report.latest_checkpoint_size, 80);
}

// A UDP socket bound to 127.0.0.1 on a port the kernel picks.
class UdpReceiver {
 public:
  UdpReceiver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~UdpReceiver() { ::close(fd_); }
  int port() const { return port_; }
  // Polls for a datagram until the deadline; "" when none came.
  std::string Receive(std::chrono::milliseconds within = std::chrono::seconds(5)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(within.count())) <= 0) return "";
    char buf[70000];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(AuditLogTest, MirrorFileAndSyslogReceiveEveryRecordAndCheckpoint) {
  UdpReceiver syslog;
  ASSERT_GT(syslog.port(), 0);
  TempDir elsewhere;
  LogOptions options;
  options.mirror_path = elsewhere.path() + "/audit-mirror.jsonl";
  options.syslog_target = "127.0.0.1:" + std::to_string(syslog.port());
  auto log = OpenLog(options);
  ASSERT_NE(log, nullptr);
  Fill(log.get(), 2);
  Record critical = SampleRecord(2);
  critical.severity = "critical";
  ASSERT_TRUE(log->Append(critical).ok());
  ASSERT_TRUE(log->MakeCheckpoint(signer_).ok());

  auto records = ReadLines(RecordsPath());
  auto checkpoints = ReadLines(CheckpointsPath());
  ASSERT_EQ(records.size(), 3u);
  ASSERT_EQ(checkpoints.size(), 1u);
  std::vector<std::string> expected = records;
  expected.push_back(checkpoints[0]);
  EXPECT_EQ(ReadLines(options.mirror_path), expected);

  const std::string bom = "\xEF\xBB\xBF";
  const std::vector<std::string> pri = {"<110>", "<110>", "<106>", "<109>"};
  for (size_t i = 0; i < expected.size(); ++i) {
    std::string msg = syslog.Receive();
    ASSERT_FALSE(msg.empty()) << "datagram " << i << " did not arrive";
    EXPECT_EQ(msg.substr(0, pri[i].size() + 2), pri[i] + "1 ") << msg;
    const std::string msgid = i < 3 ? "audit.record" : "audit.checkpoint";
    const std::string header_tail =
        " rampart " + std::to_string(::getpid()) + " " + msgid + " - " + bom;
    auto at = msg.find(header_tail);
    ASSERT_NE(at, std::string::npos) << msg;
    EXPECT_EQ(msg.substr(at + header_tail.size()), expected[i]);
    EXPECT_NE(msg.find(" 2026-01-30T08:00:0"), std::string::npos) << msg;
  }
  StreamStats stats = log->stream_stats();
  EXPECT_EQ(stats.mirror_lines, 4u);
  EXPECT_EQ(stats.syslog_sent, 4u);
  EXPECT_EQ(stats.mirror_failures + stats.syslog_failures, 0u);
}

TEST_F(AuditLogTest, UnreachableSyslogIsCountedNotFatal) {
  int port = 0;
  {
    UdpReceiver gone;  // bound then closed: nothing listens there any more
    port = gone.port();
  }
  LogOptions options;
  options.syslog_target = "127.0.0.1:" + std::to_string(port);
  auto log = OpenLog(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(SampleRecord(i)).ok());
  StreamStats stats = log->stream_stats();
  EXPECT_EQ(stats.syslog_sent + stats.syslog_failures, 5u);
  EXPECT_EQ(log->size(), 5);
}

TEST_F(AuditLogTest, BadStreamOptionsAreRefused) {
  for (const char* target : {"localhost:514", "127.0.0.1:0", "127.0.0.1", "[::1:514"}) {
    LogOptions options = WithClock();
    options.syslog_target = target;
    EXPECT_EQ(Log::Open(dir_.path(), options).status().code(), Code::kInvalidArgument) << target;
  }
  LogOptions options = WithClock();
  options.checkpoint_public_key = "short";
  EXPECT_EQ(Log::Open(dir_.path(), options).status().code(), Code::kInvalidArgument);
}

TEST(AuditSyslog, FormatsAnRfc5424Message) {
  SyslogHeader header{.hostname = "keeper 1\x01", .app_name = "rampart", .procid = 42};
  std::string msg =
      FormatSyslog(header, StreamKind::kRecord, "warning", 1769760000, R"({"index":0})");
  EXPECT_EQ(msg,
            "<108>1 2026-01-30T08:00:00Z keeper1 rampart 42 audit.record - "
            "\xEF\xBB\xBF{\"index\":0}");
  msg = FormatSyslog(SyslogHeader{}, StreamKind::kCheckpoint, "info", 0, "{}");
  EXPECT_EQ(msg, "<109>1 1970-01-01T00:00:00Z - rampart - audit.checkpoint - \xEF\xBB\xBF{}");
}

TEST(AuditFormat, ParsersRejectWhatTheWriterNeverWrites) {
  Record r = *CanonicalRecord(SampleRecord(1));
  r.index = 1;
  r.time = 5;
  std::string line = RecordLine(r, EmptyRoot());
  ASSERT_TRUE(ParseRecordLine(line).ok());
  auto obj = nlohmann::json::parse(line);
  auto mutate = [&](auto&& change) {
    auto copy = obj;
    change(copy);
    return ParseRecordLine(copy.dump()).ok();
  };
  EXPECT_FALSE(mutate([](auto& o) { o["extra"] = 1; }));
  EXPECT_FALSE(mutate([](auto& o) { o.erase("actor"); }));
  EXPECT_FALSE(mutate([](auto& o) { o["index"] = -1; }));
  EXPECT_FALSE(mutate([](auto& o) { o["index"] = 1.5; }));
  EXPECT_FALSE(mutate([](auto& o) { o["time"] = "5"; }));
  EXPECT_FALSE(mutate([](auto& o) { o["details"] = "{}"; }));
  EXPECT_FALSE(mutate([](auto& o) { o["root"] = std::string(64, 'A'); }));
  EXPECT_FALSE(mutate([](auto& o) { o["severity"] = "debug"; }));

  // Nesting is bounded before parsing: rendering a 64 KiB "[[[[..." would recurse per level.
  std::string deep = std::string(40, '[') + std::string(40, ']');
  EXPECT_FALSE(mutate([&](auto& o) { o["details"] = {{"x", nlohmann::json::parse(deep)}}; }));
  Record nested = SampleRecord(1);
  nested.details_json = R"({"x":)" + deep + "}";
  EXPECT_EQ(CanonicalRecord(nested).status().code(), Code::kInvalidArgument);
  nested.details_json = R"({"x":")" + std::string(40, '[') + R"("})";  // brackets in a string
  EXPECT_TRUE(CanonicalRecord(nested).ok());
  EXPECT_FALSE(ParseRecordLine(std::string(kMaxLineBytes / 2, '[')).ok());

  Checkpoint cp{3, std::string(64, 'a'), 7, std::string(64, '\x01')};
  auto parsed = ParseCheckpointLine(CheckpointLine(cp));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->signature, cp.signature);
  EXPECT_EQ(parsed->root_hex, cp.root_hex);
  EXPECT_FALSE(
      ParseCheckpointLine(R"({"tree_size":1,"root":"00","time":1,"signature":"00"})").ok());
  EXPECT_FALSE(ParseCheckpointLine("null").ok());
}

}  // namespace
}  // namespace rampart::audit
