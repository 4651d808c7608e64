// libFuzzer target: the STIX, MISP and CSV importers on arbitrary bytes; the first byte picks
// the importer so that one corpus covers all three.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "detect/ioc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  rampart::detect::IocStore store;
  constexpr int64_t kNow = 1769760000000;
  switch (data[0] % 3) {
    case 0:
      (void)rampart::detect::ImportStix(text, "f", kNow, &store);
      break;
    case 1:
      (void)rampart::detect::ImportMisp(text, "f", kNow, &store);
      break;
    default:
      (void)rampart::detect::ImportCsv(text, "f", kNow, &store);
      break;
  }
  if (auto ip = rampart::detect::ParseIp("203.0.113.7")) (void)store.FindIp(*ip, kNow);
  (void)store.FindDomain("a.b.example", kNow);
  (void)store.FindUrl("http://a.example/x", kNow);
  // MatchEvent's shortcuts (address prefixes against the IPv4 bitmaps, bare paths) must answer
  // as ParseIp + FindIp and FindUrl do, with the input's last line as the looked-up text.
  size_t last_newline = text.rfind('\n');
  std::string_view probe =
      last_newline == std::string_view::npos ? text : text.substr(last_newline + 1);
  std::vector<rampart::detect::IocMatch> hits;
  rampart::detect::Event ev;
  ev.Set(rampart::detect::Field::kSourceIp, probe);
  store.MatchEvent(ev, kNow, &hits);
  auto ip = rampart::detect::ParseIp(probe);
  const rampart::detect::Ioc* want = ip ? store.FindIp(*ip, kNow) : nullptr;
  if (hits.size() != (want != nullptr ? 1u : 0u) || (want != nullptr && hits[0].ioc != want)) {
    std::abort();
  }
  rampart::detect::Event target;
  target.Set(rampart::detect::Field::kUrlOriginal, probe);
  store.MatchEvent(target, kNow, &hits);
  want = store.FindUrl(probe, kNow);
  if (hits.size() != (want != nullptr ? 1u : 0u) || (want != nullptr && hits[0].ioc != want)) {
    std::abort();
  }
  return 0;
}
