// The keeper's costs, each beside a reference measured in the same run:
//  - staff records decrypted per second through the real keeper socket, with the real audit log
//    (one fdatasync'ed audit record per request), 1 and 50 records per request, 1 and 4 threads;
//  - a staff listing of 50 through App::Handle, masked (no keeper) versus revealed (keeper open
//    of the 50 records): what sealing costs a listing;
//  - reference: SHA-256 of a sealed record's size.
// Run: build/bench/keeper_bench  (make bench prints the ratios).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "api/app.h"
#include "api/credentials.h"
#include "audit/log.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "keeper/client.h"
#include "keeper/log_trail.h"
#include "keeper/service.h"
#include "keeper/socket_server.h"
#include "store/store.h"

namespace {

using namespace rampart;
using nlohmann::json;

constexpr int kStaff = 50;

struct Rig {
  // sync_each_append: the keeper's default (every audit record fdatasync'ed before the data
  // leaves); false: keeper.audit_sync_each_append: false (synced every 64 records).
  explicit Rig(bool sync_each_append) : clock(1769760000000) {
    (void)crypto::InitCrypto();
    log::SetMinLevel(log::Level::kError);
    dir =
        (std::filesystem::temp_directory_path() / ("rampart-keeper-bench-" + crypto::RandomHex(6)))
            .string();
    std::filesystem::create_directories(dir);
    keeper::KeeperOptions options;
    options.key_dir = dir + "/keeper";
    // Budgets out of the way: this measures the mechanism, not the policy.
    for (const char* role : {"superadmin", "admin", "helpdesk"}) {
      options.decrypt_budget_per_minute[role] = int64_t{1} << 40;
    }
    auto service_or = keeper::KeeperService::Open(options, &deferred, &SystemClock::Instance());
    service = std::move(service_or).value();
    audit::LogOptions log_options;
    log_options.checkpoint_public_key = *service->CheckpointPublicKey();
    log_options.sync_each_append = sync_each_append;
    log = std::move(audit::Log::Open(dir + "/keeper/audit", log_options)).value();
    trail = std::make_unique<keeper::LogTrail>(log.get());
    deferred.target = trail.get();
    server =
        std::move(keeper::SocketServer::Start(service.get(), {dir + "/keeper.sock", 64})).value();
    client = std::make_unique<keeper::KeeperClient>(keeper::ClientOptions{dir + "/keeper.sock"});

    store = std::move(store::OpenStore("sqlite::memory:")).value();
    core::Institution inst{"ins_bench", "Bench", 0};
    (void)store->CreateInstitution(inst);
    api::AppOptions app_options;
    app_options.apps_dir = dir;
    app_options.keeper = client.get();
    app_options.config.keeper.canary_staff_per_institution = 0;
    app = std::make_unique<api::App>(app_options, store.get(), &clock);
    token = api::IssueApiToken(*store, clock, core::Role::kAdmin, "ins_bench", "bench", 0)->secret;
    for (int i = 0; i < kStaff; ++i) {
      http::Request r = Make("POST", "/api/v1/staff",
                             json{{"name", "Staff Member " + std::to_string(i)},
                                  {"mobile", "+32 470 00 00 " + std::to_string(10 + i)},
                                  {"email", "staff" + std::to_string(i) + "@bench.example"},
                                  {"department", "Bench"}}
                                 .dump());
      (void)app->Handle(r);
    }
    auto page = store->ListStaff(store::Scope::Institution("ins_bench"), {}, {kStaff, ""});
    for (const auto& s : page->items) {
      refs.push_back({s.institution_id, s.id, s.sealed, s.wrapped_key, s.key_version});
    }
  }

  http::Request Make(std::string method, std::string target, std::string body) {
    http::Request r;
    r.method = std::move(method);
    r.target = target;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    r.body = std::move(body);
    r.remote_ip = "127.0.0.1";
    r.headers.emplace_back("authorization", "Bearer " + token);
    return r;
  }

  struct Deferred : keeper::AuditTrail {
    keeper::AuditTrail* target = nullptr;
    Result<audit::Record> Append(const audit::Record& r) override { return target->Append(r); }
    Result<keeper::Checkpoint> MakeCheckpoint(const keeper::CheckpointSigner& s) override {
      return target->MakeCheckpoint(s);
    }
    Result<std::vector<audit::Record>> Read(int64_t from, int64_t n) override {
      return target->Read(from, n);
    }
    Result<std::vector<keeper::AuditProof>> Prove(const std::vector<int64_t>& indexes,
                                                  int64_t tree_size) override {
      return target->Prove(indexes, tree_size);
    }
  };

  ManualClock clock;
  std::string dir;
  Deferred deferred;
  std::unique_ptr<keeper::KeeperService> service;
  std::unique_ptr<audit::Log> log;
  std::unique_ptr<keeper::LogTrail> trail;
  std::unique_ptr<keeper::SocketServer> server;
  std::unique_ptr<keeper::KeeperClient> client;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<api::App> app;
  std::string token;
  std::vector<keeper::SealedRef> refs;
};

Rig& TheRig(bool sync_each_append = true) {
  static Rig* synced = new Rig(true);
  static Rig* batched = new Rig(false);
  return sync_each_append ? *synced : *batched;
}

void BM_KeeperDecrypt(benchmark::State& state) {
  Rig& rig = TheRig(state.range(1) == 1);
  const auto per_request = static_cast<size_t>(state.range(0));
  keeper::OpenRequest request;
  request.caller = {"tok_bench", "admin", "ins_bench", "req", "127.0.0.1", "bench"};
  for (size_t i = 0; i < per_request; ++i) request.records.push_back(rig.refs[i % rig.refs.size()]);
  for (auto _ : state) {
    auto opened = rig.client->Open(request);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(opened);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(per_request));
}
// Args: records per request, audit fdatasync per record (1) or batched (0).
BENCHMARK(BM_KeeperDecrypt)->Args({1, 1})->Args({50, 1})->Args({50, 0})->UseRealTime();
BENCHMARK(BM_KeeperDecrypt)->Args({50, 1})->Args({50, 0})->Threads(4)->UseRealTime();

void BM_StaffListMasked(benchmark::State& state) {
  Rig& rig = TheRig();
  for (auto _ : state) {
    http::Request r = rig.Make("GET", "/api/v1/staff?limit=50", "");
    auto resp = rig.app->Handle(r);
    if (resp.status != 200) state.SkipWithError("masked listing failed");
    benchmark::DoNotOptimize(resp);
  }
  state.SetItemsProcessed(state.iterations() * kStaff);
}
BENCHMARK(BM_StaffListMasked)->UseRealTime();

void BM_StaffListRevealed(benchmark::State& state) {
  Rig& rig = TheRig(state.range(0) == 1);
  for (auto _ : state) {
    http::Request r = rig.Make("GET", "/api/v1/staff?limit=50&reveal=true", "");
    auto resp = rig.app->Handle(r);
    if (resp.status != 200) state.SkipWithError("revealed listing failed");
    benchmark::DoNotOptimize(resp);
  }
  state.SetItemsProcessed(state.iterations() * kStaff);
}
BENCHMARK(BM_StaffListRevealed)->Arg(1)->Arg(0)->UseRealTime();

void BM_Reference_Sha256OfSealedRecord(benchmark::State& state) {
  Rig& rig = TheRig();
  const std::string& sealed = rig.refs[0].ciphertext;
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Sha256(sealed));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reference_Sha256OfSealedRecord);

}  // namespace

BENCHMARK_MAIN();
