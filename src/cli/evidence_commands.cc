#include "cli/evidence_commands.h"

#include <iostream>

#include "audit/verify.h"
#include "cli/exit_codes.h"
#include "common/files.h"
#include "respond/evidence.h"

namespace rampart::cli {
namespace {

constexpr size_t kMaxArchiveBytes = size_t{1} << 30;

}  // namespace

int EvidenceVerify(const EvidenceVerifyOptions& options) {
  auto key = audit::ReadPublicKeyFile(options.public_key_file);
  if (!key.ok()) {
    std::cerr << "rampart evidence verify: " << options.public_key_file << ": "
              << key.status().message() << "\n";
    return kExitUsage;
  }
  auto archive = files::ReadWholeFile(options.archive, kMaxArchiveBytes);
  if (!archive.ok()) {
    std::cerr << "rampart evidence verify: " << options.archive << ": "
              << archive.status().message() << "\n";
    return kExitUsage;
  }
  auto verified = respond::VerifyEvidenceArchive(*archive, *key);
  if (!verified.ok()) {
    std::cerr << "rampart evidence verify: " << options.archive
              << ": NOT AUTHENTIC: " << verified.status().message() << "\n";
    return kExitDifferent;
  }
  std::cout << "bundle " << verified->bundle_id << " (" << verified->purpose << "), created "
            << verified->created_at << ": signature valid, " << verified->entries.size()
            << " files match the manifest\n";
  for (const auto& e : verified->entries) {
    std::cout << "  " << e.sha256_hex << "  " << e.size << "  " << e.name << "\n";
  }
  return kExitVerified;
}

}  // namespace rampart::cli
