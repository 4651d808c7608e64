// seed_devices DATA N: adds N enrolled, idle devices to DATA's first institution through the
// store interface (fast: no TLS or signing), for measuring server memory per enrolled device.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "api/credentials.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "store/store.h"

int main(int argc, char** argv) {
  using namespace rampart;
  if (argc != 3) {
    std::fprintf(stderr, "usage: seed_devices DATA N\n");
    return 2;
  }
  (void)crypto::InitCrypto();
  std::string data = argv[1];
  long n = std::strtol(argv[2], nullptr, 10);
  auto store = store::OpenStore("sqlite:" + data + "/rampart.db");
  if (!store.ok()) {
    std::fprintf(stderr, "seed_devices: %s\n", store.status().message().c_str());
    return 1;
  }
  auto insts = (*store)->ListInstitutions(store::Scope::All(), {1, ""});
  if (!insts.ok() || insts->items.empty()) {
    std::fprintf(stderr, "seed_devices: no institution (start the server with --demo first)\n");
    return 1;
  }
  const std::string inst = insts->items[0].id;
  const auto& clock = SystemClock::Instance();
  auto token = api::IssueEnrollmentToken(**store, clock, inst, "", n, 3600);
  if (!token.ok()) return 1;
  std::string hash = crypto::Sha256Hex(token->secret);
  for (long i = 0; i < n; ++i) {
    core::Device d;
    d.id = core::NewId("dev");
    d.platform = i % 2 ? core::Platform::kIos : core::Platform::kAndroid;
    d.model = "Seeded";
    d.serial = "SEED" + std::to_string(i);
    d.public_key = crypto::RandomBytes(32);
    d.state.os_version = "17.0";
    auto r = (*store)->EnrollDevice(hash, d, clock.NowSeconds());
    if (!r.ok()) {
      std::fprintf(stderr, "seed_devices: %s\n", r.status().message().c_str());
      return 1;
    }
  }
  std::printf("seeded %ld devices\n", n);
  return 0;
}
