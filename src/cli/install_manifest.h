// The signed install manifest behind `rampart verify-install` (cli/verify_install.h): the
// SHA-256, size and mode of every regular file of the binaries, the configuration and the web
// root, as they were installed, signed with an operator-held Ed25519 key that is none of the
// keeper's and never lives in the data directory.
//
// The file is JSON:
//   {"format": "rampart-install-manifest", "version": 1, "created": 1769760000,
//    "roots": ["/usr/bin/rampart", "/etc/rampart"],
//    "entries": [{"path": "/etc/rampart/rampart.yml", "sha256": "…", "size": 812,
//                 "mode": "0640"}, …],
//    "signature": "<128 hex digits>"}
// and the signature is Ed25519 over CanonicalManifestBytes: a domain tag
// "RAMPART-INSTALL-MANIFEST-V1" and a NUL, then big-endian fields: u32 version, i64 created,
// u32 root count and each root as u32 length + bytes, u64 entry count and each entry, in byte
// order of its path, as u32 length + path bytes, 32 raw SHA-256 bytes, u64 size, u32 mode. Every
// field is length-prefixed, so no two manifests share an encoding, and the tag keeps the
// signature from being valid for any other Rampart message.
//
// Parsing is pure (no I/O) and fuzzed (fuzz/verify_manifest_fuzz.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_tree.h"
#include "common/status.h"

namespace rampart::cli {

inline constexpr std::string_view kManifestDomain = "RAMPART-INSTALL-MANIFEST-V1";
inline constexpr size_t kMaxManifestBytes = 256u << 20;
inline constexpr size_t kMaxManifestEntries = 1'000'000;

struct InstallManifest {
  int64_t created = 0;             // Unix seconds
  std::vector<std::string> roots;  // absolute; each a directory or a file
  files::FileStates entries;
  std::string signature;  // 64 raw bytes
};

// The bytes the signature covers (see above).
std::string CanonicalManifestBytes(const InstallManifest& manifest);
// Signs with a 64-byte libsodium secret key and returns the manifest's JSON text.
Result<std::string> SignManifest(InstallManifest manifest, std::string_view secret_key);

// Parses the JSON and checks the signature against `public_key` (32 raw bytes) before anything
// else of the manifest is returned. InvalidArgument for malformed JSON or fields;
// PermissionDenied when the signature does not verify (tampered, or signed by another key).
Result<InstallManifest> ParseAndVerifyManifest(std::string_view text, std::string_view public_key);

}  // namespace rampart::cli
