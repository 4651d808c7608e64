// libFuzzer target: the keeper's request handler, fed any bytes as a compromised serve (or any
// process that reached the socket) could send. It must answer every input with a well-formed
// answer and never crash; a request it calls malformed must get an invalid_argument answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/crypto.h"
#include "keeper/protocol.h"
#include "keeper/service.h"

namespace {

class CountingTrail : public rampart::keeper::AuditTrail {
 public:
  rampart::Result<rampart::audit::Record> Append(const rampart::audit::Record& record) override {
    rampart::audit::Record r = record;
    r.index = next_++;
    // Kept (up to a bound) so that query_audit inputs exercise the filter, not an empty log.
    if (kept_.size() < 4096) kept_.push_back(r);
    return r;
  }
  rampart::Result<std::vector<rampart::audit::Record>> Read(int64_t from,
                                                            int64_t max_records) override {
    std::vector<rampart::audit::Record> out;
    for (int64_t i = from; i >= 0 && i < static_cast<int64_t>(kept_.size()) &&
                           static_cast<int64_t>(out.size()) < max_records;
         ++i) {
      out.push_back(kept_[static_cast<size_t>(i)]);
    }
    return out;
  }
  // prove_audit requests are still parsed and validated by the keeper before the trail is
  // asked; this trail keeps no Merkle tree to prove against.
  rampart::Result<std::vector<rampart::keeper::AuditProof>> Prove(const std::vector<int64_t>&,
                                                                  int64_t) override {
    return rampart::Status::Unavailable("the fuzz trail keeps no Merkle tree");
  }
  rampart::Result<rampart::keeper::Checkpoint> MakeCheckpoint(
      const rampart::keeper::CheckpointSigner& sign) override {
    rampart::keeper::Checkpoint c;
    c.tree_size = next_;
    auto sig = sign("checkpoint");
    if (!sig.ok()) return sig.status();
    c.signature = *sig;
    return c;
  }

 private:
  int64_t next_ = 0;
  std::vector<rampart::audit::Record> kept_;
};

rampart::keeper::Keeper* Keeper() {
  static CountingTrail trail;
  static rampart::ManualClock clock(1'780'000'000'000);
  static std::unique_ptr<rampart::keeper::KeeperService> keeper = [] {
    if (!rampart::crypto::InitCrypto().ok()) std::abort();
    std::string dir = (std::filesystem::temp_directory_path() /
                       ("rampart-keeper-fuzz-" + rampart::crypto::RandomHex(6)))
                          .string();
    rampart::keeper::KeeperOptions options;
    options.key_dir = dir;
    auto k = rampart::keeper::KeeperService::Open(options, &trail, &clock);
    if (!k.ok()) std::abort();
    return std::move(k).value();
  }();
  return keeper.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  bool malformed = false;
  std::string answer = rampart::keeper::HandleRequest(*Keeper(), body, &malformed);
  auto doc = nlohmann::json::parse(answer, nullptr, false);
  if (!doc.is_object() || !doc.contains("ok") || !doc["ok"].is_boolean()) std::abort();
  if (malformed && (doc["ok"].get<bool>() || doc.value("code", "") != "invalid_argument")) {
    std::abort();
  }
  // Whatever the keeper answered must decode on serve's side without surprises.
  auto decoded = rampart::keeper::DecodeAnswer(answer);
  if (doc["ok"].get<bool>() != decoded.ok()) std::abort();
  return 0;
}
