// A keeper for benchmarks that need one but do not measure it: the real rules in-process, audit
// records counted in memory (keeper_bench measures the keeper with its real log and socket).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/crypto.h"
#include "keeper/service.h"

namespace rampart::bench {

class CountingTrail : public keeper::AuditTrail {
 public:
  Result<audit::Record> Append(const audit::Record& record) override {
    audit::Record r = record;
    r.index = next_.fetch_add(1);
    return r;
  }
  Result<keeper::Checkpoint> MakeCheckpoint(const keeper::CheckpointSigner& sign) override {
    keeper::Checkpoint c;
    c.tree_size = next_.load();
    RAMPART_ASSIGN_OR_RETURN(c.signature, sign("bench"));
    return c;
  }
  // Keeps nothing: benchmarks do not query the log.
  Result<std::vector<audit::Record>> Read(int64_t, int64_t) override {
    return std::vector<audit::Record>{};
  }
  Result<std::vector<keeper::AuditProof>> Prove(const std::vector<int64_t>&, int64_t) override {
    return Status::Unavailable("the benchmark trail keeps no Merkle tree");
  }

 private:
  std::atomic<int64_t> next_{0};
};

// Opens a KeeperService with its keys in a fresh temporary directory.
inline std::unique_ptr<keeper::KeeperService> InProcessKeeper(keeper::AuditTrail* trail,
                                                              const Clock* clock) {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("rampart-bench-keeper-" + crypto::RandomHex(6)))
          .string();
  keeper::KeeperOptions options;
  options.key_dir = dir;
  auto k = keeper::KeeperService::Open(options, trail, clock);
  return k.ok() ? std::move(k).value() : nullptr;
}

}  // namespace rampart::bench
