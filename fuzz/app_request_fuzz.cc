// libFuzzer target: whole requests through App::Handle with a superadmin token, so that routing,
// percent-decoding, query parsing, every handler's body validation and the store run on hostile
// input. Input layout: METHOD '\n' TARGET '\n' BODY.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/app.h"
#include "api/credentials.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "store/store.h"

namespace {

struct World {
  World() : clock(1769760000000) {
    (void)rampart::crypto::InitCrypto();
    rampart::log::SetMinLevel(rampart::log::Level::kError);
    store = std::move(rampart::store::OpenStore("sqlite::memory:")).value();
    rampart::api::AppOptions options;
    options.apps_dir = "/nonexistent-rampart-fuzz";
    app = std::make_unique<rampart::api::App>(options, store.get(), &clock);
    token =
        rampart::api::IssueApiToken(*store, clock, rampart::core::Role::kSuperAdmin, "", "fuzz", 0)
            ->secret;
  }
  rampart::ManualClock clock;
  std::unique_ptr<rampart::store::Store> store;
  std::unique_ptr<rampart::api::App> app;
  std::string token;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t a = input.find('\n');
  if (a == std::string::npos) return 0;
  size_t b = input.find('\n', a + 1);
  if (b == std::string::npos) return 0;
  rampart::http::Request req;
  req.method = input.substr(0, a);
  req.target = input.substr(a + 1, b - a - 1);
  size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  req.body = input.substr(b + 1);
  req.remote_ip = "127.0.0.1";
  req.headers.emplace_back("authorization", "Bearer " + world->token);
  rampart::http::Response resp = world->app->Handle(req);
  if (resp.status < 100 || resp.status > 599) __builtin_trap();
  return 0;
}
