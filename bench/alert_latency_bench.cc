// In-process latency from an answered request to its stored alert: App::Handle emits the event,
// the live engine's thread matches it (bundled rules), the alert pipeline stores it in SQLite
// (a file database in WAL mode, as `rampart serve` uses) through its writer thread, and the
// incident tracker links it. Requests are paced at a given rate; one in `--exploit-every` is a
// CVE-2026-1281-shaped probe from its own address (so each makes a new alert whose evidence
// names the request id). Prints p50/p99/max; asserts nothing. `--exploit-every=1` is an alert
// storm: every request a distinct alert.
//
//   alert_latency_bench [--rate=10000] [--seconds=5] [--exploit-every=50] [--writer=0|1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/app.h"
#include "api/credentials.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "respond/incident.h"
#include "server/alert_pipeline.h"
#include "store/store.h"

namespace {

using Steady = std::chrono::steady_clock;

long Flag(int argc, char** argv, const char* name, long fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return std::atol(argv[i] + prefix.size());
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rampart;
  const long rate = std::max(1L, Flag(argc, argv, "rate", 10000));
  const long seconds = std::max(1L, Flag(argc, argv, "seconds", 5));
  const long exploit_every = std::max(1L, Flag(argc, argv, "exploit-every", 50));
  if (!crypto::InitCrypto().ok()) return 1;
  log::SetMinLevel(log::Level::kError);

  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("rampart_alert_bench_" + crypto::RandomHex(6));
  fs::create_directories(dir);
  auto store = store::OpenStore("sqlite:" + (dir / "rampart.db").string());
  if (!store.ok()) return 1;
  const SystemClock& clock = SystemClock::Instance();
  auto token = api::IssueApiToken(**store, clock, core::Role::kSuperAdmin, "", "bench", 0);
  if (!token.ok()) return 1;

  DetectionConfig dc;
  auto pipeline = server::AlertPipeline::Create(dc, store->get());
  if (!pipeline.ok()) return 1;
  // As `rampart serve` wires it: every stored alert opens or joins an incident first.
  respond::IncidentTracker incidents(store->get(), &clock, 3600);
  (*pipeline)->AddStoredBatchListener(
      [&](const std::vector<core::Alert>& batch) { incidents.OnStoredAlerts(batch); });
  std::mutex mu;
  std::unordered_map<std::string, Steady::time_point> sent;  // request id → before Handle
  Steady::time_point last_stored{};                          // the last measured alert stored
  std::vector<double> latencies_us;
  (*pipeline)->AddStoredListener([&](const core::Alert& a) {
    auto now = Steady::now();
    if (a.count != 1 || a.evidence.empty()) return;
    auto ev = nlohmann::json::parse(a.evidence[0], nullptr, false);
    if (!ev.is_object() || !ev.contains("http.request.id")) return;
    std::lock_guard<std::mutex> lock(mu);
    auto it = sent.find(ev["http.request.id"].get<std::string>());
    if (it == sent.end()) return;
    latencies_us.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
    last_stored = now;
    sent.erase(it);
  });
  auto engine = detect::LiveEngine::Create(
      server::EngineOptions(dc, std::string(RAMPART_SOURCE_DIR) + "/rules/sigma"), &clock,
      pipeline->get());
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  // --writer=0: alerts stored on the engine's thread, one transaction each (the reference).
  if (Flag(argc, argv, "writer", 1) != 0) (*pipeline)->Start();
  (*engine)->Start();
  api::AppOptions options;
  options.apps_dir = dir.string();
  options.events = engine->get();
  api::App app(options, store->get(), &clock);

  const std::string exploit =
      "/mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60id%60%5D/"
      "e2327851-1e09-4463-9b5a-b524bc71fc07.ipa";
  const long total = rate * seconds;
  const auto period = std::chrono::nanoseconds(1'000'000'000L / rate);
  const auto send_start = Steady::now();
  auto next = send_start;
  long exploits = 0;
  double handle_us_total = 0;
  for (long i = 0; i < total; ++i) {
    std::this_thread::sleep_until(next);
    next += period;
    http::Request req;
    req.method = "GET";
    req.request_id = crypto::RandomHex(8);
    req.remote_ip = "10.0.0.1";
    bool is_exploit = i % exploit_every == 0;
    if (is_exploit) {
      ++exploits;
      req.target = exploit;
      req.remote_ip = "10." + std::to_string((i >> 16) & 255) + "." +
                      std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
      std::lock_guard<std::mutex> lock(mu);
      sent.emplace(req.request_id, Steady::now());
    } else if (i % 2 == 0) {
      req.target = "/api/v1/devices?limit=5";
      req.headers.emplace_back("authorization", "Bearer " + token->secret);
    } else {
      req.target = "/healthz";
    }
    req.path = req.target.substr(0, req.target.find('?'));
    auto q = req.target.find('?');
    req.query = q == std::string::npos ? "" : req.target.substr(q + 1);
    auto t0 = Steady::now();
    app.Handle(req);
    handle_us_total += std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
  }
  // The driver is one thread: when App::Handle cannot keep the pace, the achieved rate says so.
  const double send_seconds = std::chrono::duration<double>(Steady::now() - send_start).count();
  // Let the engine finish what is queued, then stop it.
  auto deadline = Steady::now() + std::chrono::seconds(30);
  while (Steady::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (sent.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (*engine)->Stop();
  (*pipeline)->Stop();
  auto stats = (*engine)->stats();
  std::lock_guard<std::mutex> lock(mu);
  // To the last alert stored, not to the end of the wait (events the engine dropped never make
  // an alert, and would stretch the wait).
  const double drained_seconds =
      std::max(1e-9, std::chrono::duration<double>(last_stored - send_start).count());
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    if (latencies_us.empty()) return 0.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(latencies_us.size() - 1));
    return latencies_us[i];
  };
  std::printf(
      "alert latency (request -> stored alert, in-process, SQLite WAL file): rate %ld req/s for "
      "%ld s (achieved %.0f req/s), %ld exploit requests, %zu alerts measured\n",
      rate, seconds, static_cast<double>(total) / send_seconds, exploits, latencies_us.size());
  std::printf("  p50 %.0f us   p99 %.0f us (target < 50000 us)   max %.0f us\n", pct(0.50),
              pct(0.99), latencies_us.empty() ? 0.0 : latencies_us.back());
  // Under a storm (--exploit-every=1) this is the pipeline's capacity: alerts stored and linked
  // to incidents per second, from the first request to the last alert stored.
  std::printf("  %.0f alerts stored per second over %.2f s\n",
              static_cast<double>(latencies_us.size()) / drained_seconds, drained_seconds);
  std::printf("  App::Handle mean %.1f us; engine processed %llu events, dropped %llu\n",
              handle_us_total / static_cast<double>(total),
              static_cast<unsigned long long>(stats.processed),
              static_cast<unsigned long long>(stats.dropped));
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
