// `rampart evidence verify`: checks an evidence bundle (respond/evidence.h) the way its
// recipient would, with only the archive and the keeper's checkpoint public key. Exit codes as
// for `rampart audit`: 0 authentic and complete, 1 tampered (the message names the file),
// 2 usage or I/O error (nothing was judged).
#pragma once

#include <string>

namespace rampart::cli {

struct EvidenceVerifyOptions {
  std::string archive;
  // The checkpoint public key file (64 hex digits), e.g. a copy of
  // DATA/keeper/audit/checkpoint.pub kept away from the server.
  std::string public_key_file;
};

int EvidenceVerify(const EvidenceVerifyOptions& options);

}  // namespace rampart::cli
