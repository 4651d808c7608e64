// Micro-benchmarks of the per-check-in work, each beside a reference measured in the same run:
//  - signed check-in through App::Handle (auth, compliance, store write, command fetch) versus an
//    unauthenticated /healthz through the same App (the routing and logging floor);
//  - Ed25519 verification of a device signature versus SHA-256 of the same message;
//  - compliance evaluation of a device against 3 policies.
// Run: build/bench/core_bench  (make bench prints the ratios).
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "api/credentials.h"
#include "bench_keeper.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "core/compliance.h"
#include "core/device_signing.h"
#include "store/store.h"

namespace {

using namespace rampart;
using nlohmann::json;

struct Fleet {
  Fleet() : clock(1769760000000) {
    (void)crypto::InitCrypto();
    log::SetMinLevel(log::Level::kError);
    store = std::move(store::OpenStore("sqlite::memory:")).value();
    api::AppOptions options;
    options.apps_dir = "/tmp";
    keeper = bench::InProcessKeeper(&trail, &clock);  // enrollment hands out the command key
    options.keeper = keeper.get();
    app = std::make_unique<api::App>(options, store.get(), &clock);
    core::Institution inst{"ins_bench", "Bench", 0};
    (void)store->CreateInstitution(inst);
    auto enroll = api::IssueEnrollmentToken(*store, clock, "ins_bench", "", 100000, 3600);
    for (int i = 0; i < 100; ++i) {
      Device d;
      d.key = crypto::GenerateEd25519();
      std::string pub = crypto::Base64Encode(d.key.public_key);
      std::string proof = crypto::Base64Encode(
          *crypto::SignEd25519(d.key.secret_key, core::EnrollmentProofString(enroll->secret, pub)));
      http::Request r = Make("POST", "/device/v1/enroll",
                             json{{"enrollment_token", enroll->secret},
                                  {"public_key", pub},
                                  {"proof", proof},
                                  {"platform", "android"},
                                  {"model", "Bench"},
                                  {"serial", std::to_string(i)},
                                  {"os_version", "14"}}
                                 .dump());
      d.id = json::parse(app->Handle(r).body)["device_id"];
      devices.push_back(std::move(d));
    }
  }
  struct Device {
    std::string id;
    crypto::Ed25519KeyPair key;
  };
  static http::Request Make(std::string method, std::string target, std::string body) {
    http::Request r;
    r.method = std::move(method);
    r.target = target;
    r.path = target;
    r.body = std::move(body);
    r.remote_ip = "127.0.0.1";
    return r;
  }
  http::Request SignedCheckin(const Device& d) {
    static const std::string body = json{{"state",
                                          {{"os_version", "14"},
                                           {"passcode_set", true},
                                           {"passcode_length", 6},
                                           {"storage_encrypted", true},
                                           {"compromised", false},
                                           {"battery_percent", 50},
                                           {"installed_apps", {"a.b", "c.d"}}}}}
                                        .dump();
    http::Request r = Make("POST", "/device/v1/checkin", body);
    int64_t ts = clock.NowSeconds();
    std::string nonce = crypto::RandomHex(16);
    std::string msg =
        core::DeviceSigningString("POST", r.target, ts, nonce, crypto::Sha256Hex(body), d.id);
    r.headers = {
        {"x-rampart-device", d.id},
        {"x-rampart-timestamp", std::to_string(ts)},
        {"x-rampart-nonce", nonce},
        {"x-rampart-signature", crypto::Base64Encode(*crypto::SignEd25519(d.key.secret_key, msg))}};
    return r;
  }
  ManualClock clock;
  std::unique_ptr<store::Store> store;
  bench::CountingTrail trail;
  std::unique_ptr<keeper::KeeperService> keeper;
  std::unique_ptr<api::App> app;
  std::vector<Device> devices;
};

Fleet& TheFleet() {
  static Fleet* fleet = new Fleet();
  return *fleet;
}

void BM_Reference_Healthz(benchmark::State& state) {
  Fleet& f = TheFleet();
  http::Request r = Fleet::Make("GET", "/healthz", "");
  for (auto _ : state) benchmark::DoNotOptimize(f.app->Handle(r));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reference_Healthz);

void BM_SignedCheckin(benchmark::State& state) {
  Fleet& f = TheFleet();
  size_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    http::Request r = f.SignedCheckin(f.devices[i++ % f.devices.size()]);
    state.ResumeTiming();
    auto resp = f.app->Handle(r);
    if (resp.status != 200) state.SkipWithError("check-in failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignedCheckin);

void BM_Reference_Sha256(benchmark::State& state) {
  std::string msg =
      core::DeviceSigningString("POST", "/device/v1/checkin", 1769760000, std::string(32, 'a'),
                                std::string(64, 'b'), "dev_0123456789abcdef01234567");
  for (auto _ : state) benchmark::DoNotOptimize(crypto::Sha256Hex(msg));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reference_Sha256);

void BM_VerifyDeviceSignature(benchmark::State& state) {
  auto kp = crypto::GenerateEd25519();
  std::string msg =
      core::DeviceSigningString("POST", "/device/v1/checkin", 1769760000, std::string(32, 'a'),
                                std::string(64, 'b'), "dev_0123456789abcdef01234567");
  std::string sig = *crypto::SignEd25519(kp.secret_key, msg);
  for (auto _ : state) benchmark::DoNotOptimize(crypto::VerifyEd25519(kp.public_key, msg, sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyDeviceSignature);

void BM_EvaluateCompliance(benchmark::State& state) {
  std::vector<core::Policy> policies(3);
  for (size_t i = 0; i < policies.size(); ++i) {
    policies[i].id = "pol_" + std::to_string(i);
    policies[i].rules.passcode_min_length = 6;
    policies[i].rules.min_os_version_android = "13";
    policies[i].rules.required_apps = {"org.example.vpn", "org.example.mail"};
    policies[i].rules.forbidden_apps = {"com.example.torrent"};
  }
  core::DeviceState s;
  s.os_version = "14.1";
  s.passcode_set = true;
  s.passcode_length = 6;
  s.installed_apps = {"org.example.vpn", "org.example.mail", "a", "b", "c", "d"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(core::EvaluateCompliance(core::Platform::kAndroid, s, policies));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateCompliance);

}  // namespace

BENCHMARK_MAIN();
