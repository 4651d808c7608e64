// Evidence bundles: what an incident responder hands to CERT-EU, a court or an insurer, in a
// form that proves it was not edited after Rampart wrote it.
//
// A bundle is a gzip-compressed POSIX tar archive holding the evidence files, a manifest
// (`manifest.json`: bundle id, purpose, creation time, and the name, size and SHA-256 of every
// other file) and `manifest.sig`: an Ed25519 signature over EvidenceSigningMessage(manifest).
// The keeper signs with its audit-checkpoint key (the same public key that verifies the audit
// checkpoints inside the bundle), under its own domain prefix so that no evidence signature can
// ever pass for a checkpoint signature or the reverse.
//
//   EvidenceBundle bundle{.bundle_id = "evb_...", .purpose = "incident inc_..."};
//   bundle.files.push_back({"alerts.json", alerts_json});
//   RAMPART_ASSIGN_OR_RETURN(std::string archive, BuildEvidenceArchive(bundle, now, signer));
//   ...
//   Result<VerifiedEvidence> checked = VerifyEvidenceArchive(archive, checkpoint_public_key);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rampart::respond {

struct EvidenceFile {
  std::string name;  // a relative path: [A-Za-z0-9._-] segments joined by '/', at most 99 bytes
  std::string content;
};

struct EvidenceBundle {
  std::string bundle_id;
  std::string purpose;  // free text for the reader: "incident inc_...", "manual capture"
  std::vector<EvidenceFile> files;
};

struct ManifestEntry {
  std::string name;
  int64_t size = 0;
  std::string sha256_hex;
};

struct VerifiedEvidence {
  std::string bundle_id;
  std::string purpose;
  int64_t created_at = 0;
  std::vector<ManifestEntry> entries;
  std::vector<EvidenceFile> files;  // in manifest order
};

// Returns the raw 64-byte Ed25519 signature of `message` (in serve: the keeper's sign_evidence).
using EvidenceSigner = std::function<Result<std::string>(std::string_view message)>;

// What the signature covers: a fixed domain prefix and the SHA-256 of the manifest bytes.
std::string EvidenceSigningMessage(std::string_view manifest_bytes);

// InvalidArgument for a bad or duplicate file name, a reserved name (manifest.json,
// manifest.sig) or a signature of the wrong size; the signer's error otherwise.
Result<std::string> BuildEvidenceArchive(const EvidenceBundle& bundle, int64_t created_at,
                                         const EvidenceSigner& sign);

// Checks, in this order, before trusting anything in it: the archive decompresses within
// max_unpacked_bytes and parses as tar; manifest.json and manifest.sig are present; the
// signature verifies with `public_key` (raw 32 bytes); every manifest entry is in the archive
// with its size and SHA-256, and the archive holds nothing else. InvalidArgument names the
// first problem found.
Result<VerifiedEvidence> VerifyEvidenceArchive(std::string_view archive,
                                               std::string_view public_key,
                                               size_t max_unpacked_bytes = size_t{1} << 30);

}  // namespace rampart::respond
