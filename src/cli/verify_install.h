// `rampart verify-install`: after an intrusion (or at any time), checks the installed binaries,
// configuration and web root against a signed manifest (cli/install_manifest.h) and lists every
// difference. The manifest's signing key is the operator's: created with --generate-key, kept
// offline, never one of the keeper's keys and never inside a data directory.
//
//   rampart verify-install --generate-key /root/install-signing.key   # prints the public key
//   rampart verify-install --create --manifest M --key /root/install-signing.key
//       /usr/bin/rampart /usr/bin/rampart-agent /etc/rampart /srv/rampart/web
//   rampart verify-install --manifest M --public-key /root/install-signing.pub
//
// Exit codes (scripts rely on them): 0 identical, 1 different (each difference printed:
// added, removed, changed, mode changed), 2 usage error, unreadable key or manifest, malformed
// manifest, or a signature that does not verify (then nothing of the manifest was trusted).
#pragma once

#include <string>
#include <vector>

namespace rampart::cli {

struct VerifyInstallOptions {
  std::string manifest_file;
  std::string public_key_file;    // verify: 64 hex digits
  std::string key_file;           // --create: the seed file written by --generate-key
  std::string generate_key_file;  // --generate-key FILE
  bool create = false;
  std::vector<std::string> paths;  // --create: files and folders to cover
};

int VerifyInstall(const VerifyInstallOptions& options);

}  // namespace rampart::cli
