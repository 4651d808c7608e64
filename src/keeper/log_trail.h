// The keeper's AuditTrail over the tamper-evident log of src/audit (what the keeper process uses;
// tests of the keeper's rules use an in-memory trail instead).
#pragma once

#include "audit/log.h"
#include "keeper/service.h"

namespace rampart::keeper {

class LogTrail : public AuditTrail {
 public:
  explicit LogTrail(audit::Log* log) : log_(log) {}
  Result<audit::Record> Append(const audit::Record& record) override {
    return log_->Append(record);
  }
  Result<Checkpoint> MakeCheckpoint(const CheckpointSigner& sign) override {
    RAMPART_ASSIGN_OR_RETURN(audit::Checkpoint c, log_->MakeCheckpoint(sign));
    return Checkpoint{c.tree_size, c.root_hex, c.time, c.signature};
  }
  Result<std::vector<audit::Record>> Read(int64_t from, int64_t max_records) override {
    return log_->ReadRecords(from, max_records);
  }
  Result<AuditProof> Prove(int64_t index, int64_t tree_size) override {
    RAMPART_ASSIGN_OR_RETURN(audit::Hash leaf, log_->LeafHashAt(index));
    RAMPART_ASSIGN_OR_RETURN(std::vector<audit::Hash> path, log_->Prove(index, tree_size));
    AuditProof proof;
    proof.index = index;
    proof.leaf_hash_hex = audit::ToHex(leaf);
    for (const audit::Hash& h : path) proof.path_hex.push_back(audit::ToHex(h));
    return proof;
  }

 private:
  audit::Log* log_;
};

}  // namespace rampart::keeper
