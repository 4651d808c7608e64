// An in-memory AuditTrail for tests of keeper rules: records in a vector, checkpoints signed over
// the record count (the real Merkle log is tested in tests/audit).
#pragma once

#include <mutex>
#include <vector>

#include "common/clock.h"
#include "keeper/service.h"

namespace rampart::keeper::testing {

class MemoryTrail : public AuditTrail {
 public:
  explicit MemoryTrail(const Clock* clock) : clock_(clock) {}

  Result<audit::Record> Append(const audit::Record& record) override {
    std::lock_guard lock(mu_);
    if (fail_) return Status::Internal("audit log unavailable");
    audit::Record r = record;
    r.index = static_cast<int64_t>(records_.size());
    r.time = clock_->NowSeconds();
    records_.push_back(r);
    return r;
  }

  Result<Checkpoint> MakeCheckpoint(const CheckpointSigner& sign) override {
    std::lock_guard lock(mu_);
    Checkpoint c;
    c.tree_size = static_cast<int64_t>(records_.size());
    c.root_hex = std::string(64, '0');
    c.time = clock_->NowSeconds();
    RAMPART_ASSIGN_OR_RETURN(c.signature, sign(std::to_string(c.tree_size)));
    return c;
  }

  Result<std::vector<audit::Record>> Read(int64_t from, int64_t max_records) override {
    std::lock_guard lock(mu_);
    std::vector<audit::Record> out;
    for (int64_t i = from; i >= 0 && i < static_cast<int64_t>(records_.size()) &&
                           static_cast<int64_t>(out.size()) < max_records;
         ++i) {
      out.push_back(records_[static_cast<size_t>(i)]);
    }
    return out;
  }

  // Checkpoints here are not Merkle heads, so there is nothing to prove against: tests of
  // proofs use the real log (audit::Log behind keeper::LogTrail).
  Result<std::vector<AuditProof>> Prove(const std::vector<int64_t>&, int64_t) override {
    return Status::Unavailable("the in-memory trail keeps no Merkle tree");
  }

  std::vector<audit::Record> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }
  void set_fail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }

 private:
  const Clock* clock_;
  mutable std::mutex mu_;
  std::vector<audit::Record> records_;
  bool fail_ = false;
};

}  // namespace rampart::keeper::testing
