// Audit log throughput, each figure beside a reference measured in the same run:
//  - appends/s with fdatasync after every append (the default: what the keeper acknowledges
//    is on disk), in batches of 64, and without syncing (the serialisation and hashing floor);
//  - the tree head of a large log from the right edge (O(log n)) and from scratch (O(n));
//  - SHA-256 of one record line, the unit every append and every tree node costs.
// The log lives in AUDIT_BENCH_DIR (default: the build's bench/ folder) because a tmpfs would
// make fdatasync free and the figure meaningless.
// Run: build/bench/audit_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "audit/format.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"

namespace {

using namespace rampart;

std::string MakeTempDir() {
  const char* env = std::getenv("AUDIT_BENCH_DIR");
  std::string base = env != nullptr && *env != '\0' ? env : RAMPART_BENCH_DIR;
  std::string tmpl = base + "/audit-bench-XXXXXX";
  return ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

audit::Record SampleRecord(int64_t i) {
  audit::Record r;
  r.actor = "tok_3f0c9a51";
  r.action = "staff.decrypt";
  r.target = "stf_" + std::to_string(100000 + i % 1000);
  r.outcome = "success";
  r.institution_id = "ins_3f0c9a51d2";
  r.request_id = "req_" + std::to_string(i);
  r.source_ip = "10.20.30.40";
  r.details_json = R"({"purpose":"staff.reveal","fields":["name","mobile"],"budget_left":17})";
  return r;
}

void Append(benchmark::State& state, audit::LogOptions options) {
  (void)crypto::InitCrypto();
  log::SetMinLevel(log::Level::kError);
  std::string dir = MakeTempDir();
  if (dir.empty()) {
    state.SkipWithError("cannot create a temporary directory");
    return;
  }
  {
    auto log = audit::Log::Open(dir, options);
    if (!log.ok()) {
      state.SkipWithError(log.status().message().c_str());
      return;
    }
    int64_t i = 0;
    for (auto _ : state) {
      auto r = (*log)->Append(SampleRecord(i++));
      if (!r.ok()) state.SkipWithError(r.status().message().c_str());
    }
    state.SetItemsProcessed(state.iterations());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void BM_AppendFdatasyncEach(benchmark::State& state) {
  Append(state, {});
}
BENCHMARK(BM_AppendFdatasyncEach)->UseRealTime();

void BM_AppendFdatasyncEvery64(benchmark::State& state) {
  audit::LogOptions options;
  options.sync_each_append = false;
  options.sync_batch = 64;
  Append(state, options);
}
BENCHMARK(BM_AppendFdatasyncEvery64)->UseRealTime();

void BM_AppendNoSync(benchmark::State& state) {
  audit::LogOptions options;
  options.sync_each_append = false;
  options.sync_batch = int64_t{1} << 40;  // only the final sync when the log closes
  Append(state, options);
}
BENCHMARK(BM_AppendNoSync)->UseRealTime();

// Eight threads appending to one log with fdatasync each: what group commit buys when the
// keeper serves concurrent requests.
void BM_AppendFdatasyncEach8Threads(benchmark::State& state) {
  static std::string dir;
  static std::unique_ptr<audit::Log> log;
  if (state.thread_index() == 0) {
    (void)crypto::InitCrypto();
    log::SetMinLevel(log::Level::kError);
    dir = MakeTempDir();
    auto opened = audit::Log::Open(dir, {});
    if (opened.ok()) log = std::move(opened).value();
  }
  int64_t i = 0;
  for (auto _ : state) {
    if (log == nullptr || !log->Append(SampleRecord(i++)).ok()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    log.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}
BENCHMARK(BM_AppendFdatasyncEach8Threads)->Threads(8)->UseRealTime();

std::vector<audit::Hash> Leaves(int64_t n) {
  std::vector<audit::Hash> leaves;
  leaves.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) leaves.push_back(audit::LeafHash(std::to_string(i)));
  return leaves;
}

// The head the log computes on every append: folding the right edge.
void BM_RootFromRightEdge(benchmark::State& state) {
  audit::CompactTree tree;
  for (const auto& leaf : Leaves(state.range(0))) tree.Append(leaf);
  for (auto _ : state) benchmark::DoNotOptimize(tree.Root());
  state.SetItemsProcessed(state.iterations());
}
// 2^20 - 1 leaves: twenty perfect subtrees on the edge, the worst case below a million.
BENCHMARK(BM_RootFromRightEdge)->Arg(1023)->Arg((1 << 20) - 1);

// The head recomputed from every leaf, as the verifier and RootAt do.
void BM_RootFromAllLeaves(benchmark::State& state) {
  auto leaves = Leaves(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(audit::RootOf(leaves));
  state.SetItemsProcessed(state.iterations() * state.range(0));  // leaves hashed in per second
}
BENCHMARK(BM_RootFromAllLeaves)->Arg(1 << 16);

void BM_Reference_Sha256RecordLine(benchmark::State& state) {
  audit::Record r = *audit::CanonicalRecord(SampleRecord(1));
  r.index = 123456;
  r.time = 1769760000;
  std::string line = audit::RecordLine(r, audit::EmptyRoot());
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Sha256(line));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::to_string(line.size()) + " bytes");
}
BENCHMARK(BM_Reference_Sha256RecordLine);

void BM_Reference_Sha256Node(benchmark::State& state) {
  audit::Hash a = audit::LeafHash("a"), b = audit::LeafHash("b");
  for (auto _ : state) benchmark::DoNotOptimize(audit::NodeHash(a, b));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reference_Sha256Node);

}  // namespace

BENCHMARK_MAIN();
