#include "cli/audit_commands.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "audit/format.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "cli/exit_codes.h"
#include "common/crypto.h"
#include "common/json_util.h"

namespace rampart::cli {

namespace {

struct KeyChoice {
  std::string key;
  bool inside_log_dir = false;
};

int Fail(const std::string& command, const std::string& message) {
  std::cerr << "rampart audit " << command << ": " << message << "\n";
  return kExitUsage;
}

Result<KeyChoice> LoadKey(const AuditOptions& options) {
  KeyChoice choice;
  std::string path = options.public_key_file;
  if (path.empty()) {
    path = AuditDir(options.data_dir) + "/" + audit::kPublicKeyFile;
    choice.inside_log_dir = true;
  }
  auto key = audit::ReadPublicKeyFile(path);
  if (!key.ok()) {
    return Status(
        key.status().code() == Code::kNotFound
            ? Status::NotFound("no checkpoint public key at " + path + " (pass --public-key FILE)")
            : key.status());
  }
  choice.key = std::move(key).value();
  return choice;
}

std::string Range(int64_t from, int64_t to_exclusive) {
  return to_exclusive - from == 1
             ? "record " + std::to_string(from)
             : "records " + std::to_string(from) + ".." + std::to_string(to_exclusive - 1);
}

}  // namespace

std::string AuditDir(const std::string& data_dir) {
  return data_dir + "/keeper/audit";
}

int AuditVerify(const AuditOptions& options) {
  auto key = LoadKey(options);
  if (!key.ok()) return Fail("verify", key.status().message());
  const std::string dir = AuditDir(options.data_dir);
  auto report = audit::Verify(dir, key->key);
  if (!report.ok()) return Fail("verify", report.status().message());

  std::cout << "audit log: " << dir << "\n";
  std::cout << "records verified: " << report->records << "\n";
  std::cout << "checkpoints verified: " << report->checkpoints_verified << "\n";
  if (key->inside_log_dir) {
    std::cout << "note: the public key came from inside the log directory; pass --public-key "
                 "with a copy kept elsewhere to rule out a rewritten key\n";
  }
  if (!report->ok) {
    std::cout << "TAMPERED: " << report->problem << "\n";
    for (size_t i = 1; i < report->problems.size(); ++i) {
      std::cout << "also: " << report->problems[i] << "\n";
    }
    std::cerr << "rampart audit verify: tampering found: " << report->problem << "\n";
    return kExitDifferent;
  }
  if (report->latest_checkpoint_size > 0) {
    std::cout << "signed: " << Range(0, report->latest_checkpoint_size)
              << " are covered by the latest checkpoint\n";
  }
  if (report->records > report->latest_checkpoint_size) {
    std::cout << "unsigned: " << Range(report->latest_checkpoint_size, report->records)
              << " are not yet covered by a signed checkpoint (consistent, but a writer could "
                 "still have changed them)\n";
  }
  std::cout << "intact\n";
  return kExitVerified;
}

int AuditProve(const AuditOptions& options) {
  if (options.record < 0) return Fail("prove", "--record must be 0 or more");
  auto key = LoadKey(options);
  if (!key.ok()) return Fail("prove", key.status().message());
  const std::string dir = AuditDir(options.data_dir);
  auto log = audit::LoadLog(dir, key->key);
  if (!log.ok()) return Fail("prove", log.status().message());
  if (!log->report.ok) {
    std::cerr << "rampart audit prove: the log failed verification: " << log->report.problem
              << "\n";
    return kExitDifferent;
  }
  if (log->checkpoints.empty()) return Fail("prove", "the log has no signed checkpoint yet");
  const audit::Checkpoint& cp = log->checkpoints.back();
  const auto index = static_cast<uint64_t>(options.record);
  const auto size = static_cast<uint64_t>(cp.tree_size);
  if (index >= size) {
    return Fail("prove", "record " + std::to_string(options.record) +
                             " is not covered by the latest checkpoint, which signs " +
                             std::to_string(cp.tree_size) + " records");
  }
  auto path = audit::InclusionPath(log->leaves, index, size);
  auto root = audit::HashFromHex(cp.root_hex);
  if (!path.ok() || !root.ok()) return Fail("prove", "cannot build the audit path");
  const audit::Hash& leaf = log->leaves[index];
  bool signed_ok = crypto::VerifyEd25519(
      key->key, audit::CheckpointMessage(cp.tree_size, cp.root_hex, cp.time), cp.signature);
  if (!signed_ok || !audit::VerifyInclusion(leaf, index, size, *path, *root)) {
    std::cerr << "rampart audit prove: the proof of record " << options.record
              << " does not verify against the signed checkpoint\n";
    return kExitDifferent;
  }
  // The exact bytes that were hashed, so that a third party can recompute the leaf hash.
  auto record = audit::ReadRecord(dir, options.record);
  if (!record.ok()) return Fail("prove", record.status().message());
  const std::string leaf_bytes = audit::LeafBytes(*record);
  if (audit::LeafHash(leaf_bytes) != leaf) {
    std::cerr << "rampart audit prove: records.jsonl changed while it was being read\n";
    return kExitDifferent;
  }
  nlohmann::json out = {{"index", options.record},
                        {"leaf_bytes", leaf_bytes},
                        {"leaf_hash", audit::ToHex(leaf)},
                        {"tree_size", cp.tree_size},
                        {"root", cp.root_hex},
                        {"checkpoint_time", cp.time},
                        {"signature", crypto::HexEncode(cp.signature)},
                        {"audit_path", nlohmann::json::array()},
                        {"verified", true}};
  for (const auto& h : *path) out["audit_path"].push_back(audit::ToHex(h));
  std::cout << out.dump(2) << "\n";
  return kExitVerified;
}

}  // namespace rampart::cli
