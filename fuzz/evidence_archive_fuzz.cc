// libFuzzer target: evidence bundles are read back by whoever receives them (CERT-EU, a court),
// from a file that may have been tampered with. The first byte picks what the rest is:
//   0: a gzip archive, verified as received;
//   1: a tar stream, gzip-compressed here so the fuzzer reaches the tar and manifest checks;
//   2: file contents, split on NUL, bundled and signed here: the archive must then verify.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "respond/evidence.h"

namespace {

std::string Gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

const rampart::crypto::Ed25519KeyPair& Key() {
  static const auto key = *rampart::crypto::Ed25519FromSeed(std::string(32, '\x07'));
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto& key = Key();
  constexpr size_t kLimit = 8 << 20;
  switch (data[0] % 3) {
    case 0:
      (void)rampart::respond::VerifyEvidenceArchive(rest, key.public_key, kLimit);
      break;
    case 1:
      (void)rampart::respond::VerifyEvidenceArchive(Gzip(rest), key.public_key, kLimit);
      break;
    default: {
      rampart::respond::EvidenceBundle bundle{"evb_fuzz", std::string(rest.substr(0, 16)), {}};
      size_t start = 0;
      int n = 0;
      while (start <= rest.size() && n < 16) {
        size_t nul = rest.find('\0', start);
        std::string_view piece = rest.substr(
            start, nul == std::string_view::npos ? std::string_view::npos : nul - start);
        bundle.files.push_back({"f" + std::to_string(n++) + ".bin", std::string(piece)});
        if (nul == std::string_view::npos) break;
        start = nul + 1;
      }
      auto sign = [&](std::string_view m) {
        return rampart::crypto::SignEd25519(key.secret_key, m);
      };
      auto archive = rampart::respond::BuildEvidenceArchive(bundle, 1, sign);
      if (!archive.ok()) abort();
      auto verified = rampart::respond::VerifyEvidenceArchive(*archive, key.public_key, kLimit);
      if (!verified.ok() || verified->files.size() != bundle.files.size()) abort();
      for (size_t i = 0; i < bundle.files.size(); ++i) {
        if (verified->files[i].content != bundle.files[i].content) abort();
      }
    }
  }
  return 0;
}
