// libFuzzer target: the signed install manifest parser (cli/install_manifest.h) and the file
// integrity baseline parser (detect/file_integrity.h), which share the entry format. Input is
// any bytes, as a tampered manifest would be. Beyond not crashing: a parsed baseline must
// survive a write/parse round trip unchanged, and a manifest that the fuzzer did not sign must
// never verify against the fixed key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/install_manifest.h"
#include "common/file_tree.h"
#include "detect/file_integrity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // A fixed public key whose secret nobody has (32 bytes of 0x5a is a valid point encoding or
  // not; either way no input can carry a valid signature for it).
  const std::string public_key(32, '\x5a');
  auto m = cli::ParseAndVerifyManifest(text, public_key);
  if (m.ok()) std::abort();
  auto b = detect::ParseBaseline(text);
  if (b.ok()) {
    auto again = detect::ParseBaseline(detect::SerializeBaseline(*b));
    if (!again.ok() || again->files != b->files || again->roots != b->roots ||
        again->created != b->created) {
      std::abort();
    }
  }
  // Paths: decoding then encoding is the identity on whatever decodes.
  auto p = files::DecodePath(text);
  if (p.ok() && files::EncodePath(*p) != text) std::abort();
  return 0;
}
