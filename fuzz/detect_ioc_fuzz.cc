// libFuzzer target: the STIX, MISP and CSV importers on arbitrary bytes; the first byte picks
// the importer so that one corpus covers all three.
#include <cstddef>
#include <cstdint>
#include <string_view>

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
  return 0;
}
