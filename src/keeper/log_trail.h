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
  Result<std::vector<AuditProof>> Prove(const std::vector<int64_t>& indexes,
                                        int64_t tree_size) override {
    RAMPART_ASSIGN_OR_RETURN(auto paths, log_->ProveMany(indexes, tree_size));
    std::vector<AuditProof> out;
    out.reserve(indexes.size());
    for (size_t i = 0; i < indexes.size(); ++i) {
      RAMPART_ASSIGN_OR_RETURN(audit::Hash leaf, log_->LeafHashAt(indexes[i]));
      AuditProof proof;
      proof.index = indexes[i];
      proof.leaf_hash_hex = audit::ToHex(leaf);
      for (const audit::Hash& h : paths[i]) proof.path_hex.push_back(audit::ToHex(h));
      out.push_back(std::move(proof));
    }
    return out;
  }

 private:
  audit::Log* log_;
};

}  // namespace rampart::keeper
